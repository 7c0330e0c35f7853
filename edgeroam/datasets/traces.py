"""The Traces table: the one shape every trace reader returns and every later stage consumes.

Columns (DESIGN.md §3): ``user`` (category), ``traj`` (int32, unique per user), ``t`` (float64 seconds since
the Unix epoch, UTC; for KAIST seconds from the start of the trace), ``x``, ``y`` (float64 metres; NaN until
projected), ``lat``, ``lon`` (float64; NaN where unknown), optional ``mode`` (category). Rows are sorted by
user, traj, t. ``attrs`` holds ``crs``, ``source``, ``metric_frame`` and ``read_report``.

This module builds, checks and converts the table; reading files is left to the readers (geolife, kaist),
projection to ``project``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from edgeroam._memory import trim_heap
from edgeroam.datasets._columns import is_sorted, sort_order
from edgeroam.datasets._report import MAX_REPORT_WARNINGS, empty_read_report
from edgeroam.errors import DatasetError

__all__ = [
    "MAX_REPORT_WARNINGS",
    "METRIC_FRAMES",
    "OPTIONAL_COLUMNS",
    "TRACE_COLUMNS",
    "empty_read_report",
    "make_traces",
    "to_geodataframe",
    "trim_heap",
    "validate_traces",
]

TRACE_COLUMNS: tuple[str, ...] = ("user", "traj", "t", "x", "y", "lat", "lon")
OPTIONAL_COLUMNS: tuple[str, ...] = ("mode",)
METRIC_FRAMES: tuple[str | None, ...] = ("utm", "local", None)
_FLOAT_COLUMNS = ("t", "x", "y", "lat", "lon")
_SHARED_NAN = int(pd.__version__.split(".")[0]) >= 3  # copy-on-write always on: a shared column is safe


def make_traces(
    df: pd.DataFrame,
    *,
    crs: str | None = None,
    source: str = "",
    metric_frame: str | None = None,
    read_report: dict[str, Any] | None = None,
    presorted: bool = False,
    nan: np.ndarray | None = None,
) -> pd.DataFrame:
    """Turn a frame with the Traces columns into a Traces table: dtypes, column order, sort order and attrs.

    Missing ``x``/``y``/``lat``/``lon`` columns are filled with NaN; extra columns other than ``mode`` are
    dropped.

    Parameters
    ----------
    df
        Frame with at least ``user``, ``traj`` and ``t``.
    crs
        A CRS string pyproj accepts (for x, y), or None for an unknown local frame / lat-lon only.
    source
        Where the data came from (a path or a generator name).
    metric_frame
        ``"utm"``, ``"local"`` or None (x, y not filled).
    read_report
        The reader's report (files, lines, bad lines skipped, warnings).
    presorted
        The caller built the rows in (user, traj, t) order (a reader that found no time going backwards in
        any file): the order is not checked row by row.
    nan
        NaN values, one per row, for the missing float columns (a reader whose workers filled them while
        placing the rows, instead of one thread filling a fresh array here).
    """
    if metric_frame not in METRIC_FRAMES:
        raise DatasetError(f"metric_frame must be one of {METRIC_FRAMES}, got {metric_frame!r}")
    for col in ("user", "traj", "t"):
        if col not in df.columns:
            raise DatasetError(f"traces need a {col!r} column (source {source or '<unknown>'})")
    n = len(df)
    out: dict[str, Any] = {}
    user = df["user"]
    # the input's index dropped (it may repeat labels, e.g. pd.concat without ignore_index); the columns kept
    # as Series, not as `to_numpy()`'s read-only views: copy-on-write then knows they are shared with `df`
    # and copies a column on its first write, where a table of read-only arrays would refuse every write
    is_cat = isinstance(user.dtype, pd.CategoricalDtype)
    out["user"] = user.array if is_cat else pd.Categorical(user.astype(str))
    same = isinstance(df.index, pd.RangeIndex) and df.index.equals(pd.RangeIndex(n))
    frame = df if same else df.reset_index(drop=True)
    out["traj"] = _typed(frame["traj"], np.int32)
    missing: Any = None
    for col in _FLOAT_COLUMNS:
        if col in df.columns:
            out[col] = _typed(frame[col], np.float64)
        else:
            if missing is None or not _SHARED_NAN:
                values = nan if missing is None and nan is not None else np.full(n, np.nan)
                missing = pd.Series(values, index=pd.RangeIndex(n), copy=False)
            out[col] = missing  # with copy-on-write the missing columns share one array until written
    if "mode" in df.columns:
        mode = df["mode"]
        out["mode"] = mode.array if isinstance(mode.dtype, pd.CategoricalDtype) else pd.Categorical(mode)
    result = pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)
    if not presorted:
        result = _sorted(result)
    result.attrs = {
        "crs": crs,
        "source": str(source),
        "metric_frame": metric_frame,
        "read_report": read_report if read_report is not None else empty_read_report(),
    }
    return result


def _typed(col: pd.Series, dtype: type) -> pd.Series:
    """`col` itself where it has `dtype` already (shared, not copied), else converted."""
    return col if col.dtype == dtype else col.astype(dtype)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by user (category order), traj, t; stable, and a no-op copy-free path when already sorted."""
    order = sort_order(df["user"].cat.codes.to_numpy(), df["traj"].to_numpy(), df["t"].to_numpy())
    return df if order is None else df.iloc[order].reset_index(drop=True)


def validate_traces(df: pd.DataFrame) -> None:
    """Check that `df` is a Traces table; raise DatasetError naming the first offending column.

    Checks presence and dtype of every column, the sort order, ``traj`` >= 0, and the attrs keys.
    """
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"traces must be a pandas DataFrame, got {type(df).__name__}")
    for col in TRACE_COLUMNS:
        if col not in df.columns:
            raise DatasetError(f"traces column {col!r} is missing")
    if not isinstance(df["user"].dtype, pd.CategoricalDtype):
        raise DatasetError(f"traces column 'user' must be category, got {df['user'].dtype}")
    if df["traj"].dtype != np.int32:
        raise DatasetError(f"traces column 'traj' must be int32, got {df['traj'].dtype}")
    for col in _FLOAT_COLUMNS:
        if df[col].dtype != np.float64:
            raise DatasetError(f"traces column {col!r} must be float64, got {df[col].dtype}")
    if "mode" in df.columns and not isinstance(df["mode"].dtype, pd.CategoricalDtype):
        raise DatasetError(f"traces column 'mode' must be category, got {df['mode'].dtype}")
    if df["user"].isna().any():
        raise DatasetError("traces column 'user' has missing values")
    if (df["traj"].to_numpy() < 0).any():
        raise DatasetError("traces column 'traj' has negative values")
    if np.isnan(df["t"].to_numpy()).any():
        raise DatasetError("traces column 't' has NaN values")
    if len(df) > 1 and not is_sorted(
        df["user"].cat.codes.to_numpy(), df["traj"].to_numpy(), df["t"].to_numpy()
    ):
        raise DatasetError("traces column 't' (with user, traj) is not sorted by user, traj, t")
    frame = df.attrs.get("metric_frame")
    if frame not in METRIC_FRAMES:
        raise DatasetError(f"traces attrs 'metric_frame' must be one of {METRIC_FRAMES}, got {frame!r}")


def to_geodataframe(traces: pd.DataFrame) -> Any:
    """Return the traces as a GeoDataFrame of points with a proper CRS.

    Points come from x, y in ``attrs["crs"]`` when x, y are filled in a known metric CRS; otherwise from
    lon/lat in EPSG:4326. A local metric frame with no CRS (KAIST) gives points from x, y with
    ``crs=None``; a warning says so. Rows whose coordinates are NaN give empty points.
    """
    import geopandas as gpd  # heavy import kept local

    validate_traces(traces)
    attrs = dict(traces.attrs)
    crs = attrs.get("crs")
    frame = attrs.get("metric_frame")
    x = traces["x"].to_numpy()
    lon = traces["lon"].to_numpy()
    if frame is not None and crs and not np.isnan(x).all():
        geometry = gpd.points_from_xy(x, traces["y"].to_numpy(), crs=crs)
        out_crs = crs
    elif not np.isnan(lon).all() or frame is None:
        geometry = gpd.points_from_xy(lon, traces["lat"].to_numpy(), crs="EPSG:4326")
        out_crs = "EPSG:4326"
    else:
        import warnings

        warnings.warn(
            f"traces from {attrs.get('source') or '<unknown>'} are in a local metric frame with no known CRS "
            "(e.g. KAIST); the GeoDataFrame has crs=None",
            stacklevel=2,
        )
        geometry = gpd.points_from_xy(x, traces["y"].to_numpy())
        out_crs = None
    gdf = gpd.GeoDataFrame(traces.copy(), geometry=geometry, crs=out_crs)
    gdf.attrs = attrs
    return gdf
