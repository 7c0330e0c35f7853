"""Benchmark the mobility predictors on the PerDNN scenarios: training time and prediction throughput.

For KAIST and Geolife (scenarios/perdnn-*.toml): train each predictor on the train users, then time
(1) one batched prediction of every test window (predictions/s) and (2) the emulator's case, one batched call
for all users active at one tick (the busiest tick of the test set) and for a batch of 100 users, per user.
Targets (issue 4): batched SVR well under 1 ms per user per tick; LSTM training under 5 minutes.

    python benchmarks/predictors.py [--datasets kaist geolife] [--kinds svr lstm ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

KINDS = ["markov", "svr", "lstm", "stay", "velocity", "svr-mode"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["kaist", "geolife"])
    ap.add_argument("--kinds", nargs="+", default=KINDS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    from edgeroam.sweep.predict_docs import predictor_costs  # also `reproduce --only table3-cost`

    rows = [r for d in args.datasets for r in predictor_costs(f"perdnn-{d}", args.kinds)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"Predictors: training and prediction time ({platform.processor() or platform.machine()}, "
        f"torch threads = 1, sklearn {__import__('sklearn').__version__}, torch {torch.__version__})"
    )
    for col in (
        "dataset",
        "predictor",
        "train win",
        "fit s",
        "pred/s (all test)",
        "tick users",
        "µs/user/tick",
        "µs/user @100",
    ):
        t.add_column(col, justify="left" if col in ("dataset", "predictor") else "right")
    for r in rows:
        t.add_row(
            r["dataset"],
            r["predictor"] + (f" ({r['epochs']} ep)" if r["epochs"] else ""),
            f"{r['train_windows']:,}",
            f"{r['fit_s']:.2f}",
            f"{r['pred_per_s']:,.0f}",
            str(r["tick_users"]),
            f"{r['tick_us_per_user']:.1f}",
            f"{r['us_per_user_at_100']:.1f}",
        )
    console = Console(width=160)
    console.print(t)
    svr = [r for r in rows if r["predictor"] == "svr"]
    lstm = [r for r in rows if r["predictor"] == "lstm"]
    for r in svr:
        ok = r["tick_us_per_user"] < 1000
        console.print(
            f"{r['dataset']}: batched SVR {r['tick_us_per_user']:.1f} µs per user per tick "
            f"(target < 1000 µs): {'met' if ok else 'NOT met'}"
        )
    for r in lstm:
        ok = r["fit_s"] < 300
        console.print(
            f"{r['dataset']}: LSTM training {r['fit_s']:.1f} s (target < 300 s): {'met' if ok else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
