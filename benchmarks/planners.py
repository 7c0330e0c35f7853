"""Planner benchmark: EosDNN's PSO-GA at the issue's size, and how every planner scales.

    python benchmarks/planners.py              # PSO-GA, 4 clients x 12 tasks x 11 servers, and the reference
    python benchmarks/planners.py --scaling    # + time and peak memory of every planner as it grows
    python benchmarks/planners.py --model vgg19  # another model for the 12 tasks

The headline run is the paper's PSO-GA (N = 100 particles, 600 iterations, GA seed of 100 generations,
AlexNet tasks, 4 clients, 6 edge + 5 cloud servers = 11 servers). "reference" is the same Eq. (1)-(11)
fitness written as one scalar event loop per particle (plain Python, what a direct transcription of the
paper does); it is timed on a few particles, checked equal to the swarm-vectorised fitness, and its time for
the whole run is extrapolated from its per-plan cost. Times are wall clock on this machine (CPU time in
parentheses; the machine may be shared, CPU time is then the fairer number); memory = tracemalloc peak of
the Python heap (numpy arrays included), measured in a separate run because tracing slows numpy down.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from edgeroam.emulator.planning import eosdnn as eos
from edgeroam.emulator.planning.lmu import from_groups, lmu_schedule, model_upload_problem
from edgeroam.emulator.planning.upload import ionn_order, recursive_order


def reference_md(env: eos.Environment, wl: eos.Workload, plan: np.ndarray) -> float:
    """Eq. (11) of one plan by a scalar loop (the transcription the vectorised fitness is checked against):
    subtasks in arrival order (ties: dispatch order), each on its node's earliest-free slot."""
    free = [[0.0] * int(p) for p in env.pools]
    inv = env.inv_bw
    chain: list[list[int]] = [[] for _ in range(wl.n_tasks)]
    for j in sorted(range(wl.n_subtasks), key=lambda j: (wl.task[j], wl.layer[j])):
        chain[wl.task[j]].append(j)
    nxt = [0] * wl.n_tasks
    ready = [0.0] * wl.n_tasks  # when each task's previous subtask finished
    total = 0.0

    def t2(j: int) -> float:
        src = int(plan[wl.prev[j]]) if wl.prev[j] >= 0 else int(wl.owner[j])
        return 0.0 if wl.in_bytes[j] == 0 else float(wl.in_bytes[j] * inv[src, int(plan[j])])

    for _ in range(wl.n_subtasks):
        arrive, j, t = min((ready[t] + t2(c[nxt[t]]), c[nxt[t]], t) for t, c in enumerate(chain)
                           if nxt[t] < len(c))
        d = int(plan[j])
        t1 = float(wl.cycles[j] / env.hz[d])
        slots = free[d]
        s = min(range(len(slots)), key=slots.__getitem__)
        start = max(arrive, slots[s])
        slots[s] = ready[t] = start + t1
        nxt[t] += 1
        total += t1 + t2(j) + (start - arrive)
    return total


def _timed(fn, memory: bool = True):  # noqa: ANN001, ANN202
    """Result, wall s, CPU s of one call; then (if `memory`) the traced peak bytes of a second call."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = 0
    if memory:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, wall, cpu, peak


def headline(model: str, seed: int, memory: bool) -> None:
    env = eos.eosdnn_environment(4, 6, 5, seed=seed)
    wl = eos.make_workload(env, [model] * 12)
    print(f"PSO-GA: 4 clients x 12 {model} tasks x 11 servers (6 edge + 5 cloud) = {wl.n_subtasks} subtasks; "
          "N = 100, 600 iterations, GA seed 100 generations")
    res, wall, cpu, peak = _timed(lambda: eos.pso_ga(env, wl, seed=seed), memory=memory)
    per_eval = wall / res.evaluations
    print(f"  vectorised: {wall:6.2f} s ({cpu:.2f} s CPU), {res.evaluations} plans = {per_eval * 1e6:.1f} us "
          f"per plan, peak {peak / 2**20:.1f} MiB (0 = not measured), MD {res.md:.3f} s   target < 10 s: "
          f"{'met' if wall < 10 else 'MISSED'}")
    x = eos.random_swarm(wl, 5, seed)
    vec = eos.migration_delay(env, wl, x)
    t = time.perf_counter()
    ref = np.array([reference_md(env, wl, p) for p in x])
    ref_per = (time.perf_counter() - t) / len(x)
    if not np.allclose(vec, ref, rtol=1e-9):
        raise SystemExit(f"vectorised fitness differs from the reference: {vec} vs {ref}")
    print(f"  reference:  {ref_per * 1e3:.2f} ms per plan (scalar loop, equal to 1e-9) -> "
          f"{ref_per * res.evaluations:6.1f} s for the same {res.evaluations} plans "
          f"(x{ref_per / per_eval:.0f} slower)")


def scaling(seed: int) -> None:
    print("\nScaling (wall s / peak MiB). Planners on AlexNet tasks; PSO-GA, GA, prePSO at N = 100 with "
          "100 iterations here (time is linear in iterations)")
    print(f"{'clients':>7} {'tasks':>5} {'servers':>7} {'subtasks':>8} " + " ".join(
        f"{n:>16}" for n in ("greedy", "ga", "prepso", "pso-ga")))
    for clients, tasks, edges, clouds in ((2, 4, 3, 2), (4, 12, 6, 5), (4, 24, 6, 5), (8, 24, 10, 10),
                                          (8, 48, 10, 10)):
        env = eos.eosdnn_environment(clients, edges, clouds, seed=seed)
        wl = eos.make_workload(env, ["alexnet"] * tasks)
        cells = []
        for fn in (lambda e=env, w=wl: eos.greedy(e, w),
                   lambda e=env, w=wl: eos.genetic(e, w, generations=100, seed=seed),
                   lambda e=env, w=wl: eos.pre_pso(e, w, iterations=100, seed=seed),
                   lambda e=env, w=wl: eos.pso_ga(e, w, iterations=100, ga_generations=20, seed=seed)):
            _, wall, _, peak = _timed(fn)
            cells.append(f"{wall:7.2f} /{peak / 2**20:6.1f}")
        print(f"{clients:7d} {tasks:5d} {edges + clouds:7d} {wl.n_subtasks:8d} " + " ".join(
            f"{c:>16}" for c in cells))
    print("\nUpload planners on one client -> one edge (10 MB/s), by model size (layers)")
    print(f"{'model':10} {'layers':>6} " + " ".join(f"{n:>16}" for n in ("lmu", "ionn", "recursive")))
    for model in ("alexnet", "vgg19"):
        up, prob2 = model_upload_problem(model)
        cells = []
        for fn in (lambda up=up: lmu_schedule(up),
                   lambda p=prob2, up=up: from_groups(up, ionn_order(p).groups, "ionn"),
                   lambda p=prob2, up=up: recursive_order(p, target=up.offloaded)):
            _, wall, _, peak = _timed(fn)
            cells.append(f"{wall:7.3f} /{peak / 2**20:6.1f}")
        print(f"{model:10} {up.n:6d} " + " ".join(f"{c:>16}" for c in cells))


def two_step_scaling(seed: int) -> None:
    """EosDNN's two-step migration against one-step PSO-GA on DAG models (100 iterations)."""
    from edgeroam.emulator.planning.twostep import two_step

    print("\nTwo-step migration (GoogLeNet / ResNet-101 tasks, 4 clients, 5 edges, 5 clouds, 100 "
          "iterations): wall s / peak MiB, MD s")
    print(f"{'model':10} {'tasks':>5} {'one-step PSO-GA':>24} {'two-step':>24}")
    env = eos.eosdnn_environment(4, 5, 5, seed=seed)
    kw = {"iterations": 100, "ga_generations": 16, "seed": seed}
    for model, tasks in (("googlenet", 4), ("googlenet", 12), ("resnet101", 4)):
        wl = eos.make_workload(env, [model] * tasks)
        one, w1, _, p1 = _timed(lambda wl=wl: eos.pso_ga(env, wl, **kw))
        two, w2, _, p2 = _timed(lambda m=model, n=tasks: two_step(env, [m] * n, **kw))
        print(f"{model:10} {tasks:5d} {f'{w1:.2f} /{p1 / 2**20:.1f}, {one.md:.3f}':>24} "
              f"{f'{w2:.2f} /{p2 / 2**20:.1f}, {two.md:.3f}':>24}")


def scheduling_scaling() -> None:
    """S3's scheduler: time of one 150-task run per method as the model grows (layers)."""
    from edgeroam.emulator.planning.scheduling import METHODS, model_cut_table, simulate

    print("\nS3 scheduling, 5 edges x 30 frames, 4G (wall s / peak MiB; cut table built outside)")
    print(f"{'model':10} {'layers':>6} " + " ".join(f"{m:>16}" for m in METHODS))
    for model in ("alexnet", "darknet19", "resnet18", "googlenet"):
        t = model_cut_table(model, 5.85e6)
        cells = []
        for m in METHODS:
            _, wall, _, peak = _timed(lambda t=t, m=m: simulate(t, m))
            cells.append(f"{wall:7.3f} /{peak / 2**20:6.1f}")
        print(f"{model:10} {t.n:6d} " + " ".join(f"{c:>16}" for c in cells))
    print("\nEvery planner with its S2 classification and cost: edgeroam planners --measure")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scaling", action="store_true", help="also the scaling tables of every planner")
    ap.add_argument("--model", default="alexnet", help="zoo model of the 12 tasks (default alexnet)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the environment and the planners")
    a = ap.parse_args()
    headline(a.model, a.seed, a.scaling)
    if a.scaling:
        scaling(a.seed)
        two_step_scaling(a.seed)
        scheduling_scaling()


if __name__ == "__main__":
    main()
