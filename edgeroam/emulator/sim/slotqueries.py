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
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeroam.emulator.actions import SetCloud
from edgeroam.emulator.planning.scheduling import ThreeTierCuts
from edgeroam.emulator.sim.engine import Engine
from edgeroam.emulator.sim.slots import SlotServer
from edgeroam.errors import RunError
from edgeroam.topology.tiers import MB, node_slots

__all__ = ["CloudTails", "close_windows", "window_queries"]

_EPS = 1e-9


class CloudTails:
    """What the slot windows need beyond the held layers: which queries send their tail to the cloud, and
    the waits they measured (the master's ``queue_wait`` observation).

    `cut[(client, server)]` is the first layer the cloud runs (a `SetCloud`; absent: no cloud part);
    `waits[server]` the mean (edge, cloud) slot waits of the server's queries in its last closed window;
    `stats` one ``(server, queries, blocked at the cloud, waited at the cloud, edge wait, cloud wait)`` row
    per closed window (the waits as in `waits`);
    `chosen` how often each cloud cut was set.
    """

    def __init__(self, planner: Any, edge_cloud_bps: float) -> None:
        self.planner, self.edge_cloud_bps = planner, float(edge_cloud_bps)
        self.cut: dict[tuple[int, int], int] = {}
        self.waits: dict[int, tuple[float, float]] = {}
        self.stats: list[tuple[int, int, int, int, float, float]] = []
        self.chosen: Counter[int] = Counter()
        self._cuts: ThreeTierCuts | None = None

    @classmethod
    def of(cls, setup: Any, spec: Mapping[str, Any]) -> CloudTails:
        """The tails of a run: its edge-cloud rate from the tier spec, 0 where the topology has no cloud."""
        servers = setup.topology.servers
        has_cloud = bool((servers["tier"] == "cloud").any())
        mb_s = float(spec.get("links_mb_per_s", {}).get("edge-cloud", 0.0))
        return cls(setup.planner, mb_s * 8 * MB if has_cloud else 0.0)

    def take(self, actions: list) -> list:
        """Record the `SetCloud` actions; return the others (what the sim core carries out)."""
        rest = []
        for a in actions:
            if isinstance(a, SetCloud):
                self.cut[(a.client, a.server)] = a.cut
                self.chosen[a.cut] += 1
            else:
                rest.append(a)
        return rest

    def parts(self, held: np.ndarray, cut: int | None) -> tuple[float, ...]:
        """A query's (pre_s, server_s) as `Planner.parts`, or with a cloud part from layer `cut` on
        (pre_s, edge_s, up_s, cloud_s: `ThreeTierCuts.parts`)."""
        if cut is None or cut >= self.planner.n_layers:
            return self.planner.parts(held)
        if self._cuts is None:
            self._cuts = ThreeTierCuts(self.planner.base, self.edge_cloud_bps)
        return self._cuts.parts(held, cut)

    def wait(self, server: int) -> tuple[float, float]:
        """The mean (edge, cloud) waits measured at `server` (zeros before any)."""
        return self.waits.get(server, (0.0, 0.0))


def window_queries(
    t0: float, t1: float, windows: Sequence[Sequence[tuple[float, ...]]], *, background: int,
    full: tuple[float, ...], gap_s: float, slots: int, capacity: int | None = None, name: str = "server",
    cloud: tuple[int, int | None] | None = None,
) -> list[list[tuple[float, float, float, float]]]:
    """Closed-loop queries from `t0` to `t1` of the clients in `windows` on one server of `slots` slots.

    Each window is a list of ``(time, pre_s, server_s)`` steps (ascending, the first at `t0`): a query that
    starts at or after `time` spends `pre_s` before the server and `server_s` on a slot. A step may add
    ``(up_s, cloud_s)``: the query's tail then goes `up_s` to a cloud server of ``cloud = (slots, capacity)``
    and runs `cloud_s` on one of its slots (the edge slot stays held while the cloud queue is full: S3).
    `background` more clients run queries of `full` (a step without its time) from ``t0 + i * period /
    background``. Returns, per window, ``(start, latency_s, wait_s, blocked_s)`` of every query that ended
    by `t1` (wait: from asking for a slot to getting it, at the edge and the cloud; blocked: the part of it
    spent outside a full queue).

    Examples
    --------
    >>> window_queries(0.0, 10.0, [[(0.0, 1.0, 2.0)], [(0.0, 1.0, 2.0)]], background=0, full=(1.0, 2.0),
    ...                gap_s=1.0, slots=1)[1][:2]   # the second client waits 2 s, then they fall out of step
    [(0.0, 5.0, 2.0, 0.0), (6.0, 3.0, 0.0, 0.0)]
    """
    eng = Engine(t0)
    srv = SlotServer(eng, slots, capacity, name=name)
    tail = SlotServer(eng, *cloud, name="cloud") if cloud is not None else None
    out = _queries(eng, srv, tail, t0, windows, background=background, full=full, gap_s=gap_s)
    eng.run(t1 + _EPS)
    return [[q[:4] for q in rec if q[0] + q[1] <= t1 + _EPS] for rec in out]


def _queries(
    eng: Engine, server: SlotServer, cloud: SlotServer | None, t0: float,
    windows: Sequence[Sequence[tuple[float, ...]]], *, background: int, full: tuple[float, ...], gap_s: float,
) -> list[list[tuple[float, float, float, float, float]]]:
    """Start the closed-loop query processes of `window_queries` on `server` (and `cloud`); the records,
    ``(start, latency_s, wait_s, blocked_s, cloud_wait_s)``, fill as `eng` runs."""
    name = server.name
    out: list[list[tuple[float, float, float, float, float]]] = [[] for _ in windows]

    def client(steps: Sequence[tuple[float, ...]], rec: list | None, start: float):  # noqa: ANN202
        times = [s[0] for s in steps]
        if start > eng.now:
            yield eng.timeout(start - eng.now)
        while True:
            step = steps[max(bisect.bisect_right(times, eng.now + _EPS) - 1, 0)]
            _, pre, work, up, tail = (*step, 0.0, 0.0)[:5]
            if pre + work + up + tail + gap_s <= 0:
                raise RunError(f"{name}: a query of zero latency with a zero gap never ends")
            begin = eng.now
            if pre > 0:
                yield eng.timeout(pre)
            wait = blocked = at_cloud = 0.0
            hold = None
            if tail > 0:
                if cloud is None:
                    raise RunError(f"{name}: a query has a cloud part but the server has no cloud")
                hold = eng.event(name=f"{name}: a query's tail enters the cloud queue")
            if work > 0:
                slot = yield server.run(work, hold=hold)
                wait, blocked = slot.wait_s, slot.blocked_s
                if hold is not None and cloud.blocked == 0 and (cloud.capacity is None
                                                                or cloud.waiting < cloud.capacity):
                    hold.succeed(eng.now)  # the cloud queue has room: the edge slot frees now
                    hold = None
            if tail > 0:
                if up > 0:
                    yield eng.timeout(up)
                done = yield cloud.run(tail, entered=hold)
                at_cloud, blocked = done.wait_s, blocked + done.blocked_s
            if rec is not None:
                rec.append((begin, eng.now - begin, wait + at_cloud, blocked, at_cloud))
            yield eng.timeout(gap_s)

    for steps, rec in zip(windows, out, strict=True):
        eng.process(client(steps, rec, t0), name=f"{name} query")
    period = sum(full) + gap_s
    for i in range(background):
        eng.process(client([(t0, *full)], None, t0 + i * period / background), name=f"{name} load")
    return out


def close_windows(sim: Any, windows: list, now: float, out: Any) -> list:
    """`Sim._close` on slots: count the queries of every window that ended by `now` into `out`; return the
    windows still open.

    The windows of one interval run together in one engine: each server's on its slots, and the tails of
    queries that S3's policies send on (``sim.cloud_cut``) on the cloud server of their edge server (edge
    servers spread over the clouds by id), whose bounded queue all those edges share. The mean waits of each
    server's counted queries, (edge, cloud), become ``tails.waits[server]``: what the master observes.
    """
    pl, be, spec, tails = sim.setup.planner, sim.core, sim._slots, sim.tails
    keep, groups = [], {}
    for w in windows:
        if w.t1 > now + _EPS:
            keep.append(w)
        else:
            groups.setdefault((w.t0, w.t1), {}).setdefault(w.server, []).append(w)
    servers = sim.setup.topology.servers
    clouds = sorted(servers.loc[servers["tier"] == "cloud", "server"].tolist())
    ones = np.ones(pl.n_layers, bool)
    for (t0, t1), by_server in groups.items():
        eng, at_cloud, runs = Engine(t0), {}, []
        for server, ws in by_server.items():
            steps = []
            cuts = [tails.cut.get((w.client, w.server)) for w in ws]
            for w, cut in zip(ws, cuts, strict=True):
                held = w.held.copy()
                seq = [(t0, *tails.parts(held, cut))]
                for t, idx in be.unwatch(w.client, w.server):
                    if t >= t1:
                        break
                    held[idx] = True
                    seq.append((t, *tails.parts(held, cut)))
                steps.append(seq)
            slots, cap = node_slots(sim.setup.topology, server, spec)
            cloud = None
            if any(c is not None for c in cuts):
                if not clouds:
                    raise RunError("a policy sent a query's tail to the cloud, but the topology has no cloud "
                                   "server (topology.backhaul.cloud)")
                cid = clouds[server % len(clouds)]
                if cid not in at_cloud:
                    at_cloud[cid] = SlotServer(eng, *node_slots(sim.setup.topology, cid, spec),
                                               name=f"cloud {cid}")
                cloud = at_cloud[cid]
            recs = _queries(eng, SlotServer(eng, slots, cap, name=f"server {server}"), cloud, t0, steps,
                            background=max(ws[0].load - len(ws), 0), full=tails.parts(ones, cuts[0]),
                            gap_s=sim.setup.query_gap_s)
            runs.append((server, ws, recs))
        eng.run(t1 + _EPS)
        for server, ws, recs in runs:
            counted = []
            for w, rec in zip(ws, recs, strict=True):
                run = [q for q in rec if q[0] + q[1] <= t1 + _EPS]
                counted.extend(run)
                out.queries.extend((w.row, w.client, w.server, *seg) for seg in _runs(run))
            if counted:
                q = np.asarray(counted)
                tails.waits[server] = (float((q[:, 2] - q[:, 4]).mean()), float(q[:, 4].mean()))
                tails.stats.append((server, len(q), int((q[:, 3] > 0).sum()), int((q[:, 4] > 0).sum()),
                                    *tails.waits[server]))
    return keep


def _runs(queries: list[tuple[float, ...]]) -> list[tuple[float, float, int]]:
    """Consecutive queries of the same latency as (start of the first, latency_s, count): the query
    table's rows."""
    out: list[list] = []
    for start, lat, *_ in queries:
        if out and abs(out[-1][1] - lat) <= 1e-12:
            out[-1][2] += 1
        else:
            out.append([start, lat, 1])
    return [tuple(r) for r in out]
