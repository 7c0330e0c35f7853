"""perdnn-gated and perdnn-speed: the stay gate, the speed budget, and the mechanism on scripted users."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.actions import Migrate
from edgeroam.emulator.master import run_pass
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.policies.targets import speeds
from edgeroam.emulator.prepare import prepare
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.world import World
from tests.emulator.policies.test_policies import fitted, world

STEP = math.sqrt(3) * 50.0  # centre distance of neighbouring pointy cells of R = 50 m


def scripted(policy: str, cells, predictor: str = "velocity"):
    """One user on cell centres along a row (t = 30 s, MobileNet), one sample per tick."""
    sc = scenario_from_dict({
        "name": "scripted", "seed": 1,
        "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
        "topology": {"radius_m": 50.0},
        "dnn": {"model": "mobilenet"},
        "predictor": {"kind": predictor, "history": 2},
        "policy": {"kind": policy, "radius_m": 100.0, "ttl_intervals": 5},
    })
    n = len(cells)
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * n), "traj": np.zeros(n, np.int32),
                       "t": np.arange(n) * 30.0, "x": np.array(cells, float) * STEP, "y": np.zeros(n),
                       "lat": np.nan, "lon": np.nan})
    w = World(sc, tr, [], ["a"], build_topology(sc, tr))
    # every cell of the row has a server, so a stationary user has neighbours to send to
    prep = prepare(sc, w)
    return prep, run_pass(prep, make_policy(policy))


def test_names_expand_to_parameters():
    g = make_policy("perdnn-gated")
    assert g.relay and g.gate and not g.count_current and g.targets is None
    p = make_policy("perdnn-gated-top2")
    assert p.targets == 2 and p.gate and p.name == "perdnn-gated-top2"
    s = make_policy("perdnn-speed")
    assert s.relay and not s.gate and (s.targets, s.targets_fast, s.v_split) == (1, 2, 1.5)


def test_speeds_from_history():
    tick, _, _ = world()
    assert speeds(tick, 30.0).tolist() == [0.0, 0.0]  # one position only
    h = np.array([[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [60.0, 0.0]]])
    tick.__dict__.update(history=h, history_len=np.array([2, 2]))  # frozen dataclass: a test-only override
    assert speeds(tick, 30.0).tolist() == [0.0, 2.0]


def test_gate_skips_stay_predictions_and_counts_targets_other_than_the_current():
    tick, view, planner = world()
    n = len(planner.entry(1).layers)

    def migs(policy):
        return [(a.client, a.src, a.dst, len(a.layers)) for a in policy.decide(view(), tick)
                if isinstance(a, Migrate)]

    # near_predicted: user 0 [10, 13] (own server first: predicted to stay), user 1 [11, 13] (likewise)
    assert migs(fitted("perdnn-gated")) == []
    # without the gate, one target other than the current server each, the whole order (relay)
    assert migs(fitted("perdnn-speed", targets=1, targets_fast=1, v_split=1.0)) == [(0, 10, 13, n),
                                                                                     (1, 11, 13, n)]
    # k = 0 for slow users: nothing
    assert migs(fitted("perdnn-speed", targets=0, targets_fast=1, v_split=1.0)) == []


def test_stationary_user_migrates_under_perdnn_but_not_under_the_gate():
    prep, per = scripted("perdnn", cells=(1, 1, 1, 1, 0, 2), predictor="stay")
    _, gated = scripted("perdnn-gated", cells=(1, 1, 1, 1, 0, 2), predictor="stay")
    plan_bytes = prep.planner.entry(1).bytes
    # perdnn sends the plan to the neighbours of cell 1 (cells 0 and 2) while the user stands still
    assert per.summary["backhaul"]["migrated_bytes"] >= 2 * plan_bytes
    assert gated.summary["backhaul"]["migrated_bytes"] == 0
    assert gated.summary["misses"] == 2 and per.summary["hits"] >= 1


def test_user_moving_one_cell_per_tick_hits_under_gate_and_speed():
    _, per = scripted("perdnn", cells=(0, 1, 2, 3, 4))
    _, gated = scripted("perdnn-gated-top1", cells=(0, 1, 2, 3, 4))
    prep, spd = scripted("perdnn-speed", cells=(0, 1, 2, 3, 4))
    # the velocity prediction is the next cell from the second tick on: the first change has no history
    assert (gated.summary["hits"], gated.summary["misses"]) == (3, 1)
    # ungated, the first tick (no speed yet, k_slow = 1) sends to one neighbour of the stay point too
    assert spd.summary["hits"] >= 3 and spd.summary["hits"] + spd.summary["misses"] == 4
    assert per.summary["hits"] < gated.summary["hits"]
    plan_bytes = prep.planner.entry(1).bytes
    # one target per tick and one plan's worth per hit
    assert gated.summary["backhaul"]["migrated_bytes"] == pytest.approx(3 * plan_bytes)
