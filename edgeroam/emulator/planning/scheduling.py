"""S3's edge-cloud task scheduling: many edges split DNN tasks with one cloud behind a bounded queue.

Zhang et al. (2022), DIGEST §4. Every edge runs a stream of frames (tasks); a task is cut after layer i
(layers before the cut on the edge, the rest on the cloud; i = 0 cloud-only, i = N edge-only):

- `cut_table` — T^e(1, i), d_i / B and T^c(i+1, N) for every cut i (Eq. 1), from per-layer profiles. Cuts are
  prefixes of the topological order; for DAG models the transfer is every tensor an edge layer sends to a
  cloud layer (S3 uses QDMP for DAGs, which it does not describe).
- `simulate` — a discrete-event run: each edge serves its own frames FIFO (one at a time), sends the edge
  part's output over its own uplink (one output at a time, in parallel with its next task), and the task
  enters the cloud's queue if fewer than ``capacity`` tasks wait there, otherwise the edge blocks until one
  leaves; the cloud serves
  its queue FIFO one task at a time. Methods: ``"edge"`` (E-O), ``"cloud"`` (C-O), ``"single"`` (S-C, the
  Eq. 1 optimum for every task) and ``"queue"`` (S-Q, Algorithm 2: when the task would wait after its edge
  part, move the cut toward the edge while the waiting saved exceeds the extra edge time).
- Results: makespan (the paper's "total inference delay of the system"), per-task T_e, T_t, T_c, T_w, and
  `speedup` κ = makespan(E-O) / makespan(method) (Eq. 4).
- `split_mask` — the same two rules for a mobile client and its edge server (the client is S3's edge, the
  server its cloud, the server's load its queue): what the S3 mobility policies send.

Frames of edge e arrive at k / fps (k = 0..frames-1; `fps` is one rate or one per edge: S3's edges sample
5-15 fps). The edges pick the next task by earliest possible start,
as Algorithm 1 polls the edge with the smallest edgetime.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.errors import PlanningError

__all__ = ["METHODS", "SPLITS", "CutTable", "ScheduleResult", "cut_table", "model_cut_table", "simulate",
           "speedup", "split_mask"]

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
    n = table.n
    fixed = {"edge": n, "cloud": 0, "single": table.best, "queue": table.best}[method]
    edge_free = np.zeros(edges)
    link_free = np.zeros(edges)
    nxt = np.zeros(edges, dtype=np.int64)
    cloud_free = 0.0  # the cloud finishes everything committed so far at this time
    starts: list[float] = []  # cloud start times of committed tasks (a min-heap of those not started yet)
    rows = []
    for _ in range(edges * frames):
        arrive = nxt / rate
        ready = np.where(nxt < frames, np.maximum(edge_free, arrive), np.inf)
        e = int(np.argmin(ready))
        k = int(nxt[e])
        t0 = float(ready[e])
        cut = fixed
        if method == "queue" and cut < n:
            cut = _queue_cut(table, cut, t0, cloud_free, float(link_free[e]))
        te, tt, tc = float(table.t_e[cut]), float(table.t_t[cut]), float(table.t_c[cut])
        done_edge = t0 + te
        if cut == n:
            rows.append((e, k, arrive[e], cut, t0, te, 0.0, 0.0, 0.0, 0.0, 0.0, done_edge))
            edge_free[e] = done_edge
            nxt[e] += 1
            continue
        send = max(done_edge, float(link_free[e]))  # the edge's uplink sends one output at a time
        at_cloud = send + tt
        while starts and starts[0] <= at_cloud:
            heapq.heappop(starts)
        enter = at_cloud
        if len(starts) >= capacity:  # queue full: the edge holds the task until enough tasks leave
            waiting = sorted(starts)
            enter = waiting[len(starts) - capacity]
        begin = max(enter, cloud_free)
        cloud_free = begin + tc
        heapq.heappush(starts, begin)
        block = enter - at_cloud
        link_free[e] = at_cloud
        edge_free[e] = done_edge + block
        nxt[e] += 1
        rows.append((e, k, arrive[e], cut, t0, te, tt, tc, send - done_edge, begin - enter, block,
                     cloud_free))
    cols = ["edge", "frame", "arrive", "cut", "start", "t_e", "t_t", "t_c", "t_link", "t_w", "t_block",
            "finish"]
    tasks = pd.DataFrame(rows, columns=cols)
    return ScheduleResult(float(tasks["finish"].max()), tasks, method)


def _queue_cut(table: CutTable, best: int, t_start: float, cloud_free: float, link_free: float) -> int:
    """Algorithm 2: move the cut toward the edge while the waiting saved beats the extra edge time.

    The wait of cut i is S3's t_wait: the time the cloud finishes the tasks before it minus the task's
    arrival at the cloud (its edge part, then its turn on the edge's uplink, then the transfer). Waiting
    for the uplink itself is not counted (S3's listing has no uplink queue). Edge-only (i = N) waits for
    nothing.
    """

    def wait(i: int) -> float:
        if i == table.n:
            return 0.0
        sent = max(t_start + float(table.t_e[i]), link_free) + float(table.t_t[i])
        return max(cloud_free - sent, 0.0)

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
