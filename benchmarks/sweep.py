"""Sweep throughput: runs per minute on a Dask LocalCluster with 1 and 2 workers, against a plain loop.

    python benchmarks/sweep.py                                        # 8 demo runs (about 2 s each)
    python benchmarks/sweep.py --scenario perdnn-kaist --policies fractional --set 'dnn.model="resnet"' \\
        --runs 4                                                      # runs of 10 s or more (issue 24's case)

The same runs (``policy.radius_m`` × ``policy.kind``, with the `--set` overrides) are made three ways, each
into a fresh folder: a plain loop of `run_scenario` in this process, then `run_sweep` with 1 and with 2
workers. Dask's overhead = (1 worker − plain loop) / plain loop, three ways:

- by wall time, for the runs alone and with the cluster's start (what a user waits; on a machine shared with
  other jobs it moves with their load, so the load averages are printed beside it);
- by CPU time: this process (client and scheduler) plus every process it started (the cluster's nannies and
  workers), user + system, while the runs ran. Part of it is the idle cluster's housekeeping (heartbeats,
  monitors), measured for `IDLE_S` seconds after the 1-worker runs: a share of a core for as long as the
  sweep lasts, so on a loaded machine, where runs last longer, it weighs more. The projection for an
  unloaded machine (a run's wall time equal to its CPU time) = the runs' extra CPU + that share;
- outside the runs: the wall time beyond the runs' own wall times (each run directory's ``timing.wall_s``,
  measured where it ran), minus the same for the plain loop: what Dask adds around the runs.

Target (issue 24): under 10 % for runs of 10 s or more; with shorter runs the target does not apply and the
verdict says so. A verdict is printed for each way.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psutil

from edgeroam.emulator.run import run_scenario
from edgeroam.emulator.rundir import open_run_dir
from edgeroam.scenario import load_scenario
from edgeroam.sweep import run_sweep, sweep_from_dict
from edgeroam.sweep.dask_runner import open_client

TARGET_PCT = 10.0
IDLE_S = 15.0
MIN_RUN_S = 10.0


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


def _cpu_s() -> float:
    """User + system CPU seconds of this process and every live process it started (cluster processes)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def _import_edgeroam() -> None:
    """What this process imported before its plain loop, imported on a worker before its runs are timed."""
    import edgeroam.emulator.run
    import edgeroam.scenario  # noqa: F401


def _verdict(pct: float, mean_run: float) -> str:
    if mean_run < MIN_RUN_S:
        return f"{pct:+.1f} % (not applicable: mean run {mean_run:.1f} s < {MIN_RUN_S:g} s)"
    return f"{pct:+.1f} % {'met' if pct < TARGET_PCT else 'not met'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="demo", help="scenario name or TOML path")
    ap.add_argument("--runs", type=int, default=8, help="number of runs (radii 50, 100, ... × policies)")
    ap.add_argument("--policies", default="perdnn,ionn", help="comma-separated policy.kind values")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="fixed scenario override (repeatable), as edgeroam run --set")
    a = ap.parse_args()
    policies = [p.strip() for p in a.policies.split(",") if p.strip()]
    radii = [50 * (i + 1) for i in range(max(1, a.runs // len(policies)))]
    sw = sweep_from_dict({
        "name": "bench",
        "scenario": a.scenario,
        "set": a.overrides,
        "grid": {"policy.radius_m": radii, "policy.kind": policies},
    })
    specs = sw.runs()
    print(f"{len(specs)} runs of {a.scenario} ({', '.join(a.overrides) or 'no overrides'}; "
          f"r = {radii} × {policies}) on {os.cpu_count()} CPUs, {_load()}, niceness {os.nice(0)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu_s()
        own = 0.0
        for spec in specs:
            sc = load_scenario(a.scenario, spec.overrides)
            path = run_scenario(sc, Path(tmp) / "plain", progress=False)
            own += float(open_run_dir(path).summary["timing"]["wall_s"])
        plain = time.perf_counter() - t0
        rows.append(("plain loop", plain, plain, own, _cpu_s() - c0, _load()))
        idle = 0.0
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = open_client(None, workers)
            client.run(_import_edgeroam)  # part of the start, as the plain loop's imports are
            t1, c1 = time.perf_counter(), _cpu_s()
            res = run_sweep(sw, Path(tmp) / f"dask{workers}", client=client, progress=False)
            t2, c2 = time.perf_counter(), _cpu_s()
            if workers == 1:
                time.sleep(IDLE_S)
                idle = (_cpu_s() - c2) / IDLE_S  # housekeeping of the idle cluster, in cores
            client.close()
            if res.failed or len(res.executed) != len(specs):
                raise SystemExit(f"sweep did not run every run: {res.table[['run_id', 'status', 'error']]}")
            own = float(res.table["timing.wall_s"].sum())
            name = f"dask, {workers} worker{'s' if workers > 1 else ''}"
            rows.append((name, t2 - t1, t2 - t0, own, c2 - c1, _load()))
    plain_cpu = rows[0][4]
    print(f"{'':16} {'runs s':>7} {'runs/min':>8} {'vs loop':>8} {'+start s':>8} {'vs loop':>8} "
          f"{'runs own s':>10} {'CPU s':>7} {'vs loop':>8}  load after")
    for name, runs_s, with_start, own, cpu, load in rows:
        loop = name == "plain loop"
        vs = "" if loop else f"{100 * (runs_s - plain) / plain:+.1f} %"
        vs_s = "" if loop else f"{100 * (with_start - plain) / plain:+.1f} %"
        vs_cpu = "" if loop else f"{100 * (cpu - plain_cpu) / plain_cpu:+.1f} %"
        print(f"{name:16} {runs_s:7.1f} {60 * len(specs) / runs_s:8.1f} {vs:>8} {with_start:8.1f} {vs_s:>8} "
              f"{own:10.1f} {cpu:7.1f} {vs_cpu:>8}  {load}")
    one = rows[1]
    mean_run = plain / len(specs)
    by_wall = 100 * (one[1] - plain) / plain
    by_cpu = 100 * (one[4] - plain_cpu) / plain_cpu
    outside = 100 * ((one[1] - one[3]) - (plain - rows[0][3])) / plain
    runs_cpu = 100 * (one[4] - idle * one[1] - plain_cpu) / plain_cpu  # beyond housekeeping
    unloaded = runs_cpu + 100 * idle
    print(f"mean run {mean_run:.1f} s (plain loop); 2 workers: {plain / rows[2][1]:.2f}x the plain loop's "
          "rate")
    print(f"Dask overhead, 1 worker vs plain loop (target < {TARGET_PCT:g} % for runs >= {MIN_RUN_S:g} s): "
          f"by wall {_verdict(by_wall, mean_run)}; by CPU {_verdict(by_cpu, mean_run)}; "
          f"outside the runs {_verdict(outside, mean_run)}")
    print(f"by CPU = the runs' extra CPU {runs_cpu:+.1f} % + housekeeping ({100 * idle:.1f} % of a core) "
          f"over {one[1]:.0f} s; projected for an unloaded machine: {_verdict(unloaded, mean_run)}")


if __name__ == "__main__":
    main()
