"""S3's edge-cloud task scheduling: many edges split DNN tasks with one cloud behind a bounded queue.

Zhang et al. (2022), DIGEST §4. Every edge runs a stream of frames (tasks); a task is cut after layer i
(layers before the cut on the edge, the rest on the cloud; i = 0 cloud-only, i = N edge-only):

- `cut_table` — T^e(1, i), d_i / B and T^c(i+1, N) for every cut i (Eq. 1), from per-layer profiles. Cuts are
  prefixes of the topological order; for DAG models the transfer is every tensor an edge layer sends to a
  cloud layer (S3 uses QDMP for DAGs, which it does not describe).
- `simulate` — a discrete-event run: each edge serves its own frames FIFO (one at a time), sends the edge
  part's output over its own uplink (one output at a time, in parallel with its next task), and the task
  enters the cloud's queue if fewer than ``capacity`` tasks wait there, otherwise it waits outside (and its
  edge starts nothing new) until one leaves; the cloud serves its queue one task at a time in the order the
  tasks arrived there (FIFO, S3 §3). Methods: ``"edge"`` (E-O), ``"cloud"`` (C-O), ``"single"`` (S-C, the
  Eq. 1 optimum for every task) and ``"queue"`` (S-Q, Algorithm 2: when the task would wait after its edge
  part, move the cut toward the edge while the waiting saved exceeds the extra edge time).
- Results: makespan (the paper's "total inference delay of the system"), per-task T_e, T_t, T_c, T_w, and
  `speedup` κ = makespan(E-O) / makespan(method) (Eq. 4).
- `split_mask` — the same two rules for a mobile client and its edge server (the client is S3's edge, the
  server its cloud, the server's load its queue): what the S3 mobility policies send.

Frames of edge e arrive at k / fps (k = 0..frames-1; `fps` is one rate or one per edge: S3's edges sample
5-15 fps). Edges, uplinks and the cloud share one clock, so with unequal rates a task that starts later
on one edge can reach the cloud first and is served first.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.errors import PlanningError

__all__ = ["METHODS", "SPLITS", "CutTable", "ScheduleResult", "ThreeTierCuts", "cut_table", "model_cut_table",
           "simulate", "speedup", "split_mask"]

METHODS = ("edge", "cloud", "single", "queue")
#: S3 §5.2 uplinks, bits per second
BANDWIDTHS = {"3G": 1.1e6, "4G": 5.85e6}


@dataclass(frozen=True)
class CutTable:
    """Delays of every cut i = 0..N (arrays of length N + 1, seconds).

    Attributes
    ----------
    t_e, t_t, t_c : numpy.ndarray
        Edge time of the layers before the cut, transfer of what crosses it, cloud time of the rest.
    model : str
        The model.
    """

    t_e: np.ndarray
    t_t: np.ndarray
    t_c: np.ndarray
    model: str = ""

    @property
    def n(self) -> int:
        """Number of layers N."""
        return len(self.t_e) - 1

    @property
    def total(self) -> np.ndarray:
        """T^e + d/B + T^c per cut (Eq. 1's objective)."""
        return self.t_e + self.t_t + self.t_c

    @property
    def best(self) -> int:
        """v_best: the cut with the least single-task delay (the later cut on ties)."""
        tot = self.total
        return int(np.flatnonzero(tot <= tot.min() + 1e-12)[-1])


def cut_table(graph: object, edge_s: np.ndarray, cloud_s: np.ndarray, bps: float) -> CutTable:
    """Delays of every topological-prefix cut of `graph` (a LayerGraph) with uplink `bps` (bit/s).

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("c", [0, 0], [100, 10], [1.0, 1.0], input_bytes=1000)
    >>> t = cut_table(g, np.array([1.0, 1.0]), np.array([0.1, 0.1]), 8000.0)
    >>> t.t_t.tolist(), t.best
    ([1.0, 0.1, 0.0], 1)
    """
    from edgeroam.emulator.planning.partition import PlanProblem

    if not (np.isfinite(bps) and bps > 0):
        raise PlanningError(f"uplink bandwidth must be a positive number of bit/s, got {bps!r}")
    prob = PlanProblem(graph, edge_s, cloud_s, up_bps=float(bps), down_bps=1e30)  # type: ignore[arg-type]
    n = prob.n
    on_cloud = np.arange(n)[None, :] >= np.arange(n + 1)[:, None]  # row i: layers >= i on the cloud
    _, edge, cloud, transfer = prob.costs(on_cloud)
    return CutTable(edge, transfer, cloud, getattr(graph, "name", ""))


def model_cut_table(model: str, bps: float, edge: str = "rpi-3b", cloud: str = "rtx-2080ti") -> CutTable:
    """`cut_table` of a zoo model with device presets (S3: Raspberry Pi 3B edges, RTX 2080 Ti cloud)."""
    from edgeroam.emulator.dnn.profiles import profile
    from edgeroam.emulator.dnn.zoo import model_graph

    g = model_graph(model)
    return cut_table(g, profile(g, edge), profile(g, cloud), bps)


@dataclass(frozen=True)
class ScheduleResult:
    """One simulated run.

    Attributes
    ----------
    makespan : float
        Time the last task completes (seconds from the first arrival).
    tasks : pandas.DataFrame
        One row per task: edge, frame, arrive, cut, start, t_e, t_t, t_c, t_link (wait for the edge's
        uplink), t_w (cloud queue wait), t_block (edge blocked by a full cloud queue), finish.
    method : str
        The method.
    """

    makespan: float
    tasks: pd.DataFrame
    method: str


def simulate(
    table: CutTable, method: str, *, edges: int = 5, frames: int = 30, fps: float | np.ndarray = 10.0,
    capacity: int = 20,
) -> ScheduleResult:
    """Run `frames` tasks on each of `edges` edges with one cloud (queue `capacity`) by `method`.

    A discrete-event run in one clock: an edge starts its next frame when it is free and the frame has
    arrived, unless its previous task waits outside the full cloud queue (then it starts when that task
    enters); the cloud serves the tasks in the order they arrive there (FIFO), one at a time.

    Examples
    --------
    >>> t = CutTable(np.array([0.0, 1.0, 2.0]), np.array([0.5, 0.1, 0.0]), np.array([0.2, 0.1, 0.0]))
    >>> simulate(t, "edge", edges=1, frames=3, fps=1e9).makespan
    6.0
    """
    if method not in METHODS:
        raise PlanningError(f"unknown method {method!r}; choose one of {METHODS}")
    for what, v in (("edges", edges), ("frames", frames), ("capacity", capacity)):
        if int(v) < 1:
            raise PlanningError(f"{what} must be >= 1, got {v}")
    rate = np.broadcast_to(np.asarray(fps, dtype=np.float64), (edges,)) if np.ndim(fps) == 0 or \
        np.shape(fps) == (edges,) else None
    if rate is None or not (rate > 0).all():
        raise PlanningError(f"fps must be > 0, one rate or one per edge ({edges}), got {fps}")
    return _Run(table, method, edges, frames, rate, int(capacity)).result()


class _Run:
    """The event loop of `simulate`: edge starts, arrivals at the cloud and cloud completions by time."""

    def __init__(self, table: CutTable, method: str, edges: int, frames: int, rate: np.ndarray,
                 capacity: int) -> None:
        n = table.n
        self.table, self.method, self.frames, self.rate, self.capacity = table, method, frames, rate, capacity
        self.fixed = {"edge": n, "cloud": 0, "single": table.best, "queue": table.best}[method]
        self.link_free = np.zeros(edges)
        self.rows: list[list] = []
        self.events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, edge or task row)
        self.seq = 0
        self.flight: dict[int, float] = {}  # task row -> arrival at the cloud, for tasks on their way
        self.queue: deque[int] = deque()  # task rows in the cloud queue
        self.blocked: deque[int] = deque()  # task rows waiting outside the full queue
        self.running: int | None = None
        self.cloud_end = 0.0
        self.last = [-1] * edges  # each edge's previous task row
        self.held: dict[int, int] = {}  # a blocked task row -> its edge, which waits for it to enter
        for e in range(edges):
            self._push(0.0, "edge", e)

    def _push(self, t: float, kind: str, who: int) -> None:
        heapq.heappush(self.events, (t, self.seq, kind, who))
        self.seq += 1

    def result(self) -> ScheduleResult:
        """Process every event; the tasks table and the makespan."""
        while self.events:
            t, _, kind, who = heapq.heappop(self.events)
            getattr(self, f"_{kind}")(t, who)
        cols = ["edge", "frame", "arrive", "cut", "start", "t_e", "t_t", "t_c", "t_link", "t_w", "t_block",
                "finish"]
        tasks = pd.DataFrame([r[:12] for r in self.rows], columns=cols)
        tasks = tasks.sort_values(["start", "edge"], kind="stable", ignore_index=True)
        return ScheduleResult(float(tasks["finish"].max()), tasks, self.method)

    def _edge(self, t: float, e: int) -> None:
        """Edge `e` is free at `t`: start its next frame (or wait for it, or for a blocked task)."""
        prev = self.last[e]
        k = 0 if prev < 0 else self.rows[prev][1] + 1
        if k >= self.frames:
            return
        arrive = k / float(self.rate[e])
        if t < arrive:
            self._push(arrive, "edge", e)
            return
        if prev >= 0 and prev in self.blocked:
            self.held[prev] = e  # the edge is blocked until its task enters the queue
            return
        cut = self.fixed
        tb = self.table
        if self.method == "queue" and cut < tb.n:
            cut = _queue_cut(tb, cut, t, float(self.link_free[e]), self._cloud_free)
        te, tt, tc = float(tb.t_e[cut]), float(tb.t_t[cut]), float(tb.t_c[cut])
        done = t + te
        row = len(self.rows)
        self.last[e] = row
        if cut == tb.n:
            self.rows.append([e, k, arrive, cut, t, te, 0.0, 0.0, 0.0, 0.0, 0.0, done])
        else:
            send = max(done, float(self.link_free[e]))  # the edge's uplink sends one output at a time
            at_cloud = self.link_free[e] = send + tt
            self.rows.append([e, k, arrive, cut, t, te, tt, tc, send - done, 0.0, 0.0, np.nan, at_cloud])
            self.flight[row] = at_cloud
            self._push(at_cloud, "arrive", row)
        self._push(done, "edge", e)

    def _arrive(self, t: float, row: int) -> None:
        """Task `row` reaches the cloud: it starts, queues, or waits outside a full queue."""
        del self.flight[row]
        if self.running is None:
            self._begin(t, row)
        elif len(self.queue) < self.capacity:
            self.queue.append(row)
        else:
            self.blocked.append(row)

    def _begin(self, t: float, row: int) -> None:
        r = self.rows[row]
        r[9] = t - (r[12] + r[10])  # t_w: from entering the queue to the start
        self.running, self.cloud_end = row, t + r[7]
        r[11] = self.cloud_end
        self._push(self.cloud_end, "done", row)

    def _done(self, t: float, row: int) -> None:
        """The cloud finished `row`: start the next queued task, admit a blocked one."""
        self.running = None
        if self.queue:
            self._begin(t, self.queue.popleft())
        if self.blocked and len(self.queue) < self.capacity:
            nxt = self.blocked.popleft()
            r = self.rows[nxt]
            r[10] = t - r[12]  # t_block
            self.queue.append(nxt)  # behind the one just started (a full queue is never empty)
            e = self.held.pop(nxt, None)
            if e is not None:
                self._push(t, "edge", e)

    def _cloud_free(self, at: float) -> float:
        """When the cloud would finish every task it knows of (running, queued, blocked, and on their way
        arriving by `at`), FIFO by arrival: S3's view of the queue for a task arriving at `at`."""
        free = self.cloud_end if self.running is not None else 0.0
        for row in (*self.queue, *self.blocked):
            free += self.rows[row][7]
        for row, a in sorted(self.flight.items(), key=lambda x: (x[1], x[0])):
            if a > at:
                break
            free = max(free, a) + self.rows[row][7]
        return free


def _queue_cut(table: CutTable, best: int, t_start: float, link_free: float,
               cloud_free: Callable[[float], float]) -> int:
    """Algorithm 2: move the cut toward the edge while the waiting saved beats the extra edge time.

    The wait of cut i is S3's t_wait: the time the cloud finishes the tasks ahead of it (`cloud_free` of its
    arrival: those there now and those on their way that arrive first) minus the task's arrival at the cloud
    (its edge part, then its turn on the edge's uplink, then the transfer). Waiting for the uplink itself is
    not counted (S3's listing has no uplink queue). Edge-only (i = N) waits for nothing.
    """

    def wait(i: int) -> float:
        if i == table.n:
            return 0.0
        sent = max(t_start + float(table.t_e[i]), link_free) + float(table.t_t[i])
        return max(cloud_free(sent) - sent, 0.0)

    cut, t_wait, te = best, wait(best), float(table.t_e[best])
    if t_wait <= 0:
        return best
    for i in range(best + 1, table.n + 1):
        te_i, w_i = float(table.t_e[i]), wait(i)
        if w_i < t_wait and t_wait - w_i > te_i - te:
            cut, t_wait, te = i, w_i, te_i
    return cut


def speedup(edge_only: ScheduleResult, other: ScheduleResult) -> float:
    """κ = makespan(edge-only) / makespan(other) (S3 Eq. 4)."""
    return edge_only.makespan / other.makespan


#: how a mobile client splits its model with a server (`split_mask`)
SPLITS = ("single", "queue")


def split_mask(base: object, slowdown: float, method: str) -> np.ndarray:
    """S3's cut for a client and its edge server: the server-side layers (bool [L]) of a prefix cut.

    `base` is the unloaded client/server `PlanProblem` (S3's edge = the client, its cloud = the server). Cut
    i runs layers < i on the client and the rest on the server; v_best minimises the unloaded latency (Eq. 1,
    the later cut on ties). ``"single"`` (Single Cutting) keeps v_best. ``"queue"`` (Algorithm 2): with the
    server `slowdown` times slower (its queue), a query waits ``server_s(i) * (slowdown - 1)`` there; later
    cuts are taken while the wait saved exceeds the extra client time.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> from edgeroam.emulator.planning.partition import PlanProblem
    >>> g = LayerGraph.from_chain("c", [0, 0], [100, 10], [1.0, 1.0], input_bytes=100)
    >>> p = PlanProblem(g, [0.3, 0.3], [0.1, 0.1], up_bps=8000.0, down_bps=8e9)
    >>> [split_mask(p, k, "queue").tolist() for k in (1.0, 3.0, 8.0)]  # a long queue: all on the client
    [[True, True], [True, True], [False, False]]
    """
    if method not in SPLITS:
        raise PlanningError(f"unknown split {method!r}; choose one of {SPLITS}")
    n = int(base.n)  # type: ignore[attr-defined]
    on_server = np.arange(n)[None, :] >= np.arange(n + 1)[:, None]  # row i: layers >= i on the server
    total, client, server, _ = base.costs(on_server)  # type: ignore[attr-defined]
    best = int(np.flatnonzero(total <= total.min() + 1e-12)[-1])
    cut = best
    if method == "queue" and slowdown > 1:
        wait = server * (float(slowdown) - 1.0)
        t_wait, te = float(wait[best]), float(client[best])
        for i in range(best + 1, n + 1):
            if wait[i] < t_wait and t_wait - wait[i] > client[i] - te:
                cut, t_wait, te = i, float(wait[i]), float(client[i])
    return on_server[cut].copy()


class ThreeTierCuts:
    """S3's chain cuts on three tiers: client ``[0, i)``, edge ``[i, j)``, cloud the rest.

    `base` is the unloaded client/edge `PlanProblem`; the cloud runs layers at the edge's profiled speed (a
    cloud server of the same kind, more slots) and the edge-cloud hop runs at `edge_cloud_bps` (bits/s) both
    ways (0: no cloud, j = L always). Per cut: ``pre[i]`` (client layers and client-edge transfers, the
    result's way back included), ``server[i]`` (profiled time of layers >= i) and ``up[j]`` (edge-cloud
    transfer of cut j and the result back; 0 for j = L). `best` picks the cut pair of least latency given
    the waits a query meets at the edge and at the cloud (S3's Scheduling with Queuing reads them from the
    queues; Single Cutting from none); `parts` is what a query takes when the edge holds only some layers.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> from edgeroam.emulator.planning.partition import PlanProblem
    >>> g = LayerGraph.from_chain("c", [0, 0], [100, 10], [1.0, 1.0], input_bytes=100)
    >>> cuts = ThreeTierCuts(PlanProblem(g, [2.0, 2.0], [0.5, 0.5], up_bps=8000.0, down_bps=8000.0), 8000.0)
    >>> cuts.best(0.0, 0.0), cuts.best(5.0, 0.0), cuts.best(5.0, 5.0)  # a long edge queue: on to the cloud
    ((0, 2), (0, 0), (2, 2))
    """

    def __init__(self, base: object, edge_cloud_bps: float) -> None:
        from edgeroam.emulator.planning.partition import PlanProblem

        if not edge_cloud_bps >= 0:
            raise PlanningError(f"edge-cloud rate must be >= 0 bit/s (0: no cloud), got {edge_cloud_bps!r}")
        n = self.n = int(base.n)  # type: ignore[attr-defined]
        rows = np.arange(n)[None, :] >= np.arange(n + 1)[:, None]  # row i: layers >= i off the client
        _, client, server, transfer = base.costs(rows)  # type: ignore[attr-defined]
        exec_s = base.exec_s  # type: ignore[attr-defined]
        self.pre, self.server = client + transfer, server
        self.up = np.where(np.arange(n + 1) < n, np.inf, 0.0)  # no cloud: never a cloud part
        if edge_cloud_bps > 0:
            ec = PlanProblem(base.graph, exec_s, exec_s,  # type: ignore[attr-defined]
                             up_bps=edge_cloud_bps, down_bps=edge_cloud_bps)
            self.up = ec.costs(rows)[3]
        self._memo: dict[bytes, int] = {}

    def best(self, edge_wait_s: float = 0.0, cloud_wait_s: float = 0.0) -> tuple[int, int]:
        """The cut pair (i, j) of least latency, the latest cuts on ties (the least sent off the client).

        The cloud runs at the edge's speed, so a pair costs ``pre[i] + server[i] + up[j]``, plus the edge
        wait if the edge runs anything (i < j) and the cloud wait if the cloud does (j < L): O(L) with a
        suffix minimum over j.
        """
        n = self.n
        a = self.pre + self.server
        b = self.up + np.where(np.arange(n + 1) < n, cloud_wait_s, 0.0)
        diag = a + b
        suf = np.minimum.accumulate(b[::-1])[::-1]  # suf[i] = min over j >= i
        off = a[:n] + suf[1:] + edge_wait_s  # i < j
        m = min(float(diag.min()), float(off.min()) if n else np.inf) + 1e-12
        i = int(np.concatenate([np.flatnonzero(diag <= m), np.flatnonzero(off <= m)]).max())
        if i < n and off[i] <= m:
            return i, int(np.flatnonzero(b[i + 1:] <= suf[i + 1] + 1e-12)[-1]) + i + 1
        return i, i

    def parts(self, held: np.ndarray, cut: int) -> tuple[float, float, float, float]:
        """One query with the cloud from layer `cut` on and the edge holding `held` (bool [L]): (seconds
        before the edge, on the edge, edge-cloud transfer, on the cloud). The edge runs the held run just
        before the cut; the client runs everything before it."""
        held = np.asarray(held, dtype=bool)
        key = np.packbits(held).tobytes() + int(cut).to_bytes(4, "little")
        i = self._memo.get(key)
        if i is None:
            missing = np.flatnonzero(~held[:cut])
            i = self._memo[key] = int(missing[-1]) + 1 if len(missing) else 0
        s = self.server
        return float(self.pre[i]), float(s[i] - s[cut]), float(self.up[cut]), float(s[cut])
