"""Backhaul cache: a second identical build is read, not rebuilt, and is the same graph down to every node's
neighbour order (what shortest paths break ties by); anything that shapes the build gives a new entry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeroam._digest import source_digest
from edgeroam.topology import cache as tc
from edgeroam.topology.backhaul import BackhaulParams, route
from edgeroam.topology.hexgrid import HexGrid, cell_id
from edgeroam.topology.servers import add_cloud, make_servers


def _same(a, b) -> bool:
    """Equal values of equal types, dict keys in the same order, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _identical(G, H) -> bool:
    """Same attributes, nodes in the same order, every node's neighbours in the same order."""
    return (list(G.nodes) == list(H.nodes) and _same(G.graph, H.graph)
            and all(_same(G.nodes[n], H.nodes[n]) for n in G)
            and all(list(G.adj[u]) == list(H.adj[u]) and _same(dict(G.adj[u]), dict(H.adj[u])) for u in G))


def _world(seed=0, n=60):
    """Servers in scattered cells (several mesh components, bridged by relays) and one cloud."""
    g = HexGrid(50.0)
    rng = np.random.default_rng(seed)
    q, r = rng.integers(-12, 12, n), rng.integers(-12, 12, n)
    return g, add_cloud(make_servers(g, np.unique(cell_id(q, r))), 1)


@pytest.fixture
def builds(monkeypatch):
    """Counts the real backhaul builds."""
    calls = []
    real = tc.build_backhaul

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tc, "build_backhaul", counted)
    return calls


@pytest.mark.parametrize("shape", ["mesh", "tree", "star"])
def test_second_build_is_read_and_is_the_same_graph(tmp_path, builds, shape):
    g, s = _world()
    p = BackhaulParams(shape=shape, master=True)
    a = tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    b = tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    assert len(builds) == 1 and len(list(tmp_path.glob("backhaul-*.json"))) == 1
    assert b is not a and _identical(a, b)
    if shape == "mesh":
        assert a.graph["relays"] > 0  # bridged components: relay nodes and chains
    servers = [n for n in a if n.startswith("s")]
    for u, v in zip(servers[:-1], servers[1:], strict=True):
        assert route(a, u, v) == route(b, u, v)


def test_record_keeps_neighbour_orders_that_no_node_order_gives():
    import networkx as nx

    G = nx.Graph(name="x")
    G.add_nodes_from(["a", "b", "c", "d"])
    for u, v in [("c", "d"), ("a", "d"), ("b", "c"), ("a", "b"), ("d", "b")]:
        G.add_edge(u, v, w=float("nan"), k=1)
    H = tc.graph_from_record(json.loads(json.dumps(tc.graph_record(G))))
    assert _identical(G, H)
    assert list(H.adj["d"]) == ["c", "a", "b"] and list(H.adj["b"]) == ["c", "a", "d"]


def test_what_shapes_the_build_gives_a_new_entry(tmp_path, builds, monkeypatch):
    g, s = _world()
    p = BackhaulParams()
    tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    s2 = s.copy()
    s2.loc[0, "x"] += 1e-9
    tc.cached_backhaul(g, s2, p, cache_dir=tmp_path)  # a server's site
    tc.cached_backhaul(g, s.assign(profile="other"), p, cache_dir=tmp_path)  # a text column
    tc.cached_backhaul(g, s, BackhaulParams(wireless_mbps=99.0), cache_dir=tmp_path)
    tc.cached_backhaul(HexGrid(50.0, orientation="flat"), s, p, cache_dir=tmp_path)
    monkeypatch.setattr(tc, "_code_digest", lambda: "other code")
    tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    monkeypatch.setattr(tc, "_versions", lambda: {"networkx": "0.0"})
    tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    assert len(builds) == 7 and len(list(tmp_path.glob("backhaul-*.json"))) == 7


def test_unreadable_entry_is_rebuilt_and_no_cache_dir_builds(tmp_path, builds):
    g, s = _world()
    p = BackhaulParams()
    a = tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("backhaul-*.json")
    entry.write_text("{not json")
    b = tc.cached_backhaul(g, s, p, cache_dir=tmp_path)
    assert len(builds) == 2 and _identical(a, b)
    assert _identical(a, tc.cached_backhaul(g, s, p, cache_dir=tmp_path)) and len(builds) == 2
    tc.cached_backhaul(g, s, p, cache_dir=None)
    assert len(builds) == 3
    source_digest.cache_clear()
    assert len(tc._code_digest()) == 64 and tc._versions()["numpy"] == np.__version__


def test_build_topology_reads_the_cache_beside_the_datasets(tmp_path, monkeypatch, builds):
    import pandas as pd

    from edgeroam.scenario import scenario_from_dict
    from edgeroam.topology.build import build_topology

    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path))
    sc = scenario_from_dict({"name": "t", "topology": {"radius_m": 50.0},
                             "dataset": {"kind": "synthetic", "interval_s": 30.0}})
    rng = np.random.default_rng(2)
    xy = rng.uniform(-600, 600, (80, 2))
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * 80), "traj": 0, "t": np.arange(80) * 30.0,
                       "x": xy[:, 0], "y": xy[:, 1]})
    a = build_topology(sc, tr, cache=True)
    b = build_topology(sc, tr, cache=True)
    c = build_topology(sc, tr)
    assert len(builds) == 1 and len(list(tmp_path.glob("backhaul-*.json"))) == 1
    assert _identical(a.backhaul, b.backhaul) and _identical(a.backhaul, c.backhaul)
