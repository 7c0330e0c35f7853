"""The backhaul: a plain networkx Graph linking edge servers (and switches, relays, cloud) plus path helpers.

Nodes are strings with a ``kind`` attribute: ``s<server>`` (kind "server"; attributes server, cell, q, r, x,
y), ``r<cell>`` (kind "relay": a radio relay in a cell without a server), ``a<cell>`` (kind "agg"), ``core``,
``c<server>`` (kind "cloud") and ``master``. Every edge has ``capacity_bps``, ``delay_s``, ``klass``
("wireless" | "fibre" | "wan") and ``length_m``. The client's Wi-Fi access link is not a graph edge; its
capacities sit in ``G.graph["access"]`` (down_bps, up_bps, delay_s).

Shapes
------
mesh
    A link between every two servers in adjacent cells (hex distance 1), of the scenario's link class.
    **Bridging rule** (cells without servers): when the adjacency links leave several components, the
    components are joined by *relay chains through the grid*. Candidate joins are the Delaunay edges between
    server cells of different components, weighted by hex distance; Kruskal's algorithm over the components
    picks a minimum spanning set of joins (ties by weight, then node ids: deterministic). Each chosen join
    a→b of hex distance d becomes the d−1 cells on the hex line between them (cube lerp + rounding), each a
    relay node (or the server already there), linked one cell to the next. So every hop is still one cell
    long, relays are radio repeaters in empty cells, and the number of relays is close to the minimum.
tree
    Servers grouped by a coarse hex grid of circumradius R·sqrt(k) (about k cells per cluster); each cluster
    has an aggregation switch at the coarse cell centre, linked to its servers (scenario link class) and by
    fibre to one core at the centroid of the servers.
star
    Every server linked straight to the core (scenario link class).

Cloud rows of the Servers table (tier "cloud") hang off the core (tree/star) or off the *gateway* (the server
nearest the centroid, mesh) behind a WAN link; an optional master node sits there too, by fibre. Routing and
path statistics are free functions taking ``weight=`` as an edge attribute name, a callable ``(u, v, data) ->
float`` or None (hops).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from edgeroam.errors import TopologyError
from edgeroam.topology.hexgrid import AXIAL_DIRECTIONS, HexGrid, cell_id, unpack_cell_id
from edgeroam.topology.servers import server_of_cell

__all__ = [
    "BackhaulParams",
    "Weight",
    "build_backhaul",
    "hex_line",
    "link_table",
    "path_bottleneck_bps",
    "path_delay_s",
    "path_length_stats",
    "route",
    "server_node",
    "shortest_path",
]

Weight = str | Callable[[Any, Any, dict], float] | None


@dataclass(frozen=True)
class BackhaulParams:
    """Every capacity and delay of the backhaul and access links (all scenario parameters)."""

    shape: Literal["mesh", "tree", "star"] = "mesh"
    link: Literal["wireless", "fibre"] = "wireless"
    wireless_mbps: float = 100.0
    fibre_mbps: float = 1000.0
    wireless_delay_ms: float = 2.0
    fibre_delay_ms: float = 0.5
    cluster_cells: int = 7
    master: bool = False
    wan_mbps: float = 100.0
    wan_delay_ms: float = 20.0
    access_down_mbps: float = 50.0
    access_up_mbps: float = 35.0
    access_delay_ms: float = 1.0

    def klass(self, name: str) -> dict[str, float | str]:
        """Edge attributes of a link class."""
        if name == "wireless":
            return {
                "klass": "wireless",
                "capacity_bps": self.wireless_mbps * 1e6,
                "delay_s": self.wireless_delay_ms / 1e3,
            }
        if name == "fibre":
            return {
                "klass": "fibre",
                "capacity_bps": self.fibre_mbps * 1e6,
                "delay_s": self.fibre_delay_ms / 1e3,
            }
        if name == "wan":
            return {"klass": "wan", "capacity_bps": self.wan_mbps * 1e6, "delay_s": self.wan_delay_ms / 1e3}
        raise TopologyError(f"unknown link class {name!r}")


def server_node(server: int | str) -> str:
    """Graph node name of an edge server id (a node name is returned unchanged)."""
    return server if isinstance(server, str) else f"s{int(server)}"


def hex_line(q0: int, r0: int, q1: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells on the straight hex line from (q0, r0) to (q1, r1), both ends included (d + 1 cells)."""
    d = HexGrid.distance(q0, r0, q1, r1)
    if d == 0:
        return np.array([q0]), np.array([r0])
    t = np.arange(d + 1) / d
    eps = 1e-6  # nudge off cell edges so rounding is deterministic
    fq = q0 + eps + (q1 - q0) * t
    fr = r0 + eps + (r1 - r0) * t
    return HexGrid.round_axial(fq, fr)


def _add_link(G: nx.Graph, u: str, v: str, attrs: dict) -> None:
    if u == v or G.has_edge(u, v):
        return
    a, b = G.nodes[u], G.nodes[v]
    length = math.hypot(a["x"] - b["x"], a["y"] - b["y"]) if "x" in a and "x" in b else float("nan")
    G.add_edge(u, v, **attrs, length_m=length)


def _components(n: int, iu: np.ndarray, iv: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = coo_matrix((np.ones(len(iu)), (iu, iv)), shape=(n, n))
    return connected_components(m, directed=False)[1]


def _candidate_joins(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Delaunay edges between the points (all pairs when fewer than 4 points); [E, 2] index pairs."""
    n = len(px)
    if n < 4:
        iu, iv = np.triu_indices(n, 1)
        return np.column_stack([iu, iv])
    from scipy.spatial import Delaunay

    tri = Delaunay(np.column_stack([px, py]), qhull_options="QJ Qbb Qc")
    s = tri.simplices
    e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    e.sort(axis=1)
    return np.unique(e, axis=0)


def _bridge_mesh(
    G: nx.Graph, grid: HexGrid, edge: pd.DataFrame, comp: np.ndarray, params: BackhaulParams
) -> int:
    """Join mesh components with relay chains (see the module docstring); returns the number of chains."""
    q = edge["q"].to_numpy(np.int64)
    r = edge["r"].to_numpy(np.int64)
    sid = edge["server"].to_numpy(np.int64)
    cand = _candidate_joins(edge["x"].to_numpy(), edge["y"].to_numpy())
    cand = cand[comp[cand[:, 0]] != comp[cand[:, 1]]]
    w = HexGrid.distance(q[cand[:, 0]], r[cand[:, 0]], q[cand[:, 1]], r[cand[:, 1]])
    order = np.lexsort((cand[:, 1], cand[:, 0], w))
    parent = np.arange(comp.max() + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    chosen: list[tuple[int, int]] = []
    for i in order:
        a, b = cand[i]
        ra, rb = find(comp[a]), find(comp[b])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            chosen.append((int(a), int(b)))
    # fallback (degenerate triangulations): join leftover components by their closest pair, brute force
    roots = np.array([find(c) for c in comp])
    while len(np.unique(roots)) > 1:
        first = roots == roots[0]
        ia, ib = np.nonzero(first)[0], np.nonzero(~first)[0]
        d = HexGrid.distance(q[ia][:, None], r[ia][:, None], q[ib][None, :], r[ib][None, :])
        k = np.unravel_index(np.argmin(d), d.shape)
        a, b = int(ia[k[0]]), int(ib[k[1]])
        chosen.append((a, b))
        roots[roots == roots[b]] = roots[0]
    attrs = params.klass(params.link)
    server_cells = dict(zip(cell_id(q, r).tolist(), sid.tolist(), strict=True))
    for a, b in chosen:
        lq, lr = hex_line(q[a], r[a], q[b], r[b])
        names = []
        for cq, cr in zip(lq.tolist(), lr.tolist(), strict=True):
            c = int(cell_id(cq, cr))
            if c in server_cells:
                names.append(server_node(server_cells[c]))
            else:
                name = f"r{c}"
                if name not in G:
                    x, y = grid.center(cq, cr)
                    G.add_node(name, kind="relay", cell=c, q=cq, r=cr, x=float(x), y=float(y))
                names.append(name)
        for u, v in zip(names[:-1], names[1:], strict=True):
            _add_link(G, u, v, attrs)
    return len(chosen)


def build_backhaul(grid: HexGrid, servers: pd.DataFrame, params: BackhaulParams | None = None) -> nx.Graph:
    """Build the backhaul graph of `servers` on `grid` (see the module docstring for the shapes and rules).

    Examples
    --------
    >>> from edgeroam.topology.servers import make_servers
    >>> g = HexGrid(50.0)
    >>> s = make_servers(g, cell_id([0, 1, 3], [0, 0, 0]))
    >>> G = build_backhaul(g, s)
    >>> sorted(G.nodes), G.graph["relays"]
    (['r8589934592', 's0', 's1', 's2'], 1)
    """
    params = params or BackhaulParams()
    if params.shape not in ("mesh", "tree", "star"):
        raise TopologyError(f"unknown backhaul shape {params.shape!r}")
    edge = servers[servers["tier"] == "edge"].sort_values("server", kind="stable")
    if len(edge) == 0:
        raise TopologyError("no edge servers to link")
    G = nx.Graph(
        shape=params.shape,
        access={
            "down_bps": params.access_down_mbps * 1e6,
            "up_bps": params.access_up_mbps * 1e6,
            "delay_s": params.access_delay_ms / 1e3,
        },
        relays=0,
        bridges=0,
        components=1,
    )
    for row in edge.itertuples(index=False):
        G.add_node(
            server_node(row.server),
            kind="server",
            server=int(row.server),
            cell=int(row.cell),
            q=int(row.q),
            r=int(row.r),
            x=float(row.x),
            y=float(row.y),
            profile=str(row.profile),
        )
    ex, ey = edge["x"].to_numpy(), edge["y"].to_numpy()
    cx, cy = float(ex.mean()), float(ey.mean())
    link = params.klass(params.link)
    names = np.array([server_node(s) for s in edge["server"].tolist()], dtype=object)
    hub: str
    if params.shape == "mesh":
        q = edge["q"].to_numpy(np.int64)
        r = edge["r"].to_numpy(np.int64)
        idx_of = {s: i for i, s in enumerate(edge["server"].tolist())}
        iu_all, iv_all = [], []
        for dq, dr in AXIAL_DIRECTIONS[:3]:
            other = server_of_cell(edge, cell_id(q + dq, r + dr))
            has = other >= 0
            iu_all.append(np.nonzero(has)[0])
            iv_all.append(np.array([idx_of[s] for s in other[has].tolist()], dtype=np.int64))
        iu = np.concatenate(iu_all)
        iv = np.concatenate(iv_all)
        pairs = np.column_stack([iu, iv])
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        for a, b in pairs.tolist():
            _add_link(G, names[a], names[b], link)
        comp = _components(len(edge), iu, iv)
        G.graph["components"] = int(comp.max()) + 1
        if comp.max() > 0:
            G.graph["bridges"] = _bridge_mesh(G, grid, edge, comp, params)
            G.graph["relays"] = sum(1 for _, k in G.nodes(data="kind") if k == "relay")
        hub = names[int(np.argmin(np.hypot(ex - cx, ey - cy)))]
        G.graph["gateway"] = hub
    else:
        G.add_node("core", kind="core", x=cx, y=cy)
        hub = "core"
        if params.shape == "star":
            for n in names:
                _add_link(G, n, "core", link)
        else:
            coarse = HexGrid(grid.radius * math.sqrt(params.cluster_cells), grid.origin, grid.orientation)
            aq, ar = coarse.cell_of(ex, ey)
            agg = cell_id(aq, ar)
            for c in np.unique(agg).tolist():
                qq, rr = unpack_cell_id(c)
                x, y = coarse.center(qq, rr)
                G.add_node(f"a{c}", kind="agg", cell=int(c), x=float(x), y=float(y))
                _add_link(G, f"a{c}", "core", params.klass("fibre"))
            for n, c in zip(names.tolist(), agg.tolist(), strict=True):
                _add_link(G, n, f"a{c}", link)
    if params.master:
        G.add_node("master", kind="master", x=G.nodes[hub]["x"], y=G.nodes[hub]["y"])
        _add_link(G, "master", hub, params.klass("fibre"))
    for sid in servers.loc[servers["tier"] == "cloud", "server"].tolist():
        G.add_node(f"c{sid}", kind="cloud", server=int(sid))
        G.add_edge(f"c{sid}", hub, **params.klass("wan"), length_m=float("nan"))
    return G


# ---------------------------------------------------------------------------------------------- paths
def _weight_fn(weight: Weight) -> Callable[[Any, Any, dict], float]:
    if weight is None or weight == "hops":
        return lambda u, v, d: 1.0
    if callable(weight):
        return weight
    return lambda u, v, d: float(d[weight])


def shortest_path(G: nx.Graph, src: int | str, dst: int | str, *, weight: Weight = None) -> list[str]:
    """Shortest path between two servers (ids or node names) by hops (None), an edge key or a callable."""
    u, v = server_node(src), server_node(dst)
    for n in (u, v):
        if n not in G:
            raise TopologyError(f"node {n} is not in the backhaul")
    try:
        if weight is None or weight == "hops":
            return nx.shortest_path(G, u, v)
        return nx.shortest_path(G, u, v, weight=weight)
    except nx.NetworkXNoPath:
        raise TopologyError(f"no backhaul path from {u} to {v}") from None


def path_delay_s(G: nx.Graph, path: list[str]) -> float:
    """Sum of link delays along a node path."""
    return float(sum(G.edges[u, v]["delay_s"] for u, v in zip(path[:-1], path[1:], strict=True)))


def route(G: nx.Graph, src: int | str, dst: int | str) -> tuple[tuple[tuple[str, str], ...], float]:
    """The directed links ``((n0, n1), (n1, n2), ...)`` of the hop-shortest path and its total delay (s):
    the one routing rule every backend uses.

    Examples
    --------
    >>> G = nx.path_graph(["s0", "a", "s1"])
    >>> nx.set_edge_attributes(G, 0.5, "delay_s")
    >>> route(G, 0, 1)
    ((('s0', 'a'), ('a', 's1')), 1.0)
    """
    u, v = server_node(src), server_node(dst)
    if G.is_directed():
        nodes = shortest_path(G, src, dst)
        return tuple(zip(nodes[:-1], nodes[1:], strict=True)), path_delay_s(G, nodes)
    adj = G._adj  # the graph's own dicts: its views cost more per lookup than the search (a sim pass routes
    # thousands of pairs)
    if u != v and u in adj and v in adj[u]:
        # neighbours (most pairs a policy sends between): the one-hop path is the only hop-shortest one, so
        # this is what the search would return, without the search
        return ((u, v),), float(adj[u][v]["delay_s"])
    for n in (u, v):
        if n not in adj:
            raise TopologyError(f"node {n} is not in the backhaul")
    try:  # what nx.shortest_path runs for a hop path, without its dispatch
        nodes = nx.bidirectional_shortest_path(G, u, v)
    except nx.NetworkXNoPath:
        raise TopologyError(f"no backhaul path from {u} to {v}") from None
    links = tuple(zip(nodes[:-1], nodes[1:], strict=True))
    return links, float(sum(adj[a][b]["delay_s"] for a, b in links))


def path_bottleneck_bps(G: nx.Graph, path: list[str]) -> float:
    """Smallest link capacity along a node path (inf for a one-node path)."""
    caps = [G.edges[u, v]["capacity_bps"] for u, v in zip(path[:-1], path[1:], strict=True)]
    return float(min(caps)) if caps else math.inf


def path_length_stats(
    G: nx.Graph,
    nodes: Iterable[str] | None = None,
    *,
    weight: Weight = None,
    sources: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Statistics of shortest-path lengths between `nodes` (default: every server node).

    Uses scipy's csgraph on the whole graph (paths may cross relays and switches). All unordered pairs are
    measured, unless `sources` is given and smaller than the node count: then that many source nodes are drawn
    (seeded, deterministic) and the pairs are (source, any other node). Returns pairs, connected (pairs with a
    path), sources (None = exact), mean, median, p95 and max of the finite lengths.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path as sp

    order = list(G.nodes)
    index = {n: i for i, n in enumerate(order)}
    sel = [n for n, k in G.nodes(data="kind") if k == "server"] if nodes is None else list(nodes)
    nan = math.nan
    if len(sel) < 2:
        return {
            "pairs": 0,
            "connected": 0,
            "sources": None,
            "mean": nan,
            "median": nan,
            "p95": nan,
            "max": nan,
        }
    fn = _weight_fn(weight)
    tiny = np.finfo(np.float64).tiny  # csgraph drops explicit zeros: keep zero-weight links as links
    rows, cols, vals = [], [], []
    for u, v, d in G.edges(data=True):
        w = max(float(fn(u, v, d)), tiny)
        rows += [index[u], index[v]]
        cols += [index[v], index[u]]
        vals += [w, w]
    m = coo_matrix((vals, (rows, cols)), shape=(len(order), len(order))).tocsr()
    tgt = np.array([index[n] for n in sel])
    unweighted = weight is None or weight == "hops"
    if sources is not None and sources < len(sel):
        pick = np.sort(np.random.default_rng(seed).choice(len(sel), size=sources, replace=False))
        dist = sp(m, directed=False, indices=tgt[pick], unweighted=unweighted)[:, tgt]
        mask = np.ones(dist.shape, dtype=bool)
        mask[np.arange(len(pick)), pick] = False
        lengths = dist[mask]
        n_src: int | None = int(sources)
    else:
        dist = sp(m, directed=False, indices=tgt, unweighted=unweighted)[:, tgt]
        iu, iv = np.triu_indices(len(sel), 1)
        lengths = dist[iu, iv]
        n_src = None
    fin = lengths[np.isfinite(lengths)]
    if len(fin) == 0:
        return {
            "pairs": int(len(lengths)),
            "connected": 0,
            "sources": n_src,
            "mean": nan,
            "median": nan,
            "p95": nan,
            "max": nan,
        }
    return {
        "pairs": int(len(lengths)),
        "connected": int(len(fin)),
        "sources": n_src,
        "mean": float(fin.mean()),
        "median": float(np.median(fin)),
        "p95": float(np.percentile(fin, 95)),
        "max": float(fin.max()),
    }


def link_table(G: nx.Graph) -> pd.DataFrame:
    """The links as a table: u, v, klass, capacity_bps, delay_s, length_m (sorted by u, v)."""
    rows = [
        {
            "u": min(u, v),
            "v": max(u, v),
            "klass": d["klass"],
            "capacity_bps": d["capacity_bps"],
            "delay_s": d["delay_s"],
            "length_m": d.get("length_m", math.nan),
        }
        for u, v, d in G.edges(data=True)
    ]
    cols = ["u", "v", "klass", "capacity_bps", "delay_s", "length_m"]
    return pd.DataFrame(rows, columns=cols).sort_values(["u", "v"], ignore_index=True)
