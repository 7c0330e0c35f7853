"""The contract every registered policy keeps, with its default and with non-default parameters.

One prepared world (train walkers, a test walker, servers on the rows beside: `walkers` of test_rank) and one
run per policy and parameter set; each decision is recorded. Checks: only valid actions (SetPlan at the
user's server with its current plan, Migrate from the user's server, Drop elsewhere, known layer names), every
action round-trips through JSON, no layers go to a server beyond the policy's own radius of its predicted
point (a refresh may reach `keep_m` from the user when the parameters allow it), the same seed gives the same
actions, and the parameters round-trip through a scenario (dict and ``--set policy.<name>=…``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeroam.emulator.actions import Drop, Migrate, SetPlan, action_from_dict, action_to_dict
from edgeroam.emulator.policies import ALIASES, make_policy, policy_from_scenario
from edgeroam.emulator.policies.rank import server_sites
from edgeroam.emulator.run import run_prepared
from edgeroam.scenario import scenario_from_dict
from tests.emulator.policies.test_rank import walkers

#: every registered name (and a top-k alias) with a set of non-default parameters
NON_DEFAULT: dict[str, dict] = {
    "perdnn": {"radius_m": 150.0, "targets": 2},
    "fractional": {"fraction_mb": 1.0, "crowded_fraction": 0.5},
    "ionn": {"ttl_intervals": 0},
    "optimal": {"ttl_intervals": 2},
    "oracle": {"radius_m": 60.0, "relay": True},
    "perdnn-forward": {"targets": 1, "server_plans": 1},
    "perdnn-gated": {"targets": 1, "gate": False},
    "perdnn-speed": {"targets": 0, "targets_fast": 3, "v_split": 0.5},
    "perdnn-prob": {"tau": None, "q": 0.9, "moving_only": True},
    "perdnn-rank": {"tau": 0.01, "k_max": 2, "keep_m": 0.0},
    "perdnn-forward-top3": {"keep_m": 200.0},
    "lmu": {"targets": 1, "split": "single"},
    "perdnn-lmu": {"fractional": True, "fraction_mb": 1.0, "crowded_fraction": 0.5},
    "s3": {"order": "lmu"},
    "s3-single": {"split": "optimal"},
    "perdnn-s3": {"relay": True, "targets": 2},
}
CASES = [(k, p) for k, ps in NON_DEFAULT.items() for p in ({}, ps)]


def test_every_registered_name_is_covered():
    assert set(ALIASES) <= set(NON_DEFAULT)


@pytest.fixture(scope="module")
def prep():
    return walkers()


def record(prep, kind: str, params: dict):
    """Run `kind` with `params` (and the scenario's other [policy] keys); the policy and its decisions."""
    pol = policy_from_scenario(prep.scenario, kind).set_params(**params)
    calls = []
    decide = pol.decide

    def spy(view, tick):
        acts = decide(view, tick)
        calls.append((view.first_row, tick, acts))
        return acts

    pol.decide = spy
    run_prepared(prep, pol)
    return pol, calls


@pytest.mark.parametrize(("kind", "params"), CASES, ids=[f"{k}{'+' if p else ''}" for k, p in CASES])
def test_policy_contract(prep, kind, params):
    pol, calls = record(prep, kind, params)
    names = set(prep.planner.names.tolist())
    sites = server_sites(prep.world.topology.servers)
    points = prep.predictions(pol.predictor)
    assert calls and any(acts for _, _, acts in calls)
    for first, tick, acts in calls:
        where = {int(c): (int(s), i)
                 for i, (c, s) in enumerate(zip(tick.user_code, tick.server, strict=True))}
        for a in acts:
            assert action_from_dict(json.loads(json.dumps(action_to_dict(a)))) == a
            if isinstance(a, SetPlan):
                assert where[a.client][0] == a.server and set(a.layers) <= names
            elif isinstance(a, Migrate):
                server, i = where[a.client]
                assert a.src == server and set(a.layers) <= names
                assert a.relay == (pol.relay and bool(a.layers))  # refreshes are never standing orders
                d_pred = float(np.hypot(*(sites[a.dst] - points[first + i])))
                if a.layers:
                    assert d_pred <= pol.radius_m + 1e-6, (kind, a)
                else:  # a TTL refresh: a target within the radius, or a held server within keep_m
                    d_user = float(np.hypot(*(sites[a.dst] - [tick.x[i], tick.y[i]])))
                    assert d_pred <= pol.radius_m + 1e-6 or d_user <= pol.keep_m + 1e-6, (kind, a)
            else:
                assert isinstance(a, Drop) and pol.from_scratch and where[a.client][0] != a.server
    # same seed, same actions
    _, again = record(prep, kind, params)
    assert [acts for _, _, acts in again] == [acts for _, _, acts in calls]


def _toml(value) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@pytest.mark.parametrize(("kind", "params"), CASES, ids=[f"{k}{'+' if p else ''}" for k, p in CASES])
def test_params_round_trip_through_the_scenario(kind, params):
    pol = make_policy(kind, **params)
    want = pol.get_params()
    base = {"name": "rt", "dataset": {"kind": "synthetic"}}
    sc = scenario_from_dict({**base, "policy": {"kind": kind, **want}})
    assert policy_from_scenario(sc).get_params() == want
    assert policy_from_scenario(scenario_from_dict(sc.model_dump(mode="json"))).get_params() == want
    # TOML has no null: `--set` can give every value but "unset" (None), which a scenario dict can
    sets = [f'policy.kind="{kind}"'] + [f"policy.{k}={_toml(v)}" for k, v in want.items() if v is not None]
    got = policy_from_scenario(scenario_from_dict(base, overrides=sets)).get_params()
    unset = {k for k, v in want.items() if v is None and make_policy(kind).get_params()[k] is not None}
    keep = [k for k in want if k not in unset]
    assert {k: got[k] for k in keep} == {k: want[k] for k in keep}


def test_a_new_variant_is_parameters_not_a_class(prep):
    by_name = run_prepared(prep, "perdnn-forward-top3").summary
    by_params = run_prepared(prep, make_policy("perdnn", targets=3, relay=True)).summary
    assert by_params.pop("policy") == "perdnn" and by_name.pop("policy") == "perdnn-forward-top3"
    assert by_params == by_name
