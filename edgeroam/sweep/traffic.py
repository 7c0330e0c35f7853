"""`reproduce` section ``traffic-maps``: backhaul traffic maps of the PerDNN KAIST run (r = 100, Inception).

The run is the one Fig. 9 makes (the same scenario, so the shared run store links it instead of running it
again); `edgeroam.report.maps` writes its GeoPackage, PNG and folium page under ``<out>/maps/kaist/``, the
PNG is the report's figure, and the busiest links are the table beside it. Registering the section is
reproduce.py's job.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pandas as pd

from edgeroam.sweep.reproduce import Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["traffic_maps"]

TOP_LINKS = 8


def traffic_maps(ctx: Context) -> Section:
    """Per-cell and per-link backhaul traffic of perdnn on KAIST (r = 100 m, Inception): maps, top links."""
    import geopandas as gpd

    from edgeroam.report.maps import export_traffic_maps

    sec = Section(
        "traffic-maps",
        "Backhaul traffic on the hex grid: perdnn, KAIST, r = 100 m, Inception",
        "edgeroam map RUN_DIR (the run of edgeroam run perdnn-kaist --policy perdnn --model inception)",
    )
    runs = ctx.sweep("traffic-kaist", {
        "scenario": "perdnn-kaist",
        "set": ['dnn.model="inception"'],
        "grid": {"policy.radius_m": [100], "policy.kind": ["perdnn"]},
    })
    run_dir = runs["run_dir"].iat[0]
    dest = ctx.out / "maps" / "kaist"
    info = export_traffic_maps(run_dir, dest)
    png = ctx.out / "figures" / "traffic-kaist.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(info["png"], png)
    sec.figures.append(png)
    links = gpd.read_file(info["gpkg"], layer="links")
    # ties (links at the same peak) in node order, on the printed precision: the same rows on any machine
    top = links.assign(_peak=links["peak_mbps"].round(1))
    top = top.sort_values(["_peak", "u", "v"], ascending=[False, True, True]).head(TOP_LINKS)
    table = pd.DataFrame({
        "u": top["u"].astype(str),
        "v": top["v"].astype(str),
        "klass": top["klass"].astype(str),
        "mb_uv": (top["bytes_uv"] / 1e6).round(1),
        "mb_vu": (top["bytes_vu"] / 1e6).round(1),
        "peak_mbps": top["peak_mbps"].round(1),
        "peak_share_pct": (100 * top["peak_share"]).round(1),
    }).reset_index(drop=True)
    table.attrs["info"] = {
        "cells with traffic": f"{info['cells_with_traffic']} of {info['cells']}",
        "links with traffic": info["links_with_traffic"],
        "maps": "maps/kaist/traffic.html, traffic.gpkg",
    }
    sec.tables["traffic-kaist-links"] = table
    return sec
