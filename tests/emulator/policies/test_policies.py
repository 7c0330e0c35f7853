"""Policies are pure and return what PerDNN's rules say, without a backend."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.actions import Drop, Migrate, SetPlan
from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import Planner
from edgeroam.emulator.policies import MasterView, Policy, TargetPolicy, alias_params, make_policy
from edgeroam.errors import RunError, ScenarioError
from edgeroam.mobility.replay import Tick

#: candidates of the two users of `world`: user 0 at s10 [10, 13], user 1 at s11 [11, 13] (nearest first)
NEAR = (np.array([0, 2, 4]), np.array([10, 13, 11, 13]))


def world():
    """A tick of two users (0 handed over to s10, 1 stays at s11), a view factory and the planner."""
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

    def view(crowded=frozenset(), budget=float("inf"), held_by=None):
        return MasterView(
            tick_index=3, interval_s=30.0, first_row=0, predicted=np.zeros((2, 2)),
            load=lambda s: 0, holds=lambda c, s: held.get((c, s)), planner=planner,
            held_by=held_by or (lambda c: frozenset(s for (cc, s) in held if cc == c)),
            crowded=crowded, fraction_bytes=budget,
        )

    return tick, view, planner


def fitted(kind: str, near=NEAR, **params) -> TargetPolicy:
    """A policy of `kind` with the candidates of `world` (what `fit` finds in a prepared scenario)."""
    p = make_policy(kind, **params)
    p.set_candidates(np.zeros((2, 2)), near)
    return p


def test_every_alias_is_a_target_policy_with_params():
    for kind in ("perdnn", "fractional", "ionn", "optimal", "oracle", "perdnn-forward", "perdnn-gated",
                 "perdnn-speed", "perdnn-prob", "perdnn-rank", "perdnn-top2", "perdnn-forward-top3"):
        p = make_policy(kind)
        assert isinstance(p, Policy) and p.name == kind
        assert {k: p.get_params()[k] for k in alias_params(kind)} == alias_params(kind)
    assert make_policy("perdnn-forward-top3").get_params() == make_policy("perdnn", targets=3,
                                                                            relay=True).get_params()


def test_unknown_kinds_and_bad_params_name_their_key():
    for bad in ("perdnn-top0", "perdnn-topx", "oracle-top2", "nope"):
        with pytest.raises(ScenarioError, match="policy.kind"):
            make_policy(bad)
    with pytest.raises(ScenarioError, match="policy.tragets: unknown policy parameter"):
        make_policy("perdnn", tragets=3)
    with pytest.raises(ScenarioError, match="policy.targets: must be a whole number"):
        make_policy("perdnn", targets=-1)
    with pytest.raises(ScenarioError, match="policy.relay: must be true or false"):
        make_policy("perdnn", relay="yes")
    with pytest.raises(ScenarioError, match="policy.rule"):
        make_policy("perdnn", rule="psychic")
    with pytest.raises(ScenarioError, match="policy.v_split"):
        make_policy("perdnn", targets_fast=2)
    with pytest.raises(ScenarioError, match="policy.nope"):
        make_policy("perdnn").set_params(nope=1)


def test_unfitted_policy_raises():
    tick, view, _ = world()
    with pytest.raises(RunError, match="not fitted"):
        make_policy("perdnn").decide(view(), tick)


def test_perdnn_migrates_to_predicted_and_refreshes_when_present():
    tick, view, planner = world()
    acts = fitted("perdnn").decide(view(), tick)
    sets = [a for a in acts if isinstance(a, SetPlan)]
    migs = [(a.client, a.src, a.dst, a.layers, a.relay) for a in acts if isinstance(a, Migrate)]
    assert [(a.client, a.server, a.layers) for a in sets] == [(0, 10, planner.entry(0).layers)]
    layers = planner.entry(1).layers
    # user 0: 10 -> 13 (13 lacks them); user 1: 11 -> 13 already there: TTL refresh only
    assert migs == [(0, 10, 13, layers, False), (1, 11, 13, (), False)]


def test_ionn_plans_and_drops_elsewhere_optimal_only_plans():
    tick, view, _ = world()
    acts = fitted("ionn").decide(view(), tick)
    assert [type(a) for a in acts] == [SetPlan]  # user 0 holds nothing but at s10
    held = {0: frozenset({10, 12, 13})}
    acts = fitted("ionn").decide(view(held_by=lambda c: held.get(c, frozenset())), tick)
    assert [a for a in acts if isinstance(a, Drop)] == [Drop(0, 12), Drop(0, 13)]
    assert all(isinstance(a, SetPlan) for a in fitted("optimal").decide(view(), tick))
    assert make_policy("optimal").everywhere and not make_policy("perdnn").everywhere


def test_fractional_cuts_migrations_touching_crowded_servers():
    tick, view, planner = world()
    acts = fitted("fractional").decide(view(crowded=frozenset({13}), budget=0.0), tick)
    assert [a for a in acts if isinstance(a, Migrate)] == []  # a zero budget sends (and refreshes) nothing
    acts = fitted("fractional").decide(view(crowded=frozenset({99}), budget=0.0), tick)
    assert [a for a in acts if isinstance(a, Migrate)][0].layers == planner.entry(1).layers


def test_keep_alive_refreshes_held_servers_within_keep_m_without_bytes():
    tick, view, _ = world()
    p = fitted("perdnn", targets=0, keep_m=100.0)
    p._sites = np.zeros((30, 2))
    p._sites[20] = [500.0, 0.0]  # far away: not refreshed
    held = {0: frozenset({10, 13, 20}), 1: frozenset({11})}
    migs = [(a.client, a.src, a.dst, a.layers) for a in p.decide(view(held_by=lambda c: held[c]), tick)
            if isinstance(a, Migrate)]
    assert migs == [(0, 10, 13, ())]  # not the current server 10, not the far 20; user 1 holds only at 11


def test_set_params_keeps_the_name_and_validates():
    p = make_policy("perdnn-forward")
    assert p.set_params(targets=2) is p and p.targets == 2 and p.name == "perdnn-forward" and p.relay
    assert "targets=2" in repr(p)
