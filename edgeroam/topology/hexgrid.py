"""A hexagonal grid in axial coordinates: points to cells, cells to centres, polygons and neighbourhoods.

Cells are hexagons of circumradius R (PerDNN: 50 m, the range of a Wi-Fi access point) addressed by axial
coordinates (q, r) (Red Blob Games' convention; cube s = -q - r). Every query is vectorized over numpy arrays.
A cell id is a stable int64 packing of (q, r): ``(q << 32) | (r & 0xFFFFFFFF)``. This module knows nothing of
servers or links (servers.py, backhaul.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgeroam.errors import TopologyError

__all__ = ["AXIAL_DIRECTIONS", "HexGrid", "cell_id", "unpack_cell_id"]

#: the six axial neighbour offsets, counter-clockwise starting east (pointy) / south-east (flat)
AXIAL_DIRECTIONS = np.array([(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)], dtype=np.int64)

_SQRT3 = math.sqrt(3.0)
_MASK32 = np.int64(0xFFFFFFFF)


def cell_id(q: np.ndarray | int, r: np.ndarray | int) -> np.ndarray | int:
    """Pack axial (q, r) into one int64 id: ``(q << 32) | (r & 0xFFFFFFFF)`` (q, r must fit int32)."""
    qa = np.asarray(q, dtype=np.int64)
    ra = np.asarray(r, dtype=np.int64)
    out = (qa << np.int64(32)) | (ra & _MASK32)
    return int(out) if out.ndim == 0 else out


def unpack_cell_id(cell: np.ndarray | int) -> tuple[np.ndarray, np.ndarray] | tuple[int, int]:
    """Inverse of `cell_id`: int64 id(s) to axial (q, r)."""
    c = np.asarray(cell, dtype=np.int64)
    q = c >> np.int64(32)
    r = (c & _MASK32).astype(np.uint32).astype(np.int32).astype(np.int64)
    if c.ndim == 0:
        return int(q), int(r)
    return q, r


@dataclass(frozen=True)
class HexGrid:
    """Hexagonal grid of circumradius `radius` metres around `origin` (the centre of cell (0, 0)).

    Parameters
    ----------
    radius : float
        Circumradius R of a cell in metres (centre to corner). Adjacent centres are sqrt(3)·R apart.
    origin : tuple of float
        Metric (x, y) of the centre of cell (0, 0).
    orientation : {"pointy", "flat"}
        "pointy": a corner points up (rows of cells along x); "flat": a flat edge on top.

    Examples
    --------
    >>> g = HexGrid(radius=50.0)
    >>> q, r = g.cell_of([0.0, 90.0], [0.0, 0.0])
    >>> list(zip(q.tolist(), r.tolist()))
    [(0, 0), (1, 0)]
    >>> g.distance(0, 0, 2, -1)
    2
    """

    radius: float = 50.0
    origin: tuple[float, float] = (0.0, 0.0)
    orientation: Literal["pointy", "flat"] = "pointy"

    def __post_init__(self) -> None:
        if not (self.radius > 0 and math.isfinite(self.radius)):
            raise TopologyError(f"radius must be a positive number of metres, got {self.radius!r}")
        if self.orientation not in ("pointy", "flat"):
            raise TopologyError(f"orientation must be 'pointy' or 'flat', got {self.orientation!r}")
        object.__setattr__(self, "origin", (float(self.origin[0]), float(self.origin[1])))

    # ---------------------------------------------------------------- geometry
    @property
    def spacing(self) -> float:
        """Distance between adjacent cell centres (sqrt(3)·R)."""
        return _SQRT3 * self.radius

    @property
    def cell_area(self) -> float:
        """Area of one cell in square metres (3·sqrt(3)/2·R²)."""
        return 1.5 * _SQRT3 * self.radius**2

    def fractional(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional axial coordinates of metric points (before rounding)."""
        px = (np.asarray(x, dtype=np.float64) - self.origin[0]) / self.radius
        py = (np.asarray(y, dtype=np.float64) - self.origin[1]) / self.radius
        if self.orientation == "pointy":
            return (_SQRT3 / 3.0) * px - (1.0 / 3.0) * py, (2.0 / 3.0) * py
        return (2.0 / 3.0) * px, (-1.0 / 3.0) * px + (_SQRT3 / 3.0) * py

    @staticmethod
    def round_axial(fq: np.ndarray, fr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cube rounding of fractional axial coordinates to the containing cell."""
        fs = -fq - fr
        q = np.rint(fq)
        r = np.rint(fr)
        s = np.rint(fs)
        dq = np.abs(q - fq)
        dr = np.abs(r - fr)
        ds = np.abs(s - fs)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        q = np.where(fix_q, -r - s, q)
        r = np.where(fix_r, -q - s, r)
        return q.astype(np.int64), r.astype(np.int64)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Axial (q, r) of the cell containing each point (vectorized; NaN points are not allowed)."""
        fq, fr = self.fractional(x, y)
        if not (np.all(np.isfinite(fq)) and np.all(np.isfinite(fr))):
            raise TopologyError("cell_of: x and y must be finite (drop NaN positions first)")
        return self.round_axial(fq, fr)

    def cell_ids_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Packed cell ids of the cells containing the points."""
        return cell_id(*self.cell_of(x, y))

    def center(self, q: np.ndarray | int, r: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """Metric centre (x, y) of cells."""
        qa = np.asarray(q, dtype=np.float64)
        ra = np.asarray(r, dtype=np.float64)
        if self.orientation == "pointy":
            x = self.radius * _SQRT3 * (qa + ra / 2.0)
            y = self.radius * 1.5 * ra
        else:
            x = self.radius * 1.5 * qa
            y = self.radius * _SQRT3 * (ra + qa / 2.0)
        return x + self.origin[0], y + self.origin[1]

    def corners(self, q: np.ndarray | int, r: np.ndarray | int) -> np.ndarray:
        """Corner coordinates of cells, shape [N, 6, 2] (counter-clockwise)."""
        cx, cy = self.center(np.atleast_1d(q), np.atleast_1d(r))
        start = 30.0 if self.orientation == "pointy" else 0.0
        ang = np.deg2rad(start + 60.0 * np.arange(6))
        xs = cx[:, None] + self.radius * np.cos(ang)[None, :]
        ys = cy[:, None] + self.radius * np.sin(ang)[None, :]
        return np.stack([xs, ys], axis=-1)

    def polygon(self, q: np.ndarray | int, r: np.ndarray | int):
        """Shapely polygon(s) of cells: one Polygon for scalars, an array of Polygons for arrays."""
        import shapely

        scalar = np.ndim(q) == 0 and np.ndim(r) == 0
        polys = shapely.polygons(self.corners(q, r))
        return polys[0] if scalar else polys

    # ---------------------------------------------------------------- topology of the grid
    @staticmethod
    def distance(q1, r1, q2, r2):
        """Hex distance (number of steps between cells), vectorized."""
        dq = np.asarray(q1, dtype=np.int64) - np.asarray(q2, dtype=np.int64)
        dr = np.asarray(r1, dtype=np.int64) - np.asarray(r2, dtype=np.int64)
        d = (np.abs(dq) + np.abs(dr) + np.abs(dq + dr)) // 2
        return int(d) if d.ndim == 0 else d

    @staticmethod
    def neighbours(q: int, r: int) -> tuple[np.ndarray, np.ndarray]:
        """The six neighbours of a cell, in `AXIAL_DIRECTIONS` order."""
        return q + AXIAL_DIRECTIONS[:, 0], r + AXIAL_DIRECTIONS[:, 1]

    @staticmethod
    def ring(k: int, q: int = 0, r: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Cells at exactly hex distance `k` from (q, r): 6·k cells (1 for k = 0), walking the ring."""
        if k < 0:
            raise TopologyError(f"ring radius must be >= 0, got {k}")
        if k == 0:
            return np.array([q], dtype=np.int64), np.array([r], dtype=np.int64)
        steps = np.repeat(AXIAL_DIRECTIONS[[2, 3, 4, 5, 0, 1]], k, axis=0)  # walk from the start corner
        start = np.array([q, r], dtype=np.int64) + AXIAL_DIRECTIONS[0] * k
        path = start + np.concatenate([[np.zeros(2, dtype=np.int64)], np.cumsum(steps, axis=0)[:-1]])
        return path[:, 0], path[:, 1]

    @staticmethod
    def disk(k: int, q: int = 0, r: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Cells within hex distance `k` of (q, r) (1 + 3k(k+1) cells), ordered by ring then position."""
        if k < 0:
            raise TopologyError(f"disk radius must be >= 0, got {k}")
        parts = [HexGrid.ring(i, q, r) for i in range(k + 1)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def cells_within(
        self, x: np.ndarray, y: np.ndarray, r_m: float, *, chunk: int = 32_768
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All cells whose centre (= server site) lies within `r_m` metres of each point.

        Candidates are the hex disk of k = floor((r_m + R) / (1.5·R)) cells around the point's own cell
        (a centre at hex distance k is >= 1.5·k·R from the cell centre, and the point is within R of it);
        candidates are then filtered by Euclidean distance (inclusive).

        Returns
        -------
        offsets : int64 [N + 1]
            CSR offsets: point i owns ``cells[offsets[i]:offsets[i+1]]``.
        cells : int64 [M]
            Packed cell ids, per point ordered by distance, then id.
        dist : float64 [M]
            Distance from the point to each cell centre.
        """
        xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
        ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
        if r_m < 0:
            raise TopologyError(f"r_m must be >= 0, got {r_m}")
        k = int(math.floor((r_m + self.radius) / (1.5 * self.radius)))
        dq, dr = self.disk(k)
        counts: list[np.ndarray] = []
        cells: list[np.ndarray] = []
        dists: list[np.ndarray] = []
        for lo in range(0, len(xa), chunk):
            px, py = xa[lo : lo + chunk], ya[lo : lo + chunk]
            q0, r0 = self.cell_of(px, py)
            cq = q0[:, None] + dq[None, :]
            cr = r0[:, None] + dr[None, :]
            cx, cy = self.center(cq, cr)
            d = np.hypot(cx - px[:, None], cy - py[:, None])
            ids = cell_id(cq, cr)
            # order each row by (distance, id), then keep those within r_m
            order = np.lexsort((ids, d), axis=-1) if d.shape[1] > 1 else np.zeros_like(ids)
            d = np.take_along_axis(d, order, axis=1)
            ids = np.take_along_axis(ids, order, axis=1)
            keep = d <= r_m
            counts.append(keep.sum(axis=1))
            cells.append(ids[keep])
            dists.append(d[keep])
        if not counts:
            return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        return offsets, np.concatenate(cells), np.concatenate(dists)

    def cells_covering(
        self, minx: float, miny: float, maxx: float, maxy: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """All cells that may intersect a bounding box (superset: each cell with centre within R of it),
        sorted by (q, r)."""
        pad = self.radius
        xs = np.array([minx - pad, maxx + pad, minx - pad, maxx + pad])
        ys = np.array([miny - pad, miny - pad, maxy + pad, maxy + pad])
        fq, fr = self.fractional(xs, ys)
        q = np.arange(math.floor(fq.min()) - 1, math.ceil(fq.max()) + 2)
        r = np.arange(math.floor(fr.min()) - 1, math.ceil(fr.max()) + 2)
        qq, rr = np.meshgrid(q, r, indexing="ij")
        qq, rr = qq.ravel(), rr.ravel()
        cx, cy = self.center(qq, rr)
        keep = (cx >= minx - pad) & (cx <= maxx + pad) & (cy >= miny - pad) & (cy <= maxy + pad)
        return qq[keep].astype(np.int64), rr[keep].astype(np.int64)
