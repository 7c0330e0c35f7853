"""perdnn-prob: the error model, the q rule, and a scripted mover whose errors lie along its heading."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.master import run_pass
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.policies.prob import choose_targets, error_model
from edgeroam.emulator.prepare import prepare
from edgeroam.errors import RunError
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.world import World
from tests.emulator.policies.test_policies import world

STEP = math.sqrt(3) * 50.0  # centre distance of neighbouring pointy cells of R = 50 m


def test_alias_and_unfitted_policy_raises():
    p = make_policy("perdnn-prob")
    assert p.rule == "probability" and p.relay and (p.tau, p.k_max) == (0.05, 3)
    tick, view, _ = world()
    with pytest.raises(RunError, match="not fitted"):
        p.decide(view(), tick)


def test_choose_targets_takes_the_fewest_reaching_q():
    prob = np.array([0.5, 0.3, 0.15, 0.05])
    assert [choose_targets(prob, q, 3) for q in (0.4, 0.5, 0.6, 0.8, 0.9, 1.0)] == [1, 1, 2, 2, 3, 3]
    assert choose_targets(np.array([1.0, 0.0]), 1.0, 3) == 1
    assert choose_targets(np.zeros(2), 0.5, 3) == 0


def test_error_model_rotates_into_the_heading_frame():
    # users heading north (+y) overshoot by 5 m along their heading: stored as (along, across) = (5, 0)
    w = np.array([[[0.0, 0.0], [0.0, 10.0]]] * 3 + [[[0.0, 0.0], [0.0, 0.0]]])
    pred = np.array([[0.0, 20.0]] * 3 + [[0.0, 0.0]])
    tgt = pred + np.array([[0.0, 5.0]] * 3 + [[1.0, 2.0]])
    m = error_model(w, tgt, pred, n_bins=1)
    assert m.pools[0].tolist() == [[1.0, 2.0]] and np.allclose(m.pools[1], [[5.0, 0.0]] * 3)
    # a user heading west gets the same overshoot to the west; a standing one the standing errors
    east_west = m.samples(np.zeros((2, 2)), np.array([[-3.0, 0.0], [0.0, 0.0]]))
    assert np.allclose(east_west[0], [[-5.0, 0.0]] * 3) and east_west[1].tolist() == [[1.0, 2.0]]


def scripted(policy):
    """A train user and a test user walking east one cell per tick along one row; 'stay' predictor.

    Every neighbour of the walk's cells has a server, so the candidates within r of a prediction are the
    current server and its six neighbours, all equally far: top-3 takes two of them. The stay predictor's
    train errors are one step ahead along the heading, so the probability ranking takes the east neighbour,
    alone.
    """
    sc = scenario_from_dict({
        "name": "scripted", "seed": 1,
        "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
        "topology": {"radius_m": 50.0},
        "dnn": {"model": "mobilenet"},
        "predictor": {"kind": "stay", "history": 2},
        "policy": {"kind": "perdnn-forward-top3", "radius_m": 100.0, "ttl_intervals": 5},
    })
    k = np.arange(-1.0, 7.0)
    # a: test user, cells 0..5 of row 0; b: train user, the same walk; c, d: train users one row above and
    # below (their cells give every neighbour of a's cells a server)
    x = np.concatenate([k[1:7] * STEP, k[1:7] * STEP, (k + 0.5) * STEP, (k + 0.5) * STEP])
    y = np.concatenate([np.zeros(12), np.full(8, 75.0), np.full(8, -75.0)])
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * 6 + ["b"] * 6 + ["c"] * 8 + ["d"] * 8),
                       "traj": np.zeros(28, np.int32),
                       "t": np.concatenate([k[1:7], k[1:7], k + 1, k + 1]) * 30.0, "x": x, "y": y,
                       "lat": np.nan, "lon": np.nan})
    w = World(sc, tr, ["b", "c", "d"], ["a"], build_topology(sc, tr))
    prep = prepare(sc, w)
    return prep, run_pass(prep, policy)


def test_probability_targets_pick_the_heading_neighbour_with_fewer_bytes_than_top3():
    prep, top3 = scripted(make_policy("perdnn-forward-top3"))
    plan_bytes = prep.planner.entry(1).bytes
    for policy in (make_policy("perdnn-prob"), make_policy("perdnn-prob", q=0.8, tau=None)):  # tau, q rule
        _, prob = scripted(policy)
        assert (prob.summary["hits"], prob.summary["misses"]) == (5, 0)
        assert prob.summary["hits"] > top3.summary["hits"]
        # one target a tick (the east neighbour) against two (of six equally near) under top-3
        assert prob.summary["backhaul"]["migrated_bytes"] == pytest.approx(5 * plan_bytes)
        assert top3.summary["backhaul"]["migrated_bytes"] > prob.summary["backhaul"]["migrated_bytes"]


def reference_targets(rule, grid, servers, tick, points, near, tau, q, k_max):
    """The ranking user by user, as `decide` made it before the targets were made at fit time."""
    from edgeroam.topology.servers import server_of_cell

    out = []
    for i in range(len(tick.server)):
        src = int(tick.server[i])
        cand = np.array([s for s in near[1][near[0][i]: near[0][i + 1]].tolist() if s != src], np.int64)
        if src < 0 or not len(cand):
            out.append([])
            continue
        h = tick.history[i]
        step = h[-1] - h[-2] if tick.history_len[i] >= 2 else np.zeros(2)
        sample = rule.model.samples(h[-1:], step[None])[0]
        srv = np.zeros(0, np.int64)
        if np.isfinite(points[i]).all() and len(sample):
            pts = points[i] + sample
            srv = server_of_cell(servers, grid.cell_ids_of(pts[:, 0], pts[:, 1]))
        away = np.count_nonzero((srv >= 0) & (srv != src)) if tau is None else len(srv)
        prob = (srv[:, None] == cand[None, :]).sum(axis=0) / away if away else np.zeros(len(cand))
        order = np.argsort(-prob, kind="stable")
        if tau is not None:
            k = min(k_max, int(np.count_nonzero(prob >= tau)))
        else:
            k = max(choose_targets(prob[order], q, k_max), 1)
        out.append(cand[order[:k]].tolist())
    return out


@pytest.mark.parametrize(("tau", "q", "k_max"),
                         [(0.05, 0.8, 3), (0.0, 0.8, 2), (None, 0.8, 3), (None, 0.5, 0), (None, 1.0, 5)])
def test_targets_of_every_row_at_once_are_each_users_ranking(tau, q, k_max):
    from types import SimpleNamespace

    from edgeroam.emulator.policies.prob import ProbRule
    from edgeroam.topology.hexgrid import HexGrid

    grid = HexGrid(radius=50.0)
    rng = np.random.default_rng(3)
    cells = np.unique(grid.cell_ids_of(*rng.uniform(-300, 300, (2, 60))))
    servers = pd.DataFrame({"server": np.arange(len(cells)), "cell": cells, "tier": "edge"})
    extra = pd.DataFrame({"server": [998, 999], "cell": [cells[0], cells[1]], "tier": ["cloud", "edge"]})
    servers = pd.concat([extra, servers], ignore_index=True)  # a cloud never lands; a cell's first edge does
    # errors: standing pool, one moving pool, one empty moving pool (its users take every error)
    w = np.concatenate([np.zeros((40, 2, 2)), np.cumsum(rng.normal(0, 20, (120, 2, 2)), axis=1)])
    pred = rng.uniform(-50, 50, (160, 2))
    model = error_model(w, pred + rng.normal(0, 70, (160, 2)), pred, n_bins=2, n_samples=50)
    model.pools[2] = np.zeros((0, 2))
    rule = ProbRule(model, grid, servers)
    n = 300
    hist = np.cumsum(rng.normal(0, 30, (n, 3, 2)), axis=1)
    hist[:30, 1:] = hist[:30, :1]  # standing
    tick = SimpleNamespace(history=hist, history_len=rng.integers(1, 4, n),
                           server=rng.choice(np.r_[-1, servers["server"].to_numpy()], n))
    points = hist[:, -1] + rng.normal(0, 40, (n, 2))
    points[5] = np.nan  # not finite: no sample lands
    counts = rng.integers(0, 7, n)
    counts[7] = 0
    near = (np.r_[0, np.cumsum(counts)],
            np.concatenate([rng.choice(len(cells), c, replace=False) for c in counts]))
    tick.server[9] = near[1][near[0][9]] if counts[9] else -1  # the current server among the candidates
    off, dst = rule.targets([tick], points, near, tau=tau, q=q, k_max=k_max, chunk=64)
    want = reference_targets(rule, grid, servers, tick, points, near, tau, q, k_max)
    assert [dst[off[i]: off[i + 1]].tolist() for i in range(n)] == want
    assert sum(map(len, want)) > n // 4
