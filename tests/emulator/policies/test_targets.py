"""TargetPolicy decides the same actions user by user (a tick of a few users) and on arrays (`batch_users` or
more users): every tick of a whole run, for the rules and the parameters that shape the targets and layers."""

from __future__ import annotations

import pytest

from edgeroam.emulator.actions import Migrate, sort_actions
from edgeroam.emulator.policies import policy_from_scenario
from edgeroam.emulator.policies.targets import TargetPolicy
from edgeroam.emulator.prepare import prepare
from edgeroam.emulator.run import run_prepared
from edgeroam.scenario import load_scenario
from tests.emulator.policies.test_contract import record

#: policy name -> non-default parameters
CASES = {
    "perdnn": {},
    "perdnn-gated": {},
    "perdnn-speed": {"targets": 1, "targets_fast": 3, "v_split": 0.5},
    "fractional": {"crowded_fraction": 0.3, "fraction_mb": 1.0},
    "perdnn-forward-top3": {"keep_m": 300.0},
    "lmu": {"targets": 2, "split": "single", "count_current": False},
    "perdnn-prob": {},
}


@pytest.fixture(scope="module")
def prep():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    sc = load_scenario(root / "scenarios" / "demo.toml",
                       ["dataset.synthetic.users=60", "dataset.split.test_users=40",
                        "dataset.synthetic.duration_s=1200", "dataset.synthetic.area_m=[600,600]"])
    return prepare(sc)


@pytest.mark.parametrize("kind", list(CASES))
def test_arrays_and_user_by_user_decide_alike(prep, kind, monkeypatch):
    runs = []
    for batch in (10**9, 1):
        monkeypatch.setattr(TargetPolicy, "batch_users", batch)
        _pol, calls = record(prep, kind, CASES[kind])
        runs.append([sort_actions(acts) for _first, _tick, acts in calls])
        if batch > 1:  # user by user: Migrates made unchecked (plain_migrate), so check them here
            each = [a for _first, _tick, acts in calls for a in acts if type(a) is Migrate]
            assert each and all(type(a.client) is int and type(a.src) is int and type(a.dst) is int
                                and type(a.layers) is tuple and type(a.relay) is bool for a in each)
            assert each == [Migrate(a.client, a.src, a.dst, a.layers, a.relay) for a in each]
    assert runs[0] == runs[1]
    migs = [a for acts in runs[0] for a in acts if isinstance(a, Migrate)]
    assert any(a.layers for a in migs)  # layers went ahead
    if kind == "perdnn":
        assert any(not a.layers for a in migs)  # and refreshes


def test_batch_users_is_no_parameter(prep):
    assert "batch_users" not in policy_from_scenario(prep.scenario, "perdnn").get_params()
    assert run_prepared(prep, "perdnn").summary["hit_ratio"] > 0
