"""The n and t study of PerDNN Fig. 6: how history length n and interval t trade accuracy against futility.

Left panel: MAE of the predictor (linear SVR, as in the paper) against n = 1 … 10 for t = 15, 20, 25, 30 s.
For a fair comparison across n, every n is scored on the same test targets: the windows of the longest n,
truncated to their last n positions. Right panel: for t = 15 … 60 s (n = 5): the futile ratio f/p, the MAE,
the accuracy a (the prediction lies within the service range R of the next server, non-futile predictions;
`edgeroam.mobility.futile.service_range_accuracy`) and PerDNN's benefit/cost a·(p − f)/p
(`edgeroam.mobility.futile.benefit_cost`); the best t maximises it. Trained on the scenario's train users,
scored on its test users. Data loading and training are evaluate.py's; drawing is `plot_study`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.mobility.futile import PERDNN_INTERVALS, benefit_cost, service_range_accuracy
from edgeroam.predictors.evaluate import prepare_data, train_predictor

__all__ = ["StudyResult", "plot_study", "run_study"]

Progress = Callable[[int, int, str], None]


@dataclass
class StudyResult:
    """Tables of the study.

    Attributes
    ----------
    by_n : DataFrame
        Columns interval_s, n, mae_m (all test predictions), mae_nonfutile_m, windows.
    by_t : DataFrame
        Index interval_s; columns p, f, futile_ratio, mae_m, mae_nonfutile_m, a, benefit_cost.
    best_t : float
        The interval with the largest benefit/cost.
    info : dict
    """

    by_n: pd.DataFrame
    by_t: pd.DataFrame
    best_t: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "by_n": self.by_n.to_dict(orient="records"),
            "by_t": self.by_t.reset_index().to_dict(orient="records"),
            "best_t": self.best_t,
            "info": self.info,
        }


def _errors(pred: np.ndarray, w: Any) -> tuple[float, float]:
    err = np.hypot(*(pred - w.targets).T)
    nf = ~w.meta["futile"].to_numpy()
    return float(err.mean()), float(err[nf].mean()) if nf.any() else float("nan")


def run_study(
    scenario: Any,
    *,
    kind: str = "svr",
    ns: Sequence[int] = tuple(range(1, 11)),
    n_intervals: Sequence[float] = (15.0, 20.0, 25.0, 30.0),
    t_intervals: Sequence[float] = PERDNN_INTERVALS,
    n_for_t: int = 5,
    progress: Progress | None = None,
) -> StudyResult:
    """Run both panels of Fig. 6 for `scenario` with a predictor of `kind` (default linear SVR)."""
    intervals = sorted({float(t) for t in n_intervals} | {float(t) for t in t_intervals})
    total = sum(len(ns) for t in intervals if t in n_intervals) + len(
        [t for t in intervals if t in t_intervals]
    )
    done = 0
    rows_n: list[dict[str, Any]] = []
    rows_t: list[dict[str, Any]] = []
    nmax = max(ns)
    for t in intervals:
        base = prepare_data(scenario, n=nmax if t in n_intervals else n_for_t, interval_s=t)
        if t in n_intervals:
            for n in ns:
                sub = _truncate(base, n)
                model, _ = train_predictor(kind, sub, scenario)
                mae, mae_nf = _errors(model.predict(sub.test.windows), sub.test)
                rows_n.append(
                    {
                        "interval_s": t,
                        "n": n,
                        "mae_m": mae,
                        "mae_nonfutile_m": mae_nf,
                        "windows": len(sub.test),
                    }
                )
                done += 1
                if progress:
                    progress(done, total, f"t={t:g} s n={n}")
        if t in t_intervals:
            data = (
                base
                if base.info["n"] == n_for_t
                else prepare_data(scenario, n=n_for_t, interval_s=t, traces=base.traces)
            )
            model, _ = train_predictor(kind, data, scenario)
            pred = model.predict(data.test.windows)
            mae, mae_nf = _errors(pred, data.test)
            p = len(data.test)
            f = int(data.test.meta["futile"].sum())
            a = service_range_accuracy(pred, data.test, data.grid)
            rows_t.append(
                {
                    "interval_s": t,
                    "p": p,
                    "f": f,
                    "futile_ratio": f / p if p else float("nan"),
                    "mae_m": mae,
                    "mae_nonfutile_m": mae_nf,
                    "a": a,
                    "benefit_cost": float(benefit_cost(0.0 if np.isnan(a) else a, p, f)),
                }
            )
            done += 1
            if progress:
                progress(done, total, f"t={t:g} s benefit/cost")
    by_n = pd.DataFrame(rows_n)
    by_t = pd.DataFrame(rows_t).set_index("interval_s") if rows_t else pd.DataFrame()
    best_t = float(by_t["benefit_cost"].idxmax()) if len(by_t) else float("nan")
    info = {
        "scenario": scenario.name,
        "dataset": scenario.dataset.kind,
        "predictor": kind,
        "n_for_t": n_for_t,
    }
    return StudyResult(by_n, by_t, best_t, info)


def _truncate(data: Any, n: int) -> Any:
    """The same windows with only their last n positions."""
    from dataclasses import replace

    def cut(w: Any) -> Any:
        return replace(w, windows=w.windows[:, -n:, :])

    return replace(data, train=cut(data.train), test=cut(data.test), info={**data.info, "n": n})


def plot_study(result: StudyResult, path: str | Path) -> Path:
    """Draw Fig. 6 to a PNG: MAE vs n per t; futile ratio and MAE vs t; benefit/cost vs t on its own axis
    (its differences are a few hundredths) with the best t marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(14, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax4 = fig.subplots(1, 3)
    for t, g in result.by_n.groupby("interval_s"):
        ax1.plot(g["n"], g["mae_m"], marker="o", label=f"t = {t:g} s")
    ax1.set_xlabel("trajectory length n")
    ax1.set_ylabel("MAE (m), all test predictions")
    ax1.set_title(f"{result.info.get('scenario', '')}: error vs n", fontsize=10)
    ax1.legend(fontsize=8, ncols=2, loc="upper right")
    ax1.set_ylim(top=ax1.get_ylim()[1] * 1.25)  # room for the legend above the curves
    ax1.grid(alpha=0.3)
    bt = result.by_t
    if len(bt):
        n_for_t = result.info.get("n_for_t", 5)
        ax2.plot(bt.index, bt["futile_ratio"], marker="s", color="tab:red", label="futile ratio f/p")
        ax2.set_xlabel("interval t (s)")
        ax2.set_ylabel("futile ratio f/p", color="tab:red")
        ax2.set_ylim(0, 1)
        ax3 = ax2.twinx()
        ax3.plot(bt.index, bt["mae_m"], marker="o", color="tab:blue", label="MAE (m)")
        ax3.set_ylabel("MAE (m)", color="tab:blue")
        ax2.set_title(f"futility and error vs t (n = {n_for_t})", fontsize=10)
        ax2.grid(alpha=0.3)
        ax4.plot(bt.index, bt["benefit_cost"], marker="^", color="tab:green")
        ax4.axvline(result.best_t, color="grey", ls="--", lw=1,
                    label=f"best t = {result.best_t:g} s (the largest ratio)")
        ax4.set_xlabel("interval t (s)")
        ax4.set_ylabel("benefit/cost a(p-f)/p")
        ax4.set_title("benefit/cost vs t (picks t)", fontsize=10)
        ax4.legend(fontsize=8)
        ax4.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    return path
