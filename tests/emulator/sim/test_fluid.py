"""Fluid flows: hand-computed completion times, max-min fairness on random instances, byte accounting."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from edgeroam.emulator.sim import fluid
from edgeroam.emulator.sim.engine import Engine
from edgeroam.emulator.sim.fluid import FluidNetwork, backhaul_links, max_min_rates, path_links
from edgeroam.errors import RunError, TopologyError

MBPS = 1e6


def _start(eng, net, path, nbytes, at, ends, tag):
    def proc(eng):
        if at > 0:
            yield eng.timeout(at)
        rec = yield net.transfer(path, nbytes, tag=tag)
        ends[tag] = (rec.start, rec.end)

    eng.process(proc(eng), name=f"flow {tag}")


def _random_flows(seed: int, links: str, n: int, *, interval_s: float, within_s: float):
    """A network of `links` (1-19 Mbit/s each) and `n` flows over 1-3 of them, starting within `within_s`:
    the engine, the network and the flows' ends by tag (filled as they finish)."""
    rng = np.random.default_rng(seed)
    eng = Engine()
    caps = {k: float(c) * MBPS for k, c in zip(links, rng.integers(1, 20, len(links)), strict=True)}
    net = FluidNetwork(eng, caps, interval_s=interval_s)
    ends: dict = {}
    for tag in range(n):
        path = list(rng.choice(list(links), size=int(rng.integers(1, 4)), replace=False))
        _start(eng, net, path, float(rng.uniform(1e5, 4e6)), float(rng.uniform(0, within_s)), ends, tag)
    return eng, net, ends


def test_two_flows_share_a_link_then_one_ends():
    # One 10 Mbps link = 1.25e6 B/s. A: 2.5e6 B, B: 1.25e6 B, both at t = 0.
    # Each gets 5 Mbps = 625 000 B/s: B ends at 1.25e6 / 625e3 = 2.0 s, when A has 2.5e6 - 1.25e6 = 1.25e6 B
    # left.
    # A alone at 1.25e6 B/s needs 1.0 s more: A ends at 3.0 s.
    eng = Engine()
    net = FluidNetwork(eng, {"L": 10 * MBPS})
    ends: dict = {}
    _start(eng, net, ["L"], 2.5e6, 0.0, ends, "A")
    _start(eng, net, ["L"], 1.25e6, 0.0, ends, "B")
    eng.run()
    assert ends["B"][1] == pytest.approx(2.0, abs=1e-9)
    assert ends["A"][1] == pytest.approx(3.0, abs=1e-9)
    assert net.link_bytes()["L"] == pytest.approx(3.75e6, abs=1e-3)


def test_a_flow_over_two_links_is_held_by_the_slower_and_frees_the_rest():
    # Links X = 10 Mbps (1.25e6 B/s) and Y = 4 Mbps (5e5 B/s). F1 crosses X then Y with 1e6 B; F2 uses X only
    # with 3e6 B. Max-min: Y saturates first at 4 Mbps (F1's share); F2 gets the rest of X, 6 Mbps =
    # 7.5e5 B/s.
    # F1 ends at 1e6 / 5e5 = 2.0 s; F2 has then sent 1.5e6 B, the other 1.5e6 B at 1.25e6 B/s take 1.2 s:
    # F2 ends at 3.2 s.
    eng = Engine()
    net = FluidNetwork(eng, {"X": 10 * MBPS, "Y": 4 * MBPS})
    ends: dict = {}
    _start(eng, net, ["X", "Y"], 1e6, 0.0, ends, "F1")
    _start(eng, net, ["X"], 3e6, 0.0, ends, "F2")
    eng.run(until=1.0)
    rates = net.rates_bps()
    assert rates[0] == pytest.approx(4 * MBPS) and rates[1] == pytest.approx(6 * MBPS)
    eng.run()
    assert ends["F1"][1] == pytest.approx(2.0, abs=1e-9)
    assert ends["F2"][1] == pytest.approx(3.2, abs=1e-9)
    totals = net.link_bytes()
    assert totals["X"] == pytest.approx(4e6, abs=1e-3) and totals["Y"] == pytest.approx(1e6, abs=1e-3)


def test_a_third_flow_arriving_midway():
    # Link L = 8 Mbps = 1e6 B/s. A (3e6 B) starts at 0 alone: by t = 1 it sent 1e6 B, 2e6 B left.
    # C (1e6 B) arrives at t = 1: both at 5e5 B/s. C ends at 1 + 1e6 / 5e5 = 3.0 s; A sent 1e6 B meanwhile,
    # 1e6 B left, alone again at 1e6 B/s: A ends at 4.0 s. B (0 B) arriving at t = 2 ends at once.
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=1.0)
    ends: dict = {}
    _start(eng, net, ["L"], 3e6, 0.0, ends, "A")
    _start(eng, net, ["L"], 1e6, 1.0, ends, "C")
    _start(eng, net, ["L"], 0.0, 2.0, ends, "B")
    eng.run()
    assert ends["C"] == (pytest.approx(1.0, abs=1e-9), pytest.approx(3.0, abs=1e-9))
    assert ends["A"][1] == pytest.approx(4.0, abs=1e-9)
    assert ends["B"] == (2.0, 2.0)
    # The link is busy at 1e6 B/s throughout: 1e6 B in each of the intervals 0..3.
    table = net.interval_bytes()
    assert table["interval"].tolist() == [0, 1, 2, 3]
    assert table["link"].tolist() == ["L"] * 4
    np.testing.assert_allclose(table["bytes"], [1e6] * 4, atol=1e-3)


def test_interval_accounting_splits_a_flow_across_interval_edges():
    # 2.5e6 B at 1e6 B/s from t = 0.25: busy over [0.25, 2.75); intervals of 1 s get 0.75e6, 1e6, 0.75e6 B on
    # both links of the path.
    eng = Engine()
    net = FluidNetwork(eng, {("s1", "s2"): 8 * MBPS, ("s2", "s3"): 100 * MBPS}, interval_s=1.0)
    ends: dict = {}
    _start(eng, net, [("s1", "s2"), ("s2", "s3")], 2.5e6, 0.25, ends, "m")
    eng.run()
    assert ends["m"][1] == pytest.approx(2.75, abs=1e-9)
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [0, 1, 2]
    np.testing.assert_allclose(mat, [[0.75e6, 0.75e6], [1e6, 1e6], [0.75e6, 0.75e6]], atol=1e-3)


def test_latency_delays_delivery_but_not_the_fluid_end():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})

    def proc(eng):
        rec = yield net.transfer(["L"], 1e6, latency_s=0.005)
        return rec.end, eng.now

    p = eng.process(proc(eng))
    eng.run()
    assert p.value[0] == pytest.approx(1.0, abs=1e-12) and p.value[1] == pytest.approx(1.005, abs=1e-12)


def _is_max_min_fair(cap, paths, rates, tol=1e-9):
    """Feasible, and every flow crosses a saturated link on which no flow is faster (its bottleneck)."""
    load = np.zeros(len(cap))
    for p, r in zip(paths, rates, strict=True):
        load[p] += r
    if np.any(load > cap * (1 + tol)):
        return False
    for f, p in enumerate(paths):
        ok = False
        for link in p:
            on_link = [rates[g] for g, q in enumerate(paths) if link in q]
            if load[link] >= cap[link] * (1 - tol) and rates[f] >= max(on_link) * (1 - tol):
                ok = True
                break
        if not ok:
            return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_progressive_filling_is_max_min_fair_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    n_links = int(rng.integers(1, 12 if seed < 20 else 40))
    n_flows = int(rng.integers(1, 40 if seed < 20 else 150))
    cap = rng.choice([1.0, 2.0, 5.0, 10.0], size=n_links) * rng.uniform(0.5, 2.0, size=n_links)
    if seed % 3 == 0:
        cap = np.round(cap)  # ties between links
    paths = [rng.choice(n_links, size=int(rng.integers(1, min(n_links, 5) + 1)), replace=False)
             for _ in range(n_flows)]
    if seed % 4 == 1:
        paths.append(np.zeros(0, dtype=np.int64))  # an empty path: no constraint
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in paths])])
    rates = max_min_rates(cap, ptr, np.concatenate(paths).astype(np.int64))
    assert np.all(rates > 0)
    if seed % 4 == 1:
        assert math.isinf(rates[-1])
        paths, rates = paths[:-1], rates[:-1]
    assert _is_max_min_fair(cap, paths, rates)


def test_max_min_rates_textbook_example():
    # Links a (cap 1) and b (cap 10); flows: f0 on a, f1 on a and b, f2 on b, f3 on b.
    # a saturates at 0.5 (f0, f1); b has 10 - 0.5 = 9.5 for f2 and f3: 4.75 each.
    rates = max_min_rates(np.array([1.0, 10.0]), np.array([0, 1, 3, 4, 5]), np.array([0, 0, 1, 1, 1]))
    np.testing.assert_allclose(rates, [0.5, 0.5, 4.75, 4.75])
    paths = [np.array([0]), np.array([0, 1]), np.array([1]), np.array([1])]
    assert _is_max_min_fair(np.array([1.0, 10.0]), paths, rates)
    assert not _is_max_min_fair(np.array([1.0, 10.0]), paths, np.array([0.5, 0.5, 3.0, 3.0]))  # b not full
    # f0 is not the fastest on its only saturated link a:
    assert not _is_max_min_fair(np.array([1.0, 10.0]), paths, np.array([0.2, 0.8, 4.6, 4.6]))
    empty = max_min_rates(np.array([1.0]), np.array([0, 0]), np.zeros(0, dtype=np.int64))
    assert math.isinf(empty[0])


def test_many_simultaneous_flows_recompute_once_per_instant():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})
    for _ in range(50):
        net.transfer(["L"], 1e5)
    eng.run()
    # All 50 start and end together, at 50 * 1e5 B / 1e6 B/s = 5 s: one recomputation at t=0; their end
    # leaves nothing in progress, so none at 5 s (every rate is zero)
    assert eng.now == pytest.approx(5.0, abs=1e-9)
    assert net.recomputations == 1 and net.completed == 50 and net.active == 0
    assert net.link_load_bps() == {"L": 0.0} and net.rates_bps() == {}


def test_backhaul_links_are_directed_both_ways_with_full_capacity():
    g = nx.Graph()
    g.add_edge(1, 2, capacity_bps=100 * MBPS, delay_s=0.001, klass="wireless")
    g.add_edge(2, 3, capacity_bps=1000 * MBPS, delay_s=0.001, klass="fibre")
    links = backhaul_links(g)
    assert links == {(1, 2): 1e8, (2, 1): 1e8, (2, 3): 1e9, (3, 2): 1e9}
    assert path_links(nx.shortest_path(g, 1, 3)) == [(1, 2), (2, 3)]
    # Opposite directions do not compete: two 12.5 MB transfers each way take 1 s each.
    eng = Engine()
    net = FluidNetwork(eng, links)
    up, down = net.transfer([(1, 2)], 12.5e6), net.transfer([(2, 1)], 12.5e6)
    eng.run()
    assert up.value.end == pytest.approx(1.0) and down.value.end == pytest.approx(1.0)


def test_errors_name_the_link():
    eng = Engine()
    with pytest.raises(TopologyError, match="link 'bad' has capacity 0.0"):
        FluidNetwork(eng, {"ok": 1.0, "bad": 0.0})
    net = FluidNetwork(eng, {"L": 1.0})
    with pytest.raises(TopologyError, match="unknown link 'nope'"):
        net.transfer(["nope"], 10)
    with pytest.raises(TopologyError, match="twice"):
        net.transfer(["L", "L"], 10)
    with pytest.raises(RunError, match="size"):
        net.transfer(["L"], -1)
    g = nx.Graph()
    g.add_edge("a", "b")
    with pytest.raises(TopologyError, match="capacity_bps"):
        backhaul_links(g)


def _reference_run(cap, flows):
    """A plain-Python fluid simulation: (arrival, nbytes, path) -> end times, by brute-force water filling."""

    def rates_of(active):
        rate = {f: 0.0 for f in active}
        frozen: set = set()
        residual = list(cap)
        while len(frozen) < len(active):
            best = math.inf
            for link in range(len(cap)):
                n = sum(1 for f in active if f not in frozen and link in flows[f][2])
                if n:
                    best = min(best, residual[link] / n)
            sat = [link for link in range(len(cap))
                   if any(f not in frozen and link in flows[f][2] for f in active)
                   and residual[link] / sum(1 for f in active if f not in frozen and link in flows[f][2])
                   <= best * (1 + 1e-12)]
            newly = [f for f in active if f not in frozen and any(link in flows[f][2] for link in sat)]
            for f in newly:
                rate[f] = best
                frozen.add(f)
                for link in flows[f][2]:
                    residual[link] -= best
        return rate

    t, left, ends = 0.0, {}, {}
    pending = sorted(range(len(flows)), key=lambda f: flows[f][0])
    while pending or left:
        rate = rates_of(list(left))
        t_done = min((t + left[f] / rate[f] for f in left), default=math.inf)
        t_arr = flows[pending[0]][0] if pending else math.inf
        t_next = min(t_done, t_arr)
        for f in list(left):
            left[f] -= rate[f] * (t_next - t)
            if left[f] <= 1e-9 * flows[f][1]:
                ends[f] = t_next
                del left[f]
        t = t_next
        while pending and flows[pending[0]][0] <= t:
            f = pending.pop(0)
            left[f] = flows[f][1]
    return ends


@pytest.mark.parametrize("seed", range(8))
def test_dynamic_flows_match_a_brute_force_reference(seed):
    rng = np.random.default_rng(100 + seed)
    n_links, n_flows = 6, 25
    cap = rng.uniform(1.0, 10.0, size=n_links) * 8e6  # bits/s
    flows = []
    for _ in range(n_flows):
        path = [int(x) for x in rng.choice(n_links, size=int(rng.integers(1, 4)), replace=False)]
        flows.append((float(np.round(rng.uniform(0, 5), 3)), float(rng.uniform(1e5, 5e6)), path))
    expected = _reference_run(cap / 8.0, flows)
    eng = Engine()
    net = FluidNetwork(eng, {i: float(c) for i, c in enumerate(cap)})
    ends: dict = {}
    for f, (at, nbytes, path) in enumerate(flows):
        _start(eng, net, path, nbytes, at, ends, f)
    eng.run()
    for f in range(n_flows):
        assert ends[f][1] == pytest.approx(expected[f], rel=1e-9, abs=1e-9), f


def test_node_interval_bytes_counts_uplink_of_sender_and_downlink_of_receiver():
    # 1 -> 2 -> 3 at 1e6 B/s (8 Mbps bottleneck) for 2e6 B: 1e6 B per 1-s interval on each hop. Node 1 sends,
    # node 2 forwards (up and down), node 3 receives. A Wi-Fi link is left out of the backhaul accounting.
    g = nx.Graph()
    g.add_edge(1, 2, capacity_bps=8 * MBPS)
    g.add_edge(2, 3, capacity_bps=80 * MBPS)
    links = backhaul_links(g)
    eng = Engine()
    net = FluidNetwork(eng, {**links, ("wifi-up", 7): 80 * MBPS}, interval_s=1.0)
    net.transfer([("wifi-up", 7), *path_links([1, 2, 3])], 2e6)
    eng.run()
    table = net.node_interval_bytes(links)
    assert table["interval"].tolist() == [0, 0, 0, 1, 1, 1]
    assert table["node"].tolist() == [1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(table["up_bytes"], [1e6, 1e6, 0, 1e6, 1e6, 0], atol=1e-3)
    np.testing.assert_allclose(table["down_bytes"], [0, 1e6, 1e6, 0, 1e6, 1e6], atol=1e-3)
    with pytest.raises(TopologyError, match="not a directed"):
        FluidNetwork(Engine(), {"L": 1.0}).node_interval_bytes(["L"])


def test_cancel_stops_a_flow_and_frees_its_share():
    # L = 8 Mbps = 1e6 B/s, A and B (2e6 B each) share it: 5e5 B/s each. B is cancelled at t = 1 having sent
    # 5e5 B; A has 1.5e6 B left, alone at 1e6 B/s: A ends at 2.5 s. The link carried 1e6 + 1.5e6 = 2.5e6 B.
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})
    a, b = net.transfer(["L"], 2e6), net.transfer(["L"], 2e6)
    eng.run(until=1.0)
    rec = net.cancel(b)
    assert rec.nbytes == pytest.approx(5e5) and rec.end == 1.0
    eng.run()
    assert a.value.end == pytest.approx(2.5, abs=1e-9) and not b.triggered and b.cancelled
    assert net.link_bytes()["L"] == pytest.approx(2.5e6, abs=1e-3)
    with pytest.raises(RunError, match="not in progress"):
        net.cancel(b)
    c = net.transfer(["L"], 1e6)
    assert net.cancel(c).nbytes == 0.0  # cancelled at the instant it started
    eng.run()
    assert net.active == 0


def test_same_input_same_floats():
    def once():
        rng = np.random.default_rng(5)
        eng = Engine()
        caps = {i: float(c) for i, c in enumerate(rng.uniform(1, 10, 8) * 8e6)}
        net = FluidNetwork(eng, caps, interval_s=0.5)
        ends: dict = {}
        for f in range(60):
            path = [int(x) for x in rng.choice(8, size=int(rng.integers(1, 4)), replace=False)]
            _start(eng, net, path, float(rng.uniform(1e4, 1e6)), float(rng.uniform(0, 2)), ends, f)
        eng.run()
        return [ends[f] for f in range(60)], net.interval_matrix()[1].tobytes()

    assert once() == once()


def test_near_ties_are_not_ties():
    # link 0 (capacity 1) carries flow 0; link 1 (capacity 2.0002) carries flows 0 and 1. Link 0 is the
    # bottleneck at level 1; link 1's fair share 1.0001 is only 1e-4 above it, so it is not saturated in the
    # same round: flow 1 gets what flow 0 leaves, 2.0002 - 1 = 1.0002 (not 1.0001)
    rates = max_min_rates(np.array([1.0, 2.0002]), np.array([0, 2, 3]), np.array([0, 1, 1]))
    assert rates[0] == pytest.approx(1.0, rel=1e-12)
    assert rates[1] == pytest.approx(1.0002, rel=1e-12)
    # an exact tie (both shares 1) freezes both links together, at the same rates as one at a time
    rates = max_min_rates(np.array([1.0, 2.0]), np.array([0, 2, 3]), np.array([0, 1, 1]))
    assert rates.tolist() == [1.0, 1.0]


def test_flow_records_name_flow_times_bytes_path_and_tag():
    # L = 8 Mbps = 1e6 B/s. Flow 0 (1e6 B) alone: [0, 1]. Flow 1 (3e6 B) starts at 0 too: 5e5 B/s each until
    # flow 0 ends at 2 s, then 1e6 B/s: 3e6 - 1e6 = 2e6 B left -> ends at 4 s; delivered 0.5 s later.
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS, "M": 80 * MBPS})
    a = net.transfer(["L"], 1e6, tag="a")
    b = net.transfer(["L", "M"], 3e6, tag=("b", 7), latency_s=0.5)
    eng.run()
    assert (a.value.flow, a.value.start, a.value.end, a.value.nbytes, a.value.path, a.value.tag) == (
        0, 0.0, pytest.approx(2.0), 1e6, ("L",), "a")
    assert (b.value.flow, b.value.end, b.value.nbytes, b.value.path, b.value.tag) == (
        1, pytest.approx(4.0), 3e6, ("L", "M"), ("b", 7))
    assert eng.now == pytest.approx(4.5) and net.completed == 2 and net.active == 0
    # a cancelled flow's record: what left so far, its own id, start, path and tag
    c = net.transfer(["M", "L"], 5e6, tag="c")
    eng.run(until=5.5)
    rec = net.cancel(c)
    assert (rec.flow, rec.start, rec.end, rec.nbytes, rec.path, rec.tag) == (
        2, 4.5, 5.5, pytest.approx(1e6), ("M", "L"), "c")


def test_empty_transfers_complete_at_once_and_bad_ones_are_refused():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})
    zero, nowhere = net.transfer(["L"], 0.0, tag="z"), net.transfer([], 5e6, tag="n")
    assert zero.triggered and nowhere.triggered and net.active == 0
    assert (zero.value.nbytes, zero.value.end) == (0.0, 0.0)
    assert (nowhere.value.nbytes, nowhere.value.path) == (5e6, ())
    one = net.transfer(["L"], 1.0)  # one byte is a real flow
    assert net.active == 1 and not one.triggered
    late = net.transfer(["L"], 0.0, latency_s=0.25)  # a latency delays even an empty transfer
    assert late.triggered and not late.processed  # scheduled for the end of its path delay
    eng.run(until=0.2)
    assert not late.processed
    eng.run()
    assert late.processed and eng.now == 0.25
    assert late.value.end == 0.0 and one.value.end == pytest.approx(1e-6)
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(RunError, match=f"transfer latency must be finite and >= 0 s, got {bad!r}"):
            net.transfer(["L"], 1e6, latency_s=bad)
        with pytest.raises(RunError, match="transfer size must be finite and >= 0 bytes"):
            net.transfer(["L"], bad)
    with pytest.raises(TopologyError, match="crosses a link twice"):
        net.transfer(["L", "L"], 1e6)


def test_interval_bytes_table_and_empty_tables():
    eng = Engine(100.0)  # the clock and interval 0 start at 100 s
    net = FluidNetwork(eng, {("s1", "s2"): 8 * MBPS, ("s2", "s3"): 80 * MBPS}, interval_s=1.0, origin=100.0)
    empty = net.interval_bytes()
    assert list(empty.columns) == ["interval", "start", "link", "bytes"] and len(empty) == 0
    assert net.node_interval_bytes(net.links).empty
    assert net.interval_matrix()[1].shape == (0, 2)
    net.transfer([("s1", "s2")], 1.5e6)  # 1e6 B/s: 1e6 B in interval 0, 5e5 B in interval 1
    eng.run()
    table = net.interval_bytes()
    assert table["interval"].tolist() == [0, 1] and table["start"].tolist() == [100.0, 101.0]
    assert table["link"].tolist() == ["('s1', 's2')"] * 2
    np.testing.assert_allclose(table["bytes"], [1e6, 5e5], atol=1e-3)
    nodes = net.node_interval_bytes(net.links)
    assert nodes["start"].tolist() == [100.0, 100.0, 101.0, 101.0] and nodes["node"].tolist() == [
        "s1", "s2", "s1", "s2"]
    assert net.link_load_bps() == {("s1", "s2"): 0.0, ("s2", "s3"): 0.0}


def test_links_added_later_give_the_same_rates():
    # two flows over L1 (8 Mbps) and L2 (4 Mbps): grown link by link or built at once, same rates and ends
    def run(grow: bool):
        eng = Engine()
        caps = {"L1": 8 * MBPS, "L2": 4 * MBPS}
        net = FluidNetwork(eng, {} if grow else caps)
        if grow:
            net.add_links({"L1": caps["L1"]})
            net.add_links(caps)  # L1 known: left as it is
            net.add_links({})
        a, b = net.transfer(["L1", "L2"], 1e6), net.transfer(["L1"], 1e6)
        eng.run()
        return net.links, a.value.end, b.value.end, net.capacity_bps("L2")

    assert run(True) == run(False)
    links, a_end, b_end, cap = run(True)
    # L2 holds flow a at 5e5 B/s; flow b gets the rest of L1 (5e5 B/s) -> both end at 2 s
    assert links == ["L1", "L2"] and a_end == pytest.approx(2.0) and b_end == pytest.approx(2.0)
    assert cap == 4 * MBPS
    net = FluidNetwork(Engine(), {})
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(TopologyError, match=f"link 'X' has capacity {bad!r} bps; it must be finite"):
            net.add_links({"ok": 1.0, "X": bad})
    assert net.links == []


def test_set_capacity_changes_the_rates_from_now_on():
    # 8 Mbps = 1e6 B/s for 1 s, then 16 Mbps: the 1e6 B left take 0.5 s more
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS, "M": 8 * MBPS})
    ends: dict = {}
    _start(eng, net, ["L"], 2e6, 0.0, ends, "A")

    def speed_up(eng):
        yield eng.timeout(1.0)
        net.set_capacity("L", 16 * MBPS)

    eng.process(speed_up(eng))
    eng.run()
    assert ends["A"][1] == pytest.approx(1.5, abs=1e-9)
    assert net.capacity_bps("L") == 16 * MBPS and net.capacity_bps("M") == 8 * MBPS
    net.set_capacity("M", 0.5)  # a small capacity is fine
    assert net.capacity_bps("M") == 0.5
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(TopologyError) as err:
            net.set_capacity("L", bad)
        assert str(err.value) == f"link 'L': capacity must be finite and > 0, got {bad!r}"
    with pytest.raises(TopologyError, match="unknown link 'nope'"):
        net.set_capacity("nope", 1.0)
    assert net.capacity_bps("L") == 16 * MBPS


def test_interval_bins_follow_the_origin_and_the_width():
    # 1e6 B/s from t = 2.5 s for 3e6 B (to 5.5 s); bins of 2 s from t = 1: [1, 3) [3, 5) [5, 7)
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=2.0, origin=1.0)
    ends: dict = {}
    _start(eng, net, ["L"], 3e6, 2.5, ends, "A")
    eng.run()
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [0, 1, 2] and ks.dtype == np.int64
    np.testing.assert_allclose(mat[:, 0], [0.5e6, 2e6, 0.5e6], atol=1e-3)
    assert net.interval_bytes()["start"].tolist() == [1.0, 3.0, 5.0]
    # bins of 0.5 s from t = -0.25: a 1e6 B flow from 0 to 1 s falls 1/4, 1/2, 1/4 in bins 0, 1, 2
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=0.5, origin=-0.25)
    net.transfer(["L"], 1e6)
    eng.run()
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [0, 1, 2]
    np.testing.assert_allclose(mat[:, 0], [0.25e6, 0.5e6, 0.25e6], atol=1e-3)
    # a flow starting before the origin: bin -1 holds its first 0.25 s
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=1.0, origin=0.25)
    net.transfer(["L"], 1e6)
    eng.run()
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [-1, 0]
    np.testing.assert_allclose(mat[:, 0], [0.25e6, 0.75e6], atol=1e-3)


def test_idle_time_and_rate_changes_inside_one_interval():
    # A alone at 1e6 B/s for 0.5 s, then A and B at 5e5 B/s each: one 10-s interval holds every byte sent
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=10.0)
    ends: dict = {}
    _start(eng, net, ["L"], 1e6, 0.0, ends, "A")
    _start(eng, net, ["L"], 2e5, 0.5, ends, "B")
    eng.run()
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [0]
    np.testing.assert_allclose(mat[0], [1.2e6], atol=1e-3)
    # nothing is sent for 30 s: no interval is added (empty intervals are not in the tables)
    def wait(eng):
        yield eng.timeout(30.0)

    eng.process(wait(eng))
    eng.run()
    net.link_bytes()
    assert net.interval_matrix()[0].tolist() == [0] and len(net.interval_bytes()) == 1


def test_node_tables_keep_tiny_byte_counts_and_number_rows_from_zero():
    g = nx.Graph()
    g.add_edge("a", "b", capacity_bps=8 * MBPS)
    links = backhaul_links(g)
    eng = Engine()
    net = FluidNetwork(eng, links, interval_s=1.0)
    empty = net.node_interval_bytes(links)
    assert list(empty.columns) == ["interval", "start", "node", "up_bytes", "down_bytes"]
    assert [str(t) for t in empty.dtypes[["interval", "start", "up_bytes", "down_bytes"]]] == ["int64"] + [
        "float64"] * 3
    net.transfer([("a", "b")], 0.5)  # half a byte: still traffic
    eng.run()
    net.transfer([("b", "a")], 2e6)  # from 0.5 us: 0.5 B of it fall in interval 2
    eng.run()
    table = net.node_interval_bytes(links)
    assert table.index.tolist() == list(range(6))
    assert table["interval"].tolist() == [0, 0, 1, 1, 2, 2] and table["start"].tolist() == [0, 0, 1, 1, 2, 2]
    assert table["node"].tolist() == ["a", "b"] * 3
    np.testing.assert_allclose(table["up_bytes"], [0.5, 1e6 - 0.5, 0, 1e6, 0, 0.5], atol=1e-6)
    np.testing.assert_allclose(table["down_bytes"], [1e6 - 0.5, 0.5, 1e6, 0, 0.5, 0], atol=1e-6)


def test_a_fresh_network_has_no_rates_loads_or_bytes():
    net = FluidNetwork(Engine(), {"L": 1.0})
    assert net.rates_bps() == {} and net.link_load_bps() == {"L": 0.0} and net.link_bytes() == {"L": 0.0}
    assert net.active == 0 and net.links == ["L"]


def test_bad_intervals_are_refused_in_one_line():
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(RunError) as err:
            FluidNetwork(Engine(), {"L": 1.0}, interval_s=bad)
        assert str(err.value) == f"interval_s must be finite and > 0, got {bad!r}"
    assert FluidNetwork(Engine(), {"L": 1.0}, interval_s=0.001).interval_s == 0.001


def test_slow_links_tiny_flows_and_loads_while_flows_run():
    # 4 bit/s = 0.5 B/s: one byte takes 2 s; half a byte at 1e6 B/s takes 0.5 us
    eng = Engine()
    net = FluidNetwork(eng, {"slow": 4.0, "L": 8 * MBPS})
    slow, tiny = net.transfer(["slow"], 1.0), net.transfer(["L"], 0.5)
    assert net.link_load_bps() == {"slow": 4.0, "L": 8 * MBPS}
    assert net.rates_bps() == {0: 4.0, 1: 8 * MBPS}
    eng.run()
    assert slow.value.end == pytest.approx(2.0, abs=1e-12)
    assert tiny.value.end == pytest.approx(5e-7, abs=1e-15)
    net.add_links({"small": 0.5})  # a capacity below 1 bit/s is a capacity
    assert net.capacity_bps("small") == 0.5


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_link_too_slow_to_carry_anything_names_the_fluid_step():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 1e-320})  # a rate that rounds every finishing time to infinity
    net.transfer(["L"], 1.0)
    with pytest.raises(RunError) as err:
        eng.run()
    assert str(err.value) == ("callback 'fluid recompute' failed at t=0.0 s: RunError: no flow can progress "
                              "at t=0.0 s (all rates are zero)")


def test_a_transfer_finished_by_someone_else_stops_the_run_naming_the_step():
    for latency in (0.0, 0.5):  # with a path delay too: the flow's end triggers it (for after the delay)
        eng = Engine()
        net = FluidNetwork(eng, {"L": 8 * MBPS})
        t = net.transfer(["L"], 1e6, latency_s=latency)
        t.succeed("not yours")
        with pytest.raises(RunError, match=r"^callback 'fluid completion' failed at t=1\.0 s: RunError: "):
            eng.run()


def test_flows_started_at_one_instant_are_rated_once_even_across_zero_waits():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})

    def two(eng):
        yield eng.timeout(1.0)
        net.transfer(["L"], 1e6)
        yield eng.timeout(0.0)  # the same instant: the recomputation waits for it
        net.transfer(["L"], 1e6)

    eng.process(two(eng))
    eng.run(until=1.5)
    assert net.recomputations == 1 and net.rates_bps() == {0: 4 * MBPS, 1: 4 * MBPS}


def test_cancel_at_the_start_and_after_the_last_flow_then_send_again():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS})
    a, b = net.transfer(["L"], 1e6), net.transfer(["L"], 1e6)
    assert net.cancel(a).nbytes == 0.0 and not net.in_progress(a) and net.in_progress(b)
    eng.run()
    assert b.value.end == pytest.approx(1.0)  # alone from the start
    c = net.transfer(["L"], 1e6)
    eng.run(until=1.5)
    assert net.cancel(c).nbytes == pytest.approx(5e5)  # the last flow: nothing is in progress now
    eng.run(until=1.75)
    d = net.transfer(["L"], 1e6)
    eng.run()
    assert d.value.end == pytest.approx(2.75)
    other = eng.event()  # not a transfer of this network
    assert not net.in_progress(other)
    with pytest.raises(RunError, match="not in progress"):
        net.cancel(other)


def test_links_added_during_traffic_keep_every_table_whole():
    eng = Engine()
    net = FluidNetwork(eng, {"L": 8 * MBPS}, interval_s=1.0)
    net.transfer(["L"], 5e5)
    eng.run()
    net.add_links({"M": 8 * MBPS})
    ks, mat = net.interval_matrix()
    assert ks.tolist() == [0] and mat.shape == (1, 2) and mat[0, 1] == 0.0
    assert net.link_load_bps() == {"L": 0.0, "M": 0.0} and net.link_bytes()["M"] == 0.0


def test_max_min_rates_takes_integer_capacities_and_freezes_flows_on_a_dead_link():
    rates = max_min_rates(np.array([10, 4]), np.array([0, 1, 3]), np.array([0, 0, 1]))
    np.testing.assert_allclose(rates, [6.0, 4.0])
    np.testing.assert_allclose(max_min_rates(np.array([0.0, 5.0]), np.array([0, 1, 2]), np.array([0, 1])),
                               [0.0, 5.0])
    # two flows sharing the dead link: both freeze at 0 (none is left waiting for capacity)
    rates = max_min_rates(np.array([0.0]), np.array([0, 1, 2]), np.array([0, 0]))
    np.testing.assert_allclose(rates, [0.0, 0.0])


def test_backhaul_links_are_listed_by_the_text_of_their_nodes():
    g = nx.Graph()
    for u, v in [(2, 3), (10, 11), (1, 9), (1, 2)]:
        g.add_edge(u, v, capacity_bps=1.0)
    # networkx reports the edge 1-2 as (2, 1) (node 2 came first); ties on the first node: by the second
    assert list(backhaul_links(g))[::2] == [(1, 9), (10, 11), (2, 1), (2, 3)]


def test_empty_tables_have_their_dtypes_and_one_way_links_fill_zeros():
    eng = Engine()
    net = FluidNetwork(eng, {("a", "b"): 8 * MBPS, "ab": 8 * MBPS}, interval_s=2.0, origin=1.0)
    assert net.interval_bytes().dtypes.to_dict() == {
        "interval": np.int64, "start": np.float64, "link": object, "bytes": np.float64}
    assert net.node_interval_bytes([("a", "b")]).dtypes.to_dict() == {
        "interval": np.int64, "start": np.float64, "node": object, "up_bytes": np.float64,
        "down_bytes": np.float64}
    with pytest.raises(TopologyError, match=r"^link 'ab' is not a directed \(u, v\) pair$"):
        net.node_interval_bytes(["ab"])  # two characters are not a pair
    net.transfer([("a", "b")], 3e6)  # 1e6 B/s from 0 s: intervals [-1, 1), [1, 3), [3, 5)
    eng.run()
    table = net.node_interval_bytes([("a", "b")])  # a only sends, b only receives: zeros, not NaN
    assert table["start"].tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert table["node"].tolist() == ["a", "b", "a", "b"]
    np.testing.assert_allclose(table["up_bytes"], [1e6, 0, 2e6, 0], atol=1e-3)
    np.testing.assert_allclose(table["down_bytes"], [0, 1e6, 0, 2e6], atol=1e-3)


def test_a_network_that_grows_past_its_first_arrays_keeps_every_link():
    # one link at first, then 70 and 130 more: every link's capacity, bytes and rate survive the growth
    eng = Engine()
    net = FluidNetwork(eng, {"L0": 8 * MBPS})
    first = net.transfer(["L0"], 5e5)
    net.add_links({f"L{i}": 8 * MBPS * i for i in range(1, 71)})
    eng.run(until=0.25)
    net.add_links({f"L{i}": 8 * MBPS * i for i in range(71, 201)})
    last = net.transfer(["L200"], 200e6)
    assert net.link_load_bps()["L0"] == 8 * MBPS and net.link_load_bps()["L200"] == 200 * 8 * MBPS
    eng.run()
    assert first.value.end == pytest.approx(0.5) and last.value.end == pytest.approx(1.25)
    assert [net.capacity_bps(f"L{i}") for i in (0, 1, 64, 65, 70, 71, 200)] == [
        8 * MBPS * max(i, 1) for i in (0, 1, 64, 65, 70, 71, 200)]
    carried = net.link_bytes()
    assert carried["L0"] == pytest.approx(5e5) and carried["L200"] == pytest.approx(200e6)
    assert sum(carried.values()) == pytest.approx(200.5e6) and len(carried) == 201


@pytest.mark.parametrize("seed", range(6))
def test_small_instances_get_the_same_rates_in_plain_python(seed, monkeypatch):
    # the same floats, bit for bit, as the array algorithm: ties, shared links, dead links, empty paths
    rng = np.random.default_rng(100 + seed)
    for _ in range(400):
        n_links = int(rng.integers(1, 8))
        scale = 1.0 if seed % 2 else rng.uniform(0.5, 2.0, size=n_links)
        cap = rng.choice([0.0, 1.0, 2.0, 3.0, 7.0], size=n_links) * scale
        paths = [rng.choice(n_links, size=int(rng.integers(0, min(n_links, 4) + 1)), replace=False)
                 for _ in range(int(rng.integers(1, 7)))]
        ptr = np.concatenate([[0], np.cumsum([len(p) for p in paths])]).astype(np.int64)
        flat = np.concatenate(paths).astype(np.int64)
        monkeypatch.setattr(fluid, "_SMALL", -1)
        by_arrays = max_min_rates(cap, ptr, flat)
        monkeypatch.setattr(fluid, "_SMALL", 10**6)
        plain = max_min_rates(cap, ptr, flat)
        assert plain.dtype == np.float64 and plain.tobytes() == by_arrays.tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_a_network_of_few_flows_runs_the_same_in_plain_python(seed, monkeypatch):
    # flows that come and go over shared links: identical ends and link bytes by either way of computing
    def run(small: int):
        monkeypatch.setattr(fluid, "_SMALL", small)
        eng, net, ends = _random_flows(seed, "abcde", 12, interval_s=1.0, within_s=5.0)
        eng.run()
        return ends, net.link_bytes(), net.interval_matrix()[1].tobytes()

    assert run(-1) == run(10**6)


def test_a_lone_flow_runs_at_its_narrowest_link_and_leaves_every_link_idle():
    eng = Engine()
    net = FluidNetwork(eng, {"a": 8 * MBPS, "b": 4 * MBPS, "c": 2 * MBPS})
    t = net.transfer(["a", "b"], 1e6, latency_s=0.5)
    eng.run(until=0.1)
    assert net.rates_bps() == {0: 4 * MBPS}
    assert net.link_load_bps() == {"a": 4 * MBPS, "b": 4 * MBPS, "c": 0.0}
    eng.run()
    assert t.value.end == pytest.approx(2.0) and eng.now == pytest.approx(2.5)
    assert net.rates_bps() == {} and net.link_load_bps() == {"a": 0.0, "b": 0.0, "c": 0.0}
    # two flows after it: the flow arrays start over, and the two share "b" fairly
    net.transfer(["a", "b"], 1e6)
    net.transfer(["b", "c"], 1e6)
    eng.run(until=eng.now + 0.1)
    assert net.rates_bps() == {1: 2 * MBPS, 2: 2 * MBPS}


@pytest.mark.parametrize("seed", range(3))
def test_many_flows_as_arrays_run_the_same_as_lists(seed, monkeypatch):
    # the flows in progress kept as lists or as arrays (`_VECTOR`), with cancels and capacity changes between:
    # identical ends, sent bytes, rates, link loads and link bytes
    def run(vector: int):
        monkeypatch.setattr(fluid, "_VECTOR", vector)
        eng, net, ends = _random_flows(seed, "abcdefgh", 60, interval_s=0.7, within_s=3.0)
        seen = []

        def meddle(eng):
            for k in range(6):
                yield eng.timeout(0.4)
                seen.append((net.rates_bps(), net.link_load_bps(), net.link_bytes()))
                if k % 2:
                    net.set_capacity("abcdefgh"[k], float(k + 1) * MBPS)

        eng.process(meddle(eng))
        eng.run()
        return ends, seen, net.link_bytes(), net.interval_matrix()[1].tobytes(), net.recomputations

    assert run(-1) == run(10**6)
