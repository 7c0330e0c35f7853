"""The master loop: turns replay ticks into policy decisions and backend actions; shared by the backends.

`Planner` makes (and memoises) the partitioning plans, efficiency upload orders and query latencies of the
scenario's DNN per server load level. `prepare` loads a scenario's world once: the replay ticks of the test
users, a predictor fitted on the train users, every prediction (one batch: a prediction only depends on the
trajectory, never on the emulation) and the servers within r of each predicted and true next point. `Master`
then steps the ticks: expire layers, classify the server changes (hit / partial / miss), open their query
windows, ask the policy, hand the actions to the backend; `run_pass` returns the tables and the summary.

Queries are counted analytically (a documented choice, docs in `edgeroam.emulator.metrics`): in the interval
after a server change the client runs closed-loop queries whose latency is the exact placement restricted to
the layers the server holds when each query starts, as the layers arrive (fluid uploads and migrations of the
backend); server compute is shared by processor sharing in its mean-field form: with k clients on a server,
each server-side layer takes ``1 + (k - 1) * rho`` times its profiled time, rho being the busy share of one
lone client's query cycle. An event per query would cost about a million events on the full traces.

What it leaves to others: what a policy decides (policies), how bytes move (backends), the metrics and their
tables (metrics), writing the run directory (run.py).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.emulator.metrics import closed_loop_queries, summarize
from edgeroam.emulator.planning import PlanProblem, efficiency_order, fraction_cut, shortest_path_plan
from edgeroam.emulator.policies.base import MasterView
from edgeroam.errors import RunError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.dnn.graph import LayerGraph
    from edgeroam.emulator.planning import Plan, UploadOrder
    from edgeroam.mobility.replay import Tick
    from edgeroam.scenario import Scenario
    from edgeroam.topology.build import World

__all__ = ["Master", "PassResult", "PlanEntry", "Planner", "Prepared", "near_servers", "prepare", "run_pass",
           "true_next"]


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
        The plan's server-side layers (uncut).
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
    ) -> None:
        self.graph = graph
        self.names = np.asarray(graph.layers["name"].astype(str).to_numpy(), dtype=object)
        self.weight_bytes = graph.layers["weight_bytes"].to_numpy(np.int64)
        self.server_s = np.asarray(server_s, dtype=np.float64)
        self.base = PlanProblem(graph, client_s, server_s, up_bps=up_bps, down_bps=down_bps)
        self.query_gap_s = float(query_gap_s)
        self.max_load = int(max_load)
        lone = shortest_path_plan(self.base)
        self.rho = float(lone.server_s / (lone.latency_s + self.query_gap_s)) if lone.latency_s > 0 else 0.0
        self._problems: dict[int, PlanProblem] = {}
        self._entries: dict[int, PlanEntry] = {}
        self._fractions: dict[tuple[int, float], PlanEntry] = {}
        self._orders: dict[int, np.ndarray] = {}
        self._latency: dict[tuple[int, bytes], float] = {}

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
            order = efficiency_order(prob, target=plan.where)
            e = self._make(k, plan, order, plan.where)
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
        e = PlanEntry(k, plan, order, idx, tuple(self.names[idx].tolist()), np.asarray(target, bool))
        self._orders[id(plan)] = self.entry_index(plan, e)
        return e

    def entry_index(self, plan: Plan, e: PlanEntry) -> np.ndarray:
        """The full order of `plan` (the fraction entries share their plan with the full entry)."""
        full = self._entries.get(e.load)
        return full.index if (full is not None and full.plan is plan) else e.index

    def order_of(self, plan: Plan) -> np.ndarray:
        """Upload order (layer indices) of a plan made by this planner."""
        idx = self._orders.get(id(plan))
        if idx is None:
            raise RunError("a SetPlan carries a plan this planner did not make")
        return idx

    def latency(self, load: int, held: Any) -> float:
        """Latency of one query at `load` when the server holds `held` (bool [L]); memoised per mask."""
        k = self.level(load)
        mask = np.asarray(held, dtype=bool)
        key = (k, np.packbits(mask).tobytes())
        lat = self._latency.get(key)
        if lat is None:
            prob = self.problem(k)
            where, _ = prob.best_where(mask)
            lat = self._latency[key] = float(prob.costs(where)[0][0])
        return lat


# ====================================================================== preparing a scenario


@dataclass(eq=False)
class Prepared:
    """Everything a pass needs that does not depend on the policy (computed once per scenario).

    Attributes
    ----------
    scenario : Scenario
    world : World
    ticks : list of Tick
        The replay ticks of the test users.
    offsets : ndarray[int64]
        Row offsets: tick j owns rows ``offsets[j]:offsets[j+1]`` of the per-row arrays.
    predicted, actual_next : ndarray [R, 2]
        Predicted and true next position of each row (NaN where not seen one interval later).
    near_pred, near_act : tuple (offsets [R+1], servers [M])
        Servers within r of each predicted / true next point (CSR).
    next_server : ndarray[int64]
        The server one interval later (-1 where not seen).
    server : ndarray[int64]
        The server of each row (-1: a cell without one).
    planner : Planner
    predictor_name : str
    timing : dict
    """

    scenario: Scenario
    world: World
    ticks: list
    offsets: np.ndarray
    predicted: np.ndarray
    actual_next: np.ndarray
    near_pred: tuple[np.ndarray, np.ndarray]
    near_act: tuple[np.ndarray, np.ndarray]
    next_server: np.ndarray
    server: np.ndarray
    planner: Planner
    predictor_name: str
    timing: dict[str, float] = field(default_factory=dict)


def near_servers(world: World, points: np.ndarray, r_m: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the edge servers whose site is within r of each point (NaN points: none)."""
    from edgeroam.topology.servers import server_of_cell

    grid = world.topology.grid
    ok = np.isfinite(points).all(axis=1)
    off_ok, cells, _ = grid.cells_within(points[ok, 0], points[ok, 1], r_m)
    srv = server_of_cell(world.topology.servers, cells)
    keep = srv >= 0
    owner = np.repeat(np.arange(int(ok.sum())), np.diff(off_ok))[keep]
    rows = np.flatnonzero(ok)[owner]
    counts = np.bincount(rows, minlength=len(points))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, srv[keep].astype(np.int64)


def true_next(ticks: list[Tick]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The replay's steps as flat arrays: histories [S, n, 2], servers [S], and the true next position
    [S, 2] and server [S] of each step (the same user's row at tick k + 1 in the same run, not a new join;
    NaN / -1 where there is none)."""
    hist = np.concatenate([tk.history for tk in ticks])
    server = np.concatenate([tk.server for tk in ticks]).astype(np.int64)
    code = np.concatenate([tk.user_code for tk in ticks]).astype(np.int64)
    tick = np.concatenate([np.full(len(tk), tk.index, np.int64) for tk in ticks])
    joined = np.concatenate([tk.joined for tk in ticks])
    key = code * (int(tick.max()) + 2) + tick
    order = np.argsort(key, kind="stable")
    pos = np.minimum(np.searchsorted(key[order], key + 1), len(key) - 1)
    nxt = order[pos]
    found = (key[nxt] == key + 1) & ~joined[nxt]
    actual = np.full((len(key), 2), np.nan)
    actual[found] = hist[nxt[found], -1]
    return hist, server, actual, np.where(found, server[nxt], -1)


def fit_predictor(scenario: Scenario, world: World, kind: str):
    """A predictor of `kind` fitted on the train users' windows (stay/velocity need none)."""
    from edgeroam._rng import child_seeds
    from edgeroam.mobility.windows import windows
    from edgeroam.predictors import make_predictor
    from edgeroam.predictors.evaluate import predictor_params

    grid = world.topology.grid
    seed = child_seeds(scenario.seed, 4)[2]
    p = make_predictor(kind, **predictor_params(scenario, kind, grid, seed))
    n = scenario.predictor.history
    train = world.traces[world.traces["user"].astype(str).isin(world.train_users)]
    w = windows(train, n=n, grid=grid, interval_s=scenario.dataset.interval_s)
    if len(w) == 0:
        if kind in ("stay", "velocity"):
            w = windows(world.traces, n=n, grid=grid, interval_s=scenario.dataset.interval_s)
        if len(w) == 0:
            raise RunError(f"{scenario.name}: no training windows of n={n} for predictor {kind!r}")
    return p.fit(w.windows, w.targets)


def prepare(
    scenario: Scenario, world: World | None = None, *, progress: Callable[[str], None] | None = None
) -> Prepared:
    """Load the world, fit the predictor, replay the ticks and make every prediction of a scenario."""
    from edgeroam.emulator.dnn import model_graph, profile
    from edgeroam.mobility.replay import Replay
    from edgeroam.topology.build import load_world

    timing: dict[str, float] = {}
    say = progress or (lambda _msg: None)
    t = time.perf_counter()
    if world is None:
        say("loading traces and topology")
        world = load_world(scenario)
    timing["world_s"] = time.perf_counter() - t
    interval = scenario.dataset.interval_s
    if interval is None:
        raise RunError(f"{scenario.name}: dataset.interval_s must be set to run")
    t = time.perf_counter()
    say(f"fitting predictor {scenario.predictor.kind}")
    predictor = fit_predictor(scenario, world, scenario.predictor.kind)
    timing["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    say("replaying ticks")
    replay = Replay(world.test_traces, world.topology.grid, world.topology.servers, interval_s=interval,
                    history=scenario.predictor.history)
    ticks = list(replay)
    if scenario.run.duration_s is not None:
        ticks = [tk for tk in ticks if tk.time - replay.t0 < scenario.run.duration_s]
    if not ticks:
        raise RunError(f"{scenario.name}: nothing to replay")
    offsets = np.concatenate([[0], np.cumsum([len(tk) for tk in ticks])]).astype(np.int64)
    hist, server, actual, next_server = true_next(ticks)
    timing["replay_s"] = time.perf_counter() - t
    t = time.perf_counter()
    say("predicting")
    predicted = np.asarray(predictor.predict(hist), dtype=np.float64)
    timing["predict_s"] = time.perf_counter() - t
    r = scenario.policy.radius_m
    near_pred = near_servers(world, predicted, r)
    near_act = near_servers(world, actual, r)
    graph = model_graph(scenario.dnn.model)
    acc = scenario.topology.access
    planner = Planner(graph, profile(graph, scenario.dnn.client), profile(graph, scenario.dnn.server),
                      up_bps=acc.up_mbps * 1e6, down_bps=acc.down_mbps * 1e6,
                      query_gap_s=scenario.dnn.query_gap_s)
    timing["plan_s"] = time.perf_counter() - t
    return Prepared(scenario, world, ticks, offsets, predicted, actual, near_pred, near_act, next_server,
                    server, planner, scenario.predictor.kind, timing)


# ====================================================================== one pass


@dataclass(eq=False)
class PassResult:
    """Tables and summary of one pass (one policy over the whole replay)."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    timing: dict[str, float]


@dataclass(eq=False)
class _Window:
    row: int
    client: int
    server: int
    t0: float
    t1: float
    load: int
    held: np.ndarray


class Master:
    """Steps the ticks of a `Prepared` scenario with one policy on a backend.

    Parameters
    ----------
    prep : Prepared
    policy : Policy
    crowded : iterable of int
        Crowded servers (fractional migration).
    fraction_bytes : float
        Byte budget of migrations that touch a crowded server.
    chunk_bytes : float
        Chunk size of the backend's transfers.
    """

    def __init__(self, prep: Prepared, policy: Any, *, crowded=(), fraction_bytes: float = math.inf,
                 chunk_bytes: float = 8e6) -> None:
        from edgeroam.emulator.sim.backend import SimBackend

        sc = prep.scenario
        self.prep = prep
        self.policy = policy
        self.crowded = frozenset(int(s) for s in crowded)
        self.fraction_bytes = float(fraction_bytes)
        self.interval = float(sc.dataset.interval_s)
        if callable(getattr(policy, "bind", None)):
            policy.bind(prep)  # a policy's one-off precomputation from the prepared scenario (perdnn-prob)
        pl = prep.planner
        servers = prep.world.topology.servers
        edge = servers.loc[servers["tier"] == "edge", "server"].to_numpy(np.int64)
        pairs = [] if (policy.everywhere or getattr(policy, "from_scratch", False)) else migration_pairs(prep)
        self.backend = SimBackend(
            prep.world.topology.backhaul, edge, pl.weight_bytes, pl.names, order_of=pl.order_of,
            interval_s=self.interval, ttl_intervals=sc.policy.ttl_intervals,
            server_plans=sc.policy.server_plans,
            up_bps=sc.topology.access.up_mbps * 1e6, everywhere=bool(policy.everywhere),
            from_scratch=bool(getattr(policy, "from_scratch", False)), chunk_bytes=chunk_bytes, pairs=pairs,
            relay=bool(getattr(policy, "relay", False)),
        )
        self._arrivals: list[tuple] = []
        self._segments: list[tuple] = []

    def run(self, callback: Callable[[int, int], None] | None = None) -> PassResult:
        """Step every tick; `callback(done, total)` reports progress."""
        prep, pl, be = self.prep, self.prep.planner, self.backend
        t_start = time.perf_counter()
        t0 = prep.ticks[0].time
        windows: list[_Window] = []
        npo, nps = prep.near_pred
        nao, nas = prep.near_act
        empty = np.zeros(0, np.int64)
        total = len(prep.ticks)
        for j, tk in enumerate(prep.ticks):
            now = tk.time - t0
            base = int(prep.offsets[j])
            active = tk.server >= 0
            codes = tk.user_code.tolist()
            servers = tk.server.tolist()
            attached = {c: s for c, s, a in zip(codes, servers, active.tolist(), strict=True) if a}
            be.begin_tick(tk.index, now, attached)
            if windows:
                windows = self._close(windows, now)
            # users not seen at the next tick: their upload stops one interval from now
            gone = np.flatnonzero(prep.next_server[base: base + len(tk)] < 0)
            for i in gone.tolist():
                be.engine.schedule(self.interval, lambda c=codes[i]: be.depart(c), name="depart")
            load = Counter(attached.values())
            arrived = np.flatnonzero((tk.handover | tk.joined) & active)
            for i in arrived.tolist():
                c, s = codes[i], servers[i]
                k = int(load.get(s, 1))
                be.settle(c, s)
                held = be.holds(c, s)
                held = np.zeros(pl.n_layers, bool) if held is None else held.copy()
                self._arrivals.append((base + i, c, int(tk.prev_server[i]), s, now, k, bool(tk.handover[i]),
                                       held))
                be.watch(c, s)
                windows.append(_Window(base + i, c, s, now, now + self.interval, k, held))
            view = MasterView(
                tick_index=tk.index, interval_s=self.interval, radius_m=prep.scenario.policy.radius_m,
                predicted=prep.predicted[base: base + len(tk)],
                actual_next=prep.actual_next[base: base + len(tk)],
                near_predicted=(lambda i, b=base: nps[npo[b + i]: npo[b + i + 1]]) if len(nps) else
                (lambda i: empty),
                near_actual=(lambda i, b=base: nas[nao[b + i]: nao[b + i + 1]]) if len(nas) else
                (lambda i: empty),
                load=lambda s, _l=load: int(_l.get(s, 0)), holds=be.holds, held_by=be.held_by, planner=pl,
                crowded=self.crowded, fraction_bytes=self.fraction_bytes,
            )
            be.execute(self.policy.decide(view, tk))
            if callback is not None and (j % 256 == 0 or j == total - 1):
                callback(j + 1, total)
        end = max([w.t1 for w in windows], default=be.now)
        be.advance(end)
        self._close(windows, math.inf)
        wall = time.perf_counter() - t_start
        return self._result(wall)

    def _close(self, windows: list[_Window], now: float) -> list[_Window]:
        """Count the queries of every window that ended by `now`; return the open ones."""
        pl, be = self.prep.planner, self.backend
        keep = []
        gap = self.prep.scenario.dnn.query_gap_s
        for w in windows:
            if w.t1 > now + 1e-9:
                keep.append(w)
                continue
            arrivals = be.unwatch(w.client, w.server)
            held = w.held.copy()
            steps = [(w.t0, pl.latency(w.load, held))]
            for t, idx in arrivals:
                if t >= w.t1:
                    break
                held[idx] = True
                steps.append((t, pl.latency(w.load, held)))
            for seg in closed_loop_queries(w.t0, w.t1, steps, gap):
                self._segments.append((w.row, w.client, w.server, *seg))
        return keep

    def _result(self, wall: float) -> PassResult:
        from edgeroam.emulator.metrics import arrival_table, prediction_table, query_table

        prep, pl = self.prep, self.prep.planner
        queries = query_table(self._segments)
        arrivals = arrival_table(self._arrivals, queries, prep, pl, everywhere=bool(self.policy.everywhere))
        predictions = prediction_table(prep)
        transfers = self.backend.transfers()
        backhaul = self.backend.backhaul()  # times relative to the first tick, like transfers and queries
        tables = {"handovers": arrivals, "queries": queries, "transfers": transfers, "backhaul": backhaul,
                  "predictions": predictions}
        summary = summarize(prep, self.policy.name, tables, interval_s=self.interval,
                            crowded=sorted(self.crowded), fraction_bytes=self.fraction_bytes)
        summary["memory"] = None if self.policy.everywhere else self.backend.memory()
        rows = len(prep.predicted)
        timing = {"pass_s": wall, "user_steps": rows, "user_steps_per_s": rows / wall if wall > 0 else None}
        return PassResult(summary, tables, timing)


def migration_pairs(prep: Prepared) -> np.ndarray:
    """Every (current server, server near a predicted or true next point) pair of the replay: [P, 2]."""
    out = []
    for off, srv in (prep.near_pred, prep.near_act):
        owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
        src = prep.server[owner]
        ok = (src >= 0) & (src != srv)
        out.append(np.column_stack([src[ok], srv[ok]]))
    both = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
    return np.unique(both, axis=0) if len(both) else both


def run_pass(
    prep: Prepared, policy: Any, *, callback: Callable[[int, int], None] | None = None, **kwargs: Any
) -> PassResult:
    """One pass of `policy` over a prepared scenario (`kwargs` go to `Master`)."""
    return Master(prep, policy, **kwargs).run(callback)
