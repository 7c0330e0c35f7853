"""Queries on server slots: the `sim` backend's query windows when ``topology.tiers.compute = "slots"``.

By default the sim shares a server among its clients by processor sharing in mean-field form
(`Planner.slowdown`). With three tiers and ``compute = "slots"`` a server is instead a `SlotServer` of its
tier: ``slots`` queries run at once at full speed and the rest wait FIFO; a cloud server's queue holds at
most ``cloud_queue`` and a query that finds it full waits outside (its client is blocked). Every query is
an event:

- a query splits into the time before the server (the client's layers and the transfers of the best
  placement of what the server holds, unloaded: `Planner.parts`) and one server job of the server-side
  layers' profiled time; it starts, spends its client and transfer time, then asks the server for a slot;
- the clients that arrived at the server at this tick run closed-loop queries through their window (the
  latency split steps as layers land, as in ``closed_loop_queries``); only queries that end by the window's
  end count;
- the server's other attached clients (its load minus those arrivals) keep it busy with their own
  closed-loop queries on the full plan, started evenly over one query period (they are not counted).

What it leaves to others: which layers the server holds when (backend.py), the windows (driver.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeroam.emulator.sim.engine import Engine
from edgeroam.emulator.sim.slots import SlotServer
from edgeroam.errors import RunError
from edgeroam.topology.tiers import node_slots

__all__ = ["close_windows", "window_queries"]

_EPS = 1e-9


def window_queries(
    t0: float, t1: float, windows: Sequence[Sequence[tuple[float, float, float]]], *, background: int,
    full: tuple[float, float], gap_s: float, slots: int, capacity: int | None = None, name: str = "server",
) -> list[list[tuple[float, float, float, float]]]:
    """Closed-loop queries from `t0` to `t1` of the clients in `windows` on one server of `slots` slots.

    Each window is a list of ``(time, pre_s, server_s)`` steps (ascending, the first at `t0`): a query that
    starts at or after `time` spends `pre_s` before the server and `server_s` on a slot. `background` more
    clients run queries of ``full = (pre_s, server_s)`` from ``t0 + i * period / background``. Returns, per
    window, ``(start, latency_s, wait_s, blocked_s)`` of every query that ended by `t1` (wait: from asking
    for a slot to getting it, blocked: the part of it spent outside a full queue).

    Examples
    --------
    >>> window_queries(0.0, 10.0, [[(0.0, 1.0, 2.0)], [(0.0, 1.0, 2.0)]], background=0, full=(1.0, 2.0),
    ...                gap_s=1.0, slots=1)[1][:2]   # the second client waits 2 s, then they fall out of step
    [(0.0, 5.0, 2.0, 0.0), (6.0, 3.0, 0.0, 0.0)]
    """
    eng = Engine(t0)
    server = SlotServer(eng, slots, capacity, name=name)
    out: list[list[tuple[float, float, float, float]]] = [[] for _ in windows]

    def client(steps: Sequence[tuple[float, float, float]], rec: list | None, start: float):  # noqa: ANN202
        times = [s[0] for s in steps]
        if start > eng.now:
            yield eng.timeout(start - eng.now)
        while True:
            _, pre, work = steps[max(bisect.bisect_right(times, eng.now + _EPS) - 1, 0)]
            if pre + work + gap_s <= 0:
                raise RunError(f"{name}: a query of zero latency with a zero gap never ends")
            begin = eng.now
            if pre > 0:
                yield eng.timeout(pre)
            wait = blocked = 0.0
            if work > 0:
                slot = yield server.run(work)
                wait, blocked = slot.wait_s, slot.blocked_s
            if rec is not None:
                rec.append((begin, eng.now - begin, wait, blocked))
            yield eng.timeout(gap_s)

    for steps, rec in zip(windows, out, strict=True):
        eng.process(client(steps, rec, t0), name=f"{name} query")
    period = full[0] + full[1] + gap_s
    for i in range(background):
        eng.process(client([(t0, *full)], None, t0 + i * period / background), name=f"{name} load")
    eng.run(t1 + _EPS)
    return [[q for q in rec if q[0] + q[1] <= t1 + _EPS] for rec in out]


def close_windows(sim: Any, windows: list, now: float, out: Any) -> list:
    """`Sim._close` on slots: count the queries of every window that ended by `now` into `out`, the windows
    of one server and tick together on that server's slots; return the windows still open."""
    pl, be, spec = sim.setup.planner, sim.core, sim._slots
    keep, groups = [], {}
    for w in windows:
        if w.t1 > now + _EPS:
            keep.append(w)
        else:
            groups.setdefault((w.server, w.t0, w.t1), []).append(w)
    for (server, t0, t1), ws in groups.items():
        steps = []
        for w in ws:
            held = w.held.copy()
            seq = [(t0, *pl.parts(held))]
            for t, idx in be.unwatch(w.client, w.server):
                if t >= t1:
                    break
                held[idx] = True
                seq.append((t, *pl.parts(held)))
            steps.append(seq)
        slots, cap = node_slots(sim.setup.topology, server, spec)
        runs = window_queries(t0, t1, steps, background=max(ws[0].load - len(ws), 0),
                              full=pl.parts(np.ones(pl.n_layers, bool)), gap_s=sim.setup.query_gap_s,
                              slots=slots, capacity=cap, name=f"server {server}")
        for w, run in zip(ws, runs, strict=True):
            out.queries.extend((w.row, w.client, w.server, *seg) for seg in _runs(run))
    return keep


def _runs(queries: list[tuple[float, float, float, float]]) -> list[tuple[float, float, int]]:
    """Consecutive queries of the same latency as (start of the first, latency_s, count): the query
    table's rows."""
    out: list[list] = []
    for start, lat, _, _ in queries:
        if out and abs(out[-1][1] - lat) <= 1e-12:
            out[-1][2] += 1
        else:
            out.append([start, lat, 1])
    return [tuple(r) for r in out]
