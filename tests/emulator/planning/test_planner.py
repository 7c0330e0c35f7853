"""Planner: plans, orders and latencies per load; the whole-model variant (dnn.server_layers = "all")."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn import model_graph, profile
from edgeroam.emulator.planning.planner import Planner


def _planner(model: str, whole: bool) -> Planner:
    g = model_graph(model)
    return Planner(g, profile(g, "odroid-xu4"), profile(g, "titan-xp"), up_bps=35e6, down_bps=50e6,
                   query_gap_s=0.5, whole=whole)


def test_whole_model_makes_every_layer_server_side():
    best, whole = _planner("inception", False), _planner("inception", True)
    b, w = best.entry(1), whole.entry(1)
    assert w.target.all() and sorted(w.index.tolist()) == list(range(whole.n_layers))
    assert w.bytes == int(whole.weight_bytes.sum()) > 3 * b.bytes  # the 21k-class fc stays client-side in b
    assert not b.target.all() and np.array_equal(b.target, b.plan.where)
    # the queries still use the best placement of what is held: holding everything is as fast as the plan
    assert whole.latency(1, w.target) == pytest.approx(best.latency(1, b.target))
    assert whole.latency(1, np.zeros(whole.n_layers, bool)) == best.latency(1, np.zeros(best.n_layers, bool))


def test_whole_model_fraction_is_a_prefix_of_its_order():
    w = _planner("inception", True)
    cut = w.fraction(1, 43e6)
    assert 0 < cut.bytes <= 43e6
    assert cut.index.tolist() == w.entry(1).index[: len(cut.index)].tolist()


def test_parts_split_the_unloaded_latency_at_the_server() -> None:
    p = _planner("mobilenet", False)
    rng = np.random.default_rng(0)
    for held in [np.zeros(p.n_layers, bool), np.ones(p.n_layers, bool), rng.random(p.n_layers) < 0.5]:
        pre, server = p.parts(held)
        assert pre + server == pytest.approx(p.latency(1, held)) and pre > 0 and server >= 0
    assert p.parts(np.zeros(p.n_layers, bool))[1] == 0.0  # nothing held: all on the client
    assert p.parts(np.ones(p.n_layers, bool))[1] > 0
