"""From a scenario and its traces to its topology: place the servers, link the backhaul, summarise them.

`build_topology(scenario, traces)` places the servers and links the backhaul of a scenario (`edgeroam.world`
composes it with the datasets into a `World`); `topology_summary(world)` gives the counts and path statistics
the CLI prints, beside PerDNN's implied server counts (TARGETS.md P-D7). The pieces themselves live in
hexgrid/servers/backhaul.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from edgeroam.errors import TopologyError
from edgeroam.scenario import Scenario
from edgeroam.topology.backhaul import BackhaulParams, build_backhaul, path_length_stats
from edgeroam.topology.hexgrid import HexGrid
from edgeroam.topology.servers import add_cloud, servers_from_file, servers_in_region, servers_visited
from edgeroam.topology.tiers import apply_tiers

if TYPE_CHECKING:  # pragma: no cover - the world composes this package; only its type is named here
    from edgeroam.world import World

__all__ = [
    "PERDNN_SERVER_RANGES",
    "UNLIMITED_MBPS",
    "Topology",
    "backhaul_params",
    "build_topology",
    "scenario_grid",
    "topology_summary",
]

#: PerDNN's implied number of edge servers (24 / 86 crowded servers were the top 5–7 %): TARGETS.md P-D7
PERDNN_SERVER_RANGES: dict[str, tuple[int, int]] = {"kaist": (343, 480), "geolife": (1229, 1720)}


@dataclass(frozen=True)
class Topology:
    """Grid, Servers table and backhaul graph of a scenario."""

    grid: HexGrid
    servers: pd.DataFrame
    backhaul: nx.Graph
    crs: str | None = None


def scenario_grid(scenario: Scenario) -> HexGrid:
    """The HexGrid of a scenario's topology section."""
    t = scenario.topology
    return HexGrid(t.radius_m, t.origin or (0.0, 0.0), t.orientation)


#: link capacity of ``topology.backhaul.unlimited`` (1 Pbit/s: a 128 MB plan crosses a hop in 1 µs; the fluid
#: model needs finite capacities)
UNLIMITED_MBPS = 1e9


def backhaul_params(scenario: Scenario) -> BackhaulParams:
    """BackhaulParams from a scenario's topology.backhaul and topology.access sections."""
    b, a = scenario.topology.backhaul, scenario.topology.access
    return BackhaulParams(
        shape=b.shape,
        link=b.link,
        wireless_mbps=UNLIMITED_MBPS if b.unlimited else b.wireless_mbps,
        fibre_mbps=UNLIMITED_MBPS if b.unlimited else b.fibre_mbps,
        wireless_delay_ms=b.wireless_delay_ms,
        fibre_delay_ms=b.fibre_delay_ms,
        cluster_cells=b.cluster_cells,
        master=b.master,
        wan_mbps=b.cloud.wan_mbps,
        wan_delay_ms=b.cloud.wan_delay_ms,
        access_down_mbps=a.down_mbps,
        access_up_mbps=a.up_mbps,
        access_delay_ms=a.delay_ms,
    )


def _metric_polygon(region, crs: str | None):
    """The region polygon in the traces' metric frame (lon/lat regions are projected to `crs`)."""
    if region is None:
        return None
    if region.frame == "metric":
        return region.polygon
    if crs is None:
        raise TopologyError(f"region {region.name} is in lon/lat but the traces have no CRS to project it to")
    import shapely.ops
    from pyproj import Transformer

    tf = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.ops.transform(tf.transform, region.polygon.segmentize(0.0005))


def build_topology(
    scenario: Scenario,
    traces: pd.DataFrame | None = None,
    *,
    test_users: list[str] | None = None,
    region=None,
    cache: bool = False,
) -> Topology:
    """Grid, servers (per `topology.servers`) and backhaul of a scenario over already loaded traces; with
    `cache` the backhaul is read from the cache beside the dataset cache when the same one was built before
    (`edgeroam.topology.cache`: keyed by the grid, the servers, the parameters and the code)."""
    t = scenario.topology
    grid = scenario_grid(scenario)
    crs = traces.attrs.get("crs") if traces is not None else None
    if t.servers == "visited":
        if traces is None:
            raise TopologyError("servers = 'visited' needs the traces")
        src = traces
        if t.servers_of == "test":
            if test_users is None:
                raise TopologyError("servers_of = 'test' needs the test users")
            src = traces[traces["user"].astype(str).isin(test_users)]
        servers = servers_visited(grid, src, profile=t.profile)
    elif t.servers == "region":
        poly = _metric_polygon(region, crs)
        if poly is None:
            raise TopologyError("servers = 'region' needs dataset.region")
        servers = servers_in_region(grid, poly, profile=t.profile)
    else:
        servers = servers_from_file(grid, t.servers_file, profile=t.profile, crs=crs)
    cloud = t.backhaul.cloud
    if cloud.enabled:
        servers = add_cloud(servers, cloud.count, profile=cloud.profile)
    if cache:
        from edgeroam.datasets.load import cache_dir
        from edgeroam.topology.cache import cached_backhaul

        G = cached_backhaul(grid, servers, backhaul_params(scenario), cache_dir=cache_dir())
    else:
        G = build_backhaul(grid, servers, backhaul_params(scenario))
    if t.tiers is not None:
        apply_tiers(G, t.tiers.spec())
    return Topology(grid, servers, G, crs)


def topology_summary(
    world: World, *, raw_cells: int | None = None, path_sources: int | None = 1000
) -> dict[str, Any]:
    """Counts, link classes and path-length statistics of a world, beside PerDNN's implied server counts.

    `raw_cells` (optional) is the number of cells visited by the raw in-region points (before resampling),
    reported to explain a gap with the paper. Path statistics are exact up to `path_sources` servers and
    estimated from that many seeded source servers above it (None: always exact).
    """
    topo, sc = world.topology, world.scenario
    G = topo.backhaul
    servers = topo.servers
    edge = servers[servers["tier"] == "edge"]
    grid = topo.grid
    tr = world.traces
    test = world.test_traces
    ok = np.isfinite(tr["x"].to_numpy()) & np.isfinite(tr["y"].to_numpy())
    cells_all = np.unique(grid.cell_ids_of(tr["x"].to_numpy()[ok], tr["y"].to_numpy()[ok]))
    okt = np.isfinite(test["x"].to_numpy()) & np.isfinite(test["y"].to_numpy())
    cells_test = np.unique(grid.cell_ids_of(test["x"].to_numpy()[okt], test["y"].to_numpy()[okt]))
    kinds = pd.Series(dict(G.nodes(data="kind"))).value_counts().sort_index()
    klass = pd.Series([d["klass"] for _, _, d in G.edges(data=True)]).value_counts().sort_index()
    hops = path_length_stats(G, sources=path_sources, seed=sc.seed)
    delay = path_length_stats(G, weight="delay_s", sources=path_sources, seed=sc.seed)
    ref = PERDNN_SERVER_RANGES.get(sc.dataset.kind)
    n_edge = len(edge)
    out: dict[str, Any] = {
        "scenario": sc.name,
        "dataset": sc.dataset.kind,
        "region": None if world.region is None else world.region.name,
        "interval_s": sc.dataset.interval_s,
        "grid": {
            "radius_m": grid.radius,
            "orientation": grid.orientation,
            "origin": list(grid.origin),
            "cell_area_m2": grid.cell_area,
        },
        "users": {
            "all": int(tr["user"].nunique()),
            "train": len(world.train_users),
            "test": len(world.test_users),
        },
        "points": {"all": int(len(tr)), "test": int(len(test))},
        "cells": {"visited_all_users": int(len(cells_all)), "visited_test_users": int(len(cells_test))},
        "servers": {
            "edge": n_edge,
            "cloud": int((servers["tier"] == "cloud").sum()),
            "rule": sc.topology.servers,
            "of": sc.topology.servers_of,
        },
        "backhaul": {
            "shape": G.graph["shape"],
            "nodes": {str(k): int(v) for k, v in kinds.items()},
            "links": int(G.number_of_edges()),
            "links_by_class": {str(k): int(v) for k, v in klass.items()},
            "components_before_bridging": int(G.graph.get("components", 1)),
            "bridges": int(G.graph.get("bridges", 0)),
            "relays": int(G.graph.get("relays", 0)),
            "connected": bool(nx.is_connected(G)),
            "access": G.graph["access"],
        },
        "paths": {"hops": hops, "delay_s": delay},
    }
    if raw_cells is not None:
        out["cells"]["visited_raw_in_region"] = int(raw_cells)
    if ref is not None:
        lo, hi = ref
        out["perdnn"] = {
            "servers_implied": [lo, hi],
            "ours": n_edge,
            "within": bool(lo <= n_edge <= hi),
            "ratio_to_mid": n_edge / ((lo + hi) / 2),
        }
    return out
