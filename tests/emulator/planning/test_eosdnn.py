"""EosDNN migration planning: delay model, operators keep particles valid, PSO-GA vs its GA seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import eosdnn as E  # noqa: N812
from edgeroam.errors import PlanningError

TOY = LayerGraph.from_chain("toy", [10**6, 0, 2 * 10**6], [10**5, 10**5, 10**4], [4e9, 1e8, 2e9], 10**5)


def _setup(n_tasks: int = 4, tiers: str = "LEC", seed: int = 0) -> tuple[E.Environment, E.Workload]:
    env = E.eosdnn_environment(2, 2, 2, seed=seed)
    return env, E.make_workload(env, ["toy"] * n_tasks, tiers=tiers, graphs={"toy": TOY})


def _valid(wl: E.Workload, x: np.ndarray) -> bool:
    return bool(wl.allowed[np.arange(wl.n_subtasks)[None, :], x].all())


def test_environment_matches_paper_setup() -> None:
    env = E.eosdnn_environment(seed=3)
    assert env.tier.tolist() == [0] * 4 + [1] * 5 + [2] * 5
    assert env.pools.tolist() == [1] * 4 + [2] * 5 + [8] * 5
    ghz = env.hz / 1e9
    assert ((ghz[:4] >= 1.1) & (ghz[:4] <= 2.3)).all() and ((ghz[9:] >= 40) & (ghz[9:] <= 120)).all()
    mb = env.bw / 2**20
    assert mb[0, 4] == 10 and mb[0, 9] == 0.5 and mb[4, 9] == 0.5 and mb[9, 10] == 5 and mb[4, 5] == 10
    assert mb[0, 1] == 0  # clients are not connected to each other
    assert E.eosdnn_environment(seed=3).hz.tolist() == env.hz.tolist()


def test_workload_dispatch_order_and_allowed_nodes() -> None:
    env, wl = _setup(4, tiers="LE")
    assert wl.n_subtasks == 12 and wl.layer.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert (wl.prev[:4] == -1).all() and (wl.layer[wl.prev[4:]] == wl.layer[4:] - 1).all()
    assert (wl.task[wl.prev[4:]] == wl.task[4:]).all()
    assert not wl.allowed[:, env.tier == 2].any()  # L-E: no cloud
    assert wl.allowed[np.arange(12), wl.owner].all() and wl.allowed.sum(1).tolist() == [3] * 12
    with pytest.raises(PlanningError, match="tiers"):
        E.make_workload(env, ["toy"], tiers="EC", graphs={"toy": TOY})


def test_delay_model_by_hand() -> None:
    env, wl = _setup(1)
    local = wl.owner.copy()
    t1, t2, t3 = E.swarm_delays(env, wl, local[None, :])
    assert t1[0] == pytest.approx(TOY.layers["flops"].to_numpy() / env.hz[0])
    assert t2[0].tolist() == [0, 0, 0] and t3[0].tolist() == [0, 0, 0]  # all local: no transfer, no queue
    edge = np.full(3, 2)  # first edge server
    t1, t2, t3 = E.swarm_delays(env, wl, edge[None, :])
    assert t2[0, 0] == pytest.approx(10**5 / (10 * 2**20)) and t2[0, 1:].tolist() == [0, 0]
    assert E.migration_delay(env, wl, edge[None, :])[0] == pytest.approx(t1.sum() + t2.sum())


def test_waiting_on_a_single_pool() -> None:
    env, wl = _setup(2)  # both tasks of client 0 (round-robin over 2 clients: tasks 0 and 1 differ)
    x = np.full(wl.n_subtasks, 0)
    x[wl.owner == 1] = 2  # task on client 1 goes to the edge; client 0's task local
    t1, _, t3 = E.swarm_delays(env, wl, x[None, :])
    assert (t3 == 0).all()
    # two tasks on one client with one pool: the second first layer waits for the first
    wl2 = E.make_workload(E.eosdnn_environment(1, 1, 1, seed=0), ["toy", "toy"], graphs={"toy": TOY})
    env2 = E.eosdnn_environment(1, 1, 1, seed=0)
    t1, _, t3 = E.swarm_delays(env2, wl2, np.zeros((1, 6), dtype=np.int64))
    assert t3[0, 1] == pytest.approx(t1[0, 0])


def test_slots_go_to_the_subtask_that_arrives_first() -> None:
    # one edge slot; task 0 is dispatched first but its 100 MB input takes 10 s, task 1's 10 MB 1 s:
    # task 1 runs at 1-3 s and task 0 at 10-12 s, neither waits (dispatch order made task 1 wait 11 s)
    mb = 2**20
    bw = np.array([[np.inf, 0, 10 * mb], [0, np.inf, 10 * mb], [10 * mb, 10 * mb, np.inf]])
    env = E.Environment(np.array([0, 0, 1], np.int8), np.full(3, 1e9), np.ones(3, np.int64), bw)
    graphs = {m: LayerGraph.from_chain(m, [0], [10], [2e9], input_bytes=b * mb) for m, b in (("a", 100),
                                                                                            ("b", 10))}
    wl = E.make_workload(env, ["a", "b"], tiers="LE", graphs=graphs)
    t1, t2, t3 = E.swarm_delays(env, wl, np.full((1, 2), 2))
    assert t2[0].tolist() == [10.0, 1.0] and t1[0].tolist() == [2.0, 2.0] and t3[0].tolist() == [0.0, 0.0]
    # the slot frees at 3 s; a third task arriving at 2 s waits 1 s for it
    graphs["c"] = LayerGraph.from_chain("c", [0], [10], [2e9], input_bytes=20 * mb)
    env3 = E.Environment(np.array([0, 0, 0, 1], np.int8), np.full(4, 1e9), np.ones(4, np.int64),
                         np.pad(bw, ((1, 0), (1, 0)), constant_values=0.0))
    env3.bw[0, 0], env3.bw[0, 3], env3.bw[3, 0] = np.inf, 10 * mb, 10 * mb
    wl3 = E.make_workload(env3, ["a", "b", "c"], tiers="LE", graphs=graphs)
    assert E.swarm_delays(env3, wl3, np.full((1, 3), 3))[2][0].tolist() == [0.0, 0.0, 1.0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_tasks=st.integers(1, 5), tiers=st.sampled_from(["LE", "LC", "LEC"]),
       p=st.floats(0, 1))
def test_operators_keep_particles_valid(seed: int, n_tasks: int, tiers: str, p: float) -> None:
    env, wl = _setup(n_tasks, tiers=tiers, seed=seed % 7)
    rng = np.random.default_rng(seed)
    x = E.random_swarm(wl, 8, rng)
    c = E.cut_swarm(wl, 8, rng)
    assert _valid(wl, x) and _valid(wl, c)
    rows = rng.random(8) < p
    m = E.mutate(wl, x, rows, rng)
    assert _valid(wl, m)
    changed = (m != x).sum(1)
    assert (changed[~rows] == 0).all() and (changed <= 1).all()
    y = E.crossover(x, c, rows, rng)
    assert _valid(wl, y) and ((y == x) | (y == c)).all()
    assert (y[~rows] == x[~rows]).all()
    assert np.isfinite(E.migration_delay(env, wl, np.vstack([x, c, m, y]))).all()


@pytest.mark.parametrize("start", ["greedy", "cut", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pso_ga_never_worse_than_its_ga_seed(start: str, seed: int) -> None:
    env, wl = _setup(6, seed=seed)
    r = E.pso_ga(env, wl, particles=20, iterations=30, ga_generations=10, start=start, seed=seed)
    assert r.seed_md is not None and r.md <= r.seed_md + 1e-12
    assert r.md == pytest.approx(E.migration_delay(env, wl, r.plan[None, :])[0])
    assert (np.diff(r.history) <= 1e-12).all()
    if start == "greedy":
        assert r.md <= E.greedy(env, wl).md + 1e-12


def test_pso_ga_parameters_checked() -> None:
    env, wl = _setup(2)
    with pytest.raises(PlanningError, match="start"):
        E.pso_ga(env, wl, particles=4, iterations=1, ga_generations=1, start="best")


def test_greedy_and_prepso_give_valid_plans() -> None:
    env, wl = _setup(5)
    g = E.greedy(env, wl)
    assert _valid(wl, g.plan[None, :]) and g.md == pytest.approx(E.migration_delay(env, wl, g.plan)[0])
    pp = E.pre_pso(env, wl, particles=10, iterations=10, seed=0)
    assert _valid(wl, pp.plan[None, :])
    # weightless layer 1 follows layer 0's node in prePSO
    lay1 = np.flatnonzero(wl.layer == 1)
    assert (pp.plan[lay1] == pp.plan[wl.prev[lay1]]).all()
    bd = E.delay_breakdown(env, wl, g.plan)
    assert list(bd.columns) == ["task", "layer", "node", "tier", "exec_s", "trans_s", "wait_s"]
    assert bd[["exec_s", "trans_s", "wait_s"]].to_numpy().sum() == pytest.approx(g.md)


def test_cost_model_energy_and_money() -> None:
    env, wl = _setup(1)
    local = wl.owner.copy()
    c = E.plan_costs(env, wl, local)
    assert c["radio_j"] == 0 and c["money"] == 0 and c["gb_moved"] == 0
    assert c["energy_j"] == pytest.approx(5.0 * c["exec_s"])
    edge = np.full(3, 2)
    c2 = E.plan_costs(env, wl, edge, E.CostModel(radio_w=2.0, price_per_gb=1.0))
    assert c2["gb_moved"] == pytest.approx(10**5 / 1e9)
    assert c2["radio_j"] == pytest.approx(2.0 * c2["trans_s"])
    assert c2["money"] == pytest.approx(2e-5 * c2["exec_s"] + 10**5 / 1e9)
    assert c2["md_s"] == pytest.approx(E.migration_delay(env, wl, edge[None, :])[0])


def test_scenario_environment_takes_the_scenarios_tiers() -> None:
    from edgeroam.scenario import scenario_from_dict

    sc = scenario_from_dict({"name": "t", "topology": {"tiers": {"links": "literal"},
                                                       "backhaul": {"cloud": {"enabled": True, "count": 3}}}})
    env = E.scenario_environment(sc, 2, 2)
    assert env.tier.tolist() == [0, 0, 1, 1, 2, 2, 2] and env.pools.tolist() == [1, 1, 2, 2, 8, 8, 8]
    assert env.bw[2, 4] / 2**20 == 5.0 and env.bw[0, 4] / 2**20 == 0.5  # literal: edge-cloud 5 MB/s
    with pytest.raises(PlanningError, match="topology.tiers"):
        E.scenario_environment(scenario_from_dict({"name": "t"}))
