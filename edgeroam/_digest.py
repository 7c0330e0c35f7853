"""Digests of edgeroam's own source and the versions of installed packages.

A cache entry or a run directory records them so that one made by other code, or on other libraries, is never
read as current: one version number of edgeroam spans many commits, some of which move results.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["package_versions", "source_digest"]

_ROOT = Path(__file__).resolve().parent


@functools.cache
def source_digest(*parts: str) -> str:
    """SHA-256 (hex) of the ``.py`` files of edgeroam at `parts` (paths relative to the package: files, or
    folders searched recursively; none: the whole package), each by its relative path and content."""
    files: set[Path] = set()
    for part in parts or (".",):
        p = _ROOT / part
        files.update(p.rglob("*.py") if p.is_dir() else [p])
    h = hashlib.sha256()
    for f in sorted(files):
        data = f.read_bytes()
        h.update(f"{f.relative_to(_ROOT).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@functools.cache
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    out = []
    for name in names:
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, None))
    return tuple(out)


def package_versions(*names: str) -> dict[str, str | None]:
    """The installed version of each package in `names` (None: not installed)."""
    return dict(_versions(names))
