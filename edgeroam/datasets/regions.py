"""Regions of interest: named lat/lon or metric polygons, the PerDNN presets, and point-in-region masks.

Presets
-------
``perdnn-geolife``
    PerDNN's Beijing box (the subway line 2 loop): lat 39.900341–39.950932, lon 116.353370–116.437765,
    bounds inclusive, frame "lonlat".
``perdnn-kaist``
    PerDNN's "1.5 km × 2 km rectangle including the campus" in KAIST's local metric frame. The paper gives no
    coordinates, so it is derived from the data by this rule (`kaist_rectangle`): bin every point into 50 m
    cells (cell index ``floor(v / 50)``), slide a window of 30 × 40 cells (1.5 km wide, 2 km tall) and one of
    40 × 30 cells (2 km × 1.5 km) over the lattice, and keep the window holding the most points; ties go to
    the 1.5 × 2 orientation, then the smallest lower edge y, then the smallest left edge x. On the 92 shared
    KAIST traces this gives **x −1100…400 m, y −700…1300 m** (1.5 km wide, 2 km tall; 120,700 of
    135,055 points, 89.4 %, counting with the lattice's half-open cells). That result is stored in
    `KAIST_RECTANGLE` so the preset needs no data; passing the traces to `get_region` re-derives it.
``synthetic``
    The default area of `synthetic_traces`: x 0…1500 m, y 0…2000 m, frame "metric".

Any other box: ``"lonlat:minlon,minlat,maxlon,maxlat"`` or ``"metric:minx,miny,maxx,maxy"``.
Reading and projecting traces are left to the readers and `project`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from edgeroam.datasets._columns import TraceColumns, column
from edgeroam.errors import DatasetError

if TYPE_CHECKING:  # a `TraceColumns` table is masked without pandas
    import pandas as pd

__all__ = [
    "GEOLIFE_BOX",
    "KAIST_RECTANGLE",
    "REGION_PRESETS",
    "Region",
    "filter_region",
    "get_region",
    "kaist_rectangle",
    "region_mask",
]

Frame = Literal["lonlat", "metric"]

#: PerDNN's Geolife box (minlon, minlat, maxlon, maxlat), bounds inclusive.
GEOLIFE_BOX = (116.353370, 39.900341, 116.437765, 39.950932)
#: The `kaist_rectangle` rule's result on the 92 shared KAIST traces (minx, miny, maxx, maxy), metres.
KAIST_RECTANGLE = (-1100.0, -700.0, 400.0, 1300.0)
#: The lattice step and the two side lengths of the KAIST rule, metres.
KAIST_RULE = {"step_m": 50.0, "short_m": 1500.0, "long_m": 2000.0}


@dataclass(frozen=True)
class Region:
    """A named region: a shapely polygon in lon/lat degrees ("lonlat") or in the traces' metres ("metric").

    Attributes
    ----------
    name : str
        Preset name or the spec it was parsed from.
    frame : {"lonlat", "metric"}
        Which columns the polygon applies to: lon/lat or x/y.
    polygon : shapely Polygon
        Points on the boundary count as inside.
    note : str
        How the region was obtained (shown by ``datasets info``).
    """

    name: str
    frame: Frame
    polygon: Polygon
    note: str = ""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the polygon."""
        return tuple(float(v) for v in self.polygon.bounds)  # type: ignore[return-value]

    @property
    def is_box(self) -> bool:
        """True when the polygon is an axis-aligned rectangle (masks then use plain bounds arithmetic)."""
        return bool(self.polygon.equals(box(*self.polygon.bounds)))

    def to_dict(self) -> dict:
        """A JSON-ready description: name, frame, bounds, and for metric boxes the width and height."""
        minx, miny, maxx, maxy = self.bounds
        d: dict = {"name": self.name, "frame": self.frame, "bounds": [minx, miny, maxx, maxy]}
        if self.frame == "metric":
            d["width_m"] = maxx - minx
            d["height_m"] = maxy - miny
        if self.note:
            d["note"] = self.note
        return d


def _box_region(name: str, frame: Frame, bounds: tuple[float, float, float, float], note: str = "") -> Region:
    minx, miny, maxx, maxy = bounds
    if not (minx < maxx and miny < maxy):
        raise DatasetError(f"region {name!r}: empty box {bounds} (need minx < maxx and miny < maxy)")
    return Region(name=name, frame=frame, polygon=box(minx, miny, maxx, maxy), note=note)


_KAIST_NOTE = (
    "most-points 1.5 km x 2 km window on a 50 m lattice (both orientations; ties: 1.5x2 first, "
    "then lowest y, then lowest x)"
)

#: Preset name -> Region (the KAIST preset is the stored result of the rule; see module docstring).
REGION_PRESETS: dict[str, Region] = {
    "perdnn-geolife": _box_region("perdnn-geolife", "lonlat", GEOLIFE_BOX, "PerDNN Beijing box, inclusive"),
    "perdnn-kaist": _box_region("perdnn-kaist", "metric", KAIST_RECTANGLE, _KAIST_NOTE),
    "synthetic": _box_region("synthetic", "metric", (0.0, 0.0, 1500.0, 2000.0), "synthetic default area"),
}


def kaist_rectangle(
    traces: pd.DataFrame, *, step_m: float = 50.0, short_m: float = 1500.0, long_m: float = 2000.0
) -> tuple[float, float, float, float]:
    """Derive the most-points ``short_m × long_m`` rectangle (either orientation) on a ``step_m`` lattice.

    The rule (repeatable, documented in the module docstring): count points per lattice cell
    ``(floor(x / step), floor(y / step))``; window sums by a 2-D prefix sum for both orientations; the
    maximum wins; ties go to the (short wide × long tall) orientation, then the smallest lower y, then the
    smallest left x.

    Returns
    -------
    (minx, miny, maxx, maxy) in the traces' metres.
    """
    x = traces["x"].to_numpy(dtype=float)
    y = traces["y"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise DatasetError("cannot derive the KAIST rectangle: the traces have no metric x/y")
    ix = np.floor(x[ok] / step_m).astype(np.int64)
    iy = np.floor(y[ok] / step_m).astype(np.int64)
    ix0, iy0 = int(ix.min()), int(iy.min())
    nx, ny = int(ix.max()) - ix0 + 1, int(iy.max()) - iy0 + 1
    counts = np.zeros((ny, nx), dtype=np.int64)
    np.add.at(counts, (iy - iy0, ix - ix0), 1)
    ws, wl = int(round(short_m / step_m)), int(round(long_m / step_m))
    best: tuple | None = None
    for order, (w, h) in enumerate(((ws, wl), (wl, ws))):
        # zero-pad so that windows may hang over the data's edge: padded cell (j, i) is lattice cell
        # (iy0 - (h - 1) + j, ix0 - (w - 1) + i); window (j, i) covers padded rows j..j+h-1, cols i..i+w-1
        padded = np.zeros((ny + 2 * (h - 1), nx + 2 * (w - 1)), dtype=np.int64)
        padded[h - 1 : h - 1 + ny, w - 1 : w - 1 + nx] = counts
        # prefix sums padded so that S[j, i] = padded[:j, :i].sum()
        S = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), dtype=np.int64)
        S[1:, 1:] = padded.cumsum(0).cumsum(1)
        win = S[h:, w:] - S[:-h, w:] - S[h:, :-w] + S[:-h, :-w]
        top = int(win.max())
        js, is_ = np.nonzero(win == top)
        k = np.lexsort((is_, js))[0]  # smallest lower edge first, then smallest left edge
        cy = iy0 - (h - 1) + int(js[k])
        cx = ix0 - (w - 1) + int(is_[k])
        cand = (-top, order, cy, cx, w, h)
        if best is None or cand < best:
            best = cand
    assert best is not None
    _, _, cy, cx, w, h = best
    return (cx * step_m, cy * step_m, (cx + w) * step_m, (cy + h) * step_m)


def _parse_spec(spec: str) -> Region:
    frame, _, rest = spec.partition(":")
    try:
        vals = tuple(float(v) for v in rest.split(","))
    except ValueError:
        vals = ()
    if frame not in ("lonlat", "metric") or len(vals) != 4:
        known = ", ".join(sorted(REGION_PRESETS))
        raise DatasetError(
            f"unknown region {spec!r}: use a preset ({known}) or 'lonlat:minlon,minlat,maxlon,maxlat' "
            "or 'metric:minx,miny,maxx,maxy'"
        )
    return _box_region(spec, frame, vals)  # type: ignore[arg-type]


def get_region(name: str | Region, traces: pd.DataFrame | None = None) -> Region:
    """Return a Region by preset name or box spec; a Region is returned as is.

    Parameters
    ----------
    name : str or Region
        A key of `REGION_PRESETS`, ``"lonlat:minlon,minlat,maxlon,maxlat"`` or
        ``"metric:minx,miny,maxx,maxy"``.
    traces : DataFrame, optional
        For ``perdnn-kaist``: when given, the rectangle is re-derived from these traces with `kaist_rectangle`
        instead of using the stored `KAIST_RECTANGLE`.

    Raises
    ------
    DatasetError
        For an unknown name or a malformed spec (the message lists the presets).
    """
    if isinstance(name, Region):
        return name
    if name == "perdnn-kaist" and traces is not None:
        return _box_region(name, "metric", kaist_rectangle(traces, **KAIST_RULE), _KAIST_NOTE)
    if name in REGION_PRESETS:
        return REGION_PRESETS[name]
    return _parse_spec(name)


def region_mask(traces: pd.DataFrame | TraceColumns, region: Region | str) -> np.ndarray:
    """Boolean array: which rows of `traces` lie in `region` (boundary included).

    A "lonlat" region tests lon/lat, a "metric" region tests x/y; rows with NaN coordinates are outside.

    Raises
    ------
    DatasetError
        When the columns the region needs are all NaN (e.g. a lon/lat box on KAIST's local frame).
    """
    region = get_region(region)
    cols = ("lon", "lat") if region.frame == "lonlat" else ("x", "y")
    a = column(traces, cols[0], float)
    b = column(traces, cols[1], float)
    if len(traces) and not (_any_finite(a) and _any_finite(b)):
        what = "lat/lon" if region.frame == "lonlat" else "metric x/y (project the traces first)"
        raise DatasetError(f"region {region.name!r} needs {what}, but the traces have none")
    if region.is_box:
        minx, miny, maxx, maxy = region.polygon.bounds
        out = np.empty(len(a), dtype=bool)
        for s in range(0, len(a), _CHUNK):  # in place, chunk by chunk: no temporary of the table's length
            part, sa, sb = out[s : s + _CHUNK], a[s : s + _CHUNK], b[s : s + _CHUNK]
            np.greater_equal(sa, minx, out=part)
            part &= sa <= maxx
            part &= sb >= miny
            part &= sb <= maxy
        return out
    ok = np.isfinite(a) & np.isfinite(b)
    out = np.zeros(len(a), dtype=bool)
    out[ok] = shapely.intersects_xy(region.polygon, a[ok], b[ok])
    return out


_CHUNK = 1 << 16
"""Rows per chunk of a box mask (its temporaries stay in the cache)."""


def _any_finite(v: np.ndarray) -> bool:
    """True when `v` holds a finite value (its first values looked at first: a whole pass only when they
    are all missing)."""
    return bool(np.isfinite(v[:64]).any() or np.isfinite(v).any())


def filter_region(traces: pd.DataFrame, region: Region | str) -> pd.DataFrame:
    """Rows of `traces` inside `region` (boundary included), attrs kept and the region name recorded.

    Raises
    ------
    DatasetError
        When no point lies in the region.
    """
    region = get_region(region)
    mask = region_mask(traces, region)
    if len(traces) and not mask.any():
        raise DatasetError(f"no point of the traces lies in region {region.name!r} (bounds {region.bounds})")
    out = traces.loc[mask].reset_index(drop=True)
    out.attrs = dict(traces.attrs)
    out.attrs["region"] = region.name
    return out
