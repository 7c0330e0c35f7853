"""Traffic maps of a run: the GeoPackage reads back with the right cells and bytes, the links carry what the
servers sent, the HTML holds both layers, and the command writes all three files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from edgeroam.cli import main
from edgeroam.emulator.rundir import open_run_dir
from edgeroam.errors import RunError
from edgeroam.report.maps import export_traffic_maps, link_traffic


@pytest.fixture(scope="module")
def perdnn_map(demo_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("map")
    return demo_runs["perdnn"], export_traffic_maps(demo_runs["perdnn"], out)


def test_the_geopackage_reads_back_with_every_cell_and_the_runs_bytes(perdnn_map):
    run_dir, info = perdnn_map
    run = open_run_dir(run_dir)
    cells = gpd.read_file(info["gpkg"], layer="cells")
    links = gpd.read_file(info["gpkg"], layer="links")
    # every edge server's cell is there once, as a hexagon of the run's grid (radius 50 m)
    topo_servers = cells[cells["kind"] == "server"]
    assert topo_servers["server"].is_unique and len(cells) == info["cells"]
    assert np.allclose(topo_servers.geometry.area, 1.5 * np.sqrt(3) * 50.0**2)
    assert cells.crs is not None and cells.crs.is_projected
    # per server: bytes and peaks equal backhaul.parquet (an independent account of the same chunks)
    bh = run.table("backhaul")
    want = bh.groupby("server")[["up_bytes", "down_bytes"]].sum()
    got = topo_servers.set_index("server")[["up_bytes", "down_bytes"]]
    assert set(want.index) <= set(got.index)
    assert np.allclose(got.reindex(want.index).to_numpy(), want.to_numpy(), rtol=1e-9)
    assert got.drop(want.index)[["up_bytes", "down_bytes"]].to_numpy().sum() == 0
    peak = bh.groupby("server")["up_bytes"].max() * 8 / run.summary["interval_s"] / 1e6
    assert np.allclose(topo_servers.set_index("server")["peak_up_mbps"].reindex(peak.index), peak)
    assert peak.max() == pytest.approx(run.summary["backhaul"]["peak_up_mbps"])
    # links: what the cells sent is what the links carried, and the run's migrated bytes are all there
    assert links["bytes"].sum() == pytest.approx(cells["up_bytes"].sum())
    assert info["links_with_traffic"] == len(links) > 0 and (links["bytes"] > 0).all()
    hops = run.table("transfers").query("kind == 'migrate'")
    assert links["bytes"].sum() == pytest.approx(float((hops["bytes"] * hops["hops"]).sum()))
    assert (links["peak_share"] <= 1.0 + 1e-9).all()
    steps = run.table("predictions").query("server >= 0").groupby("server").size()
    assert (topo_servers.set_index("server")["user_steps"].reindex(steps.index) == steps).all()


def test_the_html_map_holds_both_layers_in_lon_lat(perdnn_map):
    _run_dir, info = perdnn_map
    html = Path(info["html"]).read_text(encoding="utf-8")
    assert "cells: backhaul traffic (MB)" in html and "links: backhaul traffic (MB)" in html
    assert "L.control.layers" in html and "openstreetmap" in html.lower()
    # the demo's frame is centred at 36.3721 N, 127.3604 E: the GeoJSON is in lon/lat there
    assert '"coordinates": [[[127.3' in html


def test_a_run_without_migrations_maps_no_links(demo_runs, tmp_path):
    info = export_traffic_maps(demo_runs["ionn"], tmp_path)
    assert info["links_with_traffic"] == 0 and info["cells_with_traffic"] == 0
    assert len(gpd.read_file(info["gpkg"], layer="cells")) == info["cells"] > 0


def test_link_traffic_routes_and_spreads_each_chunk():
    G = nx.path_graph(["s0", "r5", "s1", "s2"])
    nx.set_edge_attributes(G, 0.001, "delay_s")
    tr = pd.DataFrame({"kind": ["migrate", "migrate", "upload"], "src": [0, 2, -1], "dst": [1, 1, 0],
                       "start": [10.0, 0.0, 0.0], "end": [40.0, 0.0, 5.0], "bytes": [300.0, 7.0, 99.0]})
    t = link_traffic(tr, G, 20.0)
    got = {(r.interval, r.u, r.v): r.bytes for r in t.itertuples()}
    # 10-40 s over 20 s intervals: 1/3 in interval 0, 2/3 in interval 1, on both links of s0 -> r5 -> s1
    assert got == {(0, "s0", "r5"): 100.0, (0, "r5", "s1"): 100.0, (1, "s0", "r5"): 200.0,
                   (1, "r5", "s1"): 200.0, (0, "s2", "s1"): 7.0}
    with pytest.raises(RunError, match="no backhaul route from server 0 to 9"):
        link_traffic(tr.assign(dst=9), G, 20.0)


def test_edgeroam_map_writes_the_three_files(demo_runs, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["map", str(demo_runs["fractional"]), "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {p.name for p in out.iterdir()} == {"traffic.gpkg", "traffic.png", "traffic.html"}
    assert info["links_with_traffic"] > 0 and info["backhaul_bytes"] > 0
    assert main(["map", str(tmp_path / "nope")]) == 1
    assert "no such run directory" in capsys.readouterr().err
