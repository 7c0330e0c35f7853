"""Atomic writer and reader of run directories (DESIGN.md section 5).

A run writes ``runs/<name>-<short hash of the resolved scenario>/``: ``scenario.toml`` (fully resolved),
``summary.json`` (headline metrics, versions, seed; the wall time under ``timing``), ``<table>.parquet``
(handovers, queries, transfers, backhaul, predictions, ...), ``figures/*.png``, ``log.jsonl`` and
``manifest.json`` (size and SHA-256 of every other file; :class:`RunDir` refuses a directory that no longer
matches it, e.g. a truncated table).

Everything is written inside a folder of its own, ``<dir>.<pid>-<random>.partial/``, so concurrent writers
never share one; each file goes to a temporary name and is ``os.replace``d, and the folder is renamed to
``<dir>`` only when the run completed, so a complete-looking run directory is always complete. The rename
holds a lock on the parent folder (``flock``), so two writers of the same run cannot collide. An existing
run directory is replaced only with ``overwrite`` (``--force``), and then only the files its manifest lists
are removed: anything a user put there is moved into the new directory. A crash leaves the partial folder
(with its ``log.jsonl`` for the post-mortem); the next writer of the same run removes it once its process is
gone. ``summary.json`` has sorted keys and a fixed layout, so the same scenario and seed give byte-identical
files apart from the ``timing`` section (:func:`summary_digest` leaves it out).

What it leaves to others: computing the metrics (``metrics.py``), drawing figures (``edgeroam.report``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam._digest import source_digest
from edgeroam.errors import RunError

log = logging.getLogger(__name__)

__all__ = [
    "MANIFEST",
    "PARTIAL_SUFFIX",
    "RunDir",
    "RunDirWriter",
    "canonical_json",
    "check_manifest",
    "code_digest",
    "folder_lock",
    "try_lock_folder",
    "manifest_of",
    "open_run_dir",
    "run_dir_name",
    "scenario_hash",
    "summary_bytes",
    "summary_digest",
    "versions",
]

PARTIAL_SUFFIX = ".partial"
SUMMARY = "summary.json"
SCENARIO = "scenario.toml"
LOG = "log.jsonl"
FIGURES = "figures"
TIMING_KEY = "timing"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
#: what a run directory written before the manifest holds (treated as edgeroam's own when replacing one)
_LEGACY_RUN_FILES = re.compile(
    r"^(summary\.json|scenario\.toml|log\.jsonl|[^/]+\.parquet|figures/[^/]+\.png)$")


def _plain(value: Any, where: str = "") -> Any:
    """JSON/TOML-ready copy: numpy to Python, tuples to lists, non-finite floats to None."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise RunError(f"summary key {where}{k!r} is not a string")
            out[k] = _plain(v, f"{where}{k}.")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v, where) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    at = where.rstrip(".") or "<root>"
    raise RunError(f"summary value at {at} has unsupported type {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, fixed separators, ASCII, NaN/inf as null: the same value always gives the same text."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def scenario_hash(resolved: Mapping[str, Any], length: int = 10) -> str:
    """A short stable hash (hex SHA-256 prefix) of a resolved scenario dict."""
    return hashlib.sha256(canonical_json(resolved).encode("ascii")).hexdigest()[:length]


def run_dir_name(name: str, resolved: Mapping[str, Any]) -> str:
    """``<name>-<hash>``: the run directory name of a resolved scenario (the name is made path-safe)."""
    safe = "".join(c if (c.isalnum() or c in "-_.") else "-" for c in str(name)).strip(".-") or "run"
    return f"{safe}-{scenario_hash(resolved)}"


def summary_bytes(summary: Mapping[str, Any], timing: Mapping[str, Any] | None = None) -> bytes:
    """The exact bytes of ``summary.json``: sorted keys, indent 2, final newline, `timing` as its own key."""
    body = dict(_plain(summary))
    if TIMING_KEY in body:
        raise RunError(f"summary must not carry {TIMING_KEY!r}; pass it as timing=")
    if timing is not None:
        body[TIMING_KEY] = _plain(timing)
    text = json.dumps(body, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode("ascii")


def summary_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a ``summary.json`` (or of the one in a run directory) without its ``timing`` section."""
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{p}: cannot read summary: {exc}") from exc
    data.pop(TIMING_KEY, None)
    return hashlib.sha256(summary_bytes(data)).hexdigest()


def code_digest() -> str:
    """A 12-hex prefix of `source_digest` over the whole package. One version number spans many commits, some
    of which move results: this tells a run made by other code from a current one (a sweep reruns it instead
    of reusing it)."""
    return source_digest()[:12]


def versions() -> dict[str, str]:
    """Versions that can change results: edgeroam (its version and `code_digest`), Python, numpy, pandas,
    pyarrow."""
    import pyarrow

    import edgeroam

    return {
        "code": code_digest(),
        "edgeroam": edgeroam.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "python": platform.python_version(),
    }


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _toml_ready(value: Any) -> Any:
    """Sorted keys, None dropped (TOML has no null), numpy to Python."""
    if isinstance(value, Mapping):
        return {k: _toml_ready(value[k]) for k in sorted(value) if value[k] is not None}
    if isinstance(value, list):
        return [_toml_ready(v) for v in value]
    return value


def _check_name(name: str, what: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise RunError(f"bad {what} name {name!r}: a plain file name is needed")


def _files_under(folder: Path) -> list[str]:
    """Relative POSIX paths of every file (and symlink) under `folder`, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        names = filenames + [d for d in dirnames if (base / d).is_symlink()]
        out.extend((base / n).relative_to(folder).as_posix() for n in names)
    return sorted(out)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_of(folder: str | os.PathLike[str], names: Iterable[str] | None = None) -> dict[str, Any]:
    """The manifest of `folder`: ``{"format": 1, "files": {relpath: {"bytes": n, "sha256": hex}}}``.

    Every file under `folder` but the manifest itself, or only `names`.
    """
    root = Path(folder)
    files = sorted(names) if names is not None else [f for f in _files_under(root) if f != MANIFEST]
    entries = {}
    for rel in files:
        p = root / rel
        entries[rel] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
    return {"format": MANIFEST_FORMAT, "files": entries}


def _write_manifest(folder: Path, names: Iterable[str] | None = None) -> None:
    body = json.dumps(manifest_of(folder, names), sort_keys=True, indent=1) + "\n"
    _atomic_write(folder / MANIFEST, body.encode("ascii"))


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``files`` of `folder`'s manifest; None when there is none. A malformed one is a RunError."""
    p = folder / MANIFEST
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
            for v in files.values()
        ):
            raise TypeError("entries must be {bytes: int, sha256: str}")
        bad = [n for n in files if n.startswith("/") or ".." in n.split("/") or "\\" in n or not n]
        if bad:
            raise TypeError(f"file name {bad[0]!r} is not a plain path inside the run directory")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RunError(f"{p}: damaged manifest ({type(exc).__name__}: {exc})") from exc
    return files


def check_manifest(folder: str | os.PathLike[str], *, hashes: bool = True) -> None:
    """Check that every file `folder`'s manifest lists is there with its size (and SHA-256).

    Files the manifest does not list (a user's notes) are allowed, but not the run's own: its summary,
    scenario and ``*.parquet`` tables, where present, must be listed. Raises RunError naming the first file
    that is missing, unlisted, of another size or of other content, or when the manifest is missing or
    damaged.
    """
    root = Path(folder)
    files = _read_manifest(root)
    if files is None:
        raise RunError(f"{root}: no {MANIFEST} (written by an edgeroam older than the manifest, or damaged); "
                       "run it again")
    own = {p.name for p in (root / "summary.json", root / "scenario.toml", *root.glob("*.parquet"))
           if p.is_file()}
    for rel in sorted(own - set(files)):
        raise RunError(f"{root / rel}: not listed in {MANIFEST} (the manifest was changed or the file added "
                       "after the run); the run directory is damaged, run it again")
    for rel, entry in sorted(files.items()):
        p = root / rel
        if not p.is_file():
            raise RunError(f"{p}: missing (listed in {MANIFEST}); the run directory is damaged")
        size = p.stat().st_size
        if size != entry["bytes"]:
            raise RunError(f"{p}: {size} bytes, {MANIFEST} says {entry['bytes']} (truncated or changed "
                           "after the run); the run directory is damaged, run it again")
    if hashes:
        for rel, entry in sorted(files.items()):
            if _sha256(root / rel) != entry["sha256"]:
                raise RunError(f"{root / rel}: content differs from {MANIFEST} (changed after the run); "
                               "the run directory is damaged, run it again")


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], timeout_s: float = 120.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on `folder` itself (no lock file left behind); wait up to `timeout_s`."""
    path = Path(folder)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise RunError(f"{path}: cannot open the folder to lock it ({exc.strerror or exc})") from exc
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno in _NO_LOCKS:  # e.g. some network file systems: go on, the renames still check
                    log.warning("%s: file locks are not supported here (%s); writing without the lock",
                                path, exc.strerror or exc)
                    break
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunError(f"{path}: cannot lock the folder ({exc.strerror or exc})") from exc
                if time.monotonic() >= deadline:
                    raise RunError(f"{path}: another edgeroam process has been writing here for over "
                                   f"{timeout_s:g} s; try again when it is done") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def try_lock_folder(path: Path) -> int | None:
    """An open descriptor of `path` holding its ``flock``, or None when another holds it (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class RunDirWriter:
    """Writes one run directory atomically; use as a context manager.

    Parameters
    ----------
    path : path
        The final run directory (e.g. ``runs/demo-1a2b3c4d5e``). Work happens in ``<path>.partial``.
    overwrite : bool
        Replace an existing complete run directory at `path` on :meth:`commit` (``--force``). Only the files
        its manifest lists are removed; any other file is moved into the new directory (:attr:`kept`).
        Without it, an existing one is an error raised before anything is written (and again on commit).
    lock_timeout_s : float
        How long :meth:`commit` waits for another writer of the same folder.

    Attributes
    ----------
    partial : Path
        The folder being written (unique per writer, ``<path>.<pid>-<random>.partial``).
    replaced : bool
        True after a commit that replaced an earlier run directory.
    kept : list of str
        Files of the replaced directory that edgeroam did not write, moved into the new one.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> root = Path(tempfile.mkdtemp())
    >>> with RunDirWriter(root / "demo-0") as w:
    ...     w.write_scenario({"name": "demo", "seed": 7})
    ...     w.write_table("queries", pd.DataFrame({"t": [0.0, 0.5]}))
    ...     w.log("start", t=0.0)
    ...     w.write_summary({"hits": 3}, timing={"wall_s": 0.1})
    >>> sorted(p.name for p in (root / "demo-0").iterdir())
    ['figures', 'log.jsonl', 'manifest.json', 'queries.parquet', 'scenario.toml', 'summary.json']
    """

    def __init__(self, path: str | os.PathLike[str], overwrite: bool = False, *,
                 lock_timeout_s: float = 120.0):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + PARTIAL_SUFFIX)  # the real one is made by open()
        self.overwrite = overwrite
        self.lock_timeout_s = lock_timeout_s
        self.replaced = False
        self.kept: list[str] = []
        self._log: Any = None
        self._hold: int | None = None  # descriptor of the partial folder, flock'ed while this writer lives
        self._opened = False
        self._committed = False
        self._has_summary = False

    # -- lifecycle ------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise RunError when a run directory is already at `path` and `overwrite` is off (call it before
        long work, so that a run is refused before it starts)."""
        if self.path.exists() and not self.overwrite:
            raise RunError(f"{self.path}: a run directory is already there (an earlier run of the same "
                           "scenario); pass --force to replace it (files you added are kept), or use another "
                           "--out")

    def open(self) -> RunDirWriter:
        """Create a fresh partial folder of this writer's own beside `path`."""
        self.check()
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.partial = Path(tempfile.mkdtemp(prefix=f"{self.path.name}.{os.getpid()}-",
                                                 suffix=PARTIAL_SUFFIX, dir=parent))
            self._hold = try_lock_folder(self.partial)
            (self.partial / FIGURES).mkdir()
            self._log = open(self.partial / LOG, "a", encoding="utf-8")  # noqa: SIM115 - closed by commit/abort
        except OSError as exc:
            raise RunError(f"{parent}: cannot create the run directory ({exc.strerror or exc})") from exc
        self._opened = True
        return self

    def __enter__(self) -> RunDirWriter:
        return self.open()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort(exc)

    def commit(self) -> Path:
        """Write the manifest and rename the partial folder to `path` under the folder lock; needs
        :meth:`write_summary` first."""
        self._require_open()
        if not self._has_summary:
            raise RunError(f"{self.partial}: no summary.json written; the run is not complete")
        self._close_log()
        _write_manifest(self.partial)
        try:
            with folder_lock(self.path.parent, self.lock_timeout_s):
                if self.path.exists() or self.path.is_symlink():
                    if not self.overwrite:
                        # same scenario and seed, same results: this copy adds nothing and is removed
                        shutil.rmtree(self.partial, ignore_errors=True)
                        raise RunError(f"{self.path}: another run of the same scenario finished first and "
                                       "wrote it; pass --force to replace it")
                    self._replace()
                else:
                    try:
                        os.replace(self.partial, self.path)
                    except OSError as exc:  # appeared meanwhile on a file system without locks
                        raise RunError(f"{self.path}: cannot move the run into place "
                                       f"({exc.strerror or exc})") from exc
                self._release()
                self._clear_stale_partials()
        finally:
            self._release()
            self._opened = False
        self._committed = True
        return self.path

    def _replace(self) -> None:
        """Swap in the new run: the old run's own files go, every other file moves into the new one."""
        old = self.path
        if not old.is_dir() or old.is_symlink():
            raise RunError(f"{old}: exists and is not a run directory; not replaced (move it away first)")
        listed = _read_manifest(old)
        if listed is not None:
            ours = set(listed) | {MANIFEST}
        else:
            ours = {f for f in _files_under(old) if _LEGACY_RUN_FILES.match(f)}
        foreign = [f for f in _files_under(old) if f not in ours]
        clash = [f for f in foreign if (self.partial / f).exists()]
        if clash:
            raise RunError(f"{old / clash[0]}: not written by edgeroam, but the new run writes a file of "
                           "that name; move it away, then run again")
        for rel in foreign:
            (self.partial / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(old / rel, self.partial / rel)
        aside = Path(tempfile.mkdtemp(prefix=f".{old.name}.", suffix=".replaced", dir=old.parent))
        os.replace(old, aside / "run")
        os.replace(self.partial, old)
        left = [f for f in _files_under(aside / "run") if f not in ours]
        if left:  # a file appeared in the old directory meanwhile: keep it where it is, say where
            raise RunError(f"{old}: replaced, but {len(left)} file(s) appeared in the old run meanwhile; "
                           f"they are in {aside / 'run'}")
        shutil.rmtree(aside)
        self.replaced = True
        self.kept = foreign

    def _clear_stale_partials(self) -> None:
        """Remove partial folders of this run left by writers that are gone: a live writer holds a ``flock``
        on its folder until it commits or aborts, a crashed one's lock went with its process."""
        pattern = re.compile(rf"^{re.escape(self.path.name)}(?:\.\d+-[^/]+)?{re.escape(PARTIAL_SUFFIX)}$")
        for entry in sorted(self.path.parent.iterdir()):
            if not pattern.match(entry.name) or not entry.is_dir() or entry.is_symlink():
                continue
            fd = try_lock_folder(entry)
            if fd is not None:
                try:
                    shutil.rmtree(entry, ignore_errors=True)
                finally:
                    os.close(fd)

    def abort(self, exc: BaseException | None = None) -> None:
        """Log the failure and close; the partial folder stays for inspection (until the next writer of the
        same run commits) and is never renamed."""
        if self._log is not None and exc is not None:
            with contextlib.suppress(Exception):
                self.log("abort", error=f"{type(exc).__name__}: {exc}")
        self._close_log()
        self._release()
        self._opened = False

    # -- writing --------------------------------------------------------------------------------------------
    def write_table(self, name: str, table: pd.DataFrame) -> None:
        """Write `table` as ``<name>.parquet`` (pyarrow, no index, zstd)."""
        self._require_open()
        _check_name(name, "table")
        target = self.partial / f"{name}.parquet"
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            table.to_parquet(tmp, engine="pyarrow", index=False, compression="zstd")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        except (ValueError, TypeError, OSError) as exc:
            raise RunError(f"{target}: cannot write table {name!r}: {exc}") from exc
        os.replace(tmp, target)

    def write_summary(self, summary: Mapping[str, Any], timing: Mapping[str, Any] | None = None) -> None:
        """Write ``summary.json`` (see :func:`summary_bytes`); wall times and other noise go in `timing`."""
        self._require_open()
        target = self.partial / SUMMARY
        _atomic_write(target, summary_bytes(summary, timing))
        self._has_summary = True

    def write_scenario(self, resolved: Mapping[str, Any]) -> None:
        """Write the fully resolved scenario as ``scenario.toml`` (keys sorted, None values left out)."""
        import tomli_w

        self._require_open()
        target = self.partial / SCENARIO
        try:
            text = tomli_w.dumps(_toml_ready(_plain(resolved)))
        except TypeError as exc:
            raise RunError(f"{target}: scenario cannot be written as TOML: {exc}") from exc
        _atomic_write(target, text.encode("utf-8"))

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Write any other file (e.g. ``figures/map.png``) atomically under the run directory."""
        self._require_open()
        parts = Path(relpath).parts
        for part in parts:
            _check_name(part, "file")
        target = self.partial.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, data)

    def write_figure(self, name: str, figure: Any, dpi: int = 150) -> None:
        """Save a matplotlib figure as ``figures/<name>.png`` (temp name, then ``os.replace``)."""
        self._require_open()
        _check_name(name, "figure")
        target = self.partial / FIGURES / f"{name}.png"
        tmp = target.with_name(f".{target.name}.tmp")
        figure.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
        os.replace(tmp, target)

    def log(self, event: str, **fields: Any) -> None:
        """Append one JSON line ``{"event": ..., **fields}`` to ``log.jsonl`` (flushed at once)."""
        self._require_open()
        record = {"event": event, **fields}
        self._log.write(canonical_json(record) + "\n")
        self._log.flush()

    # -- internals ------------------------------------------------------------------------------------------
    def _require_open(self) -> None:
        if not self._opened:
            state = "committed" if self._committed else "not open"
            raise RunError(f"{self.partial}: run directory writer is {state}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.flush()
            os.fsync(self._log.fileno())
            self._log.close()
            self._log = None

    def _release(self) -> None:
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None


class RunDir:
    """A complete run directory, read back.

    Parameters
    ----------
    path : path
        A directory written by :class:`RunDirWriter`. A ``.partial`` folder, one without ``summary.json``,
        or one whose files no longer match its ``manifest.json`` is refused with a
        :class:`~edgeroam.errors.RunError`.
    verify : bool
        Check the manifest (sizes, then SHA-256 of every listed file); files it does not list are ignored.
    """

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True):
        self.path = Path(path)
        if self.path.name.endswith(PARTIAL_SUFFIX):
            raise RunError(f"{self.path}: an incomplete run (still running or crashed)")
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run directory")
        if not (self.path / SUMMARY).is_file():
            raise RunError(f"{self.path}: not a run directory (no {SUMMARY})")
        if verify:
            check_manifest(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The directory name (``<scenario name>-<hash>``)."""
        return self.path.name

    def _read(self, name: str, parse: Any, errors: tuple[type[Exception], ...], what: str) -> dict[str, Any]:
        p = self.path / name
        try:
            return parse(p.read_text(encoding="utf-8"))
        except (OSError, *errors) as exc:
            raise RunError(f"{p}: cannot read {what}: {exc}") from exc

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` as a dict (``timing`` included)."""
        return self._read(SUMMARY, json.loads, (json.JSONDecodeError,), "summary")

    @property
    def scenario(self) -> dict[str, Any]:
        """``scenario.toml`` as a dict."""
        return self._read(SCENARIO, tomllib.loads, (tomllib.TOMLDecodeError,), "scenario")

    @property
    def tables(self) -> list[str]:
        """Names of the Parquet tables, sorted."""
        return sorted(p.stem for p in self.path.glob("*.parquet"))

    def table(self, name: str) -> pd.DataFrame:
        """Read ``<name>.parquet``."""
        _check_name(name, "table")
        p = self.path / f"{name}.parquet"
        if not p.is_file():
            raise RunError(f"{self.path}: no table {name!r} (has: {', '.join(self.tables) or 'none'})")
        return pd.read_parquet(p, engine="pyarrow")

    @property
    def figures(self) -> list[Path]:
        """Figure files, sorted."""
        return sorted((self.path / FIGURES).glob("*.png"))

    def log(self) -> Iterator[dict[str, Any]]:
        """The records of ``log.jsonl``, in order."""
        p = self.path / LOG
        if not p.is_file():
            return
        with open(p, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise RunError(f"{p}, line {n}: bad JSON: {exc}") from exc

    def digest(self) -> str:
        """:func:`summary_digest` of this run: equal for runs that must be identical."""
        return summary_digest(self.path)


def open_run_dir(path: str | os.PathLike[str]) -> RunDir:
    """Open a complete run directory for reading (see :class:`RunDir`)."""
    return RunDir(path)
