"""Export: GeoPackage layers round-trip; the map figure is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio

from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.topology.export import export_topology, plot_topology, topology_layers


def _topo(crs="EPSG:32650"):
    g_x = np.array([0.0, 80.0, 500.0, 520.0])
    tr = pd.DataFrame(
        {"user": pd.Categorical(["a", "a", "b", "b"]), "traj": 0, "t": [0.0, 30, 0, 30], "x": g_x, "y": 0.0}
    )
    tr.attrs["crs"] = crs
    sc = scenario_from_dict({"name": "t", "topology": {"backhaul": {"cloud": {"enabled": True}}}})
    return build_topology(sc, tr), tr


def test_layers_content():
    topo, _ = _topo()
    layers = topology_layers(topo)
    cells, servers, links = layers["cells"], layers["servers"], layers["links"]
    n_edge = int((topo.servers["tier"] == "edge").sum())
    assert (cells["kind"] == "server").sum() == n_edge and (cells["kind"] == "relay").sum() > 0
    assert (cells.loc[cells["kind"] == "relay", "server"] == -1).all()
    assert len(servers) == n_edge and str(cells.crs) == "EPSG:32650"
    # cloud WAN link has no map position and is left out of the links layer
    assert len(links) == topo.backhaul.number_of_edges() - 1


def test_gpkg_round_trip(tmp_path):
    topo, _ = _topo()
    res = export_topology(topo, tmp_path)
    assert res["format"] in ("GPKG", "GeoJSON")
    if res["format"] == "GPKG":
        names = {n for n, _ in pyogrio.list_layers(res["paths"][0])}
        assert names == {"cells", "servers", "links"}
        back = pyogrio.read_dataframe(res["paths"][0], layer="servers")
        assert sorted(back["server"].tolist()) == sorted(
            topo.servers.loc[topo.servers["tier"] == "edge", "server"].tolist()
        )


def test_local_frame_without_crs_says_so(tmp_path):
    topo, tr = _topo(crs=None)
    res = export_topology(topo, tmp_path)
    assert res["crs"] is None and any("CRS" in n for n in res["notes"])
    png = plot_topology(topo, tmp_path / "f" / "map.png", traces=tr)
    assert png.exists() and png.stat().st_size > 5_000
