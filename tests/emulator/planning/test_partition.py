"""Partitioning: the shortest path and the min cut equal brute force over every placement."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import (
    PlanProblem,
    mincut_plan,
    neurosurgeon_plan,
    plan_cost,
    shortest_path_plan,
)
from edgeroam.errors import PlanningError

# bandwidths in bits/s chosen so that transfers (bytes up to 3000) and the profiles are comparable
UP, DOWN = 35e3 * 8 / 25, 50e3 * 8 / 25


def _brute(mk, g, c, s, held=None):
    prob = PlanProblem(g, c, s, up_bps=UP, down_bps=DOWN)
    W = mk.all_placements(g.n_layers)
    total = prob.costs(W)[0]
    if held is not None:
        total = np.where((W & ~held).any(axis=1), np.inf, total)
    return float(total.min())


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("kind", ["chain", "dag"])
def test_shortest_path_and_mincut_equal_brute_force(mk, seed, kind):
    n = 3 + seed % 8  # 3..10 layers
    g, c, s = getattr(mk, kind)(seed, n)
    held = np.random.default_rng(seed).random(n) < 0.6
    for mask in (None, held):
        best = _brute(mk, g, c, s, mask)
        sp = shortest_path_plan(g, c, s, up_bps=UP, down_bps=DOWN, on_server=mask)
        mc = mincut_plan(g, c, s, up_bps=UP, down_bps=DOWN, on_server=mask)
        assert sp.latency_s == pytest.approx(best, rel=1e-12, abs=1e-12)
        assert mc.latency_s == pytest.approx(best, abs=1e-9)  # min cut in integer picoseconds
        if mask is not None:
            assert not (sp.where & ~mask).any() and not (mc.where & ~mask).any()


@pytest.mark.parametrize("seed", range(10))
def test_mincut_equals_shortest_path_on_longer_chains(mk, seed):
    g, c, s = mk.chain(100 + seed, 60)
    sp = shortest_path_plan(g, c, s, up_bps=UP, down_bps=DOWN)
    mc = mincut_plan(g, c, s, up_bps=UP, down_bps=DOWN)
    assert sp.method == "shortest-path" and mc.method == "min-cut"
    assert mc.latency_s == pytest.approx(sp.latency_s, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_neurosurgeon_is_best_single_split(mk, seed):
    g, c, s = mk.chain(seed, 8)
    prob = PlanProblem(g, c, s, up_bps=UP, down_bps=DOWN)
    splits = np.arange(8)[None, :] >= np.arange(9)[:, None]
    best = float(prob.costs(splits)[0].min())
    ns = neurosurgeon_plan(g, c, s, up_bps=UP, down_bps=DOWN)
    assert ns.latency_s == pytest.approx(best)
    assert ns.latency_s >= shortest_path_plan(g, c, s, up_bps=UP, down_bps=DOWN).latency_s - 1e-12
    # with a server that holds only the first layers, the only single split left is all-client
    held = np.zeros(8, bool)
    held[:3] = True
    assert not neurosurgeon_plan(g, c, s, up_bps=UP, down_bps=DOWN, on_server=held).where.any()


def test_hand_computed_two_layer_chain():
    # 8 bits/s = 1 byte/s: input 4 B, outputs 3 B and 1 B; client 5 s and 6 s, server 1 s each.
    g = LayerGraph.from_chain("hand", [0, 0], [3, 1], [1.0, 1.0], input_bytes=4)
    kw = {"up_bps": 8.0, "down_bps": 8.0}
    # placements: CC = 11; SS = 4 up + 2 + 1 down = 7; CS = 5 + 3 + 1 + 1 = 10; SC = 4 + 1 + 3 + 6 = 14
    p = shortest_path_plan(g, [5.0, 6.0], [1.0, 1.0], **kw)
    assert p.where.tolist() == [True, True] and p.latency_s == pytest.approx(7.0)
    assert (p.client_s, p.server_s, p.transfer_s) == pytest.approx((0.0, 2.0, 5.0))
    p = shortest_path_plan(g, [5.0, 6.0], [1.0, 1.0], on_server=[False, True], **kw)
    assert p.where.tolist() == [False, True] and p.latency_s == pytest.approx(10.0)
    assert plan_cost(g, [True, False], [5.0, 6.0], [1.0, 1.0], **kw).latency_s == pytest.approx(14.0)


def test_tensor_read_twice_is_sent_once():
    # 0 -> 1, 0 -> 2, 1 -> 2 ; layer 0 on the client, 1 and 2 on the server: layer 0's output goes up once
    import pandas as pd

    layers = pd.DataFrame(
        {
            "name": ["a", "b", "c"],
            "op": ["other"] * 3,
            "params": ["{}"] * 3,
            "weight_bytes": [0, 0, 0],
            "out_bytes": [10, 7, 2],
            "flops": [1.0, 1.0, 1.0],
        }
    )
    g = LayerGraph("dag", layers, np.array([[0, 1], [0, 2], [1, 2]]), 5)
    plan = plan_cost(g, [False, True, True], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], up_bps=8.0, down_bps=8.0)
    assert plan.transfer_s == pytest.approx(10 + 2)  # 10 B up once, 2 B of the output down
    assert plan.latency_s == pytest.approx(1 + 0.5 + 0.5 + 12)


def test_bad_inputs_raise_planning_error(mk):
    g, c, s = mk.chain(0, 4)
    with pytest.raises(PlanningError, match="client profile"):
        shortest_path_plan(g, c[:3], s, up_bps=UP, down_bps=DOWN)
    with pytest.raises(PlanningError, match="up_bps"):
        shortest_path_plan(g, c, s, up_bps=0.0, down_bps=DOWN)
    with pytest.raises(PlanningError, match="on_server"):
        shortest_path_plan(g, c, s, up_bps=UP, down_bps=DOWN, on_server=[True])
    with pytest.raises(PlanningError, match="server profile"):
        shortest_path_plan(g, c, -s - 1, up_bps=UP, down_bps=DOWN)
