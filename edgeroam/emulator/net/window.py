"""Scenario windows: the slice of a dataset (a region and a time span) that a net run emulates.

A net run is bounded by one host (DESIGN §7), so it takes the cells and clients of a window, not a whole
dataset: `select_window` takes the points inside ``[start, end)`` (and inside an x/y box when given),
`busiest_window` finds the span of a given length with the most distinct users (sliding in quarter steps,
vectorized over all points). Both return a `Window`: its span, the users (the busiest first, at most
`max_clients`), the cells they visit and those cells with their neighbours (where pre-made links go). Turning
a window into servers and a backhaul graph is left to `edgeroam.topology`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.errors import ScenarioError
from edgeroam.topology.hexgrid import AXIAL_DIRECTIONS, HexGrid, cell_id

__all__ = ["Window", "busiest_window", "select_window"]


@dataclass(frozen=True)
class Window:
    """A time span of a dataset and what a net run needs of it."""

    start: float
    end: float
    users: np.ndarray
    points: int
    cells: np.ndarray
    cells_with_neighbours: np.ndarray


def _in_box(traces: pd.DataFrame, box: tuple[float, float, float, float] | None) -> np.ndarray:
    if box is None:
        return np.ones(len(traces), dtype=bool)
    x0, y0, x1, y1 = box
    x, y = traces["x"].to_numpy(), traces["y"].to_numpy()
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def select_window(traces: pd.DataFrame, grid: HexGrid, start: float, end: float, *,
                  box: tuple[float, float, float, float] | None = None, max_clients: int = 10) -> Window:
    """The window ``[start, end)`` (seconds since the epoch, like ``traces.t``) inside `box` (x0, y0, x1, y1).

    Raises ScenarioError (key ``run.window``) when the window is empty or inverted.
    """
    if not end > start:
        raise ScenarioError(None, "run.window", f"end {end} must be after start {start}")
    t = traces["t"].to_numpy()
    sel = traces[(t >= start) & (t < end) & _in_box(traces, box)]
    if sel.empty:
        raise ScenarioError(None, "run.window", f"no trace point in [{start}, {end}) and the box {box}")
    counts = sel.groupby("user", observed=True).size().sort_values(ascending=False, kind="stable")
    users = counts.index.to_numpy()[:max_clients]
    mine = sel[sel["user"].isin(users)]
    q, r = grid.cell_of(mine["x"].to_numpy(), mine["y"].to_numpy())
    cells = np.unique(cell_id(q, r))
    uq = np.unique(np.stack([q, r], axis=1), axis=0)
    dirs = np.vstack([np.zeros((1, 2), dtype=np.int64), AXIAL_DIRECTIONS])
    near = (uq[:, None, :] + dirs[None, :, :]).reshape(-1, 2)
    with_near = np.unique(cell_id(near[:, 0], near[:, 1]))
    return Window(float(start), float(end), users, len(mine), cells, with_near)


def busiest_window(traces: pd.DataFrame, grid: HexGrid, duration_s: float, *,
                   box: tuple[float, float, float, float] | None = None, max_clients: int = 10) -> Window:
    """The `duration_s` span (starting on a quarter-duration step) with the most distinct users in `box`;
    ties go to the earliest."""
    if duration_s <= 0:
        raise ScenarioError(None, "run.window", f"duration must be positive, got {duration_s}")
    pts = traces[_in_box(traces, box)]
    if pts.empty:
        raise ScenarioError(None, "run.window", f"no trace point inside the box {box}")
    step = duration_s / 4
    t0 = float(pts["t"].min())
    bins = np.floor((pts["t"].to_numpy() - t0) / step).astype(np.int64)
    pairs = pd.DataFrame({"user": pts["user"].cat.codes if hasattr(pts["user"], "cat") else pts["user"],
                          "bin": bins}).drop_duplicates()
    # a user seen in bin b is in the windows starting at bins b-3 .. b
    win = pd.concat([pairs.assign(win=pairs["bin"] - k) for k in range(4)])
    win = win[win["win"] >= 0].drop_duplicates(["user", "win"])
    per = win.groupby("win").size()
    best = int(per.index[np.argmax(per.to_numpy())])
    start = t0 + best * step
    return select_window(traces, grid, start, start + duration_s, box=box, max_clients=max_clients)
