"""Queries on server slots: FIFO waiting, the bounded cloud queue, background load, and the sim driver."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.actions import SetCloud
from edgeroam.emulator.backend import Arrival, Moves
from edgeroam.emulator.master import Master
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.sim.driver import Sim
from edgeroam.emulator.sim.slotqueries import window_queries
from edgeroam.errors import RunError
from edgeroam.topology.servers import add_cloud
from edgeroam.topology.tiers import node_slots, slot_tiers


def _one(pre: float, work: float) -> list[tuple[float, float, float]]:
    return [(0.0, pre, work)]


def test_three_queries_on_two_slots_wait_fifo_by_arrival() -> None:
    # they reach the server at 0.3, 0.1 and 0.2 s (their time before it); each needs 1 s of a slot: the
    # two first to arrive run at once, the last (window 0) waits for the slot that frees at 1.1 s
    got = window_queries(0.0, 5.0, [_one(0.3, 1.0), _one(0.1, 1.0), _one(0.2, 1.0)], background=0,
                         full=(0.0, 1.0), gap_s=10.0, slots=2)
    assert got[1] == [(0.0, pytest.approx(1.1), 0.0, 0.0)]
    assert got[2] == [(0.0, pytest.approx(1.2), 0.0, 0.0)]
    assert got[0] == [(0.0, pytest.approx(2.1), pytest.approx(0.8), 0.0)]


def test_a_full_cloud_queue_blocks_the_next_query_until_a_place_frees() -> None:
    # one slot, a queue of one: the first runs (0-1), the second queues, the third waits outside until 1 s
    three = [_one(0.0, 1.0), _one(0.0, 1.0), _one(0.0, 1.0)]
    got = window_queries(0.0, 5.0, three, background=0, full=(0.0, 1.0), gap_s=10.0, slots=1, capacity=1)
    assert [q[0][1:] for q in got] == [(1.0, 0.0, 0.0), (2.0, 1.0, 0.0), (3.0, 2.0, 1.0)]
    free = window_queries(0.0, 5.0, three, background=0, full=(0.0, 1.0), gap_s=10.0, slots=1)
    assert [q[0][1:] for q in free] == [(1.0, 0.0, 0.0), (2.0, 1.0, 0.0), (3.0, 2.0, 0.0)]


def test_other_attached_clients_load_the_server_and_late_queries_do_not_count() -> None:
    alone = window_queries(0.0, 10.0, [_one(0.5, 1.0)], background=0, full=(0.5, 1.0), gap_s=0.5, slots=1)
    assert [q[:2] for q in alone[0]] == [(0.0, 1.5), (2.0, 1.5), (4.0, 1.5), (6.0, 1.5), (8.0, 1.5)]
    busy = window_queries(0.0, 10.0, [_one(0.5, 1.0)], background=2, full=(0.5, 1.0), gap_s=0.5, slots=1)
    assert len(busy[0]) < len(alone[0]) and max(q[2] for q in busy[0]) > 0
    assert all(s + lat <= 10.0 + 1e-9 for s, lat, _, _ in busy[0])


def test_the_split_steps_when_layers_land() -> None:
    # from t = 2 the server holds more: 0.1 s before it and 0.2 s on it instead of 1 s before it
    got = window_queries(0.0, 4.0, [[(0.0, 1.0, 0.0), (2.0, 0.1, 0.2)]], background=0, full=(0.1, 0.2),
                         gap_s=0.5, slots=2)
    assert [(s, round(lat, 9)) for s, lat, _, _ in got[0]] == [(0.0, 1.0), (1.5, 1.0), (3.0, 0.3)]
    with pytest.raises(RunError, match="zero latency"):
        window_queries(0.0, 1.0, [_one(0.0, 0.0)], background=0, full=(0.0, 0.0), gap_s=0.0, slots=1)


def test_a_tail_waits_outside_the_cloud_queue_when_20_are_queued() -> None:
    # 29 queries send only a 1 s tail to a cloud of 8 slots and a queue of 20: 8 run, 20 queue, the 29th is
    # blocked until the first 8 end (1 s), then runs after the next three rounds: it starts at 3 s
    tails = [[(0.0, 0.0, 0.0, 0.0, 1.0)] for _ in range(29)]
    got = window_queries(0.0, 10.0, tails, background=0, full=(0.0, 0.0), gap_s=100.0, slots=2, cloud=(8, 20))
    assert [q[0][1:] for q in got[:9:8]] == [(1.0, 0.0, 0.0), (2.0, 1.0, 0.0)]
    assert got[27][0][1:] == (4.0, 3.0, 0.0) and got[28][0][1:] == (4.0, 3.0, 1.0)
    free = window_queries(0.0, 10.0, tails, background=0, full=(0.0, 0.0), gap_s=100.0, slots=2,
                          cloud=(8, None))
    assert free[28][0][1:] == (4.0, 3.0, 0.0)
    with pytest.raises(RunError, match="no cloud"):
        window_queries(0.0, 10.0, tails[:1], background=0, full=(0.0, 0.0), gap_s=1.0, slots=2)


def test_a_full_cloud_queue_blocks_the_edge_slot_of_the_query_in_front_of_it() -> None:
    # cloud: 1 slot, queue 1; three 10 s tails fill it at 0 (run, queue, blocked). On the edge (1 slot) query
    # 4 runs 0-1 s, finds the cloud full and keeps its edge slot until its tail enters the queue at 20 s
    # (query 3 starts); query 5 gets the edge slot only then (20-21 s), is blocked in turn until 30 s, and
    # runs on the cloud 40-50 s
    fill = [[(0.0, 0.0, 0.0, 0.0, 10.0)] for _ in range(3)]
    edge = [[(0.0, 0.0, 1.0, 0.0, 10.0)] for _ in range(2)]
    got = window_queries(0.0, 60.0, fill + edge, background=0, full=(0.0, 0.0), gap_s=100.0, slots=1,
                         cloud=(1, 1))
    assert [q[0][1] for q in got[:3]] == [10.0, 20.0, 30.0]
    assert got[3] == [(0.0, 40.0, 29.0, 19.0)]  # edge wait 0, cloud wait 1 -> 30 of which 19 blocked
    assert got[4] == [(0.0, 50.0, 39.0, 9.0)]   # edge wait 0 -> 20, cloud wait 21 -> 40 of which 9 blocked


def _sim(scripted, compute: str | None, slots: dict | None = None) -> tuple[Sim, object]:
    prep = scripted({"a": (0, 0, 1, 1), "b": (0, 0, 1, 1)}, model="inception")
    if compute is not None:
        prep.world.topology.backhaul.graph["tiers"] = {"slots": slots or {"client": 1, "edge": 2, "cloud": 8},
                                                 "cloud_queue": 20, "compute": compute}
    sim = Sim()
    sim.start(Master(prep, make_policy("perdnn"), backend=sim).setup)
    return sim, prep


def _queries(sim: Sim, prep, clients: dict[int, int]) -> list[tuple]:
    n = prep.planner.n_layers
    for c in clients:
        sim.core.grant(c, 1, np.ones(n, bool))
    arrivals = tuple(Arrival(c, c, -1, 1, False) for c in clients)
    sim.advance(0.0, Moves(0, dict(clients), arrivals, ()))
    return sim.advance(30.0, Moves(1, dict(clients), (), ())).queries


def test_the_driver_runs_windows_on_slots_only_when_the_tiers_say_so(scripted) -> None:
    shared, prep = _sim(scripted, None)
    assert shared._slots is None and slot_tiers(prep.world.topology.backhaul) is None
    assert _sim(scripted, "shared")[0]._slots is None
    # one client on a server: slots and processor sharing give the same queries (no one to share with)
    lone_ps = _queries(shared, prep, {0: 1})
    slots, prep2 = _sim(scripted, "slots")
    lone = _queries(slots, prep2, {0: 1})
    assert sum(q[5] for q in lone) == sum(q[5] for q in lone_ps)
    assert {round(q[4], 9) for q in lone} == {round(q[4], 9) for q in lone_ps}
    assert node_slots(prep2.world.topology, 1, prep2.world.topology.backhaul.graph["tiers"]) == (2, None)
    # two clients on one edge slot: their first queries reach the server together, one waits for the other
    one_slot, prep3 = _sim(scripted, "slots", {"client": 1, "edge": 1, "cloud": 8})
    pair = _queries(one_slot, prep3, {0: 1, 1: 1})
    two_slots, prep4 = _sim(scripted, "slots")
    apart = _queries(two_slots, prep4, {0: 1, 1: 1})
    assert sum(q[5] for q in apart) == 2 * sum(q[5] for q in lone)
    assert sum(q[5] for q in pair) <= sum(q[5] for q in apart)
    first = sorted(q[4] for q in pair if q[3] == 0.0)
    assert len(first) == 2 and first[0] == pytest.approx(max(q[4] for q in apart if q[3] == 0.0))
    server_s = prep3.planner.parts(np.ones(prep3.planner.n_layers, bool))[1]
    assert server_s > 0 and first[1] - first[0] == pytest.approx(server_s)  # it waited one server part


def _tight_cloud(scripted, path: tuple[int, ...]):
    """Three Inception clients on `path`, a cloud added behind the edges at 5 MB/s: one slot per node, a
    cloud queue of one."""
    prep = scripted({"a": path, "b": path, "c": path}, model="inception")
    topo = prep.world.topology
    object.__setattr__(topo, "servers", add_cloud(topo.servers))
    topo.backhaul.graph["tiers"] = {"links_mb_per_s": {"edge-cloud": 5.0}, "cloud_queue": 1,
                                    "compute": "slots", "slots": {"client": 1, "edge": 1, "cloud": 1}}
    return prep


def test_the_driver_runs_set_cloud_tails_on_the_cloud_the_edges_share(scripted) -> None:
    prep = _tight_cloud(scripted, (0, 0, 1, 1))
    sim = Sim()
    master = Master(prep, make_policy("s3"), backend=sim)
    sim.start(master.setup)
    assert sim.tails.edge_cloud_bps == 5.0 * 8 * 2**20
    n, clients = prep.planner.n_layers, {0: 1, 1: 1, 2: 1}
    for c in clients:
        sim.core.grant(c, 1, np.ones(n, bool))
    sim.advance(0.0, Moves(0, dict(clients), tuple(Arrival(c, c, -1, 1, False) for c in clients), ()))
    sim.apply([SetCloud(c, 1, 0) for c in clients])  # every layer on the cloud: one slot, a queue of one
    got = sim.advance(30.0, Moves(1, dict(clients), (), ())).queries
    pre, edge, up, cloud = sim.tails.parts(np.ones(n, bool), 0)
    assert edge == 0.0 and up > 0 and cloud == pytest.approx(prep.planner.base.exec_s.sum())
    assert min(q[4] for q in got) == pytest.approx(pre + up + cloud)  # the first to reach the cloud
    (_, queries, blocked, waited, *waits), = sim.tails.stats
    assert tuple(waits) == sim.tails.waits[1]
    assert queries == sum(q[5] for q in got) and waited > 0 and blocked > 0  # the third found it full
    assert sim.tails.waits[1][0] == 0.0 and sim.tails.waits[1][1] > 0  # observed: no edge wait, a cloud one
    assert sim.tails.chosen == {0: 3}


def test_a_set_cloud_without_tier_slots_is_one_clear_error(scripted) -> None:
    sim, prep = _sim(scripted, None)
    with pytest.raises(RunError, match="compute = \"slots\""):
        sim.apply([SetCloud(0, 1, 0)])


def test_the_master_reads_cloud_rate_and_waits_through_the_backend_contract(scripted) -> None:
    # Backend.cloud_bps / queue_wait: what every tick's MasterView gets (S-Q reads them), the sim's own
    # configured rate and the waits its closed windows measured; None / zeros without tier slots
    from edgeroam.emulator.backend import Backend
    from edgeroam.emulator.master import run_pass

    prep = _tight_cloud(scripted, (0, 0, 0, 0))
    sim, policy, seen = Sim(), make_policy("s3"), []
    decide = policy.decide

    def watched(view, tick):  # noqa: ANN001, ANN202
        seen.append((view.cloud_bps, view.queue_wait(0), sim.queue_wait(0), dict(sim.tails.waits)))
        return decide(view, tick)

    policy.decide = watched
    assert isinstance(sim, Backend)
    run_pass(prep, policy, backend=sim)
    assert [s[0] for s in seen] == [5.0 * 8 * 2**20] * len(prep.ticks)
    assert all(view == own == waits.get(0, (0.0, 0.0)) for _, view, own, waits in seen)
    assert seen[0][1] == (0.0, 0.0) and any(s[1][0] > 0 for s in seen)  # one edge slot, three clients
    plain = Sim()
    run_pass(scripted({"a": (0, 0, 1)}), make_policy("perdnn"), backend=plain)
    assert plain.cloud_bps() is None and plain.queue_wait(0) == (0.0, 0.0)
