"""A Parquet cache for parsed trace tables, keyed by the source files and the reader's options.

The key is a SHA-256 over the table kind, a format version, each source's absolute path, size and mtime (a
folder stands for every file under it) and the options; any change gives a new key, so a stale entry is never
read. ``DataFrame.attrs`` are stored as JSON in the Parquet schema metadata and restored on read; the file is
written to a temporary name in the cache folder and ``os.replace``d, so a reader never sees half a file.
Which reader to call and with which options is the caller's business (see ``load``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas and pyarrow are imported where a table is read or written, not for a key
    import pandas as pd

__all__ = ["CACHE_FORMAT", "cache_key", "cache_path", "cached_read"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 4  # bump when the stored layout changes (2: category columns; 3: skipped, re-sorted files;
# 4: all-NaN float columns named, not stored)
_ATTRS_KEY = b"edgeroam.attrs"
_CATEGORIES_KEY = b"edgeroam.categories"
_NAN_KEY = b"edgeroam.nan"


def _file_stats(sources: Iterable[Path]) -> list[list[Any]] | None:
    """[path, size, mtime_ns] per file (folders expanded, sorted); None if a source cannot be stat'ed."""
    out: list[list[Any]] = []
    try:
        for src in sources:
            path = Path(src).resolve()
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for f in files:
                st = f.stat()
                out.append([str(f), st.st_size, st.st_mtime_ns])
    except OSError:
        return None
    return out


def cache_key(kind: str, sources: Iterable[Path], options: dict[str, Any]) -> str | None:
    """The hex key of a table of `kind` read from `sources` with `options`; None if a source is missing."""
    stats = _file_stats(sources)
    if stats is None:
        return None
    blob = json.dumps(
        {"format": CACHE_FORMAT, "kind": kind, "sources": stats, "options": options},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(cache_dir: Path, kind: str, key: str) -> Path:
    """Where the entry with `key` lives."""
    return Path(cache_dir) / f"{kind}-{key[:24]}.parquet"


def cached_read(
    kind: str,
    sources: list[Path],
    options: dict[str, Any],
    build: Callable[[], pd.DataFrame],
    *,
    cache_dir: Path = Path(".cache/datasets"),
    enabled: bool = True,
) -> pd.DataFrame:
    """Return ``build()``, from the Parquet cache when an entry for these sources and options exists.

    Parameters
    ----------
    kind
        A short name of the table (``"geolife"``, ``"kaist"``); part of the key and the file name.
    sources
        The files (or folders) the table is read from; their paths, sizes and mtimes key the entry.
    options
        The reader's options (JSON-able); part of the key.
    build
        Reads the table when the cache misses (or is disabled).
    cache_dir
        The cache folder (created on demand).
    enabled
        False bypasses the cache entirely (no read, no write).

    Returns
    -------
    pandas.DataFrame
        The table with its attrs; ``attrs["cache"]`` says ``{"hit": bool, "path": str}`` when the cache is on.
    """
    if not enabled:
        return build()
    key = cache_key(kind, sources, options)
    if key is None:  # a source is missing: let the reader raise its own clear error
        return build()
    path = cache_path(cache_dir, kind, key)
    if path.exists():
        df = _read(path)
        if df is not None:
            df.attrs["cache"] = {"hit": True, "path": str(path)}
            return df
    df = build()
    _write(df, path)
    df.attrs["cache"] = {"hit": False, "path": str(path)}
    return df


def _read(path: Path) -> pd.DataFrame | None:
    import pandas as pd
    import pyarrow as pa

    try:
        df, meta = _read_columns(path)
        attrs = json.loads(meta[_ATTRS_KEY]) if _ATTRS_KEY in meta else {}
        categories = json.loads(meta[_CATEGORIES_KEY]) if _CATEGORIES_KEY in meta else {}
        for col, cats in categories.items():
            if not isinstance(df[col].dtype, pd.CategoricalDtype) or df[col].cat.categories.tolist() != cats:
                df[col] = pd.Categorical(df[col], categories=cats)
        if _NAN_KEY in meta:
            df = _with_nan_columns(df, json.loads(meta[_NAN_KEY]))
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
        return None
    attrs.pop("cache", None)
    df.attrs = attrs
    return df


def _nan_columns(df: pd.DataFrame) -> list[str]:
    """The float64 columns of a non-empty `df` that hold only NaN (an unprojected table's x and y, a metric
    table's lat and lon): named in the entry rather than stored, they are neither read nor held twice."""
    import numpy as np

    if not len(df):
        return []
    return [str(c) for c in df.columns
            if df[c].dtype == np.float64 and bool(np.isnan(df[c].to_numpy()).all())]


def _with_nan_columns(df: pd.DataFrame, layout: dict[str, list[str]]) -> pd.DataFrame:
    """`df` with the all-NaN columns an entry names put back in their places, as one NaN array they share
    (as `make_traces` fills missing ones; copy-on-write copies a column on its first write)."""
    import numpy as np
    import pandas as pd

    from edgeroam.datasets.traces import _SHARED_NAN

    nan = set(layout["nan"])
    shared = pd.Series(np.full(len(df), np.nan), index=df.index, copy=False)  # one Series: its uses tracked

    def column(c: str) -> pd.Series:
        if c not in nan:
            return df[c]
        return shared if _SHARED_NAN else shared.copy()

    return pd.DataFrame({c: column(c) for c in layout["columns"]}, index=df.index, copy=False)


def _read_columns(path: Path) -> tuple[pd.DataFrame, dict[bytes, bytes]]:
    """The Parquet file as a DataFrame, one column at a time: each Arrow column is converted, freed and its
    memory handed back by the pool before the next is read, so the peak holds the frame and one column, not
    the whole table twice. Returns the frame and the schema metadata."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pa.default_memory_pool()
    pf = pq.ParquetFile(path)
    meta = pf.schema_arrow.metadata or {}
    columns = {}
    for name in pf.schema_arrow.names:
        table = pf.read(columns=[name], use_threads=True)
        columns[name] = table.to_pandas(split_blocks=True, self_destruct=True)[name]
        del table
        pool.release_unused()
    return pd.DataFrame(columns, copy=False), meta


def _empty_categories(df: pd.DataFrame) -> dict[str, list[Any]]:
    """The category columns whose values are all missing, with their categories (Arrow loses the dtype)."""
    import pandas as pd

    out: dict[str, list[Any]] = {}
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) and not df[col].notna().any():
            out[str(col)] = dtype.categories.tolist()
    return out


def _write(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edgeroam._memory import release_free_memory

    attrs = {k: v for k, v in df.attrs.items() if k != "cache"}
    try:
        nan = _nan_columns(df)
        table = pa.Table.from_pandas(df.drop(columns=nan) if nan else df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_ATTRS_KEY] = json.dumps(attrs, default=str).encode()
        meta[_CATEGORIES_KEY] = json.dumps(_empty_categories(df)).encode()
        if nan:
            meta[_NAN_KEY] = json.dumps({"columns": [str(c) for c in df.columns], "nan": nan}).encode()
        table = table.replace_schema_metadata(meta)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd", compression_level=1)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, pa.ArrowException, TypeError, ValueError) as exc:
        log.warning("could not write cache entry %s (%s); continuing without cache", path, exc)
    finally:
        # the Arrow copy of the table is freed; its pages go back to the system rather than stay in the pool
        # under what the caller does next (a first load_dataset cuts and resamples the table it just cached)
        table = None
        release_free_memory()
