"""Map axes that a reader can use: kilometres from the map's lower-left corner, and the frame named.

Projected coordinates (UTM metres, e.g. 4,420,000 m north) are unreadable as tick labels, so every map keeps
its data in metres and only its ticks and labels change: ticks fall on round distances from the corner,
labels are in km, and the axis labels name the CRS and where the corner is. Drawing the maps themselves is
left to the figure modules (topology/export.py, datasets/plot.py, report/figures.py).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

__all__ = ["crs_label", "km_axes", "lonlat_axes"]


def crs_label(crs: Any) -> str:
    """A short name of `crs`: ``"EPSG:32650, WGS 84 / UTM zone 50N"``; a local frame without a CRS says so.

    Examples
    --------
    >>> crs_label("EPSG:32650")
    'EPSG:32650, WGS 84 / UTM zone 50N'
    >>> crs_label(None)
    'local metric frame, no CRS'
    >>> crs_label("UTM, zone unknown")
    'UTM, zone unknown'
    >>> crs_label("+proj=aeqd +lat_0=36.3721 +lon_0=127.3604 +datum=WGS84 +units=m")
    'Azimuthal Equidistant on WGS 84, centre 36.3721° N 127.3604° E'
    """
    if crs is None:
        return "local metric frame, no CRS"
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs)
    except (CRSError, TypeError):  # not a CRS pyproj knows: shown as given
        return str(crs)
    epsg = c.to_epsg()
    if epsg:
        return f"EPSG:{epsg}, {c.name}"
    if c.name and c.name != "unknown":
        return c.name
    # a custom projection (e.g. the synthetic traces' azimuthal equidistant frame): its method and centre
    op = c.coordinate_operation
    method = op.method_name if op is not None else "custom projection"
    with warnings.catch_warnings():  # to_dict warns that a PROJ string is lossy; only two numbers are read
        warnings.simplefilter("ignore", UserWarning)
        d = c.to_dict()
    if "lat_0" in d and "lon_0" in d:
        return f"{method} on WGS 84, centre {d['lat_0']:.4f}° N {d['lon_0']:.4f}° E"
    return method


def _round_down(v: float, step: float) -> float:
    return math.floor(v / step) * step


def km_axes(ax: Any, corner: tuple[float, float], crs: Any) -> tuple[float, float]:
    """Label `ax` (data in metres) in km from `corner` (rounded down to 100 m) and name the frame.

    Ticks fall on round km distances from the corner. Returns the rounded corner, which the x label states
    in the frame's own metres, so any point can be read back.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    x0, y0 = _round_down(corner[0], 100.0), _round_down(corner[1], 100.0)

    class _FromCorner(MaxNLocator):
        def __init__(self, origin: float) -> None:
            super().__init__(nbins=7, steps=[1, 2, 2.5, 5, 10])
            self.origin = origin

        def tick_values(self, vmin: float, vmax: float):  # type: ignore[override]
            return super().tick_values(vmin - self.origin, vmax - self.origin) + self.origin

    for axis, origin in ((ax.xaxis, x0), (ax.yaxis, y0)):
        axis.set_major_locator(_FromCorner(origin))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos, o=origin: f"{(v - o) / 1000:.3g}"))
    ax.set_xlabel(f"km east of ({x0:,.0f}, {y0:,.0f}) m\n{crs_label(crs)}", fontsize=7)
    ax.set_ylabel("km north", fontsize=7)
    return x0, y0


def lonlat_axes(ax: Any) -> None:
    """Label `ax` (data in degrees) as longitude / latitude on WGS 84."""
    ax.set_xlabel("longitude (° E) — EPSG:4326, WGS 84", fontsize=8)
    ax.set_ylabel("latitude (° N)", fontsize=8)
