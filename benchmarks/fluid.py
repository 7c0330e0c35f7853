"""Benchmark of the sim backend's fluid network: events/s and wall time with 1k and 10k concurrent flows.

A random connected mesh (networkx random regular graph, both directions of each edge as links, 100 Mbps
or 1 Gbps) carries a closed loop of flows between random server pairs on shortest paths: every completion
starts a new flow at once, so the number of concurrent flows stays N. We time the ramp (starting N flows at
t = 0 and the first max-min computation) and then M completions (each: advance, finish, recompute, re-arm).
CPU time is reported beside wall time because other work on the machine inflates the wall clock. There is no
reference number for this engine; the table shows what one recomputation costs at each scale.

Run: ``python benchmarks/fluid.py [--quick]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import networkx as nx
import numpy as np
from rich.console import Console
from rich.table import Table

from edgeroam._rng import as_generator
from edgeroam.emulator.sim import Engine, FluidNetwork, backhaul_links, path_links


def mesh(n_nodes: int, degree: int, seed: int) -> nx.Graph:
    """A random connected `degree`-regular mesh with mixed wireless (100 Mbps) and fibre (1 Gbps) edges."""
    rng = as_generator(seed)
    g = nx.random_regular_graph(degree, n_nodes, seed=int(rng.integers(2**31)))
    while not nx.is_connected(g):
        g = nx.random_regular_graph(degree, n_nodes, seed=int(rng.integers(2**31)))
    for u, v in sorted(g.edges()):
        g.edges[u, v]["capacity_bps"] = 1e9 if rng.random() < 0.3 else 1e8
    return g


def run_case(n_flows: int, completions: int, n_nodes: int = 100, degree: int = 4, seed: int = 1) -> dict:
    """Keep `n_flows` flows in flight until `completions` of them finished; return timings."""
    rng = as_generator(seed)
    g = mesh(n_nodes, degree, seed)
    paths = dict(nx.all_pairs_shortest_path(g))
    nodes = np.array(sorted(g.nodes()))
    eng = Engine()
    net = FluidNetwork(eng, backhaul_links(g), interval_s=30.0)
    state = {"done": 0}

    def random_path() -> list:
        src, dst = rng.choice(nodes, size=2, replace=False)
        return path_links(paths[int(src)][int(dst)])

    def flow(eng):
        while state["done"] < completions:
            yield net.transfer(random_path(), float(rng.uniform(1e5, 2e7)))  # 100 kB .. 20 MB layers
            state["done"] += 1

    t0 = time.perf_counter()
    for i in range(n_flows):
        eng.process(flow(eng), name=f"flow-loop-{i}")
    eng.run(until=1e-9)  # starts and the first recomputation
    t_ramp = time.perf_counter() - t0
    ev0, rc0 = eng.processed_events, net.recomputations
    t1, c1 = time.perf_counter(), time.process_time()
    while state["done"] < completions:
        eng.step()
    wall = time.perf_counter() - t1
    cpu = time.process_time() - c1
    hops = np.mean([len(p) - 1 for d in paths.values() for p in d.values() if len(p) > 1])
    return {
        "flows": n_flows,
        "links": len(net.links),
        "hops": float(hops),
        "ramp_s": t_ramp,
        "completions": state["done"],
        "events": eng.processed_events - ev0,
        "recomputations": net.recomputations - rc0,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": (eng.processed_events - ev0) / wall,
        "ms_per_recompute": 1e3 * cpu / max(1, net.recomputations - rc0),
        "sim_s": eng.now,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer completions (smoke run)")
    args = parser.parse_args()
    cases = [(100, 300 if args.quick else 5_000), (1_000, 300 if args.quick else 3_000),
             (10_000, 100 if args.quick else 1_000)]
    table = Table(title="edgeroam sim: fluid network (closed loop, random 4-regular mesh of 100 servers)")
    for col in ["concurrent flows", "links", "mean hops", "ramp (s)", "completions", "events",
                "wall (s)", "CPU (s)", "events/s (wall)", "CPU ms / recompute", "sim time (s)",
                "peak RSS (MB)"]:
        table.add_column(col, justify="right")
    for n, m in cases:
        r = run_case(n, m)
        table.add_row(f"{r['flows']:,}", str(r["links"]), f"{r['hops']:.2f}", f"{r['ramp_s']:.2f}",
                      f"{r['completions']:,}", f"{r['events']:,}", f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}",
                      f"{r['events_per_s']:,.0f}", f"{r['ms_per_recompute']:.2f}", f"{r['sim_s']:.1f}",
                      f"{r['peak_rss_mb']:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
