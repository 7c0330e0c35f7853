"""Backhaul graphs on tiny known layouts: mesh adjacency, relay bridging, tree, star, cloud, path helpers."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from edgeroam.errors import TopologyError
from edgeroam.topology.backhaul import (
    BackhaulParams,
    build_backhaul,
    hex_line,
    link_table,
    path_bottleneck_bps,
    path_delay_s,
    path_length_stats,
    route,
    shortest_path,
)
from edgeroam.topology.hexgrid import HexGrid, cell_id
from edgeroam.topology.servers import add_cloud, make_servers


def _servers(g, cells):
    q = np.array([c[0] for c in cells])
    r = np.array([c[1] for c in cells])
    return make_servers(g, cell_id(q, r))


def _sid(s, q, r):
    """Server id of the server in cell (q, r)."""
    return int(s.loc[s["cell"] == cell_id(q, r), "server"].iloc[0])


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_mesh_links_adjacent_cells_only(orientation):
    g = HexGrid(50.0, orientation=orientation)
    q, r = HexGrid.disk(1)
    s = make_servers(g, cell_id(q, r))
    G = build_backhaul(g, s)
    # 7-cell flower: 6 spokes + 6 rim links
    assert G.number_of_edges() == 12 and G.graph["relays"] == 0 and G.graph["components"] == 1
    for u, v, d in G.edges(data=True):
        a, b = G.nodes[u], G.nodes[v]
        assert HexGrid.distance(a["q"], a["r"], b["q"], b["r"]) == 1
        assert d["klass"] == "wireless" and d["capacity_bps"] == 100e6
        assert d["length_m"] == pytest.approx(g.spacing)


def test_mesh_bridges_gap_with_relays():
    g = HexGrid(50.0)
    s = _servers(g, [(0, 0), (1, 0), (5, 0), (5, 1), (-3, 7)])
    G = build_backhaul(g, s)
    assert nx.is_connected(G)
    assert G.graph["components"] == 3 and G.graph["bridges"] == 2
    relays = [n for n, k in G.nodes(data="kind") if k == "relay"]
    # (1,0)->(5,0): 3 relays; (0,0)->(-3,7) nearest pair at hex distance 7: 6 relays
    assert len(relays) == G.graph["relays"] == 3 + 6
    for u, v in G.edges:
        a, b = G.nodes[u], G.nodes[v]
        assert HexGrid.distance(a["q"], a["r"], b["q"], b["r"]) == 1
    relay = [f"r{cell_id(c, 0)}" for c in (2, 3, 4)]
    a, b = _sid(s, 1, 0), _sid(s, 5, 0)
    assert shortest_path(G, a, b) == [f"s{a}", *relay, f"s{b}"]


def test_hex_line_is_contiguous():
    q, r = hex_line(0, 0, 7, -3)
    assert len(q) == HexGrid.distance(0, 0, 7, -3) + 1
    assert (HexGrid.distance(q[:-1], r[:-1], q[1:], r[1:]) == 1).all()


def test_tree_and_star_shapes_with_cloud_and_master():
    g = HexGrid(50.0)
    q, r = HexGrid.disk(4)
    s = add_cloud(make_servers(g, cell_id(q, r)), 1)
    p = BackhaulParams(shape="tree", cluster_cells=7, master=True, fibre_mbps=10_000)
    G = build_backhaul(g, s, p)
    kinds = dict(G.nodes(data="kind"))
    aggs = [n for n, k in kinds.items() if k == "agg"]
    assert 61 / 7 / 2 < len(aggs) < 61  # clusters of several cells
    for n, k in kinds.items():
        if k == "server":
            (nb,) = list(G.neighbors(n))
            assert kinds[nb] == "agg"
    for a in aggs:
        assert G.edges[a, "core"]["klass"] == "fibre" and G.edges[a, "core"]["capacity_bps"] == 1e10
    cloud = [n for n, k in kinds.items() if k == "cloud"]
    assert len(cloud) == 1 and G.edges[cloud[0], "core"]["klass"] == "wan"
    assert G.has_edge("master", "core")
    star = build_backhaul(g, s, BackhaulParams(shape="star", link="fibre"))
    assert all(star.degree(n) == 1 for n, k in star.nodes(data="kind") if k == "server")
    st = path_length_stats(star)
    assert st["mean"] == st["max"] == 2.0 and st["pairs"] == 61 * 60 // 2


def test_path_helpers_weight_key_and_callable():
    g = HexGrid(50.0)
    s = _servers(g, [(0, 0), (1, 0), (2, 0), (1, 1), (0, 1)])
    G = build_backhaul(g, s, BackhaulParams(wireless_delay_ms=2.0))
    a, b, c = _sid(s, 0, 0), _sid(s, 1, 0), _sid(s, 2, 0)
    path = shortest_path(G, a, c)
    assert len(path) == 3
    assert path_delay_s(G, path) == pytest.approx(0.004)
    assert path_bottleneck_bps(G, path) == 100e6
    # a slow direct link is avoided by a delay-weighted path, and by a callable weight
    G.edges[f"s{a}", f"s{b}"]["delay_s"] = 1.0
    assert shortest_path(G, a, b) == [f"s{a}", f"s{b}"]
    assert len(shortest_path(G, a, b, weight="delay_s")) == 3
    heavy = shortest_path(G, a, c, weight=lambda u, v, d: 100.0 if {u, v} == {f"s{a}", f"s{b}"} else 1.0)
    assert heavy[1] != f"s{b}" and heavy[-1] == f"s{c}"
    hops = path_length_stats(G)
    assert hops["pairs"] == 10 and hops["connected"] == 10 and hops["max"] == 2
    delay = path_length_stats(G, weight="delay_s")
    assert delay["max"] >= 0.004
    with pytest.raises(TopologyError, match="s99"):
        shortest_path(G, 0, 99)
    links = link_table(G)
    assert list(links.columns) == ["u", "v", "klass", "capacity_bps", "delay_s", "length_m"]
    assert len(links) == G.number_of_edges()


def test_route_is_the_hop_shortest_path_with_its_delay():
    # neighbours take the one-hop link without a search; every pair's route is the search's path
    g = HexGrid(50.0)
    s = _servers(g, [(0, 0), (1, 0), (5, 0), (5, 1), (-3, 7), (0, 1)])
    G = build_backhaul(g, s, BackhaulParams(wireless_delay_ms=2.0))
    ids = s["server"].tolist()
    for a in ids:
        for b in ids:
            if a != b:
                nodes = shortest_path(G, a, b)
                links = tuple(zip(nodes[:-1], nodes[1:], strict=True))
                assert route(G, a, b) == (links, path_delay_s(G, nodes))
    a, b = _sid(s, 0, 0), _sid(s, 1, 0)
    assert route(G, a, b) == (((f"s{a}", f"s{b}"),), 0.002)
    with pytest.raises(TopologyError, match="s99"):
        route(G, a, 99)


@pytest.mark.parametrize("seed", range(4))
def test_route_takes_networkx_s_path_among_equal_ones(seed):
    # many equally short paths (grids, regular meshes, a ring): the route's search meets where networkx's
    # does, so every pair gets nx.shortest_path's nodes; a pair in two components has no route
    rng = np.random.default_rng(seed)
    graphs = [nx.grid_2d_graph(5, 6), nx.random_regular_graph(3, 30, seed=seed), nx.cycle_graph(12),
              nx.gnp_random_graph(25, 0.15, seed=seed)]
    for H in graphs:
        G = nx.relabel_nodes(H, {n: f"s{i}" for i, n in enumerate(H.nodes)})
        for u, v in G.edges:
            G.edges[u, v]["delay_s"] = float(rng.uniform(0.001, 0.01))
        for a in range(G.number_of_nodes()):
            for b in rng.choice(G.number_of_nodes(), size=8).tolist():
                try:
                    nodes = nx.shortest_path(G, f"s{a}", f"s{b}")
                except nx.NetworkXNoPath:
                    with pytest.raises(TopologyError, match="no backhaul path"):
                        route(G, a, b)
                    continue
                links = tuple(zip(nodes[:-1], nodes[1:], strict=True))
                assert route(G, a, b) == (links, path_delay_s(G, nodes))


def test_access_and_errors():
    g = HexGrid(50.0)
    s = _servers(g, [(0, 0)])
    G = build_backhaul(g, s, BackhaulParams(access_down_mbps=54, access_up_mbps=11))
    assert G.graph["access"]["down_bps"] == 54e6 and G.graph["access"]["up_bps"] == 11e6
    with pytest.raises(TopologyError):
        build_backhaul(g, s.iloc[:0])
    with pytest.raises(TopologyError):
        build_backhaul(g, s, BackhaulParams(shape="ring"))  # type: ignore[arg-type]
