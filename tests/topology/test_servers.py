"""Servers table: one per visited cell, per region cell, from files; cloud rows; lookups."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from edgeroam.errors import TopologyError
from edgeroam.topology.hexgrid import HexGrid, cell_id
from edgeroam.topology.servers import (
    SERVER_COLUMNS,
    add_cloud,
    nearest_servers,
    server_of_cell,
    servers_from_file,
    servers_in_region,
    servers_visited,
)


def _traces(x, y):
    return pd.DataFrame({"user": "a", "traj": 0, "t": np.arange(len(x), dtype=float), "x": x, "y": y})


def test_visited_one_per_cell_sorted_ids():
    g = HexGrid(50.0)
    q = np.array([0, 0, 1, 5, -3, 1])
    r = np.array([0, 0, 0, -2, 4, 0])
    x, y = g.center(q, r)
    s = servers_visited(g, _traces(x + 3.0, y - 2.0))
    assert list(s.columns) == SERVER_COLUMNS
    assert len(s) == 4
    assert s["server"].tolist() == [0, 1, 2, 3]
    assert s["cell"].is_monotonic_increasing
    assert set(s["cell"].tolist()) == set(cell_id(q, r).tolist())
    cx, cy = g.center(s["q"].to_numpy(), s["r"].to_numpy())
    assert np.allclose(s["x"], cx) and np.allclose(s["y"], cy)
    assert (s["tier"] == "edge").all() and (s["profile"] == "titan-xp").all()


def test_visited_skips_nan_and_rejects_all_nan():
    g = HexGrid(50.0)
    s = servers_visited(g, _traces([0.0, np.nan], [0.0, np.nan]))
    assert len(s) == 1
    with pytest.raises(TopologyError):
        servers_visited(g, _traces([np.nan], [np.nan]))


def test_region_cells_have_centres_inside():
    g = HexGrid(50.0, orientation="flat")
    poly = box(0, 0, 1000, 600)
    s = servers_in_region(g, poly)
    assert ((s["x"] >= 0) & (s["x"] <= 1000) & (s["y"] >= 0) & (s["y"] <= 600)).all()
    # every cell whose centre is inside is there: about area / cell area
    assert abs(len(s) - 1000 * 600 / g.cell_area) < 0.15 * len(s)


def test_from_csv_and_geojson(tmp_path):
    g = HexGrid(50.0)
    csv = tmp_path / "s.csv"
    pd.DataFrame({"x": [0.0, 200.0], "y": [0.0, 0.0], "profile": ["a", "b"]}).to_csv(csv, index=False)
    s = servers_from_file(g, csv)
    assert len(s) == 2 and s["profile"].tolist() == ["a", "b"]
    qr = tmp_path / "qr.csv"
    pd.DataFrame({"q": [0, 1], "r": [0, 0]}).to_csv(qr, index=False)
    assert servers_from_file(g, qr)["cell"].tolist() == [0, cell_id(1, 0)]
    gj = tmp_path / "s.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [10.0, 5.0]},
                    }
                ],
            }
        )
    )
    assert servers_from_file(g, gj)["cell"].tolist() == [0]
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"x": [0.0, 5.0], "y": [0.0, 0.0]}).to_csv(dup, index=False)
    with pytest.raises(TopologyError, match="two servers in cell 0"):
        servers_from_file(g, dup)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1]}).to_csv(bad, index=False)
    with pytest.raises(TopologyError, match="x,y or q,r"):
        servers_from_file(g, bad)
    with pytest.raises(TopologyError, match="not found"):
        servers_from_file(g, tmp_path / "missing.csv")


def test_cloud_rows_and_lookups():
    g = HexGrid(50.0)
    q, r = HexGrid.disk(1)
    x, y = g.center(q, r)
    s = add_cloud(servers_visited(g, _traces(x, y)), 2)
    assert s["tier"].tolist().count("cloud") == 2 and s["server"].tolist() == list(range(9))
    assert (s.loc[s["tier"] == "cloud", "cell"] == -1).all()
    cells = np.array([cell_id(0, 0), cell_id(1, 0), cell_id(9, 9), -1])
    got = server_of_cell(s, cells)
    want0 = int(s.loc[s["cell"] == 0, "server"].iloc[0])
    assert got[0] == want0 and got[1] >= 0 and got[2] == -1 and got[3] == -1
    ids, d = nearest_servers(s, [0.0, 3.0], [0.0, 1.0], k=3)
    assert ids.shape == (2, 3) and ids[0, 0] == want0 and (np.diff(d, axis=1) >= 0).all()
    assert not set(ids.ravel().tolist()) & set(s.loc[s["tier"] == "cloud", "server"].tolist())
