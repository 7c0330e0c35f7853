"""In which order the server-side layers are sent (client upload or server-to-server migration).

Orders (each an `UploadOrder`: groups of layer indices sent one after the other):

- `efficiency_order` — PerDNN §III.C.2 after Shin et al. (EMDL'19): the candidate partitions are all runs of
  consecutive layers inside the server-side layers not sent yet; efficiency = latency reduced by also
  holding the
  partition / its bytes; send the best, recompute, repeat until every server-side layer is sent.
- `ionn_order` — IONN: shortest paths with the upload time of each not-yet-sent layer added to its server
  time,
  multiplied by the penalty factors 1, 0.5, 0.25, ..., 0.015625, 0; the layers newly put on the server by each
  path form the next group.
- `recursive_order` — recursive efficiency (Shin et al.): every group of `efficiency_order` is split again,
  best proper sub-run first (if it reduces latency), recursively.
- `direct_order` — every server-side layer in one group (no incremental offloading).
- `fraction_cut` — the longest prefix of an order under a byte budget (PerDNN's fractional migration).

Scores use the two-lane model of `PlanProblem` (IONN's linearisation of the layer order: exact for chains, an
upper bound of the latency for DAGs); the set of server-side layers is the exact optimum of
`shortest_path_plan`.
Partitions of zero bytes (ReLU, pooling, ...) with a positive gain are scored as if they had one byte.
Query latencies while uploading are left to query.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from edgeroam.emulator.planning.partition import PlanProblem, _problem
from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.dnn.graph import LayerGraph

__all__ = [
    "IONN_PENALTIES",
    "ORDERS",
    "UploadOrder",
    "direct_order",
    "efficiency_order",
    "fraction_cut",
    "ionn_order",
    "recursive_order",
]

#: IONN's eight penalty factors (S0: "1, 0.5, 0.25, ..., 0.016, 0.0"), halving from 1, then 0
IONN_PENALTIES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0)


@dataclass(frozen=True, eq=False)
class UploadOrder:
    """Groups of layers in the order they are sent.

    Attributes
    ----------
    groups : list of numpy.ndarray
        Layer indices of each group (int64, ascending).
    efficiency : numpy.ndarray
        Latency reduced by each group (given the groups before it) per byte, s/byte (lane model).
    bytes : numpy.ndarray
        Weight bytes of each group (int64).
    latency_after : numpy.ndarray
        Lane-model latency of one query once the group and all before it are held.
    latency_before : float
        Lane-model latency with no group held.
    method : str
        The algorithm.
    n_layers : int
        Layers in the model.
    """

    groups: list[np.ndarray]
    efficiency: np.ndarray
    bytes: np.ndarray
    latency_after: np.ndarray
    latency_before: float
    method: str
    n_layers: int

    @property
    def cumulative_bytes(self) -> np.ndarray:
        """Bytes sent once each group is complete."""
        return np.cumsum(self.bytes)

    @property
    def total_bytes(self) -> int:
        """Bytes of the whole order."""
        return int(self.bytes.sum())

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.groups)

    def held_mask(self, n_groups: int | None = None) -> np.ndarray:
        """Bool [L] mask of the layers in the first `n_groups` groups (all by default)."""
        m = np.zeros(self.n_layers, dtype=bool)
        for g in self.groups[: self.n_groups if n_groups is None else n_groups]:
            m[g] = True
        return m


def _finish(
    prob: PlanProblem, groups: list[np.ndarray], method: str, start: np.ndarray | None = None
) -> UploadOrder:
    """Scores of a list of groups: bytes, lane latency after each prefix, efficiency."""
    held = np.zeros(prob.n, dtype=bool) if start is None else start.copy()
    masks = [held.copy()]
    for g in groups:
        held[g] = True
        masks.append(held.copy())
    lat = prob.lane_latency_batch(np.array(masks)) if masks else np.zeros(1)
    nbytes = np.array([int(prob.weight_bytes[g].sum()) for g in groups], dtype=np.int64)
    gain = lat[:-1] - lat[1:]
    eff = gain / np.maximum(nbytes, 1)
    return UploadOrder(
        [np.asarray(g, dtype=np.int64) for g in groups], eff, nbytes, lat[1:], float(lat[0]), method, prob.n
    )


def _target(prob: PlanProblem, target: ArrayLike | None) -> np.ndarray:
    if target is not None:
        t = np.asarray(target, dtype=bool)
        if t.shape != (prob.n,):
            raise PlanningError(
                f"model {prob.graph.name!r}: target mask has {t.size} values for {prob.n} layers"
            )
        return t
    return prob.best_where(np.ones(prob.n, dtype=bool))[0]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [a, b] (inclusive) of True in `mask`."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist(), strict=True))


class _Blocks:
    """Every run [a, b] inside given runs, with the lane cost table T[p, q] through it (all layers
    allowed)."""

    def __init__(self, prob: PlanProblem, runs: list[tuple[int, int]]) -> None:
        up, dn, ec, es = (np.asarray(x) for x in prob._lane)
        starts = np.concatenate([np.arange(a, b + 1) for a, b in runs]) if runs else np.zeros(0, np.int64)
        ends = np.concatenate([np.full(b - a + 1, b) for a, b in runs]) if runs else np.zeros(0, np.int64)
        lens = ends - starts + 1
        total = int((lens).sum())
        self.a = np.empty(total, dtype=np.int64)
        self.b = np.empty(total, dtype=np.int64)
        self.T = np.empty((4, total))  # rows: T[p, q] for (p, q) = 00, 01, 10, 11
        a, end = starts, ends
        # k = 0: entering layer a from p (state before a), ending at q
        t00, t01, t10, t11 = ec[a], up[a] + es[a], dn[a] + ec[a], es[a]
        pos = 0
        for k in range(int(lens.max()) if len(lens) else 0):
            if k > 0:
                keep = end - a >= k
                a, end = a[keep], end[keep]
                b = a + k
                p00, p01, p10, p11 = t00[keep], t01[keep], t10[keep], t11[keep]
                # extend by layer b: T[p, q] = min_r T[p, r] + trans(b, r, q) + exec_q(b)
                dnb, upb, ecb, esb = dn[b], up[b], ec[b], es[b]
                t00 = np.minimum(p00, p01 + dnb) + ecb
                t01 = np.minimum(p00 + upb, p01) + esb
                t10 = np.minimum(p10, p11 + dnb) + ecb
                t11 = np.minimum(p10 + upb, p11) + esb
            m = len(a)
            self.a[pos : pos + m] = a
            self.b[pos : pos + m] = a + k
            self.T[:, pos : pos + m] = (t00, t01, t10, t11)
            pos += m
        self.prev = np.maximum(self.a - 1, 0)
        self.first = self.a == 0
        wcum = np.concatenate([[0], np.cumsum(prob.weight_bytes)])
        self.bytes = wcum[self.b + 1] - wcum[self.a]

    def gains(self, prob: PlanProblem, held: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, float]:
        """Lane latency reduction of adding each selected block to `held`, and the current latency."""
        F, B, lat = prob.lane_forward_backward(held)
        b, T = self.b[sel], self.T[:, sel]
        prev, first = self.prev[sel], self.first[sel]
        f0 = np.where(first, 0.0, F[prev, 0])
        f1 = np.where(first, np.inf, F[prev, 1])
        b0, b1 = B[b, 0], B[b, 1]
        new = np.minimum(
            np.minimum(f0 + T[0] + b0, f0 + T[1] + b1), np.minimum(f1 + T[2] + b0, f1 + T[3] + b1)
        )
        return lat - new, lat


def _greedy(
    prob: PlanProblem, blocks: _Blocks, held: np.ndarray, todo: np.ndarray, exclude_whole: bool
) -> list[np.ndarray]:
    """Efficiency-first picks among `blocks` until every `todo` layer is held; returns layer-index groups.

    When no block reduces the latency any more, the remaining `todo` layers form one last group (with
    `exclude_whole`, the search stops instead and returns what it has).
    """
    held = held.copy()
    picks = []
    n_todo = int(todo.sum())
    while (held & todo).sum() < n_todo:
        hcum = np.concatenate([[0], np.cumsum(held)])
        alive = (hcum[blocks.b + 1] - hcum[blocks.a]) == 0
        if exclude_whole:
            alive &= ~((blocks.b - blocks.a + 1) == n_todo)
        sel = np.flatnonzero(alive)
        if len(sel) == 0:
            break
        gain, _ = blocks.gains(prob, held, sel)
        if not np.any(gain > 1e-12):
            if exclude_whole:
                break
            # nothing left reduces the latency on its own: send the rest together
            picks.append(np.flatnonzero(todo & ~held))
            break
        eff = gain / np.maximum(blocks.bytes[sel], 1)
        # best efficiency; ties: larger gain, then earlier start, then longer block
        top = np.flatnonzero(eff >= eff.max())
        order = np.lexsort((-(blocks.b[sel[top]]), blocks.a[sel[top]], -gain[top]))
        j = sel[top[order[0]]]
        a, b = int(blocks.a[j]), int(blocks.b[j])
        picks.append(np.arange(a, b + 1))
        held[a : b + 1] = True
        exclude_whole = False
    return picks


def efficiency_order(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    target: ArrayLike | None = None,
) -> UploadOrder:
    """PerDNN's efficiency-based order (best latency reduction per byte first, recomputed after each pick).

    Parameters
    ----------
    graph : LayerGraph or PlanProblem
        The DNN (or a prepared problem).
    client_s, server_s : array-like
        Seconds per layer on the client and on the server.
    up_bps, down_bps : float
        Bandwidths, bits per second.
    target : array-like of bool, optional
        The server-side layers to send (default: the optimal plan's).
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    tgt = _target(prob, target)
    blocks = _Blocks(prob, _runs(tgt))
    picks = _greedy(prob, blocks, np.zeros(prob.n, dtype=bool), tgt, exclude_whole=False)
    return _finish(prob, picks, "efficiency")


def recursive_order(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    target: ArrayLike | None = None,
) -> UploadOrder:
    """Recursive efficiency: each efficiency group is split again (best proper sub-run first), recursively.

    A group stays whole when none of its proper sub-runs reduces the latency on its own.
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    eff = efficiency_order(prob, target=target)
    held = np.zeros(prob.n, dtype=bool)
    out: list[np.ndarray] = []

    def refine(group: np.ndarray) -> None:
        contiguous = len(group) == group[-1] - group[0] + 1
        if len(group) == 1 or not contiguous:
            out.append(group)
            held[group] = True
            return
        mask = np.zeros(prob.n, dtype=bool)
        mask[group] = True
        picks = _greedy(
            prob, _Blocks(prob, [(int(group[0]), int(group[-1]))]), held, mask, exclude_whole=True
        )
        if not picks:
            out.append(group)
            held[group] = True
            return
        for sub in picks:
            if not mask[sub].all() or held[sub].any():
                continue
            if len(sub) == len(group):
                out.append(sub)
                held[sub] = True
            else:
                refine(sub)
        rest = mask & ~held
        if rest.any():
            out.append(np.flatnonzero(rest))
            held[rest] = True

    for g in eff.groups:
        refine(g)
    return _finish(prob, out, "recursive")


def ionn_order(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    penalties: tuple[float, ...] = IONN_PENALTIES,
) -> UploadOrder:
    """IONN's order: shortest paths with penalised upload time; new server layers of each path = next group.

    For penalty k the server time of a layer not sent yet becomes ``server_s + k * weight_bytes * 8 /
    up_bps``;
    sent layers have no penalty. The last factor (0) completes the optimal plan.
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    held = np.zeros(prob.n, dtype=bool)
    groups = []
    upload_s = prob.weight_bytes * prob.up_rate
    base = prob.exec_s
    for k in penalties:
        pen = prob.with_server_profile(base + np.where(held, 0.0, k * upload_s))
        where, _ = pen.lane_plan(np.ones(prob.n, dtype=bool))
        new = where & ~held
        if new.any():
            groups.append(np.flatnonzero(new))
            held |= new
    return _finish(prob, groups, "ionn")


def direct_order(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    target: ArrayLike | None = None,
) -> UploadOrder:
    """Direct uploading: all server-side layers of the optimal plan as one group."""
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    tgt = _target(prob, target)
    groups = [np.flatnonzero(tgt)] if tgt.any() else []
    return _finish(prob, groups, "direct")


ORDERS = {
    "efficiency": efficiency_order,
    "ionn": ionn_order,
    "recursive": recursive_order,
    "direct": direct_order,
}


def fraction_cut(order: UploadOrder, budget_bytes: float) -> UploadOrder:
    """The longest prefix of `order` whose bytes stay within `budget_bytes` (fractional migration).

    Examples
    --------
    >>> sizes = np.array([10, 20])
    >>> o = UploadOrder([np.array([0]), np.array([1])], np.ones(2), sizes, np.zeros(2), 1.0, "x", 2)
    >>> fraction_cut(o, 25).n_groups
    1
    """
    if not budget_bytes >= 0:
        raise PlanningError(f"fraction budget must be >= 0 bytes, got {budget_bytes!r}")
    k = int(np.searchsorted(order.cumulative_bytes, budget_bytes, side="right"))
    return UploadOrder(
        order.groups[:k],
        order.efficiency[:k],
        order.bytes[:k],
        order.latency_after[:k],
        order.latency_before,
        f"{order.method}[:{k}]",
        order.n_layers,
    )
