"""perdnn-forward and perdnn-top<k>: pure decisions, and the mechanism on a scripted fast mover."""

from __future__ import annotations

import pytest

from edgeroam.emulator.actions import Migrate
from edgeroam.emulator.policies import make_policy
from tests.emulator.policies.test_policies import fitted, world
from tests.emulator.test_master import scripted


def migrations(policy, view, tick):
    acts = policy.decide(view, tick)
    return [(a.client, a.src, a.dst, len(a.layers)) for a in acts if isinstance(a, Migrate)]


def test_names_expand_to_parameters():
    assert make_policy("perdnn-forward").relay is True
    p = make_policy("perdnn-forward-top2")
    assert p.targets == 2 and p.relay and p.name == "perdnn-forward-top2"
    q = make_policy("perdnn-top1")
    assert q.targets == 1 and not q.relay and q.name == "perdnn-top1"


def test_forward_lists_the_whole_order_even_from_an_empty_source():
    tick, view, planner = world()
    n = len(planner.entry(1).layers)
    # user 0 holds everything at s10 -> s13 gets the order; user 1 is at s11 (holds) -> s13 already holds
    assert migrations(fitted("perdnn"), view(), tick) == [(0, 10, 13, n), (1, 11, 13, 0)]
    assert migrations(fitted("perdnn-forward"), view(), tick) == [(0, 10, 13, n), (1, 11, 13, n)]


def test_top_k_keeps_the_nearest_targets_and_counts_the_current_server():
    tick, view, _ = world()
    # near_predicted lists [10, 13] for user 0 (10 is its own server) and [11, 13] for user 1
    assert migrations(fitted("perdnn-top1"), view(), tick) == []
    assert [m[:3] for m in migrations(fitted("perdnn-top2"), view(), tick)] == [(0, 10, 13), (1, 11, 13)]


def test_fast_mover_hits_under_forward_where_perdnn_misses():
    # one cell per tick: under perdnn the current server is still receiving the upload when the master
    # migrates from it, so nothing moves and every server change misses (a cascade); forward-on-arrival
    # relays each uploaded chunk to the next server as it lands, and the relays chain along the row
    _, per = scripted("perdnn", cells=(0, 1, 2, 3))
    prep, fwd = scripted("perdnn-forward", cells=(0, 1, 2, 3))
    assert (per.summary["hits"], per.summary["misses"]) == (0, 3)
    assert (fwd.summary["hits"], fwd.summary["misses"]) == (3, 0)
    assert fwd.summary["executed_queries"] > per.summary["executed_queries"]
    plan_bytes = prep.planner.entry(1).bytes
    # the client uploads once; each server change costs one plan's worth of backhaul instead of an upload
    assert fwd.summary["backhaul"]["uploaded_bytes"] == pytest.approx(plan_bytes)
    assert fwd.summary["backhaul"]["migrated_bytes"] == pytest.approx(3 * plan_bytes)
    assert per.summary["backhaul"]["uploaded_bytes"] == pytest.approx(4 * plan_bytes)
