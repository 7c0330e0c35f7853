"""Three tiers: pair rates (S0's matrix, 'not connected'), slots, queue; on a backhaul and in a scenario."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgeroam.errors import ScenarioError, TopologyError
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.backhaul import build_backhaul
from edgeroam.topology.hexgrid import HexGrid, cell_id
from edgeroam.topology.servers import add_cloud, make_servers
from edgeroam.topology.tiers import LINK_PRESETS, MB, PAIRS, TierSpec, apply_tiers, node_slots, slot_tiers


def _graph(clouds: int = 3):
    g = HexGrid(50.0)
    q, r = HexGrid.disk(1)
    return build_backhaul(g, add_cloud(make_servers(g, cell_id(q, r)), clouds))


def test_s0_preset_is_the_papers_matrix():
    s = TierSpec.from_preset("s0")
    pairs = ("client-edge", "client-cloud", "edge-cloud", "cloud-cloud", "edge-edge")
    assert [s.mb_per_s(p) for p in pairs] == [10.0, 0.5, 0.5, 5.0, 10.0]
    assert not s.connected("client-client") and s.slots == {"client": 1, "edge": 2, "cloud": 8}
    assert s.cloud_queue == 20 and set(LINK_PRESETS["literal"]) == set(PAIRS)
    assert TierSpec.from_preset("literal").mb_per_s("cloud-edge") == 5.0  # either order


def test_apply_sets_every_link_by_its_tier_pair():
    G = apply_tiers(_graph(3), TierSpec.from_preset("s0"))
    clouds = [n for n, d in G.nodes(data=True) if d["kind"] == "cloud"]
    for u, v, d in G.edges(data=True):
        n_cloud = (u in clouds) + (v in clouds)
        want = {0: 10.0, 1: 0.5, 2: 5.0}[n_cloud]
        assert d["capacity_bps"] == want * MB * 8 and d["tier_pair"] == ("edge-edge", "edge-cloud",
                                                                         "cloud-cloud")[n_cloud]
    assert sum(1 for u, v in G.edges() if u in clouds and v in clouds) == 3  # every cloud pair joined
    assert G.graph["access"]["up_bps"] == G.graph["access"]["down_bps"] == 10 * MB * 8
    tiers = G.graph["tiers"]
    assert tiers["slots"]["cloud"] == 8 and tiers["links_mb_per_s"]["client-cloud"] == 0.5


def test_not_connected_pairs():
    spec = TierSpec.from_preset({**LINK_PRESETS["s0"], "cloud-cloud": 0.0})
    G = apply_tiers(_graph(2), spec)
    clouds = {n for n, d in G.nodes(data=True) if d["kind"] == "cloud"}
    assert not any(u in clouds and v in clouds for u, v in G.edges())  # no direct cloud-cloud link
    with pytest.raises(TopologyError, match="edge-cloud is 0"):
        apply_tiers(_graph(1), TierSpec.from_preset({**LINK_PRESETS["s0"], "edge-cloud": 0.0}))
    with pytest.raises(TopologyError, match="unknown tier pair 'edge-moon'"):
        TierSpec.from_preset({**LINK_PRESETS["s0"], "edge-moon": 1.0})
    with pytest.raises(TopologyError, match="slots"):
        TierSpec.from_preset("s0", slots={"client": 1, "edge": 0, "cloud": 8})


def test_scenario_tiers_set_the_access_rates_and_stay_out_of_old_scenarios():
    old = scenario_from_dict({"name": "a"})
    assert "tiers" not in old.model_dump()["topology"]  # run hashes of scenarios without tiers do not move
    tiers = {"rates": {"cloud-edge": 5.0}, "cloud_queue": 4}
    sc = scenario_from_dict({"name": "a", "topology": {"tiers": tiers}})
    assert sc.topology.access.up_mbps == pytest.approx(10 * MB * 8 / 1e6)
    spec = sc.topology.tiers.spec()
    assert spec.mb_per_s("edge-cloud") == 5.0 and spec.cloud_queue == 4
    again = scenario_from_dict(sc.model_dump(mode="json"))
    assert again.topology.tiers == sc.topology.tiers
    with pytest.raises(ScenarioError, match="topology.tiers"):
        scenario_from_dict({"name": "a", "topology": {"tiers": {"links": "nope"}}})
    with pytest.raises(ScenarioError, match="topology.tiers"):
        scenario_from_dict({"name": "a", "topology": {"tiers": {"rates": {"client-edge": 0.0}}}})


def test_compute_is_slots_by_default_and_left_out_of_the_dump_there():
    sc = scenario_from_dict({"name": "a", "topology": {"tiers": {}}})
    assert sc.topology.tiers.compute == "slots" and "compute" not in sc.model_dump()["topology"]["tiers"]
    assert sc.topology.tiers.spec().as_dict()["compute"] == "slots"
    shared = scenario_from_dict({"name": "a", "topology": {"tiers": {"compute": "shared"}}})
    assert shared.model_dump()["topology"]["tiers"]["compute"] == "shared"
    assert shared.topology.tiers.spec().compute == "shared"
    with pytest.raises(ScenarioError, match="topology.tiers.compute"):
        scenario_from_dict({"name": "a", "topology": {"tiers": {"compute": "fair"}}})
    with pytest.raises(TopologyError, match="compute"):
        TierSpec.from_preset("s0", compute="fair")


def test_node_slots_by_tier_and_only_slot_tiers_count():
    import networkx as nx
    import pandas as pd

    topo = SimpleNamespace(servers=pd.DataFrame({"server": [0, 1, 2], "tier": ["edge", "edge", "cloud"]}))
    spec = TierSpec.from_preset("s0", slots={"client": 1, "edge": 3, "cloud": 16}, cloud_queue=5).as_dict()
    assert node_slots(topo, 1, spec) == (3, None) and node_slots(topo, 2, spec) == (16, 5)
    G = nx.Graph()
    assert slot_tiers(G) is None
    G.graph["tiers"] = spec
    assert slot_tiers(G) is spec
    G.graph["tiers"] = {**spec, "compute": "shared"}
    assert slot_tiers(G) is None


def test_net_plan_shapes_every_tier_pair():
    """The net backend's plan (pure data, no root) has cloud hosts and shapes each link at its pair's rate."""
    from edgeroam.emulator.net.build import candidate_cells, plan_network

    G = apply_tiers(_graph(2), TierSpec.from_preset("s0"))
    server = next(n for n, d in G.nodes(data=True) if d["kind"] == "server")
    plan = plan_network(G, [candidate_cells(G, server)])
    assert sum(h.role == "cloud" for h in plan.hosts.values()) == 2
    rates = {(link.kind, link.klass, round(link.rate_ab_bps / MB / 8, 3)) for link in plan.links
             if link.rate_ab_bps is not None}
    assert rates == {("access", "access", 10.0), ("backhaul", "wireless", 10.0), ("backhaul", "wan", 0.5),
                     ("backhaul", "wan", 5.0)}
