"""Sweep throughput: runs per minute on a Dask LocalCluster with 1 and 2 workers, against a plain loop.

    python benchmarks/sweep.py                                     # 8 demo runs (about 2 s each)
    python benchmarks/sweep.py --scenario perdnn-kaist --runs 4    # runs of about 10 s (issue 24's case)

The same runs (``policy.radius_m`` × ``policy.kind`` of the scenario) are made three ways, each into a fresh
folder: a plain loop of `run_scenario` in this process, then `run_sweep` with 1 and with 2 workers. Dask's
overhead = (1 worker − plain loop) / plain loop, for the runs alone and with the cluster's start. Target
(issue 24): under 10 % for runs of 10 s or more. On a machine shared with other jobs, read the load average
printed beside the numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from edgeroam.emulator.run import run_scenario
from edgeroam.scenario import load_scenario
from edgeroam.sweep import run_sweep, sweep_from_dict
from edgeroam.sweep.dask_runner import open_client


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="demo", help="scenario name or TOML path")
    ap.add_argument("--runs", type=int, default=8, help="number of runs: 2, 4, 6 or 8 (perdnn and ionn)")
    a = ap.parse_args()
    radii = [50, 100, 150, 200][: max(1, min(4, a.runs // 2))]
    sw = sweep_from_dict(
        {
            "name": "bench",
            "scenario": a.scenario,
            "grid": {"policy.radius_m": radii, "policy.kind": ["perdnn", "ionn"]},
        }
    )
    specs = sw.runs()
    print(
        f"{len(specs)} runs of {a.scenario}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for spec in specs:
            run_scenario(load_scenario(a.scenario, spec.overrides), Path(tmp) / "plain", progress=False)
        plain = time.perf_counter() - t0
        rows.append(("plain loop", plain, plain))
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = open_client(None, workers)
            t1 = time.perf_counter()
            res = run_sweep(sw, Path(tmp) / f"dask{workers}", client=client, progress=False)
            t2 = time.perf_counter()
            client.close()
            if res.failed or len(res.executed) != len(specs):
                raise SystemExit(f"sweep did not run every run: {res.table[['run_id', 'status', 'error']]}")
            rows.append((f"dask, {workers} worker{'s' if workers > 1 else ''}", t2 - t1, t2 - t0))
    print(f"{'':18} {'runs s':>8} {'runs/min':>9} {'overhead':>9} {'with start s':>13} {'overhead':>9}")
    for name, runs_s, with_start in rows:
        over = "" if name == "plain loop" else f"{100 * (runs_s - plain) / plain:+.1f} %"
        over_s = "" if name == "plain loop" else f"{100 * (with_start - plain) / plain:+.1f} %"
        rate = 60 * len(specs) / runs_s
        print(f"{name:18} {runs_s:8.1f} {rate:9.1f} {over:>9} {with_start:13.1f} {over_s:>9}")
    print(
        f"mean run {plain / len(specs):.1f} s (plain loop); load average now {os.getloadavg()[0]:.1f}; "
        "target: overhead under 10 % for runs of 10 s or more"
    )


if __name__ == "__main__":
    main()
