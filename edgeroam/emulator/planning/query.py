"""How queries run while layers are being uploaded: latency given what the server holds, and timelines.

The IONN upload-while-querying model that PerDNN's Table II and Fig. 7 use:

- the client sends the groups of an `UploadOrder` one after the other at ``up_bps`` from time 0 (groups the
  server already holds, e.g. proactively migrated ones, are skipped); a group is usable once fully received;
- queries run closed-loop: the first starts at 0, each next one ``query_gap_s`` after the previous ends;
- a query uses the layers fully received at its start, placed by the exact shortest path restricted to them
  (partition.py); its latency does not change while it runs;
- the layer upload and the query's own tensors do not compete for the uplink (as in IONN's and PerDNN's
  accounting; a simplification).

Scenario-level policies and the simulator are left to emulator/policies and emulator/sim.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from edgeroam.emulator.planning.partition import PlanProblem, _problem
from edgeroam.emulator.planning.upload import UploadOrder
from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.dnn.graph import LayerGraph

__all__ = [
    "TIMELINE_COLUMNS",
    "closed_loop_queries",
    "executed_queries",
    "query_latency",
    "server_change_timeline",
    "upload_steps",
    "upload_timeline",
]

#: columns of a timeline table
TIMELINE_COLUMNS = [
    "query",
    "server",
    "start_s",
    "end_s",
    "latency_s",
    "groups_held",
    "bytes_held",
    "layers_on_server",
]


def query_latency(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None,
    server_s: ArrayLike | None,
    held: ArrayLike,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
) -> float:
    """Latency (s) of one query when the server holds the layers in `held` (bool [L]).

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("toy", [0, 0], [1000, 10], [1.0, 1.0], input_bytes=1000)
    >>> query_latency(g, [1.0, 2.0], [0.1, 0.1], [False, False], up_bps=8000.0, down_bps=8000.0)
    3.0
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    where, _ = prob.best_where(prob.allowed_mask(held))
    return float(prob.costs(where)[0][0])


def closed_loop_queries(
    t0: float, t1: float, steps: list[tuple[float, float]], gap_s: float
) -> list[tuple[float, float, int]]:
    """Closed-loop queries in ``[t0, t1]`` with a latency that steps at given times.

    Parameters
    ----------
    t0, t1 : float
        The window.
    steps : list of (time, latency_s)
        From `time` on, a query that starts has this latency (times ascending, the first at `t0`).
    gap_s : float
        Think time after each query.

    Returns
    -------
    list of (start of the first query of the run, latency_s, queries)
        One entry per run of queries with the same latency; only queries that end by `t1` count.

    Examples
    --------
    >>> closed_loop_queries(0.0, 10.0, [(0.0, 2.0), (3.0, 0.5)], 0.5)
    [(0.0, 2.0, 2), (5.0, 0.5, 5)]
    """
    out: list[tuple[float, float, int]] = []
    times = [s[0] for s in steps]
    t = t0
    j = 0
    eps = 1e-9
    while t < t1:
        while j + 1 < len(times) and times[j + 1] <= t:
            j += 1
        lat = steps[j][1]
        nxt = times[j + 1] if j + 1 < len(times) else math.inf
        period = lat + gap_s
        if period <= 0:
            raise ValueError("a query of zero latency with a zero gap never ends")
        # queries of this latency start at t, t + period, ... while the start is before the next step
        n_start = max(1, math.ceil((min(nxt, t1) - t) / period - eps))
        # of those, the ones that end by t1
        n_fit = max(0, math.floor((t1 - t - lat) / period + eps) + 1) if t + lat <= t1 + eps else 0
        n = min(n_start, n_fit)
        if n > 0:
            out.append((t, lat, n))
        t = t + n_start * period
        if n_fit < n_start:
            break
    return out


def upload_steps(
    prob: PlanProblem, order: UploadOrder, held_at_start: ArrayLike | None = None
) -> pd.DataFrame:
    """The upload as steps: one row per moment the held set grows (plus the start), with the exact latency.

    Columns: ``time_s`` (upload time since the start at which the step is reached), ``groups_held``,
    ``bytes_held`` (bytes received so far, migrated ones excluded), ``latency_s``, ``layers_on_server``.
    """
    held = np.zeros(prob.n, dtype=bool) if held_at_start is None else np.asarray(held_at_start, bool).copy()
    if held.shape != (prob.n,):
        raise PlanningError(
            f"model {prob.graph.name!r}: held mask has {held.size} values for {prob.n} layers"
        )
    rows = []
    sent = 0

    def add(t: float, k: int) -> None:
        where, _ = prob.best_where(held)
        rows.append((t, k, sent, float(prob.costs(where)[0][0]), int(where.sum())))

    add(0.0, 0)
    for k, g in enumerate(order.groups, start=1):
        new = g[~held[g]]
        if len(new) == 0:
            continue
        sent += int(prob.weight_bytes[new].sum())
        held[new] = True
        add(sent * prob.up_rate, k)
    return pd.DataFrame(
        rows, columns=["time_s", "groups_held", "bytes_held", "latency_s", "layers_on_server"]
    )


def _run_queries(steps: pd.DataFrame, t0: float, t_stop: float, gap: float, server: int, first: int) -> list:
    """Closed-loop queries from `t0` (steps' time is relative to t0) until one would start at/after
    `t_stop`."""
    times = steps["time_s"].to_numpy() + t0
    latency = steps["latency_s"].to_numpy(np.float64)
    held = steps[["groups_held", "bytes_held", "layers_on_server"]].to_numpy(np.int64).tolist()
    rows = []
    t = t0
    q = first
    while t < t_stop:
        k = int(np.searchsorted(times, t, side="right")) - 1
        lat = float(latency[k])
        rows.append((q, server, t, t + lat, lat, *held[k]))
        q += 1
        t = t + lat + gap
        if lat <= 0 and gap <= 0:
            raise PlanningError("a query of zero latency with a zero gap never ends the timeline")
    return rows


def upload_timeline(
    graph: LayerGraph | PlanProblem,
    order: UploadOrder,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    query_gap_s: float = 0.5,
    horizon_s: float | None = None,
    held_at_start: ArrayLike | None = None,
) -> pd.DataFrame:
    """One row per query while `order` uploads from time 0 (columns `TIMELINE_COLUMNS`).

    Parameters
    ----------
    graph : LayerGraph or PlanProblem
        The DNN (or a prepared problem).
    order : UploadOrder
        The groups the client sends.
    client_s, server_s : array-like
        Seconds per layer.
    up_bps, down_bps : float
        Bandwidths, bits per second.
    query_gap_s : float
        Think time between a query's end and the next start (PerDNN: 0.5 s).
    horizon_s : float, optional
        Queries starting before this time are listed; default: the end of the upload.
    held_at_start : array-like of bool, optional
        Layers the server already holds at time 0 (proactively migrated).
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    steps = upload_steps(prob, order, held_at_start)
    end = float(steps["time_s"].iat[-1]) if horizon_s is None else float(horizon_s)
    return pd.DataFrame(_run_queries(steps, 0.0, end, query_gap_s, 0, 0), columns=TIMELINE_COLUMNS)


def executed_queries(timeline: pd.DataFrame, until_s: float, since_s: float = 0.0) -> int:
    """Number of queries that start at or after `since_s` and end by `until_s`."""
    t = timeline
    return int(((t["start_s"] >= since_s) & (t["end_s"] <= until_s + 1e-9)).sum())


def server_change_timeline(
    graph: LayerGraph | PlanProblem,
    order: UploadOrder,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    change_at_s: float,
    horizon_s: float,
    migrated: ArrayLike | None = None,
    query_gap_s: float = 0.5,
) -> pd.DataFrame:
    """Queries of a client that moves from server 0 to server 1 at `change_at_s` (PerDNN Fig. 7).

    At server 0 the client uploads `order` from scratch (from time 0). The first query starting at or after
    `change_at_s` runs at server 1, which holds `migrated` (bool [L], or None = nothing: IONN) from the change
    on; the client uploads the rest of `order` to it from the change on.
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    steps0 = upload_steps(prob, order)
    rows = _run_queries(steps0, 0.0, change_at_s, query_gap_s, 0, 0)
    t1 = max(change_at_s, rows[-1][3] + query_gap_s) if rows else change_at_s
    steps1 = upload_steps(prob, order, migrated)
    # the upload to server 1 starts at the change; queries resume at t1
    shifted = steps1.copy()
    shifted["time_s"] = shifted["time_s"] + (change_at_s - t1)
    rows += _run_queries(shifted, t1, horizon_s, query_gap_s, 1, len(rows))
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
