"""Actions: validated frozen records, deterministic order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgeroam.emulator.actions import Migrate, SetPlan, sort_actions
from edgeroam.errors import PlanningError


def test_migrate_normalises_and_validates():
    m = Migrate(np.int64(3), 1, 2, ["conv1", "conv2"])
    assert m.client == 3 and type(m.client) is int and m.layers == ("conv1", "conv2")
    assert Migrate(3, 1, 2, "fc").layers == ("fc",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.dst = 5
    with pytest.raises(PlanningError, match="same server 4"):
        Migrate(3, 4, 4, ["conv1"])
    with pytest.raises(PlanningError, match="listed twice: conv1"):
        Migrate(3, 1, 2, ["conv1", "fc", "conv1"])
    with pytest.raises(PlanningError, match="integer id"):
        Migrate(3, 1.5, 2, ["conv1"])
    with pytest.raises(PlanningError, match="layer names"):
        Migrate(3, 1, 2, ["conv1", ""])


def test_setplan_needs_a_plan():
    plan = object()
    assert SetPlan(1, 2, plan).plan is plan
    with pytest.raises(PlanningError, match="plan is None"):
        SetPlan(1, 2, None)


def test_sort_actions_is_deterministic():
    p = object()
    acts = [Migrate(2, 5, 6, ["a"]), SetPlan(2, 5, p), Migrate(1, 3, 9, ["a"]), Migrate(1, 3, 4, ["b"])]
    out = sort_actions(acts)
    assert out == [acts[3], acts[2], acts[1], acts[0]]
    with pytest.raises(PlanningError, match="not an action"):
        sort_actions([object()])
