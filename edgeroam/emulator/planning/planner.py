"""`Planner`: the plans, efficiency upload orders and query latencies of a scenario's DNN per server load.

A handful of load levels cover a whole run, so every plan, order and latency is made once and memoised.
Server compute is shared by processor sharing in its mean-field form: with k clients on a server, each
server-side layer takes ``1 + (k - 1) * rho`` times its profiled time, rho being the busy share of one lone
client's query cycle.

What it leaves to others: placing layers (partition.py), ordering them (upload.py), deciding (policies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.emulator.planning.partition import Plan, PlanProblem, shortest_path_plan
from edgeroam.emulator.planning.upload import UploadOrder, efficiency_order, fraction_cut

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.dnn.graph import LayerGraph

__all__ = ["PlanEntry", "Planner"]


@dataclass(frozen=True, eq=False)
class PlanEntry:
    """A plan at one load level with its efficiency upload order.

    Attributes
    ----------
    load : int
        Load level (clients on the server).
    plan : Plan
        The optimal placement with every layer allowed on the server.
    order : UploadOrder
        Efficiency order of the plan's server-side layers (possibly cut to a byte budget).
    index : ndarray[int64]
        Layer indices in order.
    layers : tuple of str
        Layer names in order (what `Migrate` carries).
    target : ndarray[bool]
        The server-side layers (uncut): the plan's, or every layer for a whole-model planner.
    """

    load: int
    plan: Plan
    order: UploadOrder
    index: np.ndarray
    layers: tuple[str, ...]
    target: np.ndarray

    @property
    def bytes(self) -> int:
        """Bytes of the ordered layers."""
        return self.order.total_bytes


class Planner:
    """Plans, orders and latencies per load level, memoised (a handful of levels cover a whole run).

    Parameters
    ----------
    graph : LayerGraph
    client_s, server_s : array-like
        Profiled seconds per layer on the client and on an unloaded server.
    up_bps, down_bps : float
        Wi-Fi bandwidths.
    query_gap_s : float
        Think time between queries (sets rho, the busy share of a lone client).
    max_load : int
        Load levels above this are planned as this one.
    whole : bool
        Every layer is server-side (uploaded, migrated and needed for a hit), not only the best plan's
        (scenario ``dnn.server_layers = "all"``); queries still use the best placement of what is held.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("toy", [8000, 8000], [1000, 10], [1.0, 1.0], input_bytes=1000)
    >>> p = Planner(g, [1.0, 2.0], [0.1, 0.1], up_bps=8000.0, down_bps=8000.0, query_gap_s=0.5)
    >>> p.entry(1).plan.where.tolist(), p.latency(1, p.entry(1).target) < p.latency(1, [False, False])
    ([True, True], True)
    """

    def __init__(
        self,
        graph: LayerGraph,
        client_s: Any,
        server_s: Any,
        *,
        up_bps: float,
        down_bps: float,
        query_gap_s: float = 0.5,
        max_load: int = 32,
        whole: bool = False,
    ) -> None:
        self.graph = graph
        self.names = np.asarray(graph.layers["name"].astype(str).to_numpy(), dtype=object)
        self.weight_bytes = graph.layers["weight_bytes"].to_numpy(np.int64)
        self.server_s = np.asarray(server_s, dtype=np.float64)
        self.base = PlanProblem(graph, client_s, server_s, up_bps=up_bps, down_bps=down_bps)
        self.query_gap_s = float(query_gap_s)
        self.max_load = int(max_load)
        self.whole = bool(whole)
        lone = shortest_path_plan(self.base)
        self.rho = float(lone.server_s / (lone.latency_s + self.query_gap_s)) if lone.latency_s > 0 else 0.0
        self._problems: dict[int, PlanProblem] = {}
        self._entries: dict[int, PlanEntry] = {}
        self._fractions: dict[tuple[int, float], PlanEntry] = {}
        self._latency: dict[tuple[int, bytes], float] = {}
        self._parts: dict[tuple[int, bytes], tuple[float, float]] = {}

    @property
    def n_layers(self) -> int:
        """Layers in the model."""
        return len(self.weight_bytes)

    def level(self, load: int) -> int:
        """The load level used for `load` clients (1..max_load)."""
        return min(max(int(load), 1), self.max_load)

    def slowdown(self, load: int) -> float:
        """Processor-sharing mean field: server time factor with `load` clients on the server."""
        return 1.0 + (self.level(load) - 1) * self.rho

    def problem(self, load: int) -> PlanProblem:
        """The planning problem with the server profile slowed down for `load` clients."""
        k = self.level(load)
        prob = self._problems.get(k)
        if prob is None:
            prob = self.base if k == 1 else self.base.with_server_profile(self.server_s * self.slowdown(k))
            self._problems[k] = prob
        return prob

    def entry(self, load: int) -> PlanEntry:
        """The plan and its efficiency order at `load`."""
        k = self.level(load)
        e = self._entries.get(k)
        if e is None:
            prob = self.problem(k)
            plan = shortest_path_plan(prob)
            target = np.ones(prob.n, dtype=bool) if self.whole else plan.where
            order = efficiency_order(prob, target=target)
            e = self._make(k, plan, order, target)
            self._entries[k] = e
        return e

    def fraction(self, load: int, budget_bytes: float) -> PlanEntry:
        """The plan at `load` with its order cut to the longest prefix within `budget_bytes`."""
        k = self.level(load)
        key = (k, float(budget_bytes))
        e = self._fractions.get(key)
        if e is None:
            full = self.entry(k)
            cut = full.order if not math.isfinite(budget_bytes) else fraction_cut(full.order, budget_bytes)
            e = self._fractions[key] = self._make(k, full.plan, cut, full.target)
        return e

    def _make(self, k: int, plan: Plan, order: UploadOrder, target: np.ndarray) -> PlanEntry:
        idx = np.concatenate(order.groups).astype(np.int64) if order.groups else np.zeros(0, np.int64)
        return PlanEntry(k, plan, order, idx, tuple(self.names[idx].tolist()), np.asarray(target, bool))

    def parts(self, held: Any) -> tuple[float, float]:
        """One unloaded query when the server holds `held`: (seconds before the server, i.e. client layers
        and transfers, and seconds of server-side layers) of the best placement; memoised per mask."""
        mask = np.asarray(held, dtype=bool)
        key = (0, np.packbits(mask).tobytes())
        got = self._parts.get(key)
        if got is None:
            where, _ = self.base.best_where(mask)
            total, _client, server, _ = self.base.costs(where)
            got = self._parts[key] = (float(total[0] - server[0]), float(server[0]))
        return got

    def latency(self, load: int, held: Any) -> float:
        """Latency of one query at `load` when the server holds `held` (bool [L]); memoised per mask."""
        k = self.level(load)
        mask = np.asarray(held, dtype=bool)
        key = (k, mask.tobytes())  # its bytes: a third of the cost of packing its bits (~250,000 calls)
        lat = self._latency.get(key)
        if lat is None:
            prob = self.problem(k)
            where, _ = prob.best_where(mask)
            lat = self._latency[key] = float(prob.costs(where)[0][0])
        return lat
