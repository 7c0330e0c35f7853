"""Queries while uploading: timelines of the hand-built 4-layer chain, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import (
    efficiency_order,
    executed_queries,
    fraction_cut,
    query_latency,
    server_change_timeline,
    upload_timeline,
)

HAND = {"up_bps": 8.0, "down_bps": 8.0}  # 1 byte per second
CLIENT = np.array([10.0, 10.0, 10.0, 3.0])
SERVER = np.ones(4)


@pytest.fixture
def setup():
    g = LayerGraph.from_chain("hand4", [10, 20, 40, 5], [1, 1, 1, 1], [1.0] * 4, input_bytes=1)
    # efficiency order [0], [1], [2, 3]: received at 10 s, 30 s, 75 s; latency 33 -> 26 -> 17 -> 6 s
    return g, efficiency_order(g, CLIENT, SERVER, **HAND)


def test_query_latency(setup):
    g, _ = setup
    assert query_latency(g, CLIENT, SERVER, np.zeros(4, bool), **HAND) == pytest.approx(33.0)
    assert query_latency(g, CLIENT, SERVER, [True, True, False, False], **HAND) == pytest.approx(17.0)
    assert query_latency(g, CLIENT, SERVER, np.ones(4, bool), **HAND) == pytest.approx(6.0)


def test_upload_timeline_miss_by_hand(setup):
    g, order = setup
    t = upload_timeline(g, order, CLIENT, SERVER, **HAND)
    # q0 0 -> 33 (nothing held); q1 33.5 -> 50.5 (2 groups: 17 s); q2 51 -> 68; q3 68.5 -> 85.5; q4 would
    # start
    # at 86 >= 75 (end of the upload): not listed
    assert t["start_s"].tolist() == pytest.approx([0.0, 33.5, 51.0, 68.5])
    assert t["latency_s"].tolist() == pytest.approx([33.0, 17.0, 17.0, 17.0])
    assert t["groups_held"].tolist() == [0, 2, 2, 2]
    assert t["bytes_held"].tolist() == [0, 30, 30, 30]
    assert executed_queries(t, 75.0) == 3


def test_upload_timeline_hit_by_hand(setup):
    g, order = setup
    t = upload_timeline(g, order, CLIENT, SERVER, **HAND, horizon_s=75.0, held_at_start=np.ones(4, bool))
    # every query takes 6 s: starts 0, 6.5, ..., 71.5 (12 queries); the one from 71.5 ends at 77.5 > 75
    assert len(t) == 12 and t["latency_s"].eq(6.0).all()
    assert executed_queries(t, 75.0) == 11


def test_server_change_by_hand(setup):
    g, order = setup
    kw = {"change_at_s": 40.0, "horizon_s": 110.0, **HAND}
    ionn = server_change_timeline(g, order, CLIENT, SERVER, **kw)
    # server 0: q0 0-33, q1 33.5-50.5. Server 1 from the change at 40 holds nothing; groups arrive at 50,
    # 70, 115
    # q2 51 -> 77 (1 group: 26 s), q3 77.5 -> 94.5 (17 s), q4 95 -> 112 (17 s), q5 112.5 > 110: not listed
    assert ionn["server"].tolist() == [0, 0, 1, 1, 1]
    assert ionn["start_s"].tolist() == pytest.approx([0.0, 33.5, 51.0, 77.5, 95.0])
    assert ionn["latency_s"].tolist() == pytest.approx([33.0, 17.0, 26.0, 17.0, 17.0])
    migrated = fraction_cut(order, 30).held_mask()  # groups [0], [1] migrated in advance
    pm = server_change_timeline(g, order, CLIENT, SERVER, migrated=migrated, **kw)
    # server 1 holds {0, 1}; [2, 3] (45 B) arrives at 85: q2 51 -> 68, q3 68.5 -> 85.5 (17 s), then 6 s each:
    # 86, 92.5, 99, 105.5 (112 > 110)
    assert pm["start_s"].tolist() == pytest.approx([0.0, 33.5, 51.0, 68.5, 86.0, 92.5, 99.0, 105.5])
    assert pm["latency_s"].tolist() == pytest.approx([33.0, 17.0, 17.0, 17.0, 6.0, 6.0, 6.0, 6.0])
    assert ionn.loc[ionn.server == 1, "latency_s"].max() / pm.loc[pm.server == 1, "latency_s"].max() == (
        pytest.approx(26 / 17)
    )
