"""Projection of a Traces table between lat/lon (WGS 84) and a metric CRS (UTM by default).

`utm_crs_for` picks the UTM zone from the data's median position; `project` fills x, y from lat, lon and
`unproject` fills lat, lon from x, y. Reading traces is left to the readers, region filters to `regions`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError

__all__ = ["project", "unproject", "utm_crs_for"]


def utm_crs_for(lon: float | np.ndarray, lat: float | np.ndarray) -> str:
    """Return the UTM CRS ("EPSG:326ZZ" north, "EPSG:327ZZ" south) holding the median of the given points.

    Parameters
    ----------
    lon, lat : float or array
        Degrees (WGS 84); NaN values are ignored.

    Examples
    --------
    >>> utm_crs_for(116.4, 39.9)
    'EPSG:32650'
    >>> utm_crs_for(151.2, -33.9)
    'EPSG:32756'
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    if not ok.any():
        raise DatasetError("cannot choose a UTM zone: no finite lat/lon values")
    mlon = float(np.median(lon_a[ok]))
    mlat = float(np.median(lat_a[ok]))
    if not (-180.0 <= mlon <= 180.0 and -90.0 <= mlat <= 90.0):
        raise DatasetError(f"cannot choose a UTM zone: median lon/lat ({mlon}, {mlat}) out of range")
    zone = int(np.floor((mlon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{32600 + zone if mlat >= 0 else 32700 + zone}"


def _transformer(src: str, dst: str):
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


_PARALLEL_FROM = 200_000
"""Points from which `_transform` splits the work over threads (pyproj releases the GIL on arrays)."""


def _transform(src: str, dst: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`a`, `b` transformed from `src` to `dst` (always x/lon first), in slices on every core when large.

    Each point is transformed on its own, so the slices give exactly the single call's numbers; each thread
    has its own Transformer (they are not thread-safe).
    """
    workers = min(os.cpu_count() or 1, 4)
    if len(a) < _PARALLEL_FROM or workers < 2:
        return _transformer(src, dst).transform(a, b)
    cuts = np.linspace(0, len(a), workers + 1).astype(np.int64)
    spans = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda s: _transformer(src, dst).transform(a[s[0]:s[1]], b[s[0]:s[1]]), spans))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def project(traces: pd.DataFrame, crs: str | None = None) -> pd.DataFrame:
    """Return a copy of `traces` with x, y (metres) computed from lon, lat in `crs`.

    Parameters
    ----------
    traces : DataFrame
        A Traces table with lat/lon filled.
    crs : str, optional
        Target projected CRS (anything pyproj accepts); default: the UTM zone of the data (`utm_crs_for`).

    Returns
    -------
    DataFrame
        Same rows; x, y filled where lat/lon are finite; attrs "crs" set and "metric_frame" = "utm".
        A table that has no lat/lon but already holds metric x, y (KAIST's local frame, synthetic traces)
        is returned unchanged (a copy).
    """
    lat = traces["lat"].to_numpy(dtype=float)
    lon = traces["lon"].to_numpy(dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = traces.copy()
    out.attrs = dict(traces.attrs)
    if not ok.any():
        if len(traces) and np.isfinite(traces["x"].to_numpy(dtype=float)).all():
            return out
        if len(traces) == 0:
            return out
        raise DatasetError("cannot project: the traces have neither lat/lon nor metric x/y")
    if crs is None:
        crs = utm_crs_for(lon[ok], lat[ok])
    x = np.full(len(traces), np.nan)
    y = np.full(len(traces), np.nan)
    x[ok], y[ok] = _transform("EPSG:4326", crs, lon[ok], lat[ok])
    out["x"] = x
    out["y"] = y
    out.attrs["crs"] = crs
    out.attrs["metric_frame"] = "utm"
    return out


def unproject(traces: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `traces` with lat, lon computed from x, y in the CRS named by ``attrs["crs"]``.

    Raises
    ------
    DatasetError
        When the table has no CRS (e.g. KAIST's local frame, whose geographic position is unknown).
    """
    crs = traces.attrs.get("crs")
    if not crs:
        raise DatasetError(
            "cannot unproject: the traces have no CRS (a local metric frame with unknown geographic origin)"
        )
    x = traces["x"].to_numpy(dtype=float)
    y = traces["y"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    lat = np.full(len(traces), np.nan)
    lon = np.full(len(traces), np.nan)
    if ok.any():
        lon[ok], lat[ok] = _transform(crs, "EPSG:4326", x[ok], y[ok])
    out = traces.copy()
    out.attrs = dict(traces.attrs)
    out["lat"] = lat
    out["lon"] = lon
    return out
