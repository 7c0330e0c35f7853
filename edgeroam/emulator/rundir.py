"""Atomic writer and reader of run directories (DESIGN.md section 5).

A run writes ``runs/<name>-<short hash of the resolved scenario>/``: ``scenario.toml`` (fully resolved),
``summary.json`` (headline metrics, versions, seed; the wall time under ``timing``), ``<table>.parquet``
(handovers, queries, transfers, backhaul, predictions, ...), ``figures/*.png`` and ``log.jsonl``.

Everything is written inside ``<dir>.partial/``; each file goes to a temporary name and is ``os.replace``d,
and the folder is renamed to ``<dir>`` only when the run completed, so a complete-looking run directory is
always complete. A crash leaves ``<dir>.partial/`` (with its ``log.jsonl`` for the post-mortem); the next
writer of the same run clears it. ``summary.json`` has sorted keys and a fixed layout, so the same scenario
and seed give byte-identical files apart from the ``timing`` section (:func:`summary_digest` leaves it out).

What it leaves to others: computing the metrics (``metrics.py``), drawing figures (``edgeroam.report``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.errors import RunError

__all__ = [
    "PARTIAL_SUFFIX",
    "RunDir",
    "RunDirWriter",
    "canonical_json",
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


def versions() -> dict[str, str]:
    """Versions that can change results: edgeroam, Python, numpy, pandas, pyarrow."""
    import pyarrow

    import edgeroam

    return {
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


class RunDirWriter:
    """Writes one run directory atomically; use as a context manager.

    Parameters
    ----------
    path : path
        The final run directory (e.g. ``runs/demo-1a2b3c4d5e``). Work happens in ``<path>.partial``.
    overwrite : bool
        Replace an existing complete run directory at `path` on :meth:`commit`. Without it, an existing one
        is an error raised before anything is written.

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
    ['figures', 'log.jsonl', 'queries.parquet', 'scenario.toml', 'summary.json']
    """

    def __init__(self, path: str | os.PathLike[str], overwrite: bool = False):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + PARTIAL_SUFFIX)
        self.overwrite = overwrite
        self._log: Any = None
        self._opened = False
        self._committed = False
        self._has_summary = False

    # -- lifecycle ------------------------------------------------------------------------------------------
    def open(self) -> RunDirWriter:
        """Create a fresh ``<path>.partial/`` (clearing a stale one)."""
        if self.path.exists() and not self.overwrite:
            raise RunError(f"{self.path}: run directory exists (use overwrite to replace it)")
        if self.partial.exists():
            shutil.rmtree(self.partial)
        (self.partial / FIGURES).mkdir(parents=True)
        self._log = open(self.partial / LOG, "a", encoding="utf-8")  # noqa: SIM115 - closed by commit/abort
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
        """Close the log and rename ``<path>.partial`` to ``<path>``; needs :meth:`write_summary` first."""
        self._require_open()
        if not self._has_summary:
            raise RunError(f"{self.partial}: no summary.json written; the run is not complete")
        self._close_log()
        if self.path.exists():
            if not self.overwrite:
                raise RunError(f"{self.path}: run directory appeared while running")
            old = self.path.with_name(self.path.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.path, old)
            os.replace(self.partial, self.path)
            shutil.rmtree(old)
        else:
            os.replace(self.partial, self.path)
        self._committed = True
        self._opened = False
        return self.path

    def abort(self, exc: BaseException | None = None) -> None:
        """Log the failure and close; ``<path>.partial`` stays for inspection and is never renamed."""
        if self._log is not None and exc is not None:
            with contextlib.suppress(Exception):
                self.log("abort", error=f"{type(exc).__name__}: {exc}")
        self._close_log()
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


class RunDir:
    """A complete run directory, read back.

    Parameters
    ----------
    path : path
        A directory written by :class:`RunDirWriter`. A ``.partial`` folder or one without ``summary.json``
        is refused with a :class:`~edgeroam.errors.RunError`.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if self.path.name.endswith(PARTIAL_SUFFIX):
            raise RunError(f"{self.path}: an incomplete run (still running or crashed)")
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run directory")
        if not (self.path / SUMMARY).is_file():
            raise RunError(f"{self.path}: not a run directory (no {SUMMARY})")

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
