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
        self._frontier: list[tuple] | None = None

    def with_server_profile(self, server_s: np.ndarray) -> PlanProblem:
        """A copy with another server profile (same graph and bandwidths)."""
        other = copy.copy(self)
        other.exec_s = _as_profile(self.graph.name, "server profile", server_s, self.n)
        other._lane = other._lane_boundaries()
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
        f0 = np.zeros(k)
        f1 = np.full(k, np.inf)
        for i in range(self.n):
            n0 = np.minimum(f0, f1 + dn[i]) + ec[i]
            n1 = np.where(A[:, i], np.minimum(f0 + up[i], f1) + es[i], np.inf)
            f0, f1 = n0, n1
        return np.minimum(f0, f1 + dn[self.n])

    # ------------------------------------------------------------------ the frontier shortest path (DAGs)
    def _build_frontier(self) -> list[tuple]:
        """Per layer: (n_before, gather [n_after, k] of candidate indices, up bytes (q=1), down bytes
        (q=0))."""
        n = self.n
        live: list[int] = [-1]  # tensor ids; -1 = the model input
        nbytes = np.concatenate([self.out_bytes, [self.input_bytes]])  # index -1 = the input
        digit_cache: dict[int, np.ndarray] = {}
        steps = []
        for i in range(n):
            w = len(live)
            if w > MAX_FRONTIER_WIDTH:
                raise _TooWideError(w)
            if w not in digit_cache:
                digit_cache[w] = (np.arange(3**w)[:, None] // (3 ** np.arange(w))[None, :]) % 3
            digits = digit_cache[w]
            n_before = 3**w
            reads = self.preds[i] if self.preds[i] else [-1]
            read_pos = [live.index(t) for t in reads]
            dead = {t for t in live if (self.input_last if t == -1 else self.last_reader[t]) == i}
            after = [t for t in live if t not in dead]
            if not self.is_sink[i]:
                after.append(i)
            if len(after) > MAX_FRONTIER_WIDTH:
                raise _TooWideError(len(after))
            weight_after = np.array([3 ** after.index(t) if t in after else 0 for t in live], dtype=np.int64)
            rd = digits[:, read_pos]
            rb = nbytes[reads]
            up_bytes = (rd == _C) @ rb
            down_bytes = (rd == _S) @ rb
            targets = []
            for q in (0, 1):
                d = digits.copy()
                d[:, read_pos] = np.where(rd == q, rd, _CS)
                idx = d @ weight_after
                if i in after:
                    idx = idx + q * 3 ** after.index(i)
                targets.append(idx)
            tgt = np.concatenate(targets)
            n_after = 3 ** len(after)
            # gather table: row = after-state, columns = candidate indices (padded with 2*n_before -> inf)
            order = np.argsort(tgt, kind="stable")
            counts = np.bincount(tgt, minlength=n_after)
            k = max(int(counts.max()), 1)
            gather = np.full((n_after, k), 2 * n_before, dtype=np.int64)
            slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
            gather[tgt[order], slot] = order
            steps.append((n_before, gather, up_bytes, down_bytes))
            live = after
        return steps

    def frontier_plan(self, allowed: np.ndarray) -> tuple[np.ndarray, float]:
        """Exact shortest path over (layer position, where each live tensor is held); raises _TooWideError."""
        if self._frontier is None:
            self._frontier = self._build_frontier()
        cost = np.array([0.0, np.inf, np.inf])  # the input is on the client
        backs = []
        sink_down = self.out_bytes * self.down_rate * self.is_sink
        inf1 = np.array([np.inf])
        for i, (n_before, gather, ub, db) in enumerate(self._frontier):
            c0 = cost + (db * self.down_rate + self.exec_c[i])
            if allowed[i]:
                c1 = cost + (ub * self.up_rate + (self.exec_s[i] + sink_down[i]))
            else:
                c1 = np.full(n_before, np.inf)
            cand = np.concatenate([c0, c1, inf1])[gather]
            j = cand.argmin(axis=1)
            rows = np.arange(len(j))
            cost = cand[rows, j]
            backs.append((n_before, gather[rows, j]))
        lat = float(cost[0])
        where = np.zeros(self.n, dtype=bool)
        state = 0
        for i in range(self.n - 1, -1, -1):
            n_before, back = backs[i]
            c = int(back[state])
            where[i] = c >= n_before
            state = c - n_before if c >= n_before else c
        return where, lat

    def best_where(self, allowed: np.ndarray) -> tuple[np.ndarray, str]:
        """The exact optimum placement under ``allowed`` and the solver that found it."""
        if self.is_chain:
            return self.lane_plan(allowed)[0], "shortest-path"
        try:
            return self.frontier_plan(allowed)[0], "shortest-path"
        except _TooWideError:
            return _mincut_where(self, allowed), "min-cut"


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
