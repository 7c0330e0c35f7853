"""Scenario windows: the slice of a dataset (a region and a time span) that a net run emulates.

A net run is bounded by one host (DESIGN §7), so it takes the cells and clients of a window, not a whole
dataset: `select_window` takes the points inside ``[start, end)`` (and inside an x/y box when given),
`busiest_window` finds the span of a given length with the most distinct users (sliding in quarter steps,
vectorized over all points). Both return a `Window`: its span, the users (the busiest first, at most
`max_clients`), the cells they visit and those cells with their neighbours (where pre-made links go).
`apply_window` cuts a world's traces to a scenario's ``run.window`` (`edgeroam.scenario.WindowConfig`) before
its topology is built (`edgeroam.world.load_world`), for either backend. Turning a window into servers and a
backhaul graph is left to `edgeroam.topology`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.datasets.regions import Region, region_mask
from edgeroam.errors import DatasetError, ScenarioError
from edgeroam.topology.hexgrid import AXIAL_DIRECTIONS, HexGrid, cell_id

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.scenario import WindowConfig

__all__ = ["Window", "apply_window", "busiest_window", "select_window"]

#: a window's box: (x0, y0, x1, y1) in the traces' metres (half-open), or a region (preset or box spec)
Box = tuple[float, float, float, float] | Region | str | None


@dataclass(frozen=True)
class Window:
    """A time span of a dataset and what a net run needs of it."""

    start: float
    end: float
    users: np.ndarray
    points: int
    cells: np.ndarray
    cells_with_neighbours: np.ndarray


def _in_box(traces: pd.DataFrame, box: Box) -> np.ndarray:
    if box is None:
        return np.ones(len(traces), dtype=bool)
    if isinstance(box, Region | str):
        try:
            return region_mask(traces, box)
        except DatasetError as exc:
            raise ScenarioError(None, "run.window.region", str(exc)) from None
    x0, y0, x1, y1 = box
    x, y = traces["x"].to_numpy(), traces["y"].to_numpy()
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def select_window(traces: pd.DataFrame, grid: HexGrid, start: float, end: float, *,
                  box: Box = None, max_clients: int = 10) -> Window:
    """The window ``[start, end)`` (seconds, like ``traces.t``) inside `box` ((x0, y0, x1, y1) or a region).

    Raises ScenarioError (key ``run.window``) when the window is empty or inverted.
    """
    if not end > start:
        raise ScenarioError(None, "run.window", f"end {end} must be after start {start}")
    t = traces["t"].to_numpy()
    sel = traces[(t >= start) & (t < end) & _in_box(traces, box)]
    if sel.empty:
        inside = "" if box is None else f" inside {box}"
        raise ScenarioError(None, "run.window", f"no trace point in [{start:g}, {end:g}){inside}")
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
                   box: Box = None, max_clients: int = 10) -> Window:
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


def apply_window(traces: pd.DataFrame, test_users: list[str], window: WindowConfig,
                 grid: HexGrid) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Cut a world to a scenario's ``run.window``: every trace to the box (the training users too, as a
    ``dataset.region`` would), the test users to those of the window (at most ``window.clients``, the busiest
    first) and their points to its span. Returns the traces, the test users and what the window holds (its
    span, users, points, cells and cells with neighbours; ``world.extra["window"]``).

    Raises ScenarioError (key ``run.window``) when no test user is in the window.
    """
    boxed = traces[_in_box(traces, window.region)]
    tests = boxed["user"].astype(str).isin(test_users).to_numpy()
    if not tests.any():
        raise ScenarioError(None, "run.window.region", f"no test user has a point in {window.region!r}")
    mine = boxed[tests]
    if window.busiest_s is not None:
        w = busiest_window(mine, grid, window.busiest_s, max_clients=window.clients)
    else:
        w = select_window(mine, grid, float(window.start), float(window.end), max_clients=window.clients)
    users = [str(u) for u in w.users]
    t = boxed["t"].to_numpy()
    keep = ~tests | (boxed["user"].astype(str).isin(users).to_numpy() & (t >= w.start) & (t < w.end))
    info = {"start": w.start, "end": w.end, "users": users, "points": w.points, "cells": len(w.cells),
            "cells_with_neighbours": len(w.cells_with_neighbours)}
    return boxed[keep], [u for u in test_users if u in set(users)], info
