"""EosDNN's two-step migration: modules and branches found in a DAG, the merged chain, step 2 never worse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import eosdnn as E  # noqa: N812
from edgeroam.emulator.planning.twostep import find_modules, merged_graph, two_step


def dag(edges: list[tuple[int, int]], n: int, flops: float = 1e9) -> LayerGraph:
    layers = pd.DataFrame({"name": [f"l{i}" for i in range(n)], "op": ["conv"] * n, "params": ["{}"] * n,
                           "weight_bytes": [1000 * (i + 1) for i in range(n)], "out_bytes": [10**5] * n,
                           "flops": [flops] * n})
    return LayerGraph("dag", layers, np.array(edges), 10**5)


#: 0 -> {1 | 2 -> 3} -> 4 (concat) -> 5 -> {6} + shortcut 5 -> 7 (add) -> 8
INCEPTION = dag([(0, 1), (0, 2), (2, 3), (1, 4), (3, 4), (4, 5), (5, 6), (6, 7), (5, 7), (7, 8)], 9)


def test_modules_branches_and_shortcuts():
    mods = find_modules(INCEPTION)
    assert [(m.input, m.join, m.shortcut) for m in mods] == [(0, 4, False), (5, 7, True)]
    assert [b.tolist() for b in mods[0].branches] == [[1], [2, 3]]
    assert [b.tolist() for b in mods[1].branches] == [[6]]
    assert find_modules(LayerGraph.from_chain("c", [1, 1], [1, 1], [1.0, 1.0], 1)) == []


def test_merged_graph_is_a_chain_keeping_weights_and_flops():
    mg = merged_graph(INCEPTION, find_modules(INCEPTION))
    assert mg.is_chain and mg.n_layers == 5  # 0, module 1-4, 5, module 6-7, 8: a module ends at its join
    assert mg.total_weight_bytes == INCEPTION.total_weight_bytes
    assert mg.layers["flops"].sum() == pytest.approx(INCEPTION.layers["flops"].sum())


@pytest.mark.parametrize("seed", range(3))
def test_step_two_is_never_worse_than_step_one(seed):
    env = E.eosdnn_environment(2, 2, 2, seed=seed)
    res = two_step(env, ["dag"] * 3, graphs={"dag": INCEPTION}, particles=8, iterations=10, ga_generations=3,
                   seed=seed)
    # every branch on the join's node is one of the assignments tried, and runs branches side by side
    assert (res.modules["step2_s"] <= res.modules["step1_s"] + 1e-12).all()
    assert res.md <= res.step1.md + 1e-9
    assert len(res.modules) == 3 * 2 and set(res.branches["node"]) <= set(range(-1, env.n_nodes))


def test_googlenet_two_step_runs_on_the_paper_environment():
    env = E.eosdnn_environment(4, 5, 5, seed=0)
    res = two_step(env, ["googlenet"] * 4, particles=10, iterations=5, ga_generations=2, seed=0)
    assert res.modules["branches"].eq(4).all() and len(res.modules) == 4 * 9
    assert res.md <= res.step1.md + 1e-9
