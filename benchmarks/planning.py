"""Planning benchmark and PerDNN single-client reproductions (Table II, Fig. 7).

    python benchmarks/planning.py              # time to plan (partition + efficiency order) every zoo model
    python benchmarks/planning.py --table2     # PerDNN Table II beside ours
    python benchmarks/planning.py --fig7       # PerDNN Fig. 7 peaks beside ours (+ runs/fig7_<model>.png)

Profiles: odroid-xu4 client, titan-xp server presets (emulator.dnn.devices), Wi-Fi 35 Mbit/s up, 50 down.
Times are medians of `--reps` runs on this machine: wall clock, and CPU time of this process in parentheses;
"cold" builds the problem (and, for DAGs, the frontier structure) inside the timed region; "new profiles" is
plan + order on `PlanProblem.with_profiles` of a prepared problem (graph structures reused, every profile-
dependent table rebuilt); "warm" reuses a prepared problem (its block table and optimum are cached), so the
warm efficiency order is the greedy search alone.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from edgeroam.emulator.dnn.profiles import profile
from edgeroam.emulator.dnn.zoo import ZOO, model_graph
from edgeroam.emulator.planning import (
    PlanProblem,
    efficiency_order,
    ionn_order,
    recursive_order,
    shortest_path_plan,
)
from edgeroam.emulator.planning.summary import perdnn_fig7, perdnn_table2

UP, DOWN = 35e6, 50e6
PAPER_T2 = {  # PerDNN Table II (TARGETS P-T2): upload s, miss (IONN), hit
    "mobilenet_v1": (3.7, 4, 5),
    "inception_21k": (29.3, 33, 44),
    "resnet50": (22.4, 14, 34),
}


def _ms(fn, reps: int) -> tuple[float, float]:
    """Median wall-clock and median CPU milliseconds of `reps` calls (CPU time is what to compare when the
    machine is shared: it leaves out the time spent waiting for a core)."""
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1e3)
        wall.append((time.perf_counter() - t) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def bench(reps: int) -> None:
    cols = ("cold plan+order", "new profiles", "warm eff. order", "ionn order", "recursive")
    print(f"{'model':14} {'L':>4} {'chain':>5} " + " ".join(f"{c + ' ms':>18}" for c in cols) + "   target")
    for name in ZOO:
        g = model_graph(name)
        c, s = profile(g, "odroid-xu4"), profile(g, "titan-xp")

        def cold(g=g, c=c, s=s) -> None:
            prob = PlanProblem(g, c, s, up_bps=UP, down_bps=DOWN)
            shortest_path_plan(prob)
            efficiency_order(prob)

        prob = PlanProblem(g, c, s, up_bps=UP, down_bps=DOWN)
        shortest_path_plan(prob)

        def new_profiles(prob=prob, c=c, s=s) -> None:
            other = prob.with_profiles(c, s, up_bps=UP, down_bps=DOWN)
            shortest_path_plan(other)
            efficiency_order(other)

        times = [
            _ms(cold, reps),
            _ms(new_profiles, reps),
            _ms(lambda prob=prob: efficiency_order(prob), reps),
            _ms(lambda prob=prob: ionn_order(prob), reps),
            _ms(lambda prob=prob: recursive_order(prob), max(1, reps // 3)),
        ]
        target = "< 10 ms" if name == "inception_21k" else ""
        cells = " ".join(f"{med:10.1f} ({lo:5.1f})" for med, lo in times)
        print(f"{name:14} {g.n_layers:4d} {str(g.is_chain):>5} {cells}   {target}")


def table2() -> None:
    for whole in (False, True):
        t = perdnn_table2(whole_model=whole)
        title = "every layer uploaded (paper's upload times)" if whole else "our plan's server-side layers"
        print(f"\nTable II — window = upload of {title}")
        print(
            f"{'model':14} {'MB':>7} {'upload s':>14} {'miss IONN':>14} {'miss eff.':>10} {'hit':>10} "
            f"{'hit/miss':>14}"
        )
        for r in t.itertuples():
            up, miss, hit = PAPER_T2[r.model]
            print(
                f"{r.model:14} {r.server_side_mb:7.1f} {r.upload_s:6.1f} ({up:5.1f}) "
                f"{r.miss_ionn:6d} ({miss:4d}) {r.miss_efficiency:10d} {r.hit:4d} ({hit:3d}) "
                f"{r.hit / r.miss_ionn:6.2f} ({hit / miss:4.2f})"
            )
        print("(paper in parentheses)")


def fig7(out_dir: Path) -> None:
    for name, fractions in (("inception_21k", (12.0,)), ("resnet50", (12.0,)), ("mobilenet_v1", (12.0,))):
        tl, peaks = perdnn_fig7(name, fractions_mb=fractions)
        print(f"\nFig. 7 — {name}: server change at {tl.attrs['change_at_s']:.1f} s")
        print(peaks.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # pragma: no cover
            continue
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for case, d in tl.groupby("case", sort=False):
            ax.step(d["start_s"], d["latency_s"], where="post", marker=".", label=case)
        ax.axvline(tl.attrs["change_at_s"], color="grey", ls=":")
        ax.set_xlabel("query start (s)")
        ax.set_ylabel("query latency (s)")
        ax.set_title(f"{name}: odroid-xu4 -> titan-xp, server change")
        ax.legend(fontsize=8)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"fig7_{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table2", action="store_true", help="PerDNN Table II beside ours")
    ap.add_argument("--fig7", action="store_true", help="PerDNN Fig. 7 peaks beside ours, PNGs into runs/")
    ap.add_argument("--reps", type=int, default=7, help="repetitions per timing (median)")
    ap.add_argument("--out", type=Path, default=Path("runs"), help="where Fig. 7 PNGs go")
    a = ap.parse_args()
    np.set_printoptions(precision=3)
    if a.table2:
        table2()
    if a.fig7:
        fig7(a.out)
    if not (a.table2 or a.fig7):
        bench(a.reps)


if __name__ == "__main__":
    main()
