"""S3 scheduling: cut table (Eq. 1), the event simulation, Single Cutting and Scheduling with Queuing."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning.partition import PlanProblem
from edgeroam.emulator.planning.scheduling import (
    CutTable,
    ThreeTierCuts,
    cut_table,
    model_cut_table,
    simulate,
    speedup,
)
from edgeroam.errors import PlanningError


def _table(te: list[float], tt: list[float], tc: list[float]) -> CutTable:
    return CutTable(np.array(te), np.array(tt), np.array(tc))


def test_cut_table_matches_eq1_on_a_chain() -> None:
    g = LayerGraph.from_chain("c", [0, 0, 0], [500, 100, 10], [1.0, 1.0, 1.0], input_bytes=1000)
    t = cut_table(g, np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3]), 8000.0)
    assert t.t_e.tolist() == [0.0, 1.0, 3.0, 6.0]
    assert t.t_t.tolist() == pytest.approx([1.0, 0.5, 0.1, 0.0])
    assert t.t_c.tolist() == pytest.approx([0.6, 0.5, 0.3, 0.0])
    assert t.best == 0 and t.total[0] == pytest.approx(1.6)


def test_dag_cut_counts_every_crossing_tensor() -> None:
    t = model_cut_table("resnet18", 5.85e6)
    assert t.t_e[0] == 0 and t.t_c[-1] == 0 and t.t_t[-1] == 0
    assert (np.diff(t.t_e) >= -1e-12).all() and (np.diff(t.t_c) <= 1e-12).all()
    assert (t.t_t[:-1] > 0).all()  # every proper cut sends something


def test_edge_only_is_sequential_per_edge_and_parallel_across_edges() -> None:
    t = _table([0.0, 1.0, 2.0], [0.5, 0.1, 0.0], [0.2, 0.1, 0.0])
    one = simulate(t, "edge", edges=1, frames=4, fps=1e9)
    five = simulate(t, "edge", edges=5, frames=4, fps=1e9)
    assert one.makespan == pytest.approx(8.0) and five.makespan == pytest.approx(8.0)
    assert len(five.tasks) == 20 and (five.tasks["t_w"] == 0).all()


def test_cloud_queue_waits_and_uplink_serialises() -> None:
    # cloud-only: no edge time, 1 s per transfer, 2 s per cloud task: the cloud is the bottleneck
    t = _table([0.0, 5.0], [1.0, 0.0], [2.0, 0.0])
    r = simulate(t, "cloud", edges=2, frames=3, fps=1e9, capacity=20)
    d = r.tasks.sort_values("finish")
    assert r.makespan == pytest.approx(1.0 + 6 * 2.0)
    assert (np.diff(d["finish"].to_numpy()) >= 2.0 - 1e-9).all()
    assert d["t_w"].max() > 0
    # second frame of an edge waits for the first one's transfer on the same uplink
    e0 = r.tasks[r.tasks["edge"] == 0]
    assert e0["t_link"].iloc[1] == pytest.approx(1.0)


def test_full_cloud_queue_blocks_the_edge() -> None:
    t = _table([0.0, 5.0], [0.1, 0.0], [3.0, 0.0])
    free = simulate(t, "cloud", edges=3, frames=4, fps=1e9, capacity=50)
    tight = simulate(t, "cloud", edges=3, frames=4, fps=1e9, capacity=1)
    assert free.tasks["t_block"].max() == 0 and tight.tasks["t_block"].max() > 0
    assert tight.makespan == pytest.approx(free.makespan)  # the cloud stays the bottleneck either way


def test_queue_moves_the_cut_toward_the_edge_when_the_cloud_is_busy() -> None:
    # best single cut is cloud-only, but the cloud is slow: waiting there beats extra edge time
    t = _table([0.0, 0.5, 1.0], [0.1, 0.1, 0.0], [0.3, 0.15, 0.0])
    assert t.best == 0
    sc = simulate(t, "single", edges=3, frames=10, fps=1e9)
    sq = simulate(t, "queue", edges=3, frames=10, fps=1e9)
    assert (sq.tasks["cut"] > 0).any()
    assert sq.makespan < sc.makespan
    assert speedup(simulate(t, "edge", edges=3, frames=10, fps=1e9), sq) > 1


def test_queue_equals_single_when_the_cloud_is_idle() -> None:
    t = model_cut_table("alexnet", 5.85e6)
    assert simulate(t, "queue").makespan == pytest.approx(simulate(t, "single").makespan)


@pytest.mark.parametrize("kw,match", [({"edges": 0}, "edges"), ({"capacity": 0}, "capacity"),
                                      ({"fps": 0.0}, "fps")])
def test_bad_parameters(kw: dict, match: str) -> None:
    t = _table([0.0, 1.0], [1.0, 0.0], [1.0, 0.0])
    with pytest.raises(PlanningError, match=match):
        simulate(t, "single", **kw)
    with pytest.raises(PlanningError, match="method"):
        simulate(t, "best")


def test_cloud_serves_in_arrival_order_not_start_order() -> None:
    # edge 0 starts its three frames at t = 0 (they queue on its uplink: at the cloud at 1, 2, 3); edge 1's
    # second frame starts at 1.5, later than all of them, but reaches the cloud at 2.5, before edge 0's third
    t = _table([0.0, 5.0], [1.0, 0.0], [2.0, 0.0])
    r = simulate(t, "cloud", edges=2, frames=3, fps=np.array([1e9, 1 / 1.5]))
    fin = r.tasks.set_index(["edge", "frame"])["finish"]
    assert fin[(1, 1)] == pytest.approx(9.0) and fin[(0, 2)] == pytest.approx(11.0)
    assert fin[(1, 2)] == pytest.approx(13.0) and r.makespan == pytest.approx(13.0)


@pytest.mark.parametrize("model,net", [("darknet19", 5.85e6), ("alexnet", 1.1e6), ("resnet18", 5.85e6)])
def test_single_cut_equals_the_sim_engine_with_unequal_rates(model: str, net: float) -> None:
    from edgeroam.emulator.sim.tasks import execute_stream

    t = model_cut_table(model, net)
    fps = np.random.default_rng(0).uniform(5, 15, 5)
    ours = simulate(t, "single", fps=fps).tasks
    engine = execute_stream(t, t.best, fps=fps)
    # ties at the cloud may be broken in another order: the finish times as a whole must agree
    assert np.sort(ours["finish"].to_numpy()) == pytest.approx(np.sort(engine["finish"].to_numpy()))


def test_queue_never_loses_to_single_on_darknet19_4g_with_unequal_rates() -> None:
    # served in commit order, S-Q moved cuts for waits that FIFO never has (203 s against S-C's 24.7 s)
    t = model_cut_table("darknet19", 5.85e6)
    for seed in range(3):
        fps = np.random.default_rng(seed).uniform(5, 15, 5)
        assert simulate(t, "queue", fps=fps).makespan <= simulate(t, "single", fps=fps).makespan + 1e-9


def test_three_tier_best_cut_equals_enumerating_every_pair() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 7))
        out_bytes = rng.integers(1, 5000, n).tolist()
        g = LayerGraph.from_chain("c", [0] * n, out_bytes, [1.0] * n, input_bytes=3000)
        base = PlanProblem(g, rng.uniform(0, 0.5, n), rng.uniform(0, 0.1, n), up_bps=8e4, down_bps=8e4)
        cuts = ThreeTierCuts(base, float(rng.choice([0.0, 4e4, 4e5])))
        we, wc = rng.uniform(0, 0.5, 2)
        lat = {}
        for i in range(n + 1):
            for j in range(i, n + 1):
                edge, up, cloud = cuts.server[i] - cuts.server[j], cuts.up[j], cuts.server[j]
                lat[i, j] = cuts.pre[i] + edge + up + cloud + (we if i < j else 0.0) + (wc if j < n else 0.0)
        m = min(lat.values())
        assert cuts.best(we, wc) == max(k for k, v in lat.items() if v <= m + 1e-12)


def test_three_tier_parts_run_on_the_edge_only_the_held_run_before_the_cloud_cut() -> None:
    # chain of 4, 1 s per layer on the client, 0.5 s on the edge and the cloud, no bytes to move
    g = LayerGraph.from_chain("c", [0] * 4, [0] * 4, [1.0] * 4, input_bytes=0)
    cuts = ThreeTierCuts(PlanProblem(g, [1.0] * 4, [0.5] * 4, up_bps=8e3, down_bps=8e3), 8e3)
    held = np.array([True, False, True, False])
    assert cuts.parts(held, 3) == (2.0, 0.5, 0.0, 0.5)  # layers 0-1 client, 2 edge, 3 cloud
    assert cuts.parts(held, 1) == (0.0, 0.5, 0.0, 1.5)  # layer 0 held: edge, 1-3 cloud
    assert cuts.parts(np.zeros(4, bool), 4) == (4.0, 0.0, 0.0, 0.0)
