"""S2's view of every planner: its five-dimension classification and its measured cost as problems grow.

Xu et al.'s survey (DIGEST §3.3-3.4) classifies a DNN-partition method by deployment locations, partition
granularity, constraints, optimisation objectives and algorithm, and compares methods on the number of
performances optimised, space and time complexity, self-adaptability, generalizability and scalability.
`PLANNERS` holds that classification for each planner of emulator.planning; `measure` times one planner
(wall seconds and traced peak memory) on a problem of a given size: layers (the zoo model), users (clients,
one task each) and servers.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass

from edgeroam.errors import PlanningError

__all__ = ["PLANNERS", "Classification", "measure"]


@dataclass(frozen=True)
class Classification:
    """S2 §4's five dimensions plus the §5.1 qualitative metrics of one planner."""

    deployment: str
    granularity: str
    constraints: str
    objectives: str
    algorithm: str
    paper: str
    performances: int
    adaptive: bool
    general: bool
    scalable: bool
    module: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def _c(dep: str, gran: str, cons: str, obj: str, alg: str, paper: str, perf: int, adaptive: bool,
       general: bool, scalable: bool, module: str) -> Classification:
    return Classification(dep, gran, cons, obj, alg, paper, perf, adaptive, general, scalable, module)


#: planner name -> classification (S2 Table 3 vocabulary: Edges-Ends, Cloud-Edges-Ends, Layers, ...); the
#: performances / adaptive / general / scalable of PerDNN, DADS, Neurosurgeon, IONN and EPDNN are S2 Table 4's
#: rows for those papers, the others are ours by the same definitions
PLANNERS: dict[str, Classification] = {
    "shortest-path": _c("Edges-Ends", "Layers", "Computation resource", "Latency", "Shortest Path",
                        "PerDNN / IONN", 2, True, True, True, "planning.partition"),
    "mincut": _c("Edges-Ends", "Layers", "Computation resource", "Latency", "Min cut (max flow)",
                 "DADS / S0 [3]", 2, True, True, True, "planning.partition"),
    "neurosurgeon": _c("Edges-Ends", "Layers", "Computation resource", "Latency",
                       "Benchmarking (enumeration)", "Neurosurgeon", 3, True, True, False,
                       "planning.partition"),
    "efficiency-order": _c("Edges-Ends", "Layers", "Network bandwidth", "Latency", "Greedy",
                           "PerDNN / Shin et al.", 1, True, True, False, "planning.upload"),
    "ionn-order": _c("Edges-Ends", "Layers", "Network bandwidth", "Latency", "Shortest Path",
                     "IONN", 3, True, True, False, "planning.upload"),
    "recursive-order": _c("Edges-Ends", "Layers", "Network bandwidth", "Latency", "Greedy",
                          "Shin et al. (S0 [15])", 1, True, True, False, "planning.upload"),
    "pso-ga": _c("Cloud-Edges-Ends", "Layers", "Computation resource, device quantity", "Latency",
                 "PSO-GA", "EosDNN", 1, False, True, True, "planning.eosdnn"),
    "ga": _c("Cloud-Edges-Ends", "Layers", "Computation resource, device quantity", "Latency",
             "Heuristic (GA)", "EosDNN baseline [23]", 1, False, True, True, "planning.eosdnn"),
    "prepso": _c("Cloud-Edges-Ends", "Layers", "Computation resource, device quantity", "Latency",
                 "Heuristic (PSO)", "EosDNN baseline [30]", 1, False, True, True, "planning.eosdnn"),
    "greedy": _c("Cloud-Edges-Ends", "Layers", "Computation resource, device quantity", "Latency", "Greedy",
                 "EosDNN baseline [45]", 1, True, True, True, "planning.eosdnn"),
    "two-step": _c("Cloud-Edges-Ends", "Layers", "Computation resource, device quantity", "Latency",
                   "PSO-GA + enumeration", "EosDNN", 1, False, True, True, "planning.twostep"),
    "lmu": _c("Cloud-Edges-Ends", "Layers", "Network bandwidth", "Latency", "Greedy (ELDA)",
              "EosDNN", 1, True, True, True, "planning.lmu"),
    "single-cutting": _c("Cloud-Edges", "Layers", "Network bandwidth", "Latency",
                         "Benchmarking (enumeration)", "S3", 1, False, True, True, "planning.scheduling"),
    "scheduling-queuing": _c("Cloud-Edges", "Layers", "Network bandwidth, computation resource", "Latency",
                             "Heuristic (queue-aware cut)", "S3", 1, True, False, True,
                             "planning.scheduling"),
}


def _runner(
    name: str, model: str, users: int, servers: int, iterations: int, seed: int
) -> Callable[[], object]:
    """A zero-argument call running planner `name` on the given size (built outside the timed region)."""
    from edgeroam.emulator.dnn.profiles import profile
    from edgeroam.emulator.dnn.zoo import model_graph
    from edgeroam.emulator.planning import eosdnn as eos

    if name in ("pso-ga", "ga", "prepso", "greedy", "lmu", "two-step"):
        edges = max(1, (servers + 1) // 2)
        env = eos.eosdnn_environment(users, edges, max(0, servers - edges), seed=seed)
        if name == "two-step":
            from edgeroam.emulator.planning.twostep import two_step

            return lambda: two_step(env, [model] * users, iterations=iterations,
                                    ga_generations=max(1, iterations // 6), seed=seed)
        wl = eos.make_workload(env, [model] * users)
        if name == "pso-ga":
            return lambda: eos.pso_ga(env, wl, iterations=iterations, ga_generations=max(1, iterations // 6),
                                      seed=seed)
        if name == "ga":
            return lambda: eos.genetic(env, wl, generations=iterations, seed=seed)
        if name == "prepso":
            return lambda: eos.pre_pso(env, wl, iterations=iterations, seed=seed)
        if name == "greedy":
            return lambda: eos.greedy(env, wl)
        from edgeroam.emulator.planning.lmu import lmu_schedule, placement_upload_problem

        plan = eos.greedy(env, wl).plan
        ups = [placement_upload_problem(env, wl, plan, t) for t in range(users)]
        return lambda: [lmu_schedule(u) for u in ups]
    if name in ("single-cutting", "scheduling-queuing"):
        from edgeroam.emulator.planning.scheduling import model_cut_table, simulate

        table = model_cut_table(model, 5.85e6)
        method = "single" if name == "single-cutting" else "queue"
        return lambda: simulate(table, method, edges=users)
    from edgeroam.emulator.planning import partition, upload

    g = model_graph(model)
    c, s = profile(g, "odroid-xu4"), profile(g, "titan-xp")
    fn = {"shortest-path": partition.shortest_path_plan, "mincut": partition.mincut_plan,
          "neurosurgeon": partition.neurosurgeon_plan, "efficiency-order": upload.efficiency_order,
          "ionn-order": upload.ionn_order, "recursive-order": upload.recursive_order}[name]
    # a fresh problem per user: PlanProblem caches its optimum, and each user has its own
    return lambda: [fn(partition.PlanProblem(g, c, s, up_bps=35e6, down_bps=50e6)) for _ in range(users)]


def measure(name: str, *, model: str = "alexnet", users: int = 1, servers: int = 2, iterations: int = 20,
            seed: int = 0) -> dict[str, float]:
    """Wall seconds and traced peak MiB of one run of planner `name` (swarm planners: `iterations`).

    Single-server planners (partition, upload orders) run once per user; `servers` only matters for the
    EosDNN family (half edges, half clouds); S3's scheduler runs `users` edges.
    """
    if name not in PLANNERS:
        raise PlanningError(f"unknown planner {name!r}; choose one of {', '.join(PLANNERS)}")
    if users < 1 or servers < 1:
        raise PlanningError(f"users and servers must be >= 1, got {users} and {servers}")
    run = _runner(name, model, users, servers, iterations, seed)
    t = time.perf_counter()
    run()
    wall = time.perf_counter() - t
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"seconds": wall, "peak_mib": peak / 2**20}
