"""The Servers table: where the edge servers (and optional cloud servers) are, one edge server per cell.

Columns (DESIGN.md §3): ``server`` (int64, 0..N-1), ``q``, ``r`` (int64 axial cell), ``cell`` (int64 packed
id), ``x``, ``y`` (float64 metres: the cell centre for edge servers), ``profile`` (device preset name),
``tier`` ("edge" | "cloud"). Edge rows come first, sorted by cell id (so ids are deterministic); cloud rows
follow with ``cell = -1``, ``q = r = CLOUD_QR`` and NaN position. Sources: the cells visited by a Traces table
(PerDNN), every cell of a region polygon, or a file of sites (CSV or GeoJSON). Links between servers are
backhaul.py's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edgeroam.errors import TopologyError
from edgeroam.topology.hexgrid import HexGrid, cell_id

__all__ = [
    "CLOUD_QR",
    "SERVER_COLUMNS",
    "add_cloud",
    "make_servers",
    "nearest_servers",
    "server_of_cell",
    "servers_from_file",
    "servers_in_region",
    "servers_visited",
]

SERVER_COLUMNS = ["server", "q", "r", "cell", "x", "y", "profile", "tier"]
#: sentinel axial coordinate of cloud rows (they sit in no cell)
CLOUD_QR = int(np.iinfo(np.int32).min)


def make_servers(grid: HexGrid, cells: np.ndarray, *, profile: str | np.ndarray = "titan-xp") -> pd.DataFrame:
    """A Servers table with one edge server at the centre of each distinct cell id in `cells`."""
    cells = np.asarray(cells, dtype=np.int64)
    uniq, first = np.unique(cells, return_index=True)
    q = uniq >> np.int64(32)
    r = (uniq & np.int64(0xFFFFFFFF)).astype(np.uint32).astype(np.int32).astype(np.int64)
    x, y = grid.center(q, r)
    prof = np.asarray(profile, dtype=object)
    prof = np.full(len(uniq), profile, dtype=object) if prof.ndim == 0 else prof[first]
    return pd.DataFrame(
        {
            "server": np.arange(len(uniq), dtype=np.int64),
            "q": q,
            "r": r,
            "cell": uniq,
            "x": np.asarray(x, dtype=np.float64),
            "y": np.asarray(y, dtype=np.float64),
            "profile": prof.astype(str),
            "tier": "edge",
        }
    )


def servers_visited(grid: HexGrid, traces: pd.DataFrame, *, profile: str = "titan-xp") -> pd.DataFrame:
    """One edge server per cell holding at least one (finite) position of `traces` (PerDNN's rule)."""
    x = traces["x"].to_numpy(dtype=np.float64)
    y = traces["y"].to_numpy(dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise TopologyError("no finite x/y positions to place servers on (project the traces first)")
    return make_servers(grid, grid.cell_ids_of(x[ok], y[ok]), profile=profile)


def servers_in_region(grid: HexGrid, polygon, *, profile: str = "titan-xp") -> pd.DataFrame:
    """One edge server per cell whose centre lies inside a metric shapely polygon (boundary included)."""
    import shapely

    q, r = grid.cells_covering(*polygon.bounds)
    cx, cy = grid.center(q, r)
    inside = shapely.intersects_xy(polygon, cx, cy)
    if not inside.any():
        raise TopologyError("the region holds no cell centre")
    return make_servers(grid, cell_id(q[inside], r[inside]), profile=profile)


def _column(df: pd.DataFrame, name: str, path: Path, *, integer: bool = False) -> np.ndarray:
    """Column `name` of a servers CSV as floats; the first value that is not a (whole) number is an error
    naming the file, its line (the header is line 1) and the column."""
    v = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(v) | ((v != np.round(v)) if integer else False)
    if bad.any():
        i = int(np.argmax(bad))
        kind = "a whole number" if integer else "a number"
        raise TopologyError(f"{path}, line {i + 2}, column {name}: {df[name].iloc[i]!r} is not {kind}")
    return v


def servers_from_file(
    grid: HexGrid, path: str | Path, *, profile: str = "titan-xp", crs=None
) -> pd.DataFrame:
    """Servers from a file of sites: CSV with columns x,y or q,r (optional profile), or GeoJSON/GPKG points.

    A vector file in another CRS than `crs` is reprojected when both are known. Two sites in one cell are an
    error naming the cell (one server per cell).
    """
    p = Path(path)
    if not p.exists():
        raise TopologyError(f"{p}: servers file not found")
    if p.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(p)
        except (ValueError, OSError) as exc:  # empty file, bad quoting, unreadable
            raise TopologyError(f"{p}: cannot read the servers CSV ({exc})") from None
        if {"q", "r"} <= set(df.columns):
            q = _column(df, "q", p, integer=True).astype(np.int64)
            r = _column(df, "r", p, integer=True).astype(np.int64)
        elif {"x", "y"} <= set(df.columns):
            q, r = grid.cell_of(_column(df, "x", p), _column(df, "y", p))
        else:
            raise TopologyError(f"{p}: a servers CSV needs columns x,y or q,r (got {list(df.columns)})")
        prof = df["profile"].astype(str).to_numpy(object) if "profile" in df.columns else profile
    else:
        import geopandas as gpd

        try:
            gdf = gpd.read_file(p)
        except Exception as exc:  # noqa: BLE001 - pyogrio/fiona raise many kinds; all mean "not a vector file"
            raise TopologyError(f"{p}: cannot read the servers file ({exc})") from None
        if crs is not None and gdf.crs is not None:
            gdf = gdf.to_crs(crs)
        if not (gdf.geom_type == "Point").all():
            raise TopologyError(f"{p}: servers file must hold points only")
        q, r = grid.cell_of(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
        prof = gdf["profile"].astype(str).to_numpy(object) if "profile" in gdf.columns else profile
    cells = cell_id(q, r)
    uniq, counts = np.unique(cells, return_counts=True)
    if (counts > 1).any():
        bad = int(uniq[counts > 1][0])
        raise TopologyError(f"{p}: two servers in cell {bad} (q={bad >> 32}); one server per cell")
    return make_servers(grid, cells, profile=prof)


def add_cloud(servers: pd.DataFrame, count: int = 1, *, profile: str = "cloud-gpu") -> pd.DataFrame:
    """Append `count` cloud rows (tier 'cloud', cell -1, no position) after the edge servers."""
    start = int(servers["server"].max()) + 1 if len(servers) else 0
    cloud = pd.DataFrame(
        {
            "server": np.arange(start, start + count, dtype=np.int64),
            "q": np.full(count, CLOUD_QR, dtype=np.int64),
            "r": np.full(count, CLOUD_QR, dtype=np.int64),
            "cell": np.full(count, -1, dtype=np.int64),
            "x": np.full(count, np.nan),
            "y": np.full(count, np.nan),
            "profile": profile,
            "tier": "cloud",
        }
    )
    return pd.concat([servers, cloud], ignore_index=True)


def server_of_cell(servers: pd.DataFrame, cells: np.ndarray) -> np.ndarray:
    """Edge server id of each cell id (-1 where the cell has no server); vectorized with searchsorted."""
    edge = servers[servers["tier"] == "edge"]
    sc = edge["cell"].to_numpy(np.int64)
    sid = edge["server"].to_numpy(np.int64)
    order = np.argsort(sc, kind="stable")
    sc, sid = sc[order], sid[order]
    cells = np.asarray(cells, dtype=np.int64)
    if len(sc) == 0:
        return np.full(cells.shape, -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(sc, cells), 0, len(sc) - 1)
    return np.where(sc[pos] == cells, sid[pos], -1)


def nearest_servers(
    servers: pd.DataFrame, x: np.ndarray, y: np.ndarray, k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` edge servers closest to each point (PerDNN's SVR/RNN top-k): ids and distances [N, k]."""
    from scipy.spatial import cKDTree

    edge = servers[servers["tier"] == "edge"]
    if len(edge) == 0:
        raise TopologyError("no edge servers")
    k = min(k, len(edge))
    tree = cKDTree(np.column_stack([edge["x"].to_numpy(), edge["y"].to_numpy()]))
    d, i = tree.query(np.column_stack([np.asarray(x, float), np.asarray(y, float)]), k=k)
    d = np.asarray(d).reshape(len(np.atleast_1d(x)), k)
    i = np.asarray(i).reshape(len(np.atleast_1d(x)), k)
    return edge["server"].to_numpy(np.int64)[i], d
