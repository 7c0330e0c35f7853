"""Tiered tasks on the engine agree with the planners' analytic models where both apply."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import eosdnn as E  # noqa: N812
from edgeroam.emulator.planning.scheduling import CutTable, simulate
from edgeroam.emulator.sim.tasks import execute_plan, execute_stream

TOY = LayerGraph.from_chain("toy", [10**6, 0, 2 * 10**6], [10**5, 10**5, 10**4], [4e9, 1e8, 2e9], 10**5)


@pytest.mark.parametrize("seed", range(3))
def test_uncontended_plan_matches_the_delay_model(seed):
    env = E.eosdnn_environment(2, 2, 2, seed=seed)
    wl = E.make_workload(env, ["toy"] * 2, graphs={"toy": TOY})
    plan = E.greedy(env, wl).plan
    t1, t2, t3 = (a[0] for a in E.swarm_delays(env, wl, plan[None, :]))
    got = execute_plan(env, wl, plan)
    assert np.allclose(got["exec_s"], t1) and np.allclose(got["trans_s"], t2)
    assert got["wait_s"].sum() == pytest.approx(t3.sum(), abs=1e-12)


def test_contended_nodes_make_tasks_wait_for_a_slot():
    env = E.eosdnn_environment(2, 1, 0, seed=0)  # one edge with 2 slots, four tasks all on it
    wl = E.make_workload(env, ["toy"] * 4, tiers="LE", graphs={"toy": TOY})
    got = execute_plan(env, wl, np.full(wl.n_subtasks, 2))
    assert got["wait_s"].sum() > 0 and (got.groupby("layer")["wait_s"].max() > 0).any()


@pytest.mark.parametrize("seed", range(3))
def test_contended_plans_wait_as_the_delay_model_says(seed):
    # random plans of 12 AlexNet tasks contend for slots everywhere: every subtask's wait is the model's
    env = E.eosdnn_environment(4, 5, 5, seed=seed)
    wl = E.make_workload(env, ["alexnet"] * 12)
    total = 0.0
    for plan in E.random_swarm(wl, 20, seed):
        t3 = E.swarm_delays(env, wl, plan[None, :])[2][0]
        got = execute_plan(env, wl, plan)
        assert got["wait_s"].to_numpy() == pytest.approx(t3, abs=1e-9)
        total += float(t3.sum())
    assert total > 0  # some subtasks did wait for a slot


@pytest.mark.parametrize(("method", "cut", "capacity"), [("edge", 2, 20), ("cloud", 0, 20), ("single", 1, 20),
                                                         ("cloud", 0, 1)])
def test_streams_match_s3s_scheduler(method, cut, capacity):
    t = CutTable(np.array([0.0, 0.1, 0.5]), np.array([0.05, 0.01, 0.0]), np.array([0.4, 0.2, 0.0]))
    assert t.best == 1
    a = simulate(t, method, edges=3, frames=5, fps=20.0, capacity=capacity)
    b = execute_stream(t, cut, edges=3, frames=5, fps=20.0, capacity=capacity)
    assert b["finish"].max() == pytest.approx(a.makespan)
