"""Futile predictions and PerDNN's benefit/cost ratio for choosing the prediction interval t (§III.D).

PerDNN predicts every user's location every interval t. A prediction is *futile* when the user is still served
by the same edge server t seconds later (it "does not contribute to any performance improvement but wastes the
resource"); the non-futile ones are those "made just before a client moves to another server". With p the
number of predictions, f the futile ones and a the prediction accuracy "when the predicted location is inside
the service range of the next edge server", Eq. (1)–(2) give benefit ∝ a·(p − f) and cost ∝ p, so

    benefit / cost = a · (p − f) / p,

evaluated for t in {15, 20, …, 60} s; the best t (PerDNN: 20 s on Geolife) maximises it. Here one prediction
is one window of `windows.py` (n positions and a target t later), the server is the cell's (one per cell), and
a prediction is accurate when it lies within R (the service range) of the centre of the user's next cell,
counted over the non-futile predictions only. Fitting predictors is edgeroam.predictors' job: pass a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError
from edgeroam.mobility.windows import Windows, windows
from edgeroam.topology.hexgrid import HexGrid, unpack_cell_id

__all__ = [
    "PERDNN_INTERVALS",
    "benefit_cost",
    "benefit_cost_table",
    "futile_counts",
    "service_range_accuracy",
]

#: PerDNN's candidate intervals t (s): 15, 20, …, 60
PERDNN_INTERVALS: tuple[float, ...] = tuple(float(t) for t in range(15, 61, 5))

Resampler = Callable[[pd.DataFrame, float], pd.DataFrame]
FitPredict = Callable[[Windows], np.ndarray]


def benefit_cost(a: float | np.ndarray, p: int | np.ndarray, f: int | np.ndarray) -> float | np.ndarray:
    """PerDNN's benefit/cost ratio a·(p − f)/p (0 where p = 0)."""
    a_, p_, f_ = (np.asarray(v, dtype=np.float64) for v in (a, p, f))
    out = np.where(p_ > 0, a_ * (p_ - f_) / np.where(p_ > 0, p_, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def service_range_accuracy(
    predicted: np.ndarray, w: Windows, grid: HexGrid, *, non_futile_only: bool = True
) -> float:
    """Share of predictions within R of the centre of the user's next cell (its next edge server).

    Parameters
    ----------
    predicted : ndarray [N, 2]
        Predicted positions, one per window of `w`.
    w : Windows
        The windows the predictions were made for.
    grid : HexGrid
        Grid whose radius R is the service range.
    non_futile_only : bool
        Count only non-futile windows (PerDNN's accuracy); NaN if there are none.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    if predicted.shape != (len(w), 2):
        raise DatasetError(f"predicted must have shape ({len(w)}, 2), got {predicted.shape}")
    use = ~w.meta["futile"].to_numpy() if non_futile_only else np.ones(len(w), dtype=bool)
    if not use.any():
        return float("nan")
    q, r = unpack_cell_id(w.meta["next_cell"].to_numpy()[use])
    cx, cy = grid.center(q, r)
    d = np.hypot(predicted[use, 0] - cx, predicted[use, 1] - cy)
    return float(np.mean(d <= grid.radius))


def _default_resampler(max_gap_factor: float) -> Resampler:
    from edgeroam.datasets.resample import resample

    def run(traces: pd.DataFrame, t: float) -> pd.DataFrame:
        return resample(traces, t, max_gap_s=max_gap_factor * t)

    return run


def futile_counts(
    traces: pd.DataFrame,
    grid: HexGrid,
    intervals: Iterable[float] = PERDNN_INTERVALS,
    *,
    n: int = 5,
    resampler: Resampler | None = None,
    max_gap_factor: float = 3.0,
) -> pd.DataFrame:
    """Predictions p, futile predictions f and the futile ratio per interval t.

    `traces` are resampled at each t by `resampler(traces, t)` (default: edgeroam.datasets.resample with
    ``max_gap_s = max_gap_factor · t``); every window of n samples with a target t later is one prediction.
    Returns a table indexed by interval_s with columns p, f, futile_ratio.
    """
    resampler = resampler or _default_resampler(max_gap_factor)
    rows = []
    for t in intervals:
        w = windows(resampler(traces, float(t)), n=n, horizon=1, grid=grid, interval_s=float(t))
        p = len(w)
        f = int(w.meta["futile"].sum())
        rows.append({"interval_s": float(t), "p": p, "f": f, "futile_ratio": f / p if p else float("nan")})
    return pd.DataFrame(rows).set_index("interval_s")


def benefit_cost_table(
    traces: pd.DataFrame,
    grid: HexGrid,
    fit_predict: FitPredict,
    intervals: Iterable[float] = PERDNN_INTERVALS,
    *,
    n: int = 5,
    resampler: Resampler | None = None,
    max_gap_factor: float = 3.0,
) -> pd.DataFrame:
    """p, f, accuracy a and a·(p − f)/p per interval t for a predictor.

    `fit_predict(windows)` receives the `Windows` of one interval (all users; it chooses its own train/test
    split, e.g. with ``Windows.for_users``) and returns predicted positions [N, 2] for every window (NaN rows
    are ignored: use them for the training windows). Returns a table indexed by interval_s with columns
    p, f, futile_ratio, a, benefit_cost; ``table["benefit_cost"].idxmax()`` is the best t.
    """
    resampler = resampler or _default_resampler(max_gap_factor)
    rows = []
    for t in intervals:
        w = windows(resampler(traces, float(t)), n=n, horizon=1, grid=grid, interval_s=float(t))
        pred = np.asarray(fit_predict(w), dtype=np.float64)
        evaluated = np.isfinite(pred).all(axis=1)
        we = w.subset(evaluated)
        p = len(we)
        f = int(we.meta["futile"].sum())
        a = service_range_accuracy(pred[evaluated], we, grid) if p else float("nan")
        rows.append(
            {
                "interval_s": float(t),
                "p": p,
                "f": f,
                "futile_ratio": f / p if p else float("nan"),
                "a": a,
                "benefit_cost": benefit_cost(0.0 if np.isnan(a) else a, p, f),
            }
        )
    return pd.DataFrame(rows).set_index("interval_s")
