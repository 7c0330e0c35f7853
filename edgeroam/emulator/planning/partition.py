"""Where each layer of one query runs: client or server, chosen to minimise the latency of the query.

The cost model (IONN / PerDNN, §III.C.2) of a placement ``where`` (True = server) is the sum of

- the execution time of every layer where it runs (``client_s[i]`` or ``server_s[i]``);
- for every tensor, one transfer per direction in which it is needed: the output of layer ``i`` (or the model
  input, produced on the client) costs ``bytes * 8 / up_bps`` when its producer is on the client and at least
  one reader is on the server, and ``bytes * 8 / down_bps`` when its producer is on the server and at least
  one reader is on the client (a tensor is sent once however many layers read it);
- the outputs of the sink layers (no successor) are read on the client: they cost a down transfer when their
  layer runs on the server.

One query is sequential (no overlap of client work, server work and transfers), as in IONN and PerDNN.

Solvers, all exact for this model:

- `shortest_path_plan` — the execution-graph shortest path. For a chain it is IONN's two-lane graph (node =
  (layer, location)); for a DAG the node is (position in the layer order, where each live tensor is held:
  client, server or both), i.e. the same shortest path over the live frontier (3**w states, w = live
  tensors; 4 for BN-Inception). Above a width limit it falls back to the min cut.
- `mincut_plan` — an s-t minimum cut with networkx: source = client, sink = server, capacity S->i = server
  time, i->T = client time, and per tensor an auxiliary node that makes its up (or down) transfer cost paid
  once.
- `neurosurgeon_plan` — the best single split of the layer order (client prefix, server suffix).

``on_server`` restricts which layers may run on the server (those the server holds). The upload orders
(upload.py) and query timelines (query.py) build on `PlanProblem`, which is built once and reused.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.dnn.graph import LayerGraph

__all__ = [
    "Plan",
    "PlanProblem",
    "mincut_plan",
    "neurosurgeon_plan",
    "plan_cost",
    "shortest_path_plan",
]

#: above this many live tensors the frontier shortest path (3**w states) gives way to the min cut
MAX_FRONTIER_WIDTH = 8

_MINCUT_UNITS = 1e12  # min-cut capacities are integer picoseconds
_LANE_SCALAR_MAX_K = 16  # lane_latency_batch: up to this many masks, plain Python per mask is faster
_BEST_CACHE_SIZE = 256  # best_where: optima kept per problem (the cache is emptied when full)
_C, _S, _CS = 0, 1, 2  # where a live tensor is held (frontier digits)


@dataclass(frozen=True, eq=False)
class Plan:
    """Where each layer runs and the latency of one query.

    Attributes
    ----------
    where : numpy.ndarray
        bool ``[L]``; True = the layer runs on the server.
    latency_s : float
        End-to-end latency of one query (client + server + transfer).
    client_s, server_s, transfer_s : float
        The latency split by where the time is spent.
    method : str
        Solver that made the plan.
    """

    where: np.ndarray
    latency_s: float
    client_s: float
    server_s: float
    transfer_s: float
    method: str = field(default="")

    @property
    def server_layers(self) -> np.ndarray:
        """Indices of the layers run on the server."""
        return np.flatnonzero(self.where)

    @property
    def n_server(self) -> int:
        """Number of layers run on the server."""
        return int(self.where.sum())


def _as_profile(graph_name: str, what: str, values: object, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.shape != (n,):
        raise PlanningError(f"model {graph_name!r}: {what} has {arr.size} values for {n} layers")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise PlanningError(f"model {graph_name!r}: {what}[{bad}] = {arr[bad]!r} is not a finite time >= 0")
    return arr


class PlanProblem:
    """A graph with its two profiles and bandwidths, prepared once for many plans.

    Parameters
    ----------
    graph : LayerGraph
        The DNN (rows in topological order).
    client_s, server_s : array-like
        Seconds per layer on the client and on the server.
    up_bps, down_bps : float
        Client->server and server->client bandwidth in bits per second.
    """

    def __init__(
        self, graph: LayerGraph, client_s: ArrayLike, server_s: ArrayLike, *, up_bps: float, down_bps: float
    ) -> None:
        n = graph.n_layers
        self.graph = graph
        self.n = n
        self.exec_c = _as_profile(graph.name, "client profile", client_s, n)
        self.exec_s = _as_profile(graph.name, "server profile", server_s, n)
        for what, bw in (("up_bps", up_bps), ("down_bps", down_bps)):
            if not (isinstance(bw, (int, float)) and math.isfinite(bw) and bw > 0):
                raise PlanningError(f"model {graph.name!r}: {what} must be a positive number, got {bw!r}")
        self.up_bps = float(up_bps)
        self.down_bps = float(down_bps)
        self.up_rate = 8.0 / self.up_bps  # seconds per byte
        self.down_rate = 8.0 / self.down_bps
        self.out_bytes = graph.layers["out_bytes"].to_numpy(dtype=np.float64)
        self.weight_bytes = graph.layers["weight_bytes"].to_numpy(dtype=np.int64)
        self.input_bytes = float(graph.input_bytes)
        edges = graph.edges
        self.is_chain = bool(graph.is_chain)
        self.edges = edges
        self.preds: list[list[int]] = [[] for _ in range(n)]
        self.succs: list[list[int]] = [[] for _ in range(n)]
        for s, d in edges.tolist():
            self.preds[d].append(s)
            self.succs[s].append(d)
        self.is_source = np.array([not p for p in self.preds], dtype=bool)
        self.is_sink = np.array([not s for s in self.succs], dtype=bool)
        # last reader of each tensor; sinks are read at the end (position n), the input by the last source
        last = np.full(n, -1, dtype=np.int64)
        if len(edges):
            np.maximum.at(last, edges[:, 0], edges[:, 1])
        last[self.is_sink] = n
        self.last_reader = last
        self.input_last = int(np.flatnonzero(self.is_source).max())
        self._lane = self._lane_boundaries()
        self._frontier: _Frontier | None = None  # graph-only: shared by the copies below
        self._cache: dict[object, object] = {}  # profile-dependent tables and optima (emptied by copies)

    def with_server_profile(self, server_s: np.ndarray) -> PlanProblem:
        """A copy with another server profile (same graph and bandwidths)."""
        other = copy.copy(self)
        other.exec_s = _as_profile(self.graph.name, "server profile", server_s, self.n)
        other._lane = other._lane_boundaries()
        other._cache = {}
        return other

    def with_profiles(
        self,
        client_s: ArrayLike | None = None,
        server_s: ArrayLike | None = None,
        *,
        up_bps: float | None = None,
        down_bps: float | None = None,
    ) -> PlanProblem:
        """A copy with other profiles and/or bandwidths that reuses the graph structures (None = keep).

        Cheaper than a new `PlanProblem` for the same graph: the DAG frontier tables are shared.
        """
        other = copy.copy(self)
        name = self.graph.name
        if client_s is not None:
            other.exec_c = _as_profile(name, "client profile", client_s, self.n)
        if server_s is not None:
            other.exec_s = _as_profile(name, "server profile", server_s, self.n)
        for what, bw in (("up_bps", up_bps), ("down_bps", down_bps)):
            if bw is not None and not (isinstance(bw, (int, float)) and math.isfinite(bw) and bw > 0):
                raise PlanningError(f"model {name!r}: {what} must be a positive number, got {bw!r}")
        if up_bps is not None:
            other.up_bps = float(up_bps)
            other.up_rate = 8.0 / other.up_bps
        if down_bps is not None:
            other.down_bps = float(down_bps)
            other.down_rate = 8.0 / other.down_bps
        other._lane = other._lane_boundaries()
        other._cache = {}
        return other

    # ------------------------------------------------------------------ exact cost of placements
    def costs(self, where: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Exact (total, client, server, transfer) seconds of placements ``where`` ([L] or [K, L] bool)."""
        W = np.atleast_2d(np.asarray(where, dtype=bool))
        if W.shape[1] != self.n:
            raise PlanningError(f"model {self.graph.name!r}: placement has {W.shape[1]} layers, not {self.n}")
        Wf = W.astype(np.float64)
        client = (~W).astype(np.float64) @ self.exec_c
        server = Wf @ self.exec_s
        # any reader on the server / on the client, per producing layer
        any_s = np.zeros_like(W)
        any_c = np.zeros_like(W)
        if len(self.edges):
            src, dst = self.edges[:, 0], self.edges[:, 1]
            k_idx = np.repeat(np.arange(W.shape[0]), len(src))
            np.logical_or.at(any_s, (k_idx, np.tile(src, W.shape[0])), W[:, dst].ravel())
            np.logical_or.at(any_c, (k_idx, np.tile(src, W.shape[0])), ~W[:, dst].ravel())
        any_c[:, self.is_sink] = True
        up = ((~W) & any_s).astype(np.float64) @ (self.out_bytes * self.up_rate)
        down = (W & any_c).astype(np.float64) @ (self.out_bytes * self.down_rate)
        input_up = W[:, self.is_source].any(axis=1) * (self.input_bytes * self.up_rate)
        transfer = up + down + input_up
        return client + server + transfer, client, server, transfer

    def plan_of(self, where: np.ndarray, method: str) -> Plan:
        """A `Plan` for one placement, with its exact latency breakdown."""
        where = np.asarray(where, dtype=bool).copy()
        total, client, server, transfer = (float(x[0]) for x in self.costs(where))
        return Plan(where, total, client, server, transfer, method)

    def allowed_mask(self, on_server: ArrayLike | None) -> np.ndarray:
        """``on_server`` as a bool [L] mask (None = every layer may run on the server)."""
        if on_server is None:
            return np.ones(self.n, dtype=bool)
        m = np.asarray(on_server, dtype=bool).ravel()
        if m.shape != (self.n,):
            raise PlanningError(
                f"model {self.graph.name!r}: on_server mask has {m.size} values for {self.n} layers"
            )
        return m

    # ------------------------------------------------------------------ the two-lane (chain) shortest path
    def _lane_boundaries(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """Per boundary b (before layer b; b = L after the last) the up/down seconds of the bytes crossing it.

        For a chain this is the output of layer b-1 (the input at b = 0): IONN's graph, exact. For a DAG it is
        every tensor live across the boundary (IONN's linearisation of the layer order): the cost of a
        placement
        is then an upper bound of its exact cost, equal when each live tensor crosses at most one switch.
        """
        n = self.n
        live = np.zeros(n + 1, dtype=np.float64)
        # tensor of layer i is live on boundaries i+1 .. last_reader[i]
        np.add.at(live, np.arange(n) + 1, self.out_bytes)
        np.add.at(
            live,
            np.minimum(self.last_reader + 1, n + 1)[self.last_reader < n],
            -self.out_bytes[self.last_reader < n],
        )
        live = np.cumsum(live)
        inp = np.zeros(n + 1)
        inp[: self.input_last + 1] = self.input_bytes
        live = live + inp
        up = (live * self.up_rate).tolist()
        down = (live * self.down_rate).tolist()
        return up, down, self.exec_c.tolist(), self.exec_s.tolist()

    def lane_forward_backward(self, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Forward F[i, q] (best cost of layers 0..i ending at q) and backward B[i, q] (rest after i from
        q)."""
        up, dn, ec, es = self._lane
        n = self.n
        inf = math.inf
        al = allowed.tolist()
        F0, F1 = [0.0] * n, [0.0] * n
        f0, f1 = 0.0, inf
        for i in range(n):
            a, b = f1 + dn[i], f0 + up[i]
            f0, f1 = (f0 if f0 <= a else a) + ec[i], ((b if b <= f1 else f1) + es[i] if al[i] else inf)
            F0[i], F1[i] = f0, f1
        B0, B1 = [0.0] * n, [0.0] * n
        b0, b1 = 0.0, dn[n]
        B0[n - 1], B1[n - 1] = b0, b1
        for i in range(n - 1, 0, -1):
            c0 = ec[i] + b0
            c1 = es[i] + b1 if al[i] else inf
            x, y = up[i] + c1, dn[i] + c0
            b0, b1 = (c0 if c0 <= x else x), (y if y <= c1 else c1)
            B0[i - 1], B1[i - 1] = b0, b1
        F = np.array([F0, F1]).T
        B = np.array([B0, B1]).T
        lat = min(F[n - 1, 0] + B[n - 1, 0], F[n - 1, 1] + B[n - 1, 1])
        return F, B, float(lat)

    def lane_plan(self, allowed: np.ndarray) -> tuple[np.ndarray, float]:
        """Shortest path on the two-lane graph (exact for chains): placement and its lane cost."""
        up, dn, ec, es = self._lane
        n = self.n
        inf = math.inf
        al = allowed.tolist()
        back0 = [0] * n
        back1 = [1] * n
        f0, f1 = 0.0, inf
        for i in range(n):
            a, b = f0, f1 + dn[i]
            n0 = (a if a <= b else b) + ec[i]
            back0[i] = 0 if a <= b else 1
            if al[i]:
                a, b = f0 + up[i], f1
                n1 = (b if b <= a else a) + es[i]
                back1[i] = 1 if b <= a else 0
            else:
                n1 = inf
            f0, f1 = n0, n1
        end0, end1 = f0, f1 + dn[n]
        q = 0 if end0 <= end1 else 1
        lat = min(end0, end1)
        where = np.zeros(n, dtype=bool)
        for i in range(n - 1, -1, -1):
            where[i] = q == 1
            q = back1[i] if q == 1 else back0[i]
        return where, float(lat)

    def lane_latency_batch(self, allowed: np.ndarray) -> np.ndarray:
        """Lane latency of many masks at once (``allowed`` [K, L] bool), vectorised over K."""
        up, dn, ec, es = self._lane
        A = np.asarray(allowed, dtype=bool)
        k = A.shape[0]
        n = self.n
        if k <= _LANE_SCALAR_MAX_K:  # a few masks: one scalar pass each beats n numpy steps
            inf = math.inf
            out = np.empty(k)
            for row, al in enumerate(A.tolist()):
                f0, f1 = 0.0, inf
                for i in range(n):
                    a, b = f1 + dn[i], f0 + up[i]
                    f1 = (b if b <= f1 else f1) + es[i] if al[i] else inf
                    f0 = (f0 if f0 <= a else a) + ec[i]
                e1 = f1 + dn[n]
                out[row] = f0 if f0 <= e1 else e1
            return out
        f0 = np.zeros(k)
        f1 = np.full(k, np.inf)
        for i in range(n):
            n0 = np.minimum(f0, f1 + dn[i]) + ec[i]
            n1 = np.where(A[:, i], np.minimum(f0 + up[i], f1) + es[i], np.inf)
            f0, f1 = n0, n1
        return np.minimum(f0, f1 + dn[n])

    # ------------------------------------------------------------------ the frontier shortest path (DAGs)
    def _build_frontier(self) -> _Frontier:
        """The frontier tables of the graph (bytes only, no times): see `_Frontier`.

        Layers whose step has the same shape (live width, read positions, which tensors survive) share one
        gather table, so the build costs little more than one pass over the layers.
        """
        n = self.n
        live: list[int] = [-1]  # tensor ids; -1 = the model input
        nbytes = np.concatenate([self.out_bytes, [self.input_bytes]])  # index -1 = the input
        last = [*self.last_reader.tolist(), self.input_last]  # index -1 = the input
        sink = self.is_sink.tolist()
        preds = self.preds
        shapes: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        groups: dict[tuple, list[tuple[int, list[int]]]] = {}  # shape -> (layer, tensors read) per layer
        n_before_l, gathers = [], []
        for i in range(n):
            w = len(live)
            if w > MAX_FRONTIER_WIDTH:
                raise _TooWideError(w)
            reads = preds[i] or [-1]
            read_pos = tuple([live.index(t) for t in reads])
            after: list[int] = []
            keep_l: list[int] = []  # position of each live tensor after the layer (-1: last read here)
            for t in live:
                if last[t] != i:
                    keep_l.append(len(after))
                    after.append(t)
                else:
                    keep_l.append(-1)
            appends = not sink[i]
            if appends:
                after.append(i)
            if len(after) > MAX_FRONTIER_WIDTH:
                raise _TooWideError(len(after))
            keep = tuple(keep_l)
            key = (w, read_pos, keep, len(after), appends)
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = _frontier_step(w, read_pos, keep, len(after), appends)
                groups[key] = []
            groups[key].append((i, reads))
            n_before_l.append(3**w)
            gathers.append(shape[2])
            live = after
        fr = _Frontier(n_before_l, gathers)
        # candidate order of a step: [client moves (down bytes), server moves (up bytes), padding]; the bytes
        # of all the layers of one shape in one product
        off = np.asarray(fr.offsets, dtype=np.int64)
        for j, (key, members) in enumerate(groups.items()):
            is_c, is_s, gather = shapes[key]
            layers = np.array([i for i, _ in members], dtype=np.int64)
            rb = nbytes[np.array([r for _, r in members], dtype=np.int64)]  # [layers, reads]
            nb = is_c.shape[0]
            pos = off[layers][:, None] + np.arange(nb)[None, :]
            fr.bytes[pos] = rb @ is_s.T
            fr.bytes[pos + nb] = rb @ is_c.T
            # the flat candidate indices of every layer of this shape, and which cost each one extends
            fr.group_gathers.append(off[layers][:, None, None] + gather[None])
            cost_idx = gather % nb  # padding (2 nb) -> 0: its added seconds are inf
            for r, i in enumerate(layers.tolist()):
                fr.group_of[i] = (j, r)
                fr.cost_idx[i] = cost_idx
        return fr

    def _frontier_added(self, allowed: np.ndarray) -> np.ndarray:
        """Flat seconds added to each frontier candidate (all steps, see `_Frontier.offsets`)."""
        key = "frontier_added"
        base = self._cache.get(key)
        fr = self._frontier
        assert fr is not None
        if base is None:
            sink_down = self.out_bytes * self.down_rate * self.is_sink
            layer, kind = fr.layer, fr.kind
            byts = fr.bytes
            base = np.full(len(byts), np.inf)
            c, s = kind == 0, kind == 1
            base[c] = byts[c] * self.down_rate + self.exec_c[layer[c]]
            base[s] = byts[s] * self.up_rate + (self.exec_s[layer[s]] + sink_down[layer[s]])
            self._cache[key] = base
        if allowed.all():
            return base
        return np.where((fr.kind == 1) & ~allowed[fr.layer], np.inf, base)

    def frontier_plan(self, allowed: np.ndarray) -> tuple[np.ndarray, float]:
        """Exact shortest path over (layer position, where each live tensor is held); raises _TooWideError."""
        if self._frontier is None:
            self._frontier = self._build_frontier()
        fr = self._frontier
        added = self._frontier_added(np.asarray(allowed, dtype=bool))
        # per layer, candidates [cost + client move, cost + server move, inf] gathered per after-state: the
        # added seconds of all layers of one shape are gathered at once
        added_g = [added.take(g) for g in fr.group_gathers]
        cost = np.array([0.0, np.inf, np.inf])  # the input is on the client
        cands = []
        for (j, r), cost_idx in zip(fr.group_of, fr.cost_idx, strict=True):
            cand = cost.take(cost_idx)
            cand += added_g[j][r]
            cost = cand.min(axis=1)
            cands.append(cand)
        lat = float(cost[0])
        where = np.zeros(self.n, dtype=bool)
        state = 0
        for i in range(self.n - 1, -1, -1):
            n_before = fr.n_before[i]
            c = int(fr.gathers[i][state, int(cands[i][state].argmin())])
            where[i] = c >= n_before
            state = c - n_before if c >= n_before else c
        return where, lat

    def best_where(self, allowed: np.ndarray) -> tuple[np.ndarray, str]:
        """The exact optimum placement under ``allowed`` and the solver that found it (cached per mask)."""
        allowed = np.asarray(allowed, dtype=bool)
        best: dict = self._cache.setdefault("best_where", {})  # type: ignore[assignment]
        key = allowed.tobytes()
        hit = best.get(key)
        if hit is None:
            if self.is_chain:
                hit = self.lane_plan(allowed)[0], "shortest-path"
            else:
                try:
                    hit = self.frontier_plan(allowed)[0], "shortest-path"
                except _TooWideError:
                    hit = _mincut_where(self, allowed), "min-cut"
            if len(best) >= _BEST_CACHE_SIZE:
                best.clear()
            best[key] = hit
        return hit[0].copy(), hit[1]


class _Frontier:
    """Graph-only tables of the frontier shortest path.

    Per layer i: ``n_before[i]`` = 3**(live tensors before it); ``gathers[i]`` [n_after, k] = candidate
    indices per after-state (candidate c < n_before: state c, layer on the client; n_before <= c < 2 n_before:
    state c - n_before, layer on the server; 2 n_before: padding). Flat over all layers (``offsets``): the
    bytes each candidate transfers (``bytes``), whether it is a client move (0), a server move (1) or padding
    (2) (``kind``), and its layer (``layer``).
    """

    def __init__(self, n_before: list[int], gathers: list[np.ndarray]) -> None:
        self.n_before = n_before
        self.gathers = gathers
        sizes = np.array([2 * nb + 1 for nb in n_before], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.bytes = np.zeros(self.offsets[-1])  # filled by the builder (padding stays 0)
        # filled by the builder: per shape of step, [layers, n_after, k] flat candidate indices; per layer,
        # its (shape, row) there and the index into the cost before it of each candidate
        self.group_gathers: list[np.ndarray] = []
        self.group_of: list[tuple[int, int]] = [(0, 0)] * len(n_before)
        self.cost_idx: list[np.ndarray] = [np.zeros((0, 0), dtype=np.int64)] * len(n_before)
        nb = np.array(n_before, dtype=np.int64)
        counts = np.column_stack([nb, nb, np.ones_like(nb)]).ravel()
        self.kind = np.repeat(np.tile(np.array([0, 1, 2], dtype=np.int8), len(nb)), counts)
        self.layer = np.repeat(np.arange(len(n_before)), sizes)


def _frontier_step(
    w: int, read_pos: tuple[int, ...], keep: tuple[int, ...], n_after: int, appends: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step's shape: (reads held only on the client [3**w, r], only on the server, gather table)."""
    digits = (np.arange(3**w)[:, None] // (3 ** np.arange(w))[None, :]) % 3
    rp = list(read_pos)
    weight_after = np.array([3**k if k >= 0 else 0 for k in keep], dtype=np.int64)
    rd = digits[:, rp]
    targets = []
    for q in (0, 1):
        d = digits.copy()
        d[:, rp] = np.where(rd == q, rd, _CS)
        idx = d @ weight_after
        if appends:
            idx = idx + q * 3 ** (n_after - 1)
        targets.append(idx)
    tgt = np.concatenate(targets)
    n_states = 3**n_after
    # gather table: row = after-state, columns = candidate indices (padded with 2*n_before -> inf)
    order = np.argsort(tgt, kind="stable")
    counts = np.bincount(tgt, minlength=n_states)
    k = max(int(counts.max()), 1)
    gather = np.full((n_states, k), 2 * 3**w, dtype=np.int64)
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    gather[tgt[order], slot] = order
    return rd == _C, rd == _S, gather


class _TooWideError(Exception):
    """The live frontier is wider than MAX_FRONTIER_WIDTH (internal; callers fall back to the min cut)."""


def _mincut_where(prob: PlanProblem, allowed: np.ndarray) -> np.ndarray:
    import networkx as nx

    G = nx.DiGraph()
    S, T = "client", "server"
    G.add_node(S)
    G.add_node(T)

    def add(u: object, v: object, cap: float | None) -> None:
        if cap is None:
            G.add_edge(u, v)  # no capacity attribute = infinite in networkx
            return
        # integer picoseconds: with float capacities networkx's residual partition can miss the min cut
        icap = round(cap * _MINCUT_UNITS)
        if icap > 0:
            G.add_edge(u, v, capacity=G.get_edge_data(u, v, {}).get("capacity", 0) + icap)

    for i in range(prob.n):
        G.add_node(i)
        if allowed[i]:
            sink_down = float(prob.out_bytes[i] * prob.down_rate) if prob.is_sink[i] else 0.0
            add(S, i, float(prob.exec_s[i]) + sink_down)  # cut when i runs on the server
        else:
            add(S, i, None)  # forced to the client
        add(i, T, float(prob.exec_c[i]))  # cut when i runs on the client
        if prob.succs[i]:
            up = float(prob.out_bytes[i] * prob.up_rate)
            down = float(prob.out_bytes[i] * prob.down_rate)
            if up > 0:
                add(i, ("up", i), up)
                for j in prob.succs[i]:
                    add(("up", i), j, None)
            if down > 0:
                add(("down", i), i, down)
                for j in prob.succs[i]:
                    add(j, ("down", i), None)
    up_in = prob.input_bytes * prob.up_rate
    if up_in > 0:
        add(S, "input", up_in)
        for j in np.flatnonzero(prob.is_source).tolist():
            add("input", j, None)
    _, (client_side, _server_side) = nx.minimum_cut(G, S, T)
    where = np.ones(prob.n, dtype=bool)
    for node in client_side:
        if isinstance(node, int):
            where[node] = False
    return where


def _problem(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None,
    server_s: ArrayLike | None,
    up_bps: float | None,
    down_bps: float | None,
) -> PlanProblem:
    if isinstance(graph, PlanProblem):
        return graph
    if client_s is None or server_s is None or up_bps is None or down_bps is None:
        raise PlanningError(f"model {graph.name!r}: client_s, server_s, up_bps and down_bps are required")
    return PlanProblem(graph, client_s, server_s, up_bps=up_bps, down_bps=down_bps)


def shortest_path_plan(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    on_server: ArrayLike | None = None,
) -> Plan:
    """The minimum-latency placement by the execution-graph shortest path (exact for chains and DAGs).

    Parameters
    ----------
    graph : LayerGraph or PlanProblem
        The DNN (a prepared `PlanProblem` skips the preparation; profiles and bandwidths are then ignored).
    client_s, server_s : array-like
        Seconds per layer on the client and on the server.
    up_bps, down_bps : float
        Bandwidths in bits per second.
    on_server : array-like of bool, optional
        Layers the server holds; the others must run on the client. Default: all.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("toy", [0, 0], [1000, 10], [1.0, 1.0], input_bytes=1000)
    >>> p = shortest_path_plan(g, [1.0, 2.0], [0.1, 0.1], up_bps=8000.0, down_bps=8000.0)
    >>> p.where.tolist(), round(p.latency_s, 3)
    ([True, True], 1.21)
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    allowed = prob.allowed_mask(on_server)
    where, method = prob.best_where(allowed)
    return prob.plan_of(where, method)


def mincut_plan(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    on_server: ArrayLike | None = None,
) -> Plan:
    """The minimum-latency placement as an s-t minimum cut (networkx), exact for any DAG.

    Source = client side, sink = server side; layer i has S->i capacity = its server time (plus the down
    transfer of its output if it is a sink) and i->T = its client time; layers the server lacks get S->i =
    inf.
    Tensor i gets node up_i (i->up_i = up transfer, up_i->reader = inf) and down_i (down_i->i = down transfer,
    reader->down_i = inf), so each direction is paid once; the model input likewise from the source.
    Capacities are rounded to integer picoseconds (networkx can misreport the cut side with float ones).
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    allowed = prob.allowed_mask(on_server)
    return prob.plan_of(_mincut_where(prob, allowed), "min-cut")


def neurosurgeon_plan(
    graph: LayerGraph | PlanProblem,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
    on_server: ArrayLike | None = None,
) -> Plan:
    """Neurosurgeon: the best single split of the layer order (layers < k on the client, >= k on the server).

    k = L (all on the client) is always a candidate; k < L only when the server holds every layer from k on.
    """
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    allowed = prob.allowed_mask(on_server)
    n = prob.n
    # splits k whose suffix is fully held
    suffix_ok = np.flip(np.cumprod(np.flip(allowed))).astype(bool)
    ks = np.concatenate([np.flatnonzero(suffix_ok), [n]])
    W = np.arange(n)[None, :] >= ks[:, None]
    total = prob.costs(W)[0]
    return prob.plan_of(W[int(np.argmin(total))], "neurosurgeon")


def plan_cost(
    graph: LayerGraph | PlanProblem,
    where: ArrayLike,
    client_s: ArrayLike | None = None,
    server_s: ArrayLike | None = None,
    *,
    up_bps: float | None = None,
    down_bps: float | None = None,
) -> Plan:
    """Exact latency breakdown of a given placement ``where`` (True = server)."""
    prob = _problem(graph, client_s, server_s, up_bps, down_bps)
    return prob.plan_of(np.asarray(where, dtype=bool), "given")
