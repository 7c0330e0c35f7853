"""A cache of backhaul graphs, keyed by everything that shapes one (`cached_backhaul`).

Building the Geolife mesh (1,790 servers, 34 components bridged by relay chains) takes 0.28 s, 0.16 s of it
importing scipy for its Delaunay triangulation and connected components; read from the cache it takes a few
hundredths, and scipy is not imported at all. An entry is the graph as JSON beside the dataset cache: its
attributes, its nodes in order with theirs, and its edges in an order that gives every node its neighbours in
the original order when they are added one by one (networkx keeps a node's neighbours in the order its edges
were added, and shortest paths break ties in that order: the rebuilt graph routes exactly as the built one).

The key is a SHA-256 over the grid, the `BackhaulParams`, the Servers table (every column: name, dtype and
values), the source files of ``edgeroam.topology`` and the installed versions of networkx, scipy and numpy;
any change gives a new key, so a stale graph is never read. An unreadable entry is rebuilt and rewritten; an
unwritable cache folder only costs the next run its build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from edgeroam._digest import package_versions, source_digest
from edgeroam.topology.backhaul import BackhaulParams, build_backhaul
from edgeroam.topology.hexgrid import HexGrid

__all__ = ["BACKHAUL_FORMAT", "backhaul_key", "cached_backhaul", "graph_from_record", "graph_record"]

log = logging.getLogger(__name__)

BACKHAUL_FORMAT = 1  # bump when the stored layout or what a key covers changes
_PACKAGES = ("networkx", "scipy", "numpy")


def _code_digest() -> str:
    """SHA-256 of the code that builds a backhaul: ``edgeroam/topology/*.py``."""
    return source_digest("topology")


def _versions() -> dict[str, str | None]:
    """Installed versions of the packages a build runs on (None: not installed)."""
    return package_versions(*_PACKAGES)


def backhaul_key(grid: HexGrid, servers: pd.DataFrame, params: BackhaulParams) -> str:
    """The hex key of ``build_backhaul(grid, servers, params)``."""
    head = {"format": BACKHAUL_FORMAT, "grid": [grid.radius, list(grid.origin), grid.orientation],
            "params": asdict(params), "code": _code_digest(), "versions": _versions(),
            "index": [repr(x) for x in servers.index.tolist()]}
    h = hashlib.sha256(json.dumps(head, sort_keys=True, default=repr).encode())
    for name in servers.columns:
        col = servers[name]
        values = col.to_numpy()
        h.update(f"\0{name!r}\0{col.dtype}\0".encode())
        if values.dtype.kind in "biufcmM":
            h.update(np.ascontiguousarray(values).tobytes())
        else:
            h.update(json.dumps([repr(x) for x in values.tolist()]).encode())
    return h.hexdigest()


def graph_record(G: nx.Graph) -> dict[str, Any]:
    """An undirected graph as plain data: attributes, nodes in order, edges in an order that gives every
    node its neighbours in `G`'s order when they are added one by one (`graph_from_record`)."""
    edges = list(G.edges(data=True))
    eid = {}
    for i, (u, v, _) in enumerate(edges):
        eid[u, v] = eid[v, u] = i
    # a node's neighbour order is the order its edges were added: each consecutive pair of a node's edges is
    # a constraint; any order that keeps them all (one exists: the order of the build) does
    after: list[list[int]] = [[] for _ in edges]
    before = [0] * len(edges)
    for u, nbrs in G.adj.items():
        ids = [eid[u, v] for v in nbrs]
        for a, b in zip(ids[:-1], ids[1:], strict=True):
            after[a].append(b)
            before[b] += 1
    ready = deque(i for i, n in enumerate(before) if n == 0)
    order: list[int] = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for j in after[i]:
            before[j] -= 1
            if before[j] == 0:
                ready.append(j)
    if len(order) != len(edges):  # pragma: no cover - a graph built by adding edges always has one
        raise ValueError("no edge order reproduces the neighbour orders")
    return {"graph": G.graph, "nodes": [[n, d] for n, d in G.nodes(data=True)],
            "edges": [[edges[i][0], edges[i][1], edges[i][2]] for i in order]}


def graph_from_record(rec: dict[str, Any]) -> nx.Graph:
    """The graph of a `graph_record`."""
    G = nx.Graph()
    G.graph.update(rec["graph"])
    G.add_nodes_from((n, d) for n, d in rec["nodes"])
    for u, v, d in rec["edges"]:
        G.add_edge(u, v, **d)
    return G


def cached_backhaul(
    grid: HexGrid, servers: pd.DataFrame, params: BackhaulParams, *, cache_dir: Path | None
) -> nx.Graph:
    """``build_backhaul(grid, servers, params)``, or the same graph read from `cache_dir` (None: no cache)."""
    if cache_dir is None:
        return build_backhaul(grid, servers, params)
    path = Path(cache_dir) / f"backhaul-{backhaul_key(grid, servers, params)[:32]}.json"
    if path.is_file():
        try:
            return graph_from_record(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("rebuilding the backhaul: %s: %s", path, exc)
    G = build_backhaul(grid, servers, params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # its own name: runs in parallel write alike
        tmp.write_text(json.dumps(graph_record(G)))
        tmp.replace(path)
    except (OSError, TypeError, ValueError) as exc:  # unwritable, or an attribute JSON cannot hold
        log.debug("backhaul cache not written (%s): %s", path, exc)
    return G
