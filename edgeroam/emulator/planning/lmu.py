"""EosDNN's Layer Merge Uploading (LMU): in which order a client uploads its offloaded layers (§VI).

An `UploadProblem` is one chain task with a placement (node of every layer; the client's own node = stays
local). While layers upload, a query runs each *active* layer on its node and the others on the client:
the system delay SD (Def. 6) = execution + transfers between consecutive layers' nodes (client at both ends).
`sd_batch` evaluates many active masks at once. An `UploadSchedule` is a list of steps (layers sent, layers
that become active when the step is done, sent one after the other on the client's uplink); `sd_timeline`
gives SD(t) and `ssd` its area over a horizon (SSD; the toy of Table II integrates to t = 50).

`lmu_schedule` applies Principles 1-4: weightless layers with LDA* > 0 are active at t = 0 (Principle 2);
layers with LDA* < 0 merge with neighbours by the Merge Rules until the merged layer's LDA* > 0 (Principle 3);
partitions are sent in descending ELDA = LDA / upload delay, re-evaluated after every upload (Principle 1;
Eq. 17 divides by the input size, a constant per model, which does not change the order); inside a merged
layer its LDA* > 0 sub-layers go first in ELDA order, then the rest at once (Principle 4). LDA is the drop of
SD computed on the placement (it equals Eqs. 18-25 for the four upload modes). `from_order` turns the orders
of upload.py (IONN, recursive efficiency, direct = non-uploading) into schedules for the same evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.emulator.dnn.devices import Device
from edgeroam.emulator.planning.eosdnn import Environment, Workload
from edgeroam.emulator.planning.partition import PlanProblem
from edgeroam.errors import PlanningError

#: bytes per "MB" (EosDNN's sizes are MiB)
MB = 2.0**20

__all__ = [
    "PlanUploadProblem",
    "UploadProblem",
    "UploadSchedule",
    "eosdnn_toy",
    "from_groups",
    "largest_partition_ratio",
    "lmu_order",
    "lmu_schedule",
    "model_upload_problem",
    "placement_upload_problem",
    "sd_area",
    "sd_batch",
    "sd_timeline",
    "server_groups",
    "ssd",
]


@dataclass(frozen=True)
class UploadProblem:
    """One chain task, its placement and its costs.

    Attributes
    ----------
    local_s : numpy.ndarray
        A_ij: seconds of each layer on the client.
    remote_s : numpy.ndarray
        C_ij: seconds of each layer on its placed node.
    node : numpy.ndarray
        Placed node of each layer (``client`` = stays local).
    edge_bytes : numpy.ndarray
        [L + 1] bytes crossing each boundary: the input of layer 0, between layers, the output of the last.
    upload_s : numpy.ndarray
        Seconds to upload each layer's weights from the client to its node (0 for local layers).
    inv_bw : numpy.ndarray
        [S, S] seconds per byte between nodes (0 on the diagonal).
    client : int
        The client's node id.
    weight_bytes : numpy.ndarray
        Weight bytes of each layer (for partition sizes).
    """

    local_s: np.ndarray
    remote_s: np.ndarray
    node: np.ndarray
    edge_bytes: np.ndarray
    upload_s: np.ndarray
    inv_bw: np.ndarray
    client: int
    weight_bytes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.local_s)
        for what, arr, m in (("remote_s", self.remote_s, n), ("node", self.node, n),
                             ("edge_bytes", self.edge_bytes, n + 1), ("upload_s", self.upload_s, n),
                             ("weight_bytes", self.weight_bytes, n)):
            if len(arr) != m:
                raise PlanningError(f"upload problem: {what} has {len(arr)} entries, expected {m}")

    @property
    def n(self) -> int:
        """Number of layers."""
        return len(self.local_s)

    @property
    def offloaded(self) -> np.ndarray:
        """Bool mask of the layers placed off the client."""
        return self.node != self.client

    def sd(self, active: np.ndarray) -> np.ndarray:
        """SD of one query per row of `active` (`sd_batch`)."""
        return sd_batch(self, active)

    @classmethod
    def two_node(cls, local_s: Sequence[float], remote_s: Sequence[float], edge_s: Sequence[float],
                 upload_s: Sequence[float], weight_bytes: Sequence[float] | None = None) -> UploadProblem:
        """Every layer placed on one server; boundary transfers given in seconds (`edge_s`, L + 1 values)."""
        n = len(local_s)
        up = np.asarray(upload_s, dtype=np.float64)
        return cls(np.asarray(local_s, dtype=np.float64), np.asarray(remote_s, dtype=np.float64),
                   np.ones(n, dtype=np.int64), np.asarray(edge_s, dtype=np.float64), up,
                   np.array([[0.0, 1.0], [1.0, 0.0]]), 0,
                   up.copy() if weight_bytes is None else np.asarray(weight_bytes, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class PlanUploadProblem:
    """A model (chain or DAG) offloaded to one server by the placement `target` of a `PlanProblem`.

    LMU on PerDNN's latency model: SD(active) is the exact latency (`PlanProblem.costs`) of the active layers
    on the server and the rest on the client; uploads go over the client's uplink. Layers are in topological
    order, so Principle 3's runs and merges are over that order (for a DAG, a reading).
    """

    plan: PlanProblem
    target: np.ndarray

    @property
    def n(self) -> int:
        """Number of layers."""
        return self.plan.n

    @property
    def weight_bytes(self) -> np.ndarray:
        """Weight bytes of each layer."""
        return self.plan.graph.layers["weight_bytes"].to_numpy(np.float64)

    @property
    def offloaded(self) -> np.ndarray:
        """The placement's server-side layers."""
        return np.asarray(self.target, dtype=bool)

    @property
    def upload_s(self) -> np.ndarray:
        """Seconds to upload each server-side layer's weights (0 for client layers)."""
        return np.where(self.offloaded, self.weight_bytes * self.plan.up_rate, 0.0)

    def sd(self, active: np.ndarray) -> np.ndarray:
        """Latency of one query per row of `active` (a 1-D mask gives a 0-d array)."""
        act = np.asarray(active, dtype=bool)
        out = self.plan.costs(np.atleast_2d(act))[0]
        return out if act.ndim == 2 else out[0]


def lmu_order(plan: PlanProblem, target: np.ndarray) -> np.ndarray:
    """LMU's upload order of the server-side layers `target` of `plan`: layer indices, the ones active from
    t = 0 (weightless, Principle 2) first, then every step's layers in the order they are sent.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("toy", [8000, 0, 8000], [1000, 1000, 10], [1.0, 1.0, 1.0], input_bytes=1000)
    >>> p = PlanProblem(g, [1.0, 1.0, 2.0], [0.1] * 3, up_bps=8000.0, down_bps=8000.0)
    >>> lmu_order(p, np.array([True, True, True])).tolist()  # 0 and 1 alone cost more than they save: merged
    [2, 0, 1]
    """
    sched = lmu_schedule(PlanUploadProblem(plan, np.asarray(target, dtype=bool)))
    parts = [np.asarray(sched.start, dtype=np.int64), *[np.asarray(g, dtype=np.int64) for g in sched.sent]]
    return np.concatenate(parts)


def eosdnn_toy() -> UploadProblem:
    """The four-layer chain A-B-C-D of EosDNN Tables II-III (time units of the paper).

    The paper gives only upload delays (A 6, B 15, C 10, D 13), SD 63 before and 21 after the upload and the
    ELDA of each step; the local / server times (10, 20, 18, 15 / 3, 6, 5, 5) and boundary transfers
    (1, 2, 3, 1, 1) here are one solution of those constraints (the transfers between layers are forced;
    the split of the rest is free).
    """
    return UploadProblem.two_node([10, 20, 18, 15], [3, 6, 5, 5], [1, 2, 3, 1, 1], [6, 15, 10, 13])


def sd_batch(prob: UploadProblem, active: np.ndarray) -> np.ndarray:
    """SD of one query for each row of `active` ([M, L] bool; a 1-D mask gives a 0-d array)."""
    act = np.asarray(active, dtype=bool)
    where = np.where(act, prob.node[None, :] if act.ndim == 2 else prob.node, prob.client)
    ex = np.where(act, prob.remote_s, prob.local_s).sum(-1)
    w2 = np.atleast_2d(where)
    ends = np.full((len(w2), 1), prob.client)
    path = np.concatenate([ends, w2, ends], axis=1)
    tr = (prob.edge_bytes[None, :] * prob.inv_bw[path[:, :-1], path[:, 1:]]).sum(1)
    out = ex + (tr if act.ndim == 2 else tr[0])
    return np.asarray(out)


@dataclass(frozen=True)
class UploadSchedule:
    """Upload steps: ``sent[k]`` layers are uploaded in step k, then ``activate[k]`` become active.

    ``start`` layers are active at t = 0 (weightless layers pre-uploaded, Principle 2).
    """

    sent: list[np.ndarray]
    activate: list[np.ndarray]
    start: np.ndarray
    method: str

    @property
    def order(self) -> list[list[int]]:
        """Layers sent per step, as lists."""
        return [g.tolist() for g in self.sent]


def from_groups(prob: UploadProblem, groups: Sequence[Sequence[int]], method: str) -> UploadSchedule:
    """A schedule where each group is sent and becomes active as a whole (upload.py's orders)."""
    gs = [np.asarray(g, dtype=np.int64) for g in groups]
    return UploadSchedule(gs, gs, np.zeros(0, dtype=np.int64), method)


def sd_timeline(prob: UploadProblem, sched: UploadSchedule) -> pd.DataFrame:
    """SD(t): one row per constant piece (``start``, ``end``, ``sd``, ``step``; -1 = before any step)."""
    act = np.zeros(prob.n, dtype=bool)
    act[sched.start] = True
    masks = [act.copy()]
    durs = []
    for sent, on in zip(sched.sent, sched.activate, strict=True):
        durs.append(float(prob.upload_s[sent].sum()))
        act[on] = True
        masks.append(act.copy())
    sd = sd_batch(prob, np.array(masks))
    ends = np.cumsum(durs)
    starts = np.concatenate([[0.0], ends])
    return pd.DataFrame({"start": starts, "end": np.append(ends, np.inf), "sd": sd,
                         "step": np.arange(-1, len(durs))})


def sd_area(prob: UploadProblem, sched: UploadSchedule, lo: float, hi: float) -> float:
    """Area under SD(t) over [lo, hi] (any window, e.g. the paper's Fig. 13(b) intervals)."""
    if hi < lo:
        raise PlanningError(f"window [{lo}, {hi}] ends before it starts")
    tl = sd_timeline(prob, sched)
    dur = np.clip(np.minimum(tl["end"].to_numpy(), hi) - np.maximum(tl["start"].to_numpy(), lo), 0.0, None)
    return float((dur * tl["sd"].to_numpy()).sum())


def ssd(prob: UploadProblem, sched: UploadSchedule, horizon: float | None = None) -> float:
    """SSD: area under SD(t) from 0 to `horizon` (default: the end of the upload; never before it)."""
    end_upload = float(sd_timeline(prob, sched)["start"].iat[-1])
    end = end_upload if horizon is None else float(horizon)
    if end < end_upload - 1e-9:
        raise PlanningError(f"horizon {end} ends before the upload does ({end_upload})")
    return sd_area(prob, sched, 0.0, end)


def largest_partition_ratio(prob: UploadProblem, sched: UploadSchedule) -> float:
    """Bytes of the largest step / bytes of the whole model (EosDNN Fig. 12)."""
    total = float(prob.weight_bytes.sum())
    if not sched.sent or total == 0:
        return 0.0
    return max(float(prob.weight_bytes[g].sum()) for g in sched.sent) / total


def _lda_star(prob: UploadProblem, lo: int, hi: int) -> float:
    """LDA* of layers lo..hi-1 uploaded alone (independent mode): SD(none) - SD(them)."""
    m = np.zeros((2, prob.n), dtype=bool)
    m[1, lo:hi] = True
    a, b = prob.sd(m)
    return float(a - b)


def _merge_runs(prob: UploadProblem, lo: int, hi: int) -> list[tuple[int, int]]:
    """Principle 3 on one run of offloaded layers: partitions [a, b) with LDA* > 0 where possible."""
    parts = [(i, i + 1) for i in range(lo, hi)]
    k = 0
    while k < len(parts):
        a, b = parts[k]
        if _lda_star(prob, a, b) > 0 or len(parts) == 1:
            k += 1
            continue
        opts = []
        if k > 0:
            opts.append(("in", parts[k - 1][0], b))
        if k + 1 < len(parts):
            opts.append(("out", a, parts[k + 1][1]))
        scored = []
        for side, x, y in opts:
            lda = _lda_star(prob, x, y)
            up = float(prob.upload_s[x:y].sum())
            scored.append((lda > 0, lda / up if up > 0 else np.sign(lda) * np.inf, side, x, y))
        pos = [s for s in scored if s[0]]
        if pos:  # rules (a) and (b): the side(s) giving LDA* > 0, the higher ELDA
            side = max(pos, key=lambda s: s[1])[2]
        else:  # rule (c): merge with the output side, the input side at the end of the run
            side = "out" if any(s[2] == "out" for s in scored) else "in"
        if side == "out":
            parts[k:k + 2] = [(a, parts[k + 1][1])]
        else:
            parts[k - 1:k + 1] = [(parts[k - 1][0], b)]
            k -= 1
    return parts


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def lmu_schedule(prob: UploadProblem) -> UploadSchedule:
    """Principles 1-4 (Algorithm 2's steps 2-5) for the placement of `prob`.

    Examples
    --------
    >>> lmu_schedule(eosdnn_toy()).order  # C -> B -> A -> D, Table III
    [[2], [1], [0], [3]]
    """
    off = prob.offloaded
    parts = [p for lo, hi in _runs(off) for p in _merge_runs(prob, lo, hi)]
    free = prob.upload_s == 0
    active = np.zeros(prob.n, dtype=bool)
    # Principle 2: weightless single-layer partitions with LDA* > 0 run on their node from t = 0
    start = [a for a, b in parts if b - a == 1 and free[a] and _lda_star(prob, a, b) > 0]
    active[start] = True
    todo = [p for p in parts if not (p[1] - p[0] == 1 and p[0] in start)]
    sent: list[np.ndarray] = []
    activate: list[np.ndarray] = []
    while todo:
        base = float(prob.sd(active))
        masks = np.repeat(active[None, :], len(todo), 0)
        for i, (a, b) in enumerate(todo):
            masks[i, a:b] = True
        gain = base - prob.sd(masks)
        up = np.array([prob.upload_s[a:b].sum() for a, b in todo])
        with np.errstate(divide="ignore", invalid="ignore"):
            elda = np.where(up > 0, gain / np.where(up > 0, up, 1.0), np.sign(gain) * np.inf)
        a, b = todo.pop(int(np.argmax(np.nan_to_num(elda, nan=0.0, posinf=np.inf, neginf=-np.inf))))
        for s, on in _inside(prob, a, b, active):  # Principle 4
            sent.append(s)
            activate.append(on)
            active[on] = True
    return UploadSchedule(sent, activate, np.asarray(start, dtype=np.int64), "lmu")


def _inside(prob: UploadProblem, a: int, b: int, active: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Principle 4: a merged layer's LDA* > 0 sub-layers first (ELDA order), then the rest at once."""
    if b - a == 1:
        return [(np.array([a]), np.array([a]))]
    act = active.copy()
    rest = list(range(a, b))
    steps = []
    while True:
        base = float(prob.sd(act))
        best, best_e = None, 0.0
        for i in rest:
            if prob.upload_s[i] <= 0 or _lda_star(prob, i, i + 1) <= 0:
                continue
            m = act.copy()
            m[i] = True
            e = (base - float(prob.sd(m))) / prob.upload_s[i]
            if e > best_e:
                best, best_e = i, e
        if best is None:
            break
        steps.append((np.array([best]), np.array([best])))
        act[best] = True
        rest.remove(best)
    if rest:
        steps.append((np.array(rest), np.arange(a, b)))
    return steps


def model_upload_problem(
    model: str, *, client: str | Device = "eosdnn-client", server: str | Device = "eosdnn-edge",
    mb_per_s: float = 10.0,
) -> tuple[UploadProblem, PlanProblem]:
    """A zoo chain model offloaded to one server (EosDNN Figs. 13-14) and the two-lane problem of upload.py.

    Profiles from the device presets; client<->server bandwidth `mb_per_s` (MiB/s) both ways and uploads.
    The placement is the minimum-latency plan (`shortest_path_plan`).
    """
    from edgeroam.emulator.dnn.profiles import profile
    from edgeroam.emulator.dnn.zoo import model_graph
    from edgeroam.emulator.planning.partition import shortest_path_plan

    g = model_graph(model)
    if not g.is_chain:
        raise PlanningError(f"model {model!r} is not a chain; LMU here takes chain models (AlexNet, VGG)")
    bps = mb_per_s * MB * 8.0
    prob2 = PlanProblem(g, profile(g, client), profile(g, server), up_bps=bps, down_bps=bps)
    where = shortest_path_plan(prob2).where
    out = g.layers["out_bytes"].to_numpy(dtype=np.float64)
    w = g.layers["weight_bytes"].to_numpy(dtype=np.float64)
    inv = 1.0 / (mb_per_s * MB)
    up = UploadProblem(prob2.exec_c, prob2.exec_s, where.astype(np.int64),
                       np.concatenate([[float(g.input_bytes)], out]), np.where(where, w * inv, 0.0),
                       np.array([[0.0, inv], [inv, 0.0]]), 0, w)
    return up, prob2


def placement_upload_problem(env: Environment, wl: Workload, plan: np.ndarray, task: int) -> UploadProblem:
    """The `UploadProblem` of one task of an EosDNN migration plan (S0 §V.A's second step).

    Times are T1 = P / Q on the owner client and on each layer's planned node; boundary bytes are what each
    layer reads (the last boundary is the output, returned to the client); uploads go from the client to
    the layer's node at that pair's bandwidth.
    """
    pos = np.flatnonzero(wl.task == task)
    if not len(pos):
        raise PlanningError(f"task {task} is not in the workload (0..{wl.n_tasks - 1})")
    pos = pos[np.argsort(wl.layer[pos])]
    client = int(wl.owner[pos[0]])
    node = np.asarray(plan, dtype=np.int64)[pos]
    cyc = wl.cycles[pos]
    inv = env.inv_bw.copy()
    np.fill_diagonal(inv, 0.0)
    from edgeroam.emulator.dnn.zoo import model_graph

    out_last = float(model_graph(wl.models[task]).layers["out_bytes"].iat[-1])
    w = wl.weight_bytes[pos]
    return UploadProblem(cyc / env.hz[client], cyc / env.hz[node], node,
                         np.concatenate([wl.in_bytes[pos], [out_last]]),
                         np.where(node != client, w * inv[client, node], 0.0), inv, client, w)


def server_groups(prob: UploadProblem) -> UploadSchedule:
    """Direct uploading on several servers: each server's layers as one group, servers by first layer."""
    off = np.flatnonzero(prob.offloaded)
    nodes = list(dict.fromkeys(prob.node[off].tolist()))
    return from_groups(prob, [off[prob.node[off] == s] for s in nodes], "direct")
