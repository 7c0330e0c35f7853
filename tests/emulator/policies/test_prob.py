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


def test_one_cell_lookup_for_all_users_gives_each_users_probabilities():
    from edgeroam.emulator.policies.prob import ProbRule
    from edgeroam.topology.hexgrid import HexGrid
    from edgeroam.topology.servers import server_of_cell

    grid = HexGrid(radius=50.0)
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(-300, 300, 40), rng.uniform(-300, 300, 40)
    cells = np.unique(grid.cell_ids_of(xs, ys))
    servers = pd.DataFrame({"server": np.arange(len(cells)), "cell": cells, "tier": "edge"})
    cloud = pd.DataFrame({"server": [999], "cell": [cells[0]], "tier": ["cloud"]})  # never a landing server
    servers = pd.concat([cloud, servers], ignore_index=True)
    rule = ProbRule(None, grid, servers)
    points = rng.uniform(-200, 200, (6, 2))
    points[2] = np.nan  # not finite: no samples land
    samples = [rng.normal(0, 60, (n, 2)) for n in (50, 7, 30, 0, 1, 80)]
    landed = rule._sample_servers(points, samples)
    assert [len(s) for s in landed] == [50, 7, 0, 0, 1, 80]
    for j in (0, 1, 4, 5):  # the servers one lookup per user finds (the per-user loop this replaced)
        pts = points[j] + samples[j]
        assert landed[j].tolist() == server_of_cell(servers, grid.cell_ids_of(pts[:, 0], pts[:, 1])).tolist()
    near = np.arange(len(cells))
    for j in range(6):
        for conditional in (True, False):
            one = rule.probabilities(3, near, points[j], samples[j], conditional=conditional)
            batch = rule._counted(3, near, landed[j], conditional=conditional)
            assert one[0].tolist() == batch[0].tolist() and one[1].tolist() == batch[1].tolist()
    assert rule.probabilities(3, near, points[0], samples[0], conditional=False)[1].sum() > 0
