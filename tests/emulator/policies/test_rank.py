"""perdnn-rank: registry, the bind contract, keep-alive refreshes, and a scripted walker."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.master import run_pass
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.prepare import prepare
from edgeroam.errors import RunError
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.world import World
from tests.emulator.policies.test_policies import world

STEP = math.sqrt(3) * 50.0  # centre distance of neighbouring pointy cells of R = 50 m


def walkers(test: str = "a", n_train: int = 12):
    """Train users w0..w{n-1} walk east one cell a tick along row 0, at different times; test user `a` does
    the same; users c and d walk the rows above and below, so every neighbour of row 0 has a server.
    `test="train"` replays the train walkers instead (for fitting a ranker by hand)."""
    sc = scenario_from_dict({
        "name": "walkers", "seed": 1,
        "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
        "topology": {"radius_m": 50.0},
        "dnn": {"model": "mobilenet"},
        "predictor": {"kind": "stay", "history": 2},
        "policy": {"kind": "perdnn-rank", "radius_m": 100.0, "ttl_intervals": 5},
    })
    k = np.arange(0.0, 6.0)
    parts = []
    for j in range(n_train):
        parts.append(pd.DataFrame({"user": f"w{j}", "t": (k + 10 * j) * 30.0, "x": k * STEP, "y": 0.0}))
    parts.append(pd.DataFrame({"user": "a", "t": (k + 500) * 30.0, "x": k * STEP, "y": 0.0}))
    kk = np.arange(-1.0, 7.0)
    for name, y in (("c", 75.0), ("d", -75.0)):
        parts.append(pd.DataFrame({"user": name, "t": (kk + 1) * 30.0, "x": (kk + 0.5) * STEP, "y": y}))
    tr = pd.concat(parts, ignore_index=True)
    tr["user"] = pd.Categorical(tr["user"])
    tr["traj"] = np.zeros(len(tr), np.int32)
    tr["lat"] = tr["lon"] = np.nan
    train = [f"w{j}" for j in range(n_train)] + ["c", "d"]
    tests = train if test == "train" else [test]
    return prepare(sc, World(sc, tr, train, tests, build_topology(sc, tr)))


def test_alias_and_unfitted_policy_raises():
    p = make_policy("perdnn-rank")
    assert p.rule == "classifier" and p.relay and not p.everywhere and (p.tau, p.k_max, p.keep_m) == (
        0.11, 5, 300.0)
    tick, view, _ = world()
    with pytest.raises(RunError, match="not fitted"):
        p.decide(view(), tick)


def test_walker_gets_every_hit_with_one_plan_per_hit():
    prep = walkers()
    plan_bytes = prep.planner.entry(1).bytes
    top3 = run_pass(prep, make_policy("perdnn-forward-top3")).summary
    rank = run_pass(prep, make_policy("perdnn-rank", keep_m=0.0)).summary
    assert (rank["hits"], rank["misses"]) == (5, 0)
    # one target a tick (the east neighbour); top-3 takes two of the six equally near neighbours
    assert rank["backhaul"]["migrated_bytes"] == pytest.approx(5 * plan_bytes)
    assert top3["hits"] < rank["hits"]
    assert rank["memory"]["peak_held"] >= 1 and rank["memory"]["mean_held"] > 0


@pytest.mark.parametrize(("tau", "k_max"), [(0.11, 5), (None, 2), (0.3, 1), (0.0, 0)])
def test_targets_of_every_row_at_once_are_each_rows_ranking(tau, k_max):
    from edgeroam.emulator.policies.rank import RankRule

    rng = np.random.default_rng(5)
    counts = rng.integers(0, 8, 200)
    off = np.r_[0, np.cumsum(counts)]
    prob = rng.choice([0.0, 0.1, 0.11, 0.3, 0.5, 0.9], int(off[-1]))  # ties: the nearer first
    cand = rng.integers(0, 50, int(off[-1]))
    t_off, dst = RankRule(off, cand, prob, np.zeros((50, 2))).targets(tau, k_max)
    for r in range(len(counts)):  # row by row, as `decide` ranked before the targets were made at fit time
        p, c = prob[off[r]: off[r + 1]], cand[off[r]: off[r + 1]]
        order = np.argsort(-p, kind="stable")[:k_max]
        want = c[order[p[order] >= (-np.inf if tau is None else tau)]].tolist()
        assert dst[t_off[r]: t_off[r + 1]].tolist() == want
    assert len(dst) > 0 or k_max == 0
