"""The master on a scripted one-user world: exact hits, misses and bytes per policy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.master import run_pass
from edgeroam.emulator.planning import Planner
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.prepare import prepare
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.world import World

STEP = math.sqrt(3) * 50.0  # centre distance of neighbouring pointy cells of R = 50 m


def scripted(policy: str = "perdnn", cells=(0, 0, 1, 1, 2, 2)):
    """One user standing on cell centres along a row, two ticks per cell (t = 30 s), model MobileNet."""
    sc = scenario_from_dict({
        "name": "scripted", "seed": 1,
        "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
        "topology": {"radius_m": 50.0},
        "dnn": {"model": "mobilenet"},
        "predictor": {"kind": "stay", "history": 2},
        "policy": {"kind": policy, "radius_m": 100.0, "ttl_intervals": 5},
    })
    n = len(cells)
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * n), "traj": np.zeros(n, np.int32),
                       "t": np.arange(n) * 30.0, "x": np.array(cells, float) * STEP, "y": np.zeros(n),
                       "lat": np.nan, "lon": np.nan})
    world = World(sc, tr, [], ["a"], build_topology(sc, tr))
    prep = prepare(sc, world)
    return prep, run_pass(prep, make_policy(policy))


def test_scripted_perdnn_hits_and_bytes():
    prep, res = scripted("perdnn")
    s = res.summary
    assert (s["cold_starts"], s["joins"]) == (2, 1)
    assert (s["hits"], s["partial_hits"], s["misses"]) == (2, 0, 0)
    plan_bytes = prep.planner.entry(1).bytes
    # s0 -> s1 at tick 1, s1 -> s2 at tick 3 (s1 -> s0 only refreshes the TTL: s0 still holds everything)
    assert s["backhaul"]["migrated_bytes"] == pytest.approx(2 * plan_bytes)
    # the client uploaded the plan once, at its first server
    assert s["backhaul"]["uploaded_bytes"] == pytest.approx(plan_bytes)
    ho = res.tables["handovers"]
    assert ho.loc[ho["handover"], "kind"].tolist() == ["hit", "hit"]
    # a hit runs every query of the interval at the full plan's latency
    lat = prep.planner.entry(1).plan.latency_s
    per_interval = math.floor((30.0 - lat) / (lat + 0.5)) + 1
    assert s["executed_queries"] == 2 * per_interval


def test_scripted_ionn_misses_and_optimal_hits():
    _, ionn = scripted("ionn")
    _, opt = scripted("optimal")
    _, per = scripted("perdnn")
    assert (ionn.summary["hits"], ionn.summary["misses"]) == (0, 2)
    assert ionn.summary["backhaul"]["migrated_bytes"] == 0
    assert opt.summary["hit_ratio"] == 1.0
    assert opt.summary["backhaul"]["uploaded_bytes"] == 0
    q = [r.summary["executed_queries"] for r in (opt, per, ionn)]
    assert q[0] >= q[1] > q[2]


def test_fast_mover_always_misses_under_perdnn():
    # one cell per tick: the current server never holds layers when the master migrates from it
    _, res = scripted("perdnn", cells=(0, 1, 2, 3))
    assert (res.summary["hits"], res.summary["misses"]) == (0, 3)
    _, orc = scripted("oracle", cells=(0, 1, 2, 3))
    assert orc.summary["hits"] == 0


def test_planner_memoises_and_slows_down_with_load():
    from edgeroam.emulator.dnn import model_graph, profile

    g = model_graph("mobilenet")
    p = Planner(g, profile(g, "odroid-xu4"), profile(g, "titan-xp"), up_bps=35e6, down_bps=50e6)
    assert p.entry(1) is p.entry(1)
    assert p.slowdown(4) > p.slowdown(1) == 1.0
    full = p.entry(4).target
    assert p.latency(4, full) >= p.latency(1, full)
    assert p.latency(1, np.zeros(g.n_layers, bool)) > p.latency(1, full)
    assert p.fraction(1, 0).layers == ()


def test_storage_held_by_the_optimal_bound_and_by_ionn():
    prep, opt = scripted("optimal")
    n_edge = int((prep.world.topology.servers["tier"] == "edge").sum())
    st = opt.summary["storage"]
    model = int(prep.planner.weight_bytes.sum())
    # one user active for all 6 ticks of 30 s: its whole model on every edge server all the time
    assert st["horizon_s"] == 180.0
    assert (st["copies_mean"], st["copies_peak"]) == (n_edge, n_edge)
    assert st["bytes_mean"] == st["bytes_peak"] == n_edge * model
    assert st["gb_hours"] == pytest.approx(n_edge * model * 180.0 / 1e9 / 3600)
    _, ionn = scripted("ionn")
    # ionn drops what a server held when the client leaves: never more than one copy, at most the plan
    st = ionn.summary["storage"]
    assert st["copies_peak"] == 1.0 and 0 < st["bytes_peak"] <= prep.planner.entry(1).bytes


def test_a_sim_pass_runs_without_the_cyclic_collector_and_restores_it():
    import gc

    seen = []

    class Recording:
        """perdnn, noting whether the collector is on at every decision."""

        def __init__(self) -> None:
            self.inner = make_policy("perdnn")

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def decide(self, view, tick):
            seen.append((gc.isenabled(), gc.get_threshold()))
            return self.inner.decide(view, tick)

    prep, plain = scripted()
    before = gc.get_threshold()
    assert gc.isenabled()
    res = run_pass(prep, Recording())
    assert seen and set(seen) == {(False, (50_000, 20, 10))}
    assert gc.isenabled() and gc.get_threshold() == before and not gc.get_freeze_count()
    assert res.summary == plain.summary  # the collector changes when memory goes, never a result


def test_a_pass_gives_large_blocks_their_own_mappings(monkeypatch):
    from edgeroam.emulator import master

    prep, plain = scripted()
    calls = []
    monkeypatch.setattr(master, "map_large_blocks", lambda *a: calls.append(a))
    assert run_pass(prep, make_policy("perdnn")).summary == plain.summary
    assert calls == [(), (master.HEAP_LARGE_BLOCKS,)]  # mapped during the pass, from the heap after it


def test_moves_of_a_few_users_match_the_array_path(monkeypatch):
    """Ticks of up to four users take a plain-Python path; ticks of more the array path: same Moves."""
    from dataclasses import replace

    from edgeroam.emulator.master import Master
    from edgeroam.mobility.replay import Replay
    from edgeroam.topology.servers import servers_visited

    prep, _ = scripted("perdnn")
    rng = np.random.default_rng(4)
    n = 40
    t = np.r_[np.arange(n), np.arange(n), np.arange(5, 25)] * 30.0
    xy = np.cumsum(rng.normal(0, 70, (len(t), 2)), axis=0)
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * n + ["b"] * n + ["c"] * 20), "traj": 0, "t": t,
                       "x": xy[:, 0], "y": xy[:, 1]})
    grid = prep.world.topology.grid
    ticks = list(Replay(tr, grid, servers_visited(grid, tr.iloc[::2]), interval_s=30.0, history=2))
    nxt = np.concatenate([np.where(np.arange(len(tk)) % 2 == 0, 1, -1) for tk in ticks])
    m = Master.__new__(Master)
    m.prep = replace(prep, next_server=nxt)
    base = np.concatenate([[0], np.cumsum([len(tk) for tk in ticks])])
    fields = ("user", "user_code", "traj", "x", "y", "cell", "server", "prev_server", "handover", "joined",
              "history", "history_len")
    seen = [0, 0]
    for j, tk in enumerate(ticks):
        b, k = int(base[j]), len(tk)
        five = replace(tk, **{f: np.concatenate([getattr(tk, f)] * 5) for f in fields})  # > 4 rows: arrays
        small, big = m.moves(tk, b), m.moves(five, b)
        gone = int((nxt[b: b + k] < 0).sum())
        assert small.arrivals == tuple(a for a in big.arrivals if a.row < b + k)
        assert small.leaving == big.leaving[:gone] and len(small.leaving) == gone
        assert small.attached == big.attached and small.tick == big.tick
        seen[0] += len(small.arrivals)
        seen[1] += gone
    assert min(seen) > 0
