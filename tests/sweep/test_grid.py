"""Sweep files: validation, expansion into runs, overrides that parse back to the grid's values."""

from __future__ import annotations

import pytest

from edgeroam.errors import ScenarioError
from edgeroam.scenario import load_scenario
from edgeroam.sweep.grid import load_sweep, sweep_from_dict, toml_value


def test_the_grid_times_the_seeds_is_every_run_once():
    sw = sweep_from_dict(
        {
            "name": "g",
            "scenario": "demo",
            "seeds": [1, 2, 3],
            "grid": {"policy.radius_m": [50, 100], "policy.kind": ["perdnn", "ionn"]},
        }
    )
    runs = sw.runs()
    assert len(runs) == 12
    assert len({tuple(sorted(r.params.items())) for r in runs}) == 12
    assert runs[0].params == {"policy.radius_m": 50, "policy.kind": "perdnn", "seed": 1}


@pytest.mark.parametrize("value", [True, False, 7, 2.5, "perdnn-forward", [50, 100], 'a "quoted" name'])
def test_an_override_parses_back_to_the_grid_value(value):
    from edgeroam.scenario import apply_overrides

    assert apply_overrides({}, [f"x.y={toml_value(value)}"]) == {"x": {"y": value}}


def test_runs_resolve_to_distinct_scenarios():
    sw = sweep_from_dict(
        {
            "name": "g",
            "scenario": "demo",
            "set": ["policy.ttl_intervals=3"],
            "grid": {"policy.radius_m": [50, 100]},
        }
    )
    scs = [load_scenario(sw.scenario_path(), r.overrides) for r in sw.runs()]
    assert [s.policy.radius_m for s in scs] == [50, 100]
    assert all(s.policy.ttl_intervals == 3 for s in scs)


def test_a_sweep_file_error_names_the_file_and_key(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('scenario = "demo"\nsedds = [1]\n')
    with pytest.raises(ScenarioError, match=r"bad\.toml.*sedds.*unknown key"):
        load_sweep(f)
    f.write_text('scenario = "demo"\n[grid]\n"policy.radius_m" = []\n')
    with pytest.raises(ScenarioError, match=r"grid.*no values"):
        load_sweep(f)
    with pytest.raises(ScenarioError, match="no such sweep file"):
        load_sweep(tmp_path / "missing.toml")


def test_a_relative_scenario_path_is_taken_from_the_sweep_folder(tmp_path):
    (tmp_path / "my.toml").write_text('name = "mine"\n')
    f = tmp_path / "s.toml"
    f.write_text('scenario = "my.toml"\n')
    sw = load_sweep(f)
    assert sw.name == "s" and load_scenario(sw.scenario_path()).name == "mine"
