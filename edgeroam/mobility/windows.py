"""Sliding windows over trajectories: the training and evaluation samples of the mobility predictors.

A *window* is the last n positions of a user, sampled every interval t, and its *target* is the position
`horizon` intervals after the last one (PerDNN §III.D: predict where the user is t seconds later from its n
most recent positions; n = 5, horizon = 1). Windows never cross a trajectory boundary or a gap in the time
grid. Each window also carries the cell the user is in at its last position, the cell at the target, and
PerDNN's *futile* flag (the user is still in the same cell, hence the same edge server, at the target).
Fitting models is edgeroam.predictors' job; counting futile predictions per t is futile.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError
from edgeroam.topology.hexgrid import HexGrid

__all__ = ["Windows", "infer_interval", "windows"]


@dataclass(frozen=True)
class Windows:
    """Windows, targets and their metadata; ``len(w)`` is the number of windows N.

    Attributes
    ----------
    windows : ndarray[float64] [N, n, 2]
        The n positions (x, y metres) of each window, oldest first; ``windows[:, -1]`` is "now".
    targets : ndarray[float64] [N, 2]
        The position `horizon` intervals after ``windows[:, -1]``.
    meta : DataFrame [N rows]
        user (category), traj (int), t (float: time of the last window position), t_target (float),
        cell (int64: packed cell id at the last window position), next_cell (int64: cell at the target),
        futile (bool: cell == next_cell), row (int64: index into the input table of the last window position).
    interval_s : float
        The sampling interval t of the input.
    horizon : int
        Target offset in intervals.
    """

    windows: np.ndarray
    targets: np.ndarray
    meta: pd.DataFrame
    interval_s: float
    horizon: int

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self):
        """Unpack as ``windows, targets, meta = windows(...)``."""
        return iter((self.windows, self.targets, self.meta))

    def subset(self, mask: np.ndarray) -> Windows:
        """The windows where `mask` is true (boolean mask or integer index)."""
        sel = np.asarray(mask)
        if sel.dtype == bool:
            sel = np.nonzero(sel)[0]
        meta = self.meta.iloc[sel].reset_index(drop=True)
        return Windows(self.windows[sel], self.targets[sel], meta, self.interval_s, self.horizon)

    def for_users(self, users) -> Windows:
        """The windows of the given users (e.g. a train or test split)."""
        return self.subset(self.meta["user"].astype(str).isin([str(u) for u in users]).to_numpy())


def infer_interval(traces: pd.DataFrame) -> float:
    """The most common positive time step between consecutive samples of one trajectory (rounded to 1 ms)."""
    t = traces["t"].to_numpy(np.float64)
    same = (traces["user"].to_numpy()[1:] == traces["user"].to_numpy()[:-1]) & (
        traces["traj"].to_numpy()[1:] == traces["traj"].to_numpy()[:-1]
    )
    dt = np.round(np.diff(t)[same], 3)
    dt = dt[dt > 0]
    if len(dt) == 0:
        raise DatasetError("cannot infer the sampling interval: no trajectory has two samples")
    vals, counts = np.unique(dt, return_counts=True)
    return float(vals[np.argmax(counts)])


def windows(
    traces: pd.DataFrame,
    n: int = 5,
    horizon: int = 1,
    *,
    grid: HexGrid | None = None,
    interval_s: float | None = None,
    tolerance_s: float = 1e-3,
) -> Windows:
    """All windows of n consecutive samples with the sample `horizon` steps later as target.

    Parameters
    ----------
    traces : DataFrame
        A Traces table (user, traj, t, x, y), sorted by user, traj, t and resampled every `interval_s`
        (edgeroam.datasets.resample); rows with NaN x/y break a window.
    n : int
        Window length (PerDNN: 5).
    horizon : int
        Target offset in samples (1 = predict t seconds ahead).
    grid : HexGrid, optional
        Grid for cell / next_cell / futile (default HexGrid(50 m) at the origin).
    interval_s : float, optional
        The sampling interval; inferred from the data when None (`infer_interval`).
    tolerance_s : float
        Allowed deviation of each step from `interval_s`; a larger step is a gap and no window spans it.

    Returns
    -------
    Windows
        Unpackable: ``w, targets, meta = windows(tr)``; ``w[i, -1]`` is the position at ``meta.t[i]``.

    Examples
    --------
    >>> import pandas as pd
    >>> tr = pd.DataFrame({"user": "a", "traj": 0, "t": [0.0, 20, 40, 60],
    ...                    "x": [0.0, 10, 20, 200], "y": 0.0})
    >>> w, y, meta = windows(tr, n=2)
    >>> w.shape, y.tolist(), meta["futile"].tolist()
    ((2, 2, 2), [[20.0, 0.0], [200.0, 0.0]], [True, False])
    """
    if n < 1 or horizon < 1:
        raise DatasetError(f"n and horizon must be >= 1, got n={n}, horizon={horizon}")
    grid = grid or HexGrid()
    interval = float(interval_s) if interval_s is not None else infer_interval(traces)
    user = traces["user"].to_numpy()
    traj = traces["traj"].to_numpy(np.int64)
    t = traces["t"].to_numpy(np.float64)
    x = traces["x"].to_numpy(np.float64)
    y = traces["y"].to_numpy(np.float64)
    m = len(t)
    span = n - 1 + horizon  # steps from the first window sample to the target
    empty_meta = pd.DataFrame(
        {
            "user": pd.Categorical([]),
            "traj": np.zeros(0, np.int64),
            "t": np.zeros(0),
            "t_target": np.zeros(0),
            "cell": np.zeros(0, np.int64),
            "next_cell": np.zeros(0, np.int64),
            "futile": np.zeros(0, bool),
            "row": np.zeros(0, np.int64),
        }
    )
    if m <= span:
        return Windows(np.zeros((0, n, 2)), np.zeros((0, 2)), empty_meta, interval, horizon)
    # a step i -> i+1 is good when same user and trajectory, the time step equals the interval, both finite
    good = np.zeros(m, dtype=bool)
    good[:-1] = (
        (user[1:] == user[:-1])
        & (traj[1:] == traj[:-1])
        & (np.abs(np.diff(t) - interval) <= tolerance_s)
        & np.isfinite(x[1:])
        & np.isfinite(y[1:])
        & np.isfinite(x[:-1])
        & np.isfinite(y[:-1])
    )
    # a window starting at s is valid when steps s .. s+span-1 are all good: count with a cumulative sum
    c = np.concatenate([[0], np.cumsum(good)])
    starts = np.nonzero(c[span:m] - c[: m - span] == span)[0]
    if len(starts) == 0:
        return Windows(np.zeros((0, n, 2)), np.zeros((0, 2)), empty_meta, interval, horizon)
    idx = starts[:, None] + np.arange(n)[None, :]
    last = starts + n - 1
    tgt = starts + span
    win = np.stack([x[idx], y[idx]], axis=-1)
    targets = np.column_stack([x[tgt], y[tgt]])
    cell = grid.cell_ids_of(x[last], y[last])
    next_cell = grid.cell_ids_of(x[tgt], y[tgt])
    users = traces["user"]
    user_col = (
        users.iloc[last].reset_index(drop=True)
        if isinstance(users.dtype, pd.CategoricalDtype)
        else pd.Categorical(user[last])
    )
    meta = pd.DataFrame(
        {
            "user": user_col,
            "traj": traj[last],
            "t": t[last],
            "t_target": t[tgt],
            "cell": cell,
            "next_cell": next_cell,
            "futile": cell == next_cell,
            "row": last.astype(np.int64),
        }
    )
    return Windows(win, targets, meta, interval, horizon)
