"""Upload orders: efficiency order by hand on a 4-layer chain, IONN, recursive, direct, fraction cut."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import (
    IONN_PENALTIES,
    PlanProblem,
    UploadOrder,
    direct_order,
    efficiency_order,
    fraction_cut,
    ionn_order,
    recursive_order,
    shortest_path_plan,
)
from edgeroam.errors import PlanningError

# 8 bits/s both ways: 1 byte = 1 s. Input 1 B, every output 1 B (each transfer 1 s).
# weights 10, 20, 40, 5 B; client 10, 10, 10, 3 s; server 1 s each.
HAND = {"up_bps": 8.0, "down_bps": 8.0}
CLIENT = np.array([10.0, 10.0, 10.0, 3.0])
SERVER = np.ones(4)


def hand_graph() -> LayerGraph:
    return LayerGraph.from_chain("hand4", [10, 20, 40, 5], [1, 1, 1, 1], [1.0] * 4, input_bytes=1)


def test_efficiency_order_by_hand():
    # Nothing held: latency 10+10+10+3 = 33. Optimum: all on the server, 1 + 4 + 1 = 6 -> target = all 4.
    # Pick 1 (latency with the block held -> gain / bytes):
    #   [0]: 1+1+1+10+10+3 = 26 -> 7/10 = 0.7       [1]: 26 -> 7/20      [2]: 26 -> 7/40     [3]: 33 -> 0
    #   [0,1]: 1+2+1+10+3 = 17 -> 16/30 = 0.533     [1,2]: 17 -> 16/60   [2,3]: 24 -> 9/45
    #   [0..2]: 8 -> 25/70 = 0.357   [1..3]: 15 -> 18/65   [0..3]: 6 -> 27/75 = 0.36       => [0]
    # Pick 2 (held {0}, latency 26):
    #   [1]: 1+1+1+1+10+3 = 17 -> 9/20 = 0.45   [2]: 1+1+1+10+1+1+1+3 = 19 -> 7/40   [3]: 26 -> 0
    #   [1,2]: 8 -> 18/60 = 0.3   [2,3]: 17 -> 9/45 = 0.2   [1..3]: 6 -> 20/65 = 0.308        => [1]
    # Pick 3 (held {0,1}, latency 17): [2]: 8 -> 9/40 = 0.225  [3]: 17 -> 0  [2,3]: 6 -> 11/45 = 0.244 =>
    # [2,3]
    o = efficiency_order(hand_graph(), CLIENT, SERVER, **HAND)
    assert [g.tolist() for g in o.groups] == [[0], [1], [2, 3]]
    assert o.latency_before == pytest.approx(33.0)
    assert o.latency_after.tolist() == pytest.approx([26.0, 17.0, 6.0])
    assert o.efficiency.tolist() == pytest.approx([0.7, 0.45, 11 / 45])
    assert o.bytes.tolist() == [10, 20, 45] and o.cumulative_bytes.tolist() == [10, 30, 75]


def test_orders_cover_the_optimal_server_side():
    g = hand_graph()
    target = shortest_path_plan(g, CLIENT, SERVER, **HAND).where
    for fn in (efficiency_order, ionn_order, recursive_order, direct_order):
        o = fn(g, CLIENT, SERVER, **HAND)
        layers = np.concatenate(o.groups)
        assert len(np.unique(layers)) == len(layers), fn.__name__
        assert np.array_equal(o.held_mask(), target), fn.__name__
        assert o.latency_after[-1] == pytest.approx(6.0), fn.__name__
    assert len(direct_order(g, CLIENT, SERVER, **HAND).groups) == 1


def test_ionn_penalties_and_groups():
    assert IONN_PENALTIES == (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0)
    # with the full upload time as penalty (k = 1) no layer pays off; the zero penalty ends at the optimum
    g = hand_graph()
    o = ionn_order(g, CLIENT, SERVER, **HAND, penalties=(1.0,))
    assert o.n_groups == 0
    o = ionn_order(g, CLIENT, SERVER, **HAND)
    assert 1 <= o.n_groups <= len(IONN_PENALTIES)


def test_recursive_is_a_refinement_of_efficiency(mk):
    for seed in range(6):
        g, c, s = mk.chain(seed, 12)
        kw = {"up_bps": 35e3 * 8 / 25, "down_bps": 50e3 * 8 / 25}
        prob = PlanProblem(g, c, s, **kw)
        eff = efficiency_order(prob)
        rec = recursive_order(prob)
        assert rec.n_groups >= eff.n_groups
        assert np.array_equal(rec.held_mask(), eff.held_mask())
        # every efficiency group boundary is a recursive group boundary
        assert set(eff.cumulative_bytes.tolist()) <= set(rec.cumulative_bytes.tolist()) | {0}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 1000), min_size=0, max_size=12),
    budget=st.floats(0, 15000, allow_nan=False),
)
def test_fraction_cut_is_the_longest_prefix_under_budget(sizes, budget):
    n = len(sizes)
    order = UploadOrder(
        [np.array([i]) for i in range(n)],
        np.zeros(n),
        np.array(sizes, dtype=np.int64),
        np.zeros(n),
        1.0,
        "x",
        n,
    )
    cut = fraction_cut(order, budget)
    k = cut.n_groups
    assert cut.total_bytes <= budget
    assert [g.tolist() for g in cut.groups] == [g.tolist() for g in order.groups[:k]]
    if k < n:
        assert order.cumulative_bytes[k] > budget


def test_fraction_cut_rejects_negative_budget():
    o = efficiency_order(hand_graph(), CLIENT, SERVER, **HAND)
    with pytest.raises(PlanningError):
        fraction_cut(o, -1)
    assert [g.tolist() for g in fraction_cut(o, 30).groups] == [[0], [1]]
