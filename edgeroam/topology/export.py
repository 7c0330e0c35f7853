"""Export a topology: GeoPackage / GeoJSON layers (cells with server ids, servers, links) and a map figure.

Layers: ``cells`` (hexagon polygons of every server cell and relay cell: cell, q, r, server (-1 for a relay
cell), kind), ``servers`` (points) and ``links`` (line strings with klass, capacity_bps, delay_s, length_m).
They are written with geopandas (pyogrio) in the traces' CRS; a local frame (KAIST) has no CRS and is written
without one, which the result says. The figure is in the spirit of PerDNN Fig. 8: trajectories over the hex
grid with the edge servers marked. Building the topology is build.py's job.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam._maps import km_axes
from edgeroam.topology.build import Topology

__all__ = ["export_topology", "plot_topology", "topology_figure", "topology_layers"]


def topology_layers(topo: Topology) -> dict[str, Any]:
    """The three GeoDataFrames (cells, servers, links) of a topology, in its CRS (None for a local frame)."""
    import geopandas as gpd
    import shapely

    G = topo.backhaul
    grid = topo.grid
    edge = topo.servers[topo.servers["tier"] == "edge"]
    relay = [(d["cell"], d["q"], d["r"]) for _, d in G.nodes(data=True) if d.get("kind") == "relay"]
    rc = np.array([r[0] for r in relay], dtype=np.int64)
    rq = np.array([r[1] for r in relay], dtype=np.int64)
    rr = np.array([r[2] for r in relay], dtype=np.int64)
    q = np.concatenate([edge["q"].to_numpy(np.int64), rq])
    r = np.concatenate([edge["r"].to_numpy(np.int64), rr])
    cells = gpd.GeoDataFrame(
        {
            "cell": np.concatenate([edge["cell"].to_numpy(np.int64), rc]),
            "q": q,
            "r": r,
            "server": np.concatenate([edge["server"].to_numpy(np.int64), np.full(len(rc), -1, np.int64)]),
            "kind": ["server"] * len(edge) + ["relay"] * len(rc),
        },
        geometry=grid.polygon(q, r) if len(q) else [],
        crs=topo.crs,
    )
    servers = gpd.GeoDataFrame(
        edge[["server", "q", "r", "cell", "profile", "tier"]].reset_index(drop=True),
        geometry=shapely.points(edge["x"].to_numpy(), edge["y"].to_numpy()),
        crs=topo.crs,
    )
    rows, lines = [], []
    for u, v, d in sorted(G.edges(data=True), key=lambda e: (min(e[0], e[1]), max(e[0], e[1]))):
        a, b = G.nodes[u], G.nodes[v]
        if "x" not in a or "x" not in b:  # cloud nodes have no place on the map
            continue
        rows.append(
            {
                "u": u,
                "v": v,
                "klass": d["klass"],
                "capacity_bps": d["capacity_bps"],
                "delay_s": d["delay_s"],
                "length_m": d.get("length_m", math.nan),
            }
        )
        lines.append(shapely.linestrings([[a["x"], a["y"]], [b["x"], b["y"]]]))
    cols = ["u", "v", "klass", "capacity_bps", "delay_s", "length_m"]
    links = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry=lines, crs=topo.crs)
    return {"cells": cells, "servers": servers, "links": links}


def export_topology(topo: Topology, out_dir: str | Path, *, name: str = "topology") -> dict[str, Any]:
    """Write the layers to ``<out_dir>/<name>.gpkg`` (GeoJSON files if GeoPackage writing is unavailable).

    Returns a dict: format ("GPKG" | "GeoJSON"), paths, crs, and a note when the frame has no CRS or the
    GeoPackage driver is missing.
    """
    import pyogrio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = topology_layers(topo)
    notes = []
    if topo.crs is None:
        notes.append("local metric frame without a CRS: layers are written without one")
    drivers = pyogrio.list_drivers()
    if "w" in drivers.get("GPKG", ""):
        path = out / f"{name}.gpkg"
        if path.exists():
            path.unlink()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*crs.*was not provided", category=UserWarning)
            for layer, gdf in layers.items():
                gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
        return {"format": "GPKG", "paths": [str(path)], "crs": topo.crs, "notes": notes}
    notes.append("GeoPackage writing is unavailable in this GDAL build: wrote GeoJSON instead")
    paths = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*was not provided", category=UserWarning)
        for layer, gdf in layers.items():
            path = out / f"{name}-{layer}.geojson"
            gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
            paths.append(str(path))
    return {"format": "GeoJSON", "paths": paths, "crs": topo.crs, "notes": notes}


def topology_figure(
    topo: Topology,
    *,
    traces: pd.DataFrame | None = None,
    max_users: int = 40,
    title: str | None = None,
    links: bool = True,
):
    """Map figure (a matplotlib Figure): hex cells of the servers, backhaul links, relay cells and
    trajectories, on axes in km from the map's corner that name the CRS (edgeroam._maps).

    Up to `max_users` users' trajectories are drawn (the first by name, deterministic), one colour each.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    G = topo.backhaul
    grid = topo.grid
    edge = topo.servers[topo.servers["tier"] == "edge"]
    fig = Figure(figsize=(8, 8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    corners = grid.corners(edge["q"].to_numpy(), edge["r"].to_numpy())
    ax.add_collection(
        PolyCollection(corners, facecolors="#dfe9f5", edgecolors="#7a9cc6", linewidths=0.3, zorder=1)
    )
    relay = [(d["q"], d["r"]) for _, d in G.nodes(data=True) if d.get("kind") == "relay"]
    if relay:
        rc = grid.corners(np.array([r[0] for r in relay]), np.array([r[1] for r in relay]))
        ax.add_collection(
            PolyCollection(rc, facecolors="#fbe3c8", edgecolors="#d08a3c", linewidths=0.3, zorder=1)
        )
    if links:
        segs, colours, classes = [], [], set()
        palette = {"wireless": "#6a8caf", "fibre": "#2e7d32", "wan": "#8e24aa"}
        for u, v, d in G.edges(data=True):
            a, b = G.nodes[u], G.nodes[v]
            if "x" in a and "x" in b:
                segs.append([(a["x"], a["y"]), (b["x"], b["y"])])
                colours.append(palette.get(d["klass"], "grey"))
                classes.add(d["klass"])
        ax.add_collection(LineCollection(segs, colors=colours, linewidths=0.4, alpha=0.7, zorder=2))
        for klass in sorted(classes):
            ax.plot([], [], color=palette.get(klass, "grey"), lw=1.0, label=f"{klass} backhaul links")
    if traces is not None and len(traces):
        users = sorted(traces["user"].astype(str).unique())[:max_users]
        cmap = matplotlib.colormaps["tab20"]
        sel = traces[traces["user"].astype(str).isin(users)]
        for _, grp in sel.groupby(["user", "traj"], observed=True, sort=True):
            u = str(grp["user"].iloc[0])
            ax.plot(grp["x"], grp["y"], "-", lw=0.6, color=cmap(users.index(u) % 20), alpha=0.8, zorder=3)
        n_all = traces["user"].nunique()
        shown = f"{len(users)} of {n_all} users" if len(users) < n_all else f"{n_all} users"
        ax.plot([], [], "-", color=cmap(0), lw=1.0, label=f"trajectories ({shown}, one colour each)")
    ax.scatter(edge["x"], edge["y"], s=2, c="#c62828", zorder=4, label=f"edge servers ({len(edge)})")
    if relay:
        ax.scatter([], [], marker="h", c="#fbe3c8", edgecolors="#d08a3c", label=f"relay cells ({len(relay)})")
    ax.set_aspect("equal")
    ax.autoscale_view()
    if len(corners):
        km_axes(ax, (float(corners[..., 0].min()), float(corners[..., 1].min())), topo.crs)
    ax.set_title(title or f"{len(edge):,} edge servers, hex R = {grid.radius:g} m, "
                 f"{G.graph['shape']} backhaul")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_topology(
    topo: Topology,
    path: str | Path,
    *,
    traces: pd.DataFrame | None = None,
    max_users: int = 40,
    title: str | None = None,
    links: bool = True,
    dpi: int = 130,
) -> Path:
    """Write `topology_figure` as a PNG to `path` (parent folders are created)."""
    fig = topology_figure(topo, traces=traces, max_users=max_users, title=title, links=links)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi, bbox_inches="tight")
    return p
