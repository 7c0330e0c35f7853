"""Policies are pure and return what PerDNN's rules say, without a backend."""

from __future__ import annotations

import numpy as np

from edgeroam.emulator.actions import Migrate, SetPlan
from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import Planner
from edgeroam.emulator.policies import POLICIES, MasterView, Policy, make_policy
from edgeroam.mobility.replay import Tick


def world():
    g = LayerGraph.from_chain("toy", [8000, 8000], [1000, 10], [1.0, 1.0], input_bytes=1000)
    planner = Planner(g, [1.0, 2.0], [0.1, 0.1], up_bps=8000.0, down_bps=8000.0)
    tick = Tick(index=3, time=90.0, user=np.array(["a", "b"], object), user_code=np.array([0, 1]),
                traj=np.zeros(2, np.int64), x=np.zeros(2), y=np.zeros(2), cell=np.zeros(2, np.int64),
                server=np.array([10, 11]), prev_server=np.array([12, 11]),
                handover=np.array([True, False]),
                joined=np.array([False, False]), history=np.zeros((2, 1, 2)),
                history_len=np.ones(2, np.int64))
    full = np.ones(2, bool)
    held = {(0, 10): full, (1, 11): full, (1, 13): full}

    def view(crowded=frozenset(), budget=float("inf")):
        return MasterView(
            tick_index=3, interval_s=30.0, radius_m=100.0, predicted=np.zeros((2, 2)),
            actual_next=np.zeros((2, 2)),
            near_predicted=lambda i: np.array([[10, 13], [11, 13]][i]),
            near_actual=lambda i: np.array([[14], [12]][i]),
            load=lambda s: 0, holds=lambda c, s: held.get((c, s)), planner=planner,
            crowded=crowded, fraction_bytes=budget,
        )

    return tick, view, planner


def test_every_policy_satisfies_the_protocol():
    for kind in POLICIES:
        assert isinstance(make_policy(kind), Policy)


def test_perdnn_migrates_to_predicted_and_refreshes_when_present():
    tick, view, planner = world()
    acts = make_policy("perdnn").decide(view(), tick)
    sets = [a for a in acts if isinstance(a, SetPlan)]
    migs = [(a.client, a.src, a.dst, a.layers) for a in acts if isinstance(a, Migrate)]
    assert [(a.client, a.server) for a in sets] == [(0, 10)]
    layers = planner.entry(1).layers
    # user 0: 10 -> 13 (13 lacks them); user 1: 11 -> 13 already there: TTL refresh only
    assert migs == [(0, 10, 13, layers), (1, 11, 13, ())]


def test_oracle_uses_true_next_and_ionn_optimal_only_plan():
    tick, view, _ = world()
    migs = [(a.client, a.dst) for a in make_policy("oracle").decide(view(), tick) if isinstance(a, Migrate)]
    assert migs == [(0, 14), (1, 12)]
    for kind in ("ionn", "optimal"):
        assert all(isinstance(a, SetPlan) for a in make_policy(kind).decide(view(), tick))


def test_fractional_cuts_migrations_touching_crowded_servers():
    tick, view, planner = world()
    acts = make_policy("fractional").decide(view(crowded=frozenset({13}), budget=0.0), tick)
    migs = [a for a in acts if isinstance(a, Migrate)]
    assert migs == []  # a zero budget sends (and refreshes) nothing
    acts = make_policy("fractional").decide(view(crowded=frozenset({99}), budget=0.0), tick)
    assert [a for a in acts if isinstance(a, Migrate)][0].layers == planner.entry(1).layers
