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

import bisect
import math
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

_STRETCH_MIN = 8  # _Lane: layers not held in a row from which one numpy running sum beats the scalar loop


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


class _BlockTable:
    """Every run [a, b] of the layers ``lo .. hi`` with its lane cost table T[p, q] (state p before layer a,
    q after layer b; every layer of the run allowed on the server), built once per problem.

    Blocks are stored by length: block (a, a + k) is at ``offset[k] + a - lo``; the blocks inside a run are
    then one slice per length. ``a`` and ``b`` are relative to ``lo``. The table spans the layers the orders
    ask for (not the whole model), so when the search covers it all its arrays are used as they are. Each
    T[p, q] comes from the same recurrence whatever the span, so the numbers do not depend on it.
    """

    def __init__(self, prob: PlanProblem, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        n = hi - lo + 1
        up, dn, ec, es = (np.asarray(x[lo : hi + 1], dtype=np.float64) for x in prob._lane)
        sizes = n - np.arange(n)
        self.offset = np.concatenate([[0], np.cumsum(sizes)])
        total = int(self.offset[-1])
        T = np.empty((2, 2, total))  # T[p, q, block]
        T[0, 0, :n] = ec  # k = 0: entering layer a from p, leaving it at q
        T[0, 1, :n] = up + es
        T[1, 0, :n] = dn + ec
        T[1, 1, :n] = es
        # extending by layer b: T[p, q] = min_r (T[p, r] + move(b, r -> q)) + exec_q(b); move r -> r is +0.0
        move = np.zeros((2, 2, n))  # [r, q, b]
        move[0, 1] = up
        move[1, 0] = dn
        run = np.stack([ec, es])[None]  # [1, q, b]
        move = move[None]  # [1, r, q, b]
        off = self.offset.tolist()
        y = np.empty((2, 2, 2, n))  # scratch [p, r, q, a]
        for k in range(1, n):
            m = n - k
            yk = y[..., :m]
            # [p, r, 1, a] + [1, r, q, a]: blocks (a, a + k), a < m
            np.add(T[:, :, None, off[k - 1] : off[k - 1] + m], move[..., k:], out=yk)
            out = T[:, :, off[k] : off[k] + m]
            np.minimum(yk[:, 0], yk[:, 1], out=out)
            np.add(out, run[..., k:], out=out)
        self.T = T.reshape(4, total)  # rows 00, 01, 10, 11
        ar = np.arange(n)  # (few temporaries: fresh pages cost more than the arithmetic here)
        self.a = np.concatenate([ar[:m] for m in range(n, 0, -1)])
        self.b = np.concatenate([ar[k:] for k in range(n)])
        wcum = np.concatenate([[0], np.cumsum(prob.weight_bytes[lo : hi + 1])])
        div = wcum[1:].take(self.b)
        div -= wcum.take(self.a)
        self.divisor = np.maximum(div, 1, out=div).astype(np.float64)

    @staticmethod
    def of(prob: PlanProblem, lo: int, hi: int) -> _BlockTable:
        """A table spanning at least ``lo .. hi`` (kept in the problem's cache; widened when asked beyond)."""
        tab = prob._cache.get("upload_blocks")
        if tab is None or lo < tab.lo or hi > tab.hi:  # type: ignore[attr-defined]
            if tab is not None:
                lo, hi = min(lo, tab.lo), max(hi, tab.hi)  # type: ignore[attr-defined]
            tab = prob._cache["upload_blocks"] = _BlockTable(prob, lo, hi)
        return tab  # type: ignore[return-value]

    def inside(self, runs: list[tuple[int, int]]) -> np.ndarray:
        """Indices of the blocks inside the runs [lo, hi] (inclusive, layer indices)."""
        parts = []
        for lo, hi in runs:
            m = hi - lo + 1
            ks = np.arange(m)
            counts = m - ks
            starts = self.offset[ks] + (lo - self.lo)
            first = np.cumsum(counts) - counts
            parts.append(np.arange(int(counts.sum())) + np.repeat(starts - first, counts))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class _Lane:
    """Lane forward/backward costs for a held mask, recomputed only from where the mask last changed.

    ``F0[a], F1[a]``: best cost of layers < a ending on the client / server (a = 0: the start, on the
    client); ``B0[b], B1[b]``: cost of the layers after b from the client / server. Same arithmetic as
    `PlanProblem.lane_forward_backward`, so the numbers are identical to a full pass. Over a stretch of layers
    not held (the server lane closed) the passes reduce to running sums of the client times, taken with one
    sequential ``np.add.accumulate`` (the same additions in the same order).
    """

    def __init__(self, prob: PlanProblem) -> None:
        n = prob.n
        self.n = n
        self.lane = prob._lane
        self.ec = np.asarray(self.lane[2], dtype=np.float64)
        self.dn = np.asarray(self.lane[1][:n], dtype=np.float64)
        self.held = np.zeros(n, dtype=bool)
        self.al = [False] * n
        self.held_idx: list[int] = []  # indices of the held layers, ascending
        self.F0, self.F1 = [0.0] * (n + 1), [math.inf] * (n + 1)
        self.B0, self.B1 = [0.0] * n, [0.0] * n
        self.B1[n - 1] = self.lane[1][n]
        self.f_ok = 0  # F valid at indices <= f_ok
        self.b_ok = n - 1  # B valid at indices >= b_ok

    def sync(self, held: np.ndarray) -> None:
        """Switch to another held mask."""
        d = np.flatnonzero(held != self.held)
        if len(d):
            self.f_ok = min(self.f_ok, int(d[0]))
            self.b_ok = max(self.b_ok, int(d[-1]))
            self.held = held.copy()
            self.al = held.tolist()
            self.held_idx = np.flatnonzero(held).tolist()

    def forward(self, upto: int) -> None:
        """Make F valid up to index `upto`."""
        up, dn, ec, es = self.lane
        F0, F1, al = self.F0, self.F1, self.al
        i0 = self.f_ok
        if upto <= i0:
            return
        f0, f1 = F0[i0], F1[i0]
        i = i0
        while i < upto:
            if f1 == math.inf and not al[i]:
                # server lane closed up to the next held layer: F0 is a running sum, F1 stays inf
                k = bisect.bisect_left(self.held_idx, i)
                j = min(self.held_idx[k] if k < len(self.held_idx) else upto, upto)
                if j - i >= _STRETCH_MIN:
                    acc = np.add.accumulate(np.concatenate(([f0], self.ec[i:j])))[1:].tolist()
                    F0[i + 1 : j + 1] = acc
                    F1[i + 1 : j + 1] = [math.inf] * (j - i)
                    f0 = acc[-1]
                    i = j
                    continue
            a, b = f1 + dn[i], f0 + up[i]
            f1 = (b if b <= f1 else f1) + es[i] if al[i] else math.inf
            f0 = (f0 if f0 <= a else a) + ec[i]
            F0[i + 1], F1[i + 1] = f0, f1
            i += 1
        self.f_ok = upto

    def backward(self, downto: int) -> None:
        """Make B valid down to index `downto`."""
        up, dn, ec, es = self.lane
        B0, B1, al = self.B0, self.B1, self.al
        i0 = self.b_ok
        if downto >= i0:
            return
        b0, b1 = B0[i0], B1[i0]
        i = i0
        while i > downto:
            if not al[i]:
                # layers s .. i not held: B0 gains each client time, B1 = its down transfer + B0
                k = bisect.bisect_left(self.held_idx, i)
                s = max(self.held_idx[k - 1] + 1 if k else 0, downto + 1)
                if i - s + 1 >= _STRETCH_MIN:
                    acc = np.add.accumulate(np.concatenate(([b0], self.ec[s : i + 1][::-1])))[1:]
                    b1s = self.dn[s : i + 1][::-1] + acc
                    B0[s - 1 : i] = acc[::-1].tolist()
                    B1[s - 1 : i] = b1s[::-1].tolist()
                    b0, b1 = B0[s - 1], B1[s - 1]
                    i = s - 1
                    continue
            c0 = ec[i] + b0
            c1 = es[i] + b1 if al[i] else math.inf
            x, y = up[i] + c1, dn[i] + c0
            b0, b1 = (c0 if c0 <= x else x), (y if y <= c1 else c1)
            B0[i - 1], B1[i - 1] = b0, b1
            i -= 1
        self.b_ok = downto

    def latency(self) -> float:
        """Lane latency of the held mask."""
        self.forward(self.n)
        e0, e1 = self.F0[self.n] + 0.0, self.F1[self.n] + self.lane[1][self.n]
        return e0 if e0 <= e1 else e1


def _greedy(
    prob: PlanProblem, lane: _Lane, held: np.ndarray, todo: np.ndarray, exclude_whole: bool
) -> list[np.ndarray]:
    """Efficiency-first picks among the runs inside `todo` until every `todo` layer is held; returns groups.

    The candidates are every run of consecutive `todo` layers holding no `held` layer. When none reduces the
    latency any more, the remaining `todo` layers form one last group (with `exclude_whole`, the search stops
    instead and returns what it has; the run of all `todo` layers is then no candidate for the first pick).
    The latency of each candidate added to the held layers is min over (p, q) of
    ``(F[p] before its first layer + T[p, q]) + B[q] after its last layer``, summed in this order.
    """
    held = held.copy()
    picks: list[np.ndarray] = []
    n_todo = int(todo.sum())
    runs = _runs(todo & ~held)
    if not runs:
        return picks
    lo, hi = runs[0][0], runs[-1][1]
    tab = _BlockTable.of(prob, lo, hi)
    # the live candidates: start, end (relative to lo) [2, m] int; T rows 00, 01, 10, 11 and the byte divisor
    # [5, m] float; compressed after each pick from one storage into another (fresh large arrays each pick
    # cost page faults), each packed so that one take per array moves them
    ib: np.ndarray | None = None
    fb: np.ndarray | None = None
    idx = None
    if not exclude_whole and runs == [(tab.lo, tab.hi)]:
        m = len(tab.a)  # every block of the table: used as it is for the first pick
    else:
        idx = tab.inside(runs)
        if exclude_whole:
            idx = idx[n_todo != tab.b.take(idx) - tab.a.take(idx) + 1]
        m = len(idx)
    # one allocation for the scratch rows and two storages (pages are only touched as far as they are used,
    # and one block is reused by the allocator from call to call where many smaller ones are not)
    work = np.empty(18 * m)
    fbuf = work[: 4 * m].reshape(4, m)  # scratch rows, reused in place (see below)
    stores = [
        (work[4 * m + 7 * h : 6 * m + 7 * h].view(np.int64), work[6 * m + 7 * h : 11 * m + 7 * h])
        for h in (0, m)
    ]
    mbuf = np.empty((2, m), dtype=bool)
    if idx is None:
        store, spare = None, stores[0]
    else:
        store, spare = stores
        ib, fb = _packed(store, m)
        np.subtract(tab.a.take(idx), lo - tab.lo, out=ib[0])
        np.subtract(tab.b.take(idx), lo - tab.lo, out=ib[1])
        tab.T.take(idx, axis=1, out=fb[:4])
        tab.divisor.take(idx, out=fb[4])
    while (held & todo).sum() < n_todo:
        if m == 0:
            break
        if store is None:
            rs, re, tt, div = tab.a, tab.b, tab.T, tab.divisor
        else:
            ib, fb = _packed(store, m)
            rs, re, tt, div = ib[0], ib[1], fb[:4], fb[4]
        f0, b0, b1, x1 = (x[:m] for x in fbuf)
        m1, m2 = mbuf[0, :m], mbuf[1, :m]
        lane.sync(held)
        lat = lane.latency()
        lane.backward(lo + int(re.min()))  # B is read at the candidates' ends only
        np.array(lane.F0[lo : hi + 1]).take(rs, out=f0, mode="clip")
        np.array(lane.B0[lo : hi + 1]).take(re, out=b0, mode="clip")
        np.array(lane.B1[lo : hi + 1]).take(re, out=b1, mode="clip")
        # F1 = inf before a layer not held, so only blocks right after a held layer need the p = 1 terms
        f1_all = np.array(lane.F1[lo : hi + 1])
        starts = f1_all != math.inf
        adj = None
        if starts.any():
            adj = np.flatnonzero(starts.take(rs))
            if len(adj):
                f0a, f1a = f0.take(adj), f1_all.take(rs.take(adj))
                b0a, b1a = b0.take(adj), b1.take(adj)
                ta = tt.take(adj, axis=1)
                adj_new = np.minimum(
                    np.minimum(f0a + ta[0] + b0a, f0a + ta[1] + b1a),
                    np.minimum(f1a + ta[2] + b0a, f1a + ta[3] + b1a),
                )
        # new = min((T[0, 0] + F0) + B0, (T[0, 1] + F0) + B1), the scratch rows reused: f0 -> new,
        # b0 -> gain, b1 -> efficiency
        np.add(tt[1], f0, out=x1)
        x1 += b1
        np.add(tt[0], f0, out=f0)
        f0 += b0
        new = f0
        np.minimum(new, x1, out=new)
        if adj is not None and len(adj):
            new[adj] = adj_new
        gain = np.subtract(lat, new, out=b0)
        if not gain.max() > 1e-12:
            if not exclude_whole:
                # nothing left reduces the latency on its own: send the rest together
                picks.append(np.flatnonzero(todo & ~held))
            break
        eff = np.divide(gain, div, out=b1)
        np.greater_equal(eff, eff.max(), out=m1)
        top = np.flatnonzero(m1)
        # ties: larger gain, then earlier start, then longer block
        j = int(top[0]) if len(top) == 1 else int(top[np.lexsort((-re[top], rs[top], -gain[top]))[0]])
        a, b = int(rs[j]) + lo, int(re[j]) + lo
        picks.append(np.arange(a, b + 1))
        held[a : b + 1] = True
        np.less(b - lo, rs, out=m1)
        np.greater(a - lo, re, out=m2)
        m1 |= m2
        keep = np.flatnonzero(m1)
        m = len(keep)
        nxt = spare if spare is not None else stores[1]  # each storage holds the first m (m only shrinks)
        nib, nfb = _packed(nxt, m)
        if store is None:
            rs.take(keep, out=nib[0], mode="clip")
            re.take(keep, out=nib[1], mode="clip")
            tt.take(keep, axis=1, out=nfb[:4], mode="clip")
            div.take(keep, out=nfb[4], mode="clip")
        else:
            assert ib is not None and fb is not None
            ib.take(keep, axis=1, out=nib, mode="clip")
            fb.take(keep, axis=1, out=nfb, mode="clip")
        spare, store = store, nxt
        exclude_whole = False
    return picks


def _packed(store: tuple[np.ndarray, np.ndarray], m: int) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous [2, m] int (start, end) and [5, m] float (T rows, divisor) views of a storage."""
    return store[0][: 2 * m].reshape(2, m), store[1][: 5 * m].reshape(5, m)


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
    picks = _greedy(prob, _Lane(prob), np.zeros(prob.n, dtype=bool), tgt, exclude_whole=False)
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
    lane = _Lane(prob)

    def take(group: np.ndarray) -> None:
        out.append(group)
        held[group] = True

    def refine(group: np.ndarray) -> None:
        contiguous = len(group) == group[-1] - group[0] + 1
        if len(group) == 1 or not contiguous:
            take(group)
            return
        mask = np.zeros(prob.n, dtype=bool)
        mask[group] = True
        picks = _greedy(prob, lane, held, mask, exclude_whole=True)
        if not picks:
            take(group)
            return
        for sub in picks:
            if not mask[sub].all() or held[sub].any():
                continue
            if len(sub) == len(group):
                take(sub)
            else:
                refine(sub)
        rest = mask & ~held
        if rest.any():
            take(np.flatnonzero(rest))

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
