"""Scenario windows: the span with the most users, its cells and their neighbours, typed errors (no root)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.errors import ScenarioError
from edgeroam.mobility.slicing import apply_window, busiest_window, select_window
from edgeroam.topology import HexGrid, cell_id


def _traces() -> pd.DataFrame:
    # users a, b, c walk at t = 0..99 s; c and d also at 1000..1099 s; e alone at 5000 s
    rows = []
    for user, t0, x0 in [("a", 0, 0.0), ("b", 0, 200.0), ("c", 0, 400.0), ("c", 1000, 0.0), ("d", 1000, 90.0),
                         ("e", 5000, 0.0)]:
        for i in range(10):
            rows.append((user, t0 + 10.0 * i, x0 + 5.0 * i, 0.0))
    df = pd.DataFrame(rows, columns=["user", "t", "x", "y"])
    df["user"] = df["user"].astype("category")
    return df


def test_busiest_window_has_the_most_users():
    grid = HexGrid(radius=50)
    w = busiest_window(_traces(), grid, duration_s=200)
    assert w.start == 0.0 and w.end == 200.0
    assert sorted(w.users) == ["a", "b", "c"] and w.points == 30
    q, r = grid.cell_of(np.array([0.0, 200.0, 400.0]), np.zeros(3))
    assert set(cell_id(q, r)) <= set(w.cells)
    assert set(w.cells) < set(w.cells_with_neighbours)
    assert len(w.cells_with_neighbours) <= 7 * len(w.cells)


def test_select_window_caps_clients_and_respects_the_box():
    grid = HexGrid(radius=50)
    w = select_window(_traces(), grid, 900, 1200, max_clients=1)
    assert len(w.users) == 1 and w.points == 10
    boxed = select_window(_traces(), grid, 0, 200, box=(-10, -10, 100, 10))
    assert list(boxed.users) == ["a"]


def test_empty_or_inverted_windows_name_the_key():
    grid = HexGrid(radius=50)
    with pytest.raises(ScenarioError, match="run.window"):
        select_window(_traces(), grid, 200, 100)
    with pytest.raises(ScenarioError, match="no trace point"):
        select_window(_traces(), grid, 2000, 3000)
    with pytest.raises(ScenarioError, match="positive"):
        busiest_window(_traces(), grid, 0)


def test_apply_window_cuts_test_users_to_the_span_and_every_trace_to_the_box():
    from edgeroam.scenario import WindowConfig

    grid = HexGrid(radius=50)
    tr = _traces()
    # test users c and d; a and b train. The box x < 300 keeps c's second walk (x 0..45) and d, not c's first
    traces, test, info = apply_window(tr, ["c", "d"], WindowConfig(region="metric:-10,-10,300,10",
                                                                   busiest_s=200, clients=1), grid)
    assert test == ["c"] and info["users"] == ["c"] and info["start"] == 1000.0 and info["points"] == 10
    assert set(traces["user"].astype(str)) == {"a", "b", "c", "e"}  # training users kept in the box; d cut
    assert (traces["x"] < 300).all()
    c = traces[traces["user"].astype(str) == "c"]
    assert c["t"].between(1000, 1200, inclusive="left").all() and len(c) == 10
    with pytest.raises(ScenarioError, match=r"run\.window\.region"):
        apply_window(tr, ["c"], WindowConfig(region="metric:5000,5000,6000,6000", busiest_s=200), grid)
