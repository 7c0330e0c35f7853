"""Scenario -> world: synthetic demo, servers_of = test, region servers, PerDNN counts on real traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeroam.mobility.replay import Replay
from edgeroam.scenario import load_scenario
from edgeroam.topology.build import PERDNN_SERVER_RANGES, topology_summary
from edgeroam.world import load_world

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_demo_world():
    w = load_world(load_scenario(SCENARIOS / "demo.toml"))
    assert len(w.test_users) == 10 and len(w.train_users) == 10
    s = topology_summary(w)
    assert s["servers"]["edge"] == s["cells"]["visited_all_users"]
    assert s["cells"]["visited_test_users"] <= s["cells"]["visited_all_users"]
    assert s["backhaul"]["connected"] and "perdnn" not in s
    rep = Replay(w.test_traces, w.topology.grid, w.topology.servers, interval_s=30.0)
    assert all((t.server >= 0).all() for t in rep)  # every visited cell has its server


def test_servers_of_test_users_and_region_rule():
    sc = load_scenario(SCENARIOS / "demo.toml", ["topology.servers_of=test"])
    w = load_world(sc)
    s = topology_summary(w, path_sources=50)
    assert s["servers"]["edge"] == s["cells"]["visited_test_users"]
    assert s["paths"]["hops"]["sources"] == 50


@pytest.mark.slow
def test_kaist_server_count_in_perdnn_range(shared_traces):
    w = load_world(load_scenario(SCENARIOS / "perdnn-kaist.toml"))
    lo, hi = PERDNN_SERVER_RANGES["kaist"]
    n = int((w.topology.servers["tier"] == "edge").sum())
    assert lo <= n <= hi
    assert len(w.test_users) == 31
    sc = load_scenario(SCENARIOS / "perdnn-kaist.toml", ["topology.servers=region"])
    wr = load_world(sc)
    assert int((wr.topology.servers["tier"] == "edge").sum()) >= n


def test_unlimited_backhaul_is_a_parameter_left_out_at_its_default():
    from edgeroam.errors import ScenarioError
    from edgeroam.topology.build import UNLIMITED_MBPS, backhaul_params

    plain = load_scenario(SCENARIOS / "demo.toml")
    assert "unlimited" not in plain.model_dump()["topology"]["backhaul"]  # run hashes of old runs unchanged
    assert "server_layers" not in plain.model_dump()["dnn"]
    sc = load_scenario(SCENARIOS / "demo.toml", ["topology.backhaul.unlimited=true", "dnn.server_layers=all"])
    dump = sc.model_dump()
    assert dump["topology"]["backhaul"]["unlimited"] and dump["dnn"]["server_layers"] == "all"
    p = backhaul_params(sc)
    assert p.wireless_mbps == p.fibre_mbps == UNLIMITED_MBPS
    assert backhaul_params(plain).wireless_mbps == 100.0
    caps = {d["capacity_bps"] for *_e, d in load_world(sc).topology.backhaul.edges(data=True)}
    assert caps == {UNLIMITED_MBPS * 1e6}
    with pytest.raises(ScenarioError, match="sim-only"):
        load_scenario(SCENARIOS / "demo.toml", ["topology.backhaul.unlimited=true", "run.backend=net"])
