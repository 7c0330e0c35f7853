"""Metrics: hit classes, closed-loop query counting, crowded servers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from edgeroam.emulator.metrics import classify_arrival, closed_loop_queries, hit_ratio
from edgeroam.emulator.run import crowded_servers


def test_classify():
    t = np.array([True, True, False])
    assert classify_arrival(np.array([True, True, True]), t) == "hit"
    assert classify_arrival(np.array([False, True, False]), t) == "partial"
    assert classify_arrival(np.array([False, False, True]), t) == "miss"
    assert classify_arrival(np.zeros(3, bool), np.zeros(3, bool)) == "hit"


def test_closed_loop_hand_computed():
    # latency 2 s until t = 3, then 0.5 s; gap 0.5 s. Queries: [0,2], [2.5,4.5] (started before 3),
    # then [5,5.5], [6,6.5], [7,7.5], [8,8.5], [9,9.5]; [10, ...] starts at the end
    assert closed_loop_queries(0.0, 10.0, [(0.0, 2.0), (3.0, 0.5)], 0.5) == [(0.0, 2.0, 2), (5.0, 0.5, 5)]
    # a query that would end after the window does not count
    assert closed_loop_queries(0.0, 1.9, [(0.0, 2.0)], 0.5) == []


@given(st.floats(0.01, 3.0), st.floats(0.0, 1.0), st.floats(1.0, 40.0))
def test_closed_loop_matches_a_plain_loop(lat, gap, window):
    n = 0
    t = 0.0
    while t < window:
        if t + lat <= window + 1e-9:
            n += 1
        t += lat + gap
    got = sum(q for _, _, q in closed_loop_queries(0.0, window, [(0.0, lat)], gap))
    assert abs(got - n) <= 0 or abs(t - window) < 1e-6


def test_hit_ratio_and_crowded():
    assert hit_ratio(pd.Series(["hit", "miss", "partial", "hit"])) == 2 / 3
    assert hit_ratio(pd.Series(["partial"])) is None
    bh = pd.DataFrame({"interval": [0, 1, 0, 0], "server": [3, 3, 1, 2], "up_bytes": [1.0, 9.0, 9.0, 2.0]})
    assert crowded_servers(bh, 20, 0.1) == [1, 3]
    assert crowded_servers(bh, 20, 0.0) == []
