"""Backhaul traffic maps of one run on the hex grid: GeoPackage layers, a PNG and an interactive folium page.

Two layers, in the run's CRS (a local frame such as KAIST's has none, and the files say so):

- ``cells``: the hexagon of every edge server's cell and every relay cell, with what went through it:
  test-user steps served and arrivals (servers), bytes sent and received over the backhaul (``up_bytes``,
  ``down_bytes``) and the peak of each in one interval (Mbit/s);
- ``links``: every backhaul link with traffic, a line between its two ends: bytes each way, the peak of either
  direction in one interval (Mbit/s), the link's capacity and the peak's share of it.

A run directory keeps backhaul bytes per server, not per link, so the links are found again: every migrated
chunk of the ``transfers`` table is routed over the run's rebuilt topology with the routing rule every backend
uses (`edgeroam.topology.backhaul.route`) and its bytes are spread over the intervals it overlapped, as the
backends account ``backhaul.parquet``; a server's bytes over its links therefore equal its bytes in
``backhaul.parquet`` (the tests check it). For a ``net`` run the links carry the routed transfers, not the
switch counters. Rebuilding the topology reloads the run's traces (`report.tables.run_servers` does the same);
the hexagons and links are the topology's own layers (`edgeroam.topology.export.topology_layers`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.rundir import RunDir, open_run_dir
from edgeroam.emulator.sim.backend import spread_chunks
from edgeroam.errors import EdgeroamError, RunError, TopologyError

__all__ = ["export_traffic_maps", "link_traffic", "run_topology", "traffic_html", "traffic_layers"]

#: bytes per interval -> Mbit/s is 8 / interval_s / 1e6
_MBIT = 8.0 / 1e6


def run_topology(run: RunDir, root: str | Path | None = None) -> Any:
    """The `Topology` of a run, rebuilt from its ``scenario.toml`` (`root` replaces ``dataset.root``).

    Raises
    ------
    EdgeroamError
        The run's traces cannot be loaded here.
    """
    from edgeroam.scenario import scenario_from_dict
    from edgeroam.world import load_world

    sc = scenario_from_dict(run.scenario)
    if root is not None:
        sc.dataset.root = str(Path(root).expanduser().resolve())
    return load_world(sc).topology


def link_traffic(transfers: pd.DataFrame, graph: Any, interval_s: float) -> pd.DataFrame:
    """Bytes per directed backhaul link and interval: ``interval``, ``u``, ``v`` (node names), ``bytes``.

    Each ``migrate`` chunk goes over `route`'s path from its ``src`` to its ``dst`` server; its bytes are
    spread over the intervals of `interval_s` seconds that its ``start``–``end`` overlaps, in proportion to
    the overlap (a chunk of no duration counts in the interval of its start).

    Raises
    ------
    RunError
        A chunk names a server that the topology does not have.
    """
    import networkx as nx

    from edgeroam.topology.backhaul import route

    cols = ["interval", "u", "v", "bytes"]
    mig = transfers[(transfers["kind"] == "migrate") & (transfers["bytes"] > 0)]
    if not len(mig):
        return pd.DataFrame({"interval": np.zeros(0, np.int64), "u": np.zeros(0, object),
                             "v": np.zeros(0, object), "bytes": np.zeros(0)})[cols]
    pairs, pair_of = np.unique(mig[["src", "dst"]].to_numpy(np.int64), axis=0, return_inverse=True)
    pair_of = pair_of.reshape(-1)
    flat_u: list[Hashable] = []
    flat_v: list[Hashable] = []
    first = np.zeros(len(pairs), np.int64)
    n_links = np.zeros(len(pairs), np.int64)
    for j, (src, dst) in enumerate(pairs.tolist()):  # one route per server pair, not per chunk
        try:
            links, _delay = route(graph, src, dst)
        except (TopologyError, nx.NodeNotFound, nx.NetworkXNoPath) as exc:
            raise RunError(f"transfers: no backhaul route from server {src} to {dst} ({exc})") from None
        first[j], n_links[j] = len(flat_u), len(links)
        flat_u.extend(u for u, _ in links)
        flat_v.extend(v for _, v in links)
    start, end = mig["start"].to_numpy(np.float64), mig["end"].to_numpy(np.float64)
    k, link, nb = spread_chunks(start, end, mig["bytes"].to_numpy(np.float64), pair_of, first, n_links,
                                interval_s)
    df = pd.DataFrame({
        "interval": k,
        "u": np.asarray(flat_u, dtype=object)[link],
        "v": np.asarray(flat_v, dtype=object)[link],
        "bytes": nb,
    })
    df = df.groupby(["interval", "u", "v"], sort=True).sum().reset_index()
    return df[cols]


def _node_traffic(per_link: pd.DataFrame, interval_s: float) -> pd.DataFrame:
    """Per graph node: ``up_bytes``/``down_bytes`` (sent on / received from its links) and their peaks in
    one interval (``peak_up_mbps``, ``peak_down_mbps``)."""
    up = per_link.groupby(["u", "interval"])["bytes"].sum()
    down = per_link.groupby(["v", "interval"])["bytes"].sum()
    to_mbps = _MBIT / float(interval_s)
    out = pd.DataFrame({
        "up_bytes": up.groupby(level=0).sum(),
        "down_bytes": down.groupby(level=0).sum(),
        "peak_up_mbps": up.groupby(level=0).max() * to_mbps,
        "peak_down_mbps": down.groupby(level=0).max() * to_mbps,
    })
    return out.fillna(0.0)


def traffic_layers(run: RunDir | str | Path, *, root: str | Path | None = None,
                   topology: Any = None) -> dict[str, Any]:
    """The ``cells`` and ``links`` GeoDataFrames of a run (see the module docstring), in its CRS.

    `topology` skips the rebuild (it must be the run's own); else it is rebuilt with `run_topology`.
    ``attrs`` of each layer hold the run's name and ``crs`` (None: a local frame).
    """
    from edgeroam.topology.export import topology_layers

    run = run if isinstance(run, RunDir) else open_run_dir(run)
    topo = topology if topology is not None else run_topology(run, root)
    interval_s = float(run.summary["interval_s"])
    per_link = link_traffic(run.table("transfers"), topo.backhaul, interval_s)
    nodes = _node_traffic(per_link, interval_s)
    G = topo.backhaul
    base = topology_layers(topo)
    # cells: servers by their node s<id>, relay cells by theirs (r<cell>)
    cells = base["cells"]
    relay_node = {d["cell"]: n for n, d in G.nodes(data=True) if d.get("kind") == "relay"}
    node = np.where(cells["server"].to_numpy() >= 0, "s" + cells["server"].astype(str),
                    cells["cell"].map(relay_node).fillna("").astype(str))
    cells = cells.assign(node=node)
    traffic = nodes.reindex(cells["node"]).fillna(0.0).reset_index(drop=True)
    pr = run.table("predictions")
    steps = pr[pr["server"] >= 0].groupby("server").size()
    arrivals = run.table("handovers").groupby("server").size()
    srv = cells["server"]
    cells = cells.assign(
        user_steps=srv.map(steps).fillna(0).astype(np.int64).where(srv >= 0, 0),
        arrivals=srv.map(arrivals).fillna(0).astype(np.int64).where(srv >= 0, 0),
        **{c: traffic[c].to_numpy() for c in traffic.columns},
    )
    cells["bytes"] = cells["up_bytes"] + cells["down_bytes"]
    # links: the topology's located links (cloud links have no place), with both directions' traffic
    links = base["links"]
    directed = per_link.groupby(["u", "v"])["bytes"]
    total, peak = directed.sum(), directed.max() * (_MBIT / interval_s)
    fwd = pd.MultiIndex.from_arrays([links["u"], links["v"]])
    back = pd.MultiIndex.from_arrays([links["v"], links["u"]])
    links = links.assign(
        bytes_uv=total.reindex(fwd).fillna(0.0).to_numpy(),
        bytes_vu=total.reindex(back).fillna(0.0).to_numpy(),
        peak_mbps=np.fmax(peak.reindex(fwd).to_numpy(), peak.reindex(back).to_numpy()),
    )
    links["peak_mbps"] = links["peak_mbps"].fillna(0.0)
    links["bytes"] = links["bytes_uv"] + links["bytes_vu"]
    links["peak_share"] = links["peak_mbps"] * 1e6 / links["capacity_bps"]
    links = links[links["bytes"] > 0].reset_index(drop=True)
    for gdf in (cells, links):
        gdf.attrs.update(run=run.name, crs=topo.crs, interval_s=interval_s)
    return {"cells": cells, "links": links}


def _colours(values: np.ndarray, cmap: str = "inferno_r") -> list[str]:
    """Hex colours of `values` on a log scale (zero: light grey)."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, to_hex

    v = np.asarray(values, dtype=np.float64)
    pos = v[v > 0]
    if not len(pos):
        return ["#e8e8e8"] * len(v)
    norm = LogNorm(vmin=min(float(pos.min()), float(pos.max()) / 10), vmax=float(pos.max()))
    rgba = colormaps[cmap](norm(np.where(v > 0, v, pos.min())))
    return [to_hex(c) if x > 0 else "#e8e8e8" for c, x in zip(rgba, v, strict=True)]


def _widths(values: np.ndarray, lo: float = 1.0, hi: float = 7.0) -> np.ndarray:
    """Line widths from `lo` to `hi` on a log scale of `values` (all positive)."""
    v = np.log10(np.asarray(values, dtype=np.float64))
    span = float(v.max() - v.min()) if len(v) else 0.0
    return lo + (hi - lo) * ((v - v.min()) / span if span > 0 else np.ones_like(v))


def traffic_html(layers: dict[str, Any], path: str | Path) -> Path:
    """An interactive folium map of `traffic_layers`: the cells and the links as two switchable layers, a
    tooltip per feature. A layer with a CRS is drawn in lon/lat over OpenStreetMap tiles (fetched when
    the page is viewed online); a local frame (no CRS) is drawn in its own metres without tiles."""
    import folium

    cells, links = layers["cells"], layers["links"]
    crs, run = cells.attrs.get("crs"), cells.attrs.get("run", "")
    if crs is not None:
        cells, links = cells.to_crs("EPSG:4326"), links.to_crs("EPSG:4326")
        m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    else:  # Leaflet's CRS.Simple: y up, x right, one unit a metre, from the lower-left corner
        x0, y0 = float(cells.total_bounds[0]), float(cells.total_bounds[1])
        cells = cells.set_geometry(cells.translate(-x0, -y0))
        links = links.set_geometry(links.translate(-x0, -y0))
        m = folium.Map(crs="Simple", tiles=None, min_zoom=-6, zoom_start=-2)
    bounds = cells.total_bounds
    cell_cols = ["cell", "server", "kind", "user_steps", "arrivals", "up_bytes", "down_bytes",
                 "peak_up_mbps", "peak_down_mbps"]
    cf = cells[[*cell_cols, "geometry"]].copy()
    cf["colour"] = _colours(cells["bytes"].to_numpy())
    cf[["up_bytes", "down_bytes"]] = (cf[["up_bytes", "down_bytes"]] / 1e6).round(1)
    cf[["peak_up_mbps", "peak_down_mbps"]] = cf[["peak_up_mbps", "peak_down_mbps"]].round(1)
    cells_layer = folium.FeatureGroup(name="cells: backhaul traffic (MB)", show=True)
    folium.GeoJson(
        cf.to_json(drop_id=True),
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#606060",
                                  "weight": 0.4, "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(fields=cell_cols, aliases=[
            "cell", "server (-1: relay)", "kind", "user steps", "arrivals", "sent MB", "received MB",
            "peak sent Mbit/s", "peak received Mbit/s"]),
    ).add_to(cells_layer)
    cells_layer.add_to(m)
    links_layer = folium.FeatureGroup(name="links: backhaul traffic (MB)", show=True)
    if len(links):
        lf = links[["u", "v", "klass", "bytes_uv", "bytes_vu", "peak_mbps", "peak_share", "geometry"]].copy()
        lf["width"] = _widths(links["bytes"].to_numpy())
        lf["colour"] = _colours(links["peak_share"].to_numpy(), "viridis_r")
        lf[["bytes_uv", "bytes_vu"]] = (lf[["bytes_uv", "bytes_vu"]] / 1e6).round(1)
        lf[["peak_mbps", "peak_share"]] = lf[["peak_mbps", "peak_share"]].round(3)
        folium.GeoJson(
            lf.to_json(drop_id=True),
            style_function=lambda f: {"color": f["properties"]["colour"], "weight": f["properties"]["width"],
                                      "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(
                fields=["u", "v", "klass", "bytes_uv", "bytes_vu", "peak_mbps", "peak_share"],
                aliases=["from", "to", "class", "MB from → to", "MB to → from", "peak Mbit/s",
                         "peak / capacity"]),
        ).add_to(links_layer)
    links_layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    title = (f"{run}: backhaul traffic per hex cell (colour: MB sent + received, log) "
             f"and per link (width: MB, colour: peak / capacity)")
    m.get_root().html.add_child(folium.Element(f"<title>{title}</title>"))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    m.save(str(p))
    return p


def traffic_figure(layers: dict[str, Any]):
    """A PNG-ready matplotlib Figure of the two layers: cells coloured by bytes, links by width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    from edgeroam._maps import km_axes

    cells, links = layers["cells"], layers["links"]
    xmin, ymin, xmax, ymax = cells.total_bounds
    aspect = (ymax - ymin) / (xmax - xmin) if xmax > xmin else 1.0
    fig = Figure(figsize=(8, float(np.clip(6.4 * aspect + 1.2, 3.5, 10.0))), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    polys = [np.asarray(g.exterior.coords) for g in cells.geometry]
    ax.add_collection(PolyCollection(polys, facecolors=_colours(cells["bytes"].to_numpy()),
                                     edgecolors="#808080", linewidths=0.2))
    if len(links):
        segs = [np.asarray(g.coords) for g in links.geometry]
        hi = float(np.clip(3.0 * np.sqrt(300 / max(len(cells), 1)), 0.5, 3.0))  # thinner on bigger maps
        ax.add_collection(LineCollection(segs, linewidths=_widths(links["bytes"].to_numpy(), hi / 10, hi),
                                         colors="#1565c0", alpha=0.7))
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    km_axes(ax, (float(xmin), float(ymin)), cells.attrs.get("crs"))
    pos = cells["bytes"].to_numpy()
    pos = pos[pos > 0] / 1e6
    if len(pos):
        mappable = ScalarMappable(LogNorm(min(float(pos.min()), float(pos.max()) / 10), float(pos.max())),
                                  "inferno_r")
        from matplotlib.ticker import FuncFormatter, NullFormatter

        bar = fig.colorbar(mappable, ax=ax, shrink=0.7, label="MB sent + received over the backhaul (log)")
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")  # 40, not 4 × 10¹
        bar.ax.yaxis.set_major_formatter(plain)
        # minor ticks labelled only when the scale spans less than about a decade and a half
        bar.ax.yaxis.set_minor_formatter(plain if pos.max() < 30 * pos.min() else NullFormatter())
    ax.set_title(f"{cells.attrs.get('run', '')}: backhaul traffic per cell and link "
                 f"(blue width: link MB; grey: none)", fontsize=9)
    return fig


def export_traffic_maps(run_dir: str | Path, out_dir: str | Path, *,
                        root: str | Path | None = None) -> dict[str, Any]:
    """Write ``traffic.gpkg`` (layers ``cells`` and ``links``), ``traffic.png`` and ``traffic.html`` of one
    run into `out_dir`; return the paths, the layer sizes, the CRS and notes.

    Raises
    ------
    RunError
        Not a complete run directory, or its transfers do not fit its topology.
    EdgeroamError
        Its traces cannot be loaded (pass `root`).
    """
    import pyogrio

    from edgeroam.report.figures import save_figure

    run = open_run_dir(run_dir)
    layers = traffic_layers(run, root=root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    crs = layers["cells"].attrs.get("crs")
    if crs is None:
        notes.append("local metric frame without a CRS: the layers have none; the HTML map has no tiles")
    if "w" not in pyogrio.list_drivers().get("GPKG", ""):
        raise EdgeroamError("GeoPackage writing is unavailable in this GDAL build (no GPKG driver)")
    gpkg = out / "traffic.gpkg"
    gpkg.unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*was not provided", category=UserWarning)
        for name, gdf in layers.items():
            gdf.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
    png = save_figure(traffic_figure(layers), out / "traffic.png")
    html = traffic_html(layers, out / "traffic.html")
    cells, links = layers["cells"], layers["links"]
    return {
        "run": run.name,
        "gpkg": str(gpkg),
        "png": str(png),
        "html": str(html),
        "crs": crs,
        "cells": len(cells),
        "cells_with_traffic": int((cells["bytes"] > 0).sum()),
        "links_with_traffic": len(links),
        "backhaul_bytes": float(links["bytes"].sum()),
        "peak_link_mbps": float(links["peak_mbps"].max()) if len(links) else 0.0,
        "peak_link_share": float(links["peak_share"].max()) if len(links) else math.nan,
        "notes": notes,
    }
