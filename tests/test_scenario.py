"""Scenario files: presets, overrides, and errors that name the file and the dotted key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edgeroam.errors import ScenarioError
from edgeroam.scenario import Scenario, load_scenario, scenario_from_dict, scenario_to_toml

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.parametrize("name", ["perdnn-kaist", "perdnn-geolife", "demo", "sumo-example"])
def test_shipped_scenarios_load(name):
    s = load_scenario(SCENARIOS / f"{name}.toml")
    assert isinstance(s, Scenario) and s.name == name
    assert s.topology.radius_m == 50 and s.predictor.history == 5 and s.policy.ttl_intervals == 5


def test_perdnn_values():
    k = load_scenario(SCENARIOS / "perdnn-kaist.toml")
    assert (k.dataset.kind, k.dataset.region, k.dataset.interval_s) == ("kaist", "perdnn-kaist", 30)
    assert k.dataset.split.test_users == 31
    g = load_scenario(SCENARIOS / "perdnn-geolife.toml")
    assert g.dataset.interval_s == 20 and g.dataset.region == "perdnn-geolife"
    assert g.topology.access.down_mbps == 50 and g.topology.access.up_mbps == 35


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_presets_fill_missing_and_file_wins(tmp_path):
    s = load_scenario(_write(tmp_path, '[dataset]\nkind = "kaist"\n'))
    assert s.name == "s"  # from the file name
    assert s.dataset.region == "perdnn-kaist" and s.dataset.interval_s == 30
    assert s.dataset.split.test_users == 31
    s = load_scenario(_write(tmp_path, '[dataset]\nkind = "geolife"\ninterval_s = 45\n'))
    assert s.dataset.interval_s == 45 and s.dataset.region == "perdnn-geolife"


def test_overrides_parse_toml_scalars(tmp_path):
    p = _write(tmp_path, 'name = "x"\n')
    s = load_scenario(
        p,
        [
            "topology.radius_m=75",
            "topology.backhaul.shape=tree",
            'dnn.model="resnet50"',
            "topology.backhaul.cloud.enabled=true",
            "topology.origin=[10, 20]",
            "predictor.params.C=0.5",
        ],
    )
    assert s.topology.radius_m == 75.0 and s.topology.backhaul.shape == "tree"
    assert s.dnn.model == "resnet50" and s.topology.backhaul.cloud.enabled is True
    assert s.topology.origin == (10.0, 20.0) and s.predictor.params == {"C": 0.5}


def test_wrong_type_names_file_and_key(tmp_path):
    p = _write(tmp_path, '[topology]\nradius_m = "big"\n')
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    msg = str(ei.value)
    assert str(p) in msg and "topology.radius_m: Input should be a valid number" in msg
    assert ei.value.key == "topology.radius_m" and "Traceback" not in msg


def test_unknown_key_rejected(tmp_path):
    p = _write(tmp_path, "[topology]\nradius = 50\n")
    with pytest.raises(ScenarioError, match=r"s\.toml: topology\.radius: unknown key"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match=r"colour: unknown key"):
        load_scenario(_write(tmp_path, 'colour = "red"\n'))
    with pytest.raises(ScenarioError, match=r"topology\.backhaul\.shape"):
        load_scenario(_write(tmp_path, "[topology.backhaul]\nshape = 'ring'\n"))


def test_override_errors_name_key(tmp_path):
    p = _write(tmp_path, 'name = "x"\n')
    with pytest.raises(ScenarioError, match=r"policy\.ttl_intervals"):
        load_scenario(p, ["policy.ttl_intervals=-1"])
    with pytest.raises(ScenarioError, match="key.path=value"):
        load_scenario(p, ["policy.ttl_intervals"])
    with pytest.raises(ScenarioError, match="name: is a value"):
        load_scenario(p, ["name.x=1"])


def test_file_and_toml_errors(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        load_scenario(_write(tmp_path, "name = \n"))
    with pytest.raises(ScenarioError, match="servers_file"):
        load_scenario(_write(tmp_path, '[topology]\nservers = "file"\n'))


def test_relative_paths_resolved_against_file(tmp_path):
    s = load_scenario(_write(tmp_path, '[dataset]\nkind = "kaist"\nroot = "data"\n'))
    assert Path(s.dataset.root) == (tmp_path / "data").resolve()


def test_round_trip_through_toml():
    s = load_scenario(SCENARIOS / "perdnn-geolife.toml")
    again = scenario_from_dict(tomllib.loads(scenario_to_toml(s)))
    assert again == s


def test_own_data_keys(tmp_path):
    columns = {"user": "id", "t": "time", "lat": "la", "lon": "lo"}
    sc = scenario_from_dict({"name": "taxis", "dataset": {
        "kind": "table", "root": "taxis.csv", "columns": columns, "timezone": "Asia/Shanghai"}})
    assert sc.dataset.reader_options() == {"columns": columns, "timezone": "Asia/Shanghai", "max_gap_s": 90.0}
    assert sc.dataset.interval_s == 30.0  # the preset of your own data
    dumped = scenario_from_dict({"name": "k", "dataset": {"kind": "kaist"}}).model_dump(mode="json")
    # left out when unset: resolved scenarios and their run hashes stay as they were
    assert not {"columns", "crs", "timezone", "user_per", "coords"} & set(dumped["dataset"])
    cases = [
        ({"kind": "gpx"}, "dataset: kind 'gpx' reads your own files: set dataset.root"),
        ({"kind": "table", "root": "a.csv", "columns": {"who": "id"}}, "dataset.columns.who"),
        ({"kind": "table", "root": "a.csv", "columns": {"lat": "a", "lon": "b"}}, "at least user and t"),
        ({"kind": "sumo", "root": "fcd.xml", "timezone": "UTC"}, "'timezone' applies to kind table, gpx"),
        ({"kind": "geolife", "coords": "xy"}, "'coords' applies to kind sumo, not 'geolife'"),
        ({"kind": "sumo", "root": "fcd.xml", "coords": "utm"}, "dataset.coords"),
    ]
    for dataset, words in cases:
        with pytest.raises(ScenarioError) as err:
            scenario_from_dict({"name": "own", "dataset": dataset})
        assert words in str(err.value), (dataset, str(err.value))


def test_sumo_example_root_resolves_against_its_file():
    sc = load_scenario("sumo-example")
    assert sc.dataset.kind == "sumo" and Path(sc.dataset.root).is_file()
    assert Path(sc.dataset.root).name == "example.sumocfg" and sc.dataset.reader_options() == {"coords": "xy"}


def test_run_switch_and_window_keys(tmp_path):
    base = load_scenario(SCENARIOS / "demo.toml")
    # left out of the resolved scenario at their defaults: run hashes and summaries of earlier runs stay
    assert base.run.switch == "bridge" and base.run.window is None
    assert set(base.model_dump(mode="json")["run"]) == {"backend", "speed", "duration_s", "out"}
    s = load_scenario(SCENARIOS / "demo.toml", ["run.switch=ovs", "run.window.region=metric:0,0,500,500",
                                                "run.window.busiest_s=600", "run.window.clients=3"])
    assert s.run.switch == "ovs" and s.run.window.busiest_s == 600 and s.run.window.clients == 3
    assert s.model_dump(mode="json")["run"]["window"] == {"region": "metric:0,0,500,500", "busiest_s": 600.0,
                                                         "clients": 3}
    assert scenario_from_dict(tomllib.loads(scenario_to_toml(s))) == s
    p = _write(tmp_path, "[run.window]\nstart = 2009-01-01T00:00:00Z\nend = 2009-01-01T01:00:00\n")
    w = load_scenario(p).run.window
    assert (w.start, w.end) == (1230768000.0, 1230771600.0)  # date-times as seconds, UTC when no offset


@pytest.mark.parametrize(("override", "key", "what"), [
    (["run.switch=ovz"], "run.switch", "'bridge' or 'ovs'"),
    (["run.window.start=5"], "run.window", "needs start and end, or busiest_s"),
    (["run.window.start=5", "run.window.end=1"], "run.window", "must be after start"),
    (["run.window.busiest_s=60", "run.window.start=1"], "run.window", "not both"),
    (["run.window.busiest_s=-5"], "run.window.busiest_s", "greater than 0"),
    (["run.window.busiest_s=60", "run.window.region=nowhere"], "run.window.region", "unknown region"),
    (["run.window.busiest_s=60", "run.window.clients=0"], "run.window.clients", "greater than or equal to 1"),
    (["run.window.size=3"], "run.window.size", "unknown key"),
    (["run.window=3"], "run.window", "valid dictionary"),
])
def test_bad_switch_and_window_name_the_key(override, key, what):
    with pytest.raises(ScenarioError) as ei:
        load_scenario(SCENARIOS / "demo.toml", override)
    assert ei.value.key == key and what in str(ei.value), str(ei.value)


def test_the_window_cuts_the_world_and_reaches_the_net_backend():
    from edgeroam.emulator.backend import run_options
    from edgeroam.world import load_world

    whole = load_world(load_scenario(SCENARIOS / "demo.toml"))
    sc = load_scenario(SCENARIOS / "demo.toml", ["run.window.busiest_s=900", "run.window.clients=4",
                                                 "run.window.region=metric:0,0,1000,1000", "run.backend=net",
                                                 "run.switch=ovs"])
    w = load_world(sc)
    info = w.extra["window"]
    assert len(w.test_users) == len(info["users"]) <= 4 and set(w.test_users) == set(info["users"])
    t = w.test_traces
    assert t["t"].between(info["start"], info["end"], inclusive="left").all()
    assert t["x"].between(0, 1000).all() and t["y"].between(0, 1000).all()
    assert info["end"] - info["start"] == 900 and len(t) == info["points"]
    assert len(w.topology.servers) < len(whole.topology.servers)
    assert run_options(sc.run) == {"speed": 1.0, "switch": "ovs", "ovs_realtime": False}
    with pytest.raises(ScenarioError, match=r"run\.window: no trace point"):
        load_world(load_scenario(SCENARIOS / "demo.toml", ["run.window.start=1e9", "run.window.end=2e9"]))


def test_ovs_realtime_key():
    from edgeroam.emulator.backend import run_options

    s = load_scenario(SCENARIOS / "demo.toml", ["run.backend=net", "run.switch=ovs", "run.ovs_realtime=true"])
    assert run_options(s.run) == {"speed": 1.0, "switch": "ovs", "ovs_realtime": True}
    assert s.model_dump(mode="json")["run"]["ovs_realtime"] is True
    assert "ovs_realtime" not in load_scenario(SCENARIOS / "demo.toml").model_dump(mode="json")["run"]
    with pytest.raises(ScenarioError) as ei:
        load_scenario(SCENARIOS / "demo.toml", ["run.ovs_realtime=true"])
    assert ei.value.key == "run" and "switch = 'ovs' only" in str(ei.value)
