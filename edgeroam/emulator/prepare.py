"""`prepare`: everything a pass needs that does not depend on the policy, computed once per scenario.

It loads the world (traces, split, topology), fits the scenario's predictor on the train users, replays the
test users' ticks, makes every prediction in one batch (a prediction depends only on the trajectory, never on
the emulation) and builds the `Planner`. The true next position and server of every user step are kept for
the metrics (prediction accuracy) and for the oracle predictor (`edgeroam.emulator.policies.base`), never for
a policy's view.

What it leaves to others: the loop (master), deciding (policies), metrics (metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.emulator.planning.planner import Planner
from edgeroam.errors import RunError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick
    from edgeroam.scenario import Scenario
    from edgeroam.world import World

__all__ = ["Prepared", "fit_predictor", "near_servers", "prepare", "true_next", "true_next_rows"]


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
    near_pred : tuple (offsets [R+1], servers [M])
        Servers within the scenario's ``policy.radius_m`` of each predicted point (CSR, nearest first).
    next_server : ndarray[int64]
        The server one interval later (-1 where not seen).
    server : ndarray[int64]
        The server of each row (-1: a cell without one).
    planner : Planner
    predictor_name : str
    predictor : Predictor
        The scenario's predictor, fitted on the train users.
    timing : dict
    """

    scenario: Scenario
    world: World
    ticks: list
    offsets: np.ndarray
    predicted: np.ndarray
    actual_next: np.ndarray
    near_pred: tuple[np.ndarray, np.ndarray]
    next_server: np.ndarray
    server: np.ndarray
    planner: Planner
    predictor_name: str
    predictor: Any = None
    timing: dict[str, float] = field(default_factory=dict)

    def predictions(self, source: str = "model") -> np.ndarray:
        """Next points [R, 2] of every row: the scenario predictor's (``"model"``) or the oracle predictor's
        (``"oracle"``: the replay's true next position, NaN where the user is not seen then)."""
        if source == "model":
            return self.predicted
        if source == "oracle":
            return self.actual_next
        raise RunError(f"unknown prediction source {source!r}; choose model or oracle")


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
    tick = np.concatenate([np.full(len(tk), tk.index, np.int64) for tk in ticks])
    return true_next_rows(tick, *(np.concatenate([getattr(tk, f) for tk in ticks])
                                  for f in ("history", "server", "user_code", "joined")))


def true_next_rows(
    tick: np.ndarray, hist: np.ndarray, server: np.ndarray, code: np.ndarray, joined: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`true_next` of the steps given as flat arrays (tick number, history, server, user code and joined
    of each step, e.g. `Replay.steps`)."""
    server, code, tick = server.astype(np.int64), code.astype(np.int64), tick.astype(np.int64)
    key = code * (int(tick.max()) + 2) + tick
    order = np.argsort(key, kind="stable")
    pos = np.minimum(np.searchsorted(key[order], key + 1), len(key) - 1)
    nxt = order[pos]
    found = (key[nxt] == key + 1) & ~joined[nxt]
    actual = np.full((len(key), 2), np.nan)
    actual[found] = hist[nxt[found], -1]
    return hist, server, actual, np.where(found, server[nxt], -1)


def fit_predictor(scenario: Scenario, world: World, kind: str, *, cache: bool = True):
    """A predictor of `kind` fitted on the train users' windows (stay/velocity need none); with `cache` an
    SVR's fit is read from the predictor cache beside the dataset cache when the same fit was made before
    (`edgeroam.predictors.cache`: keyed by the parameters, the windows and the code), and made in a child
    process that writes the entry when not (`fit_apart`: scikit-learn is never imported here, so the pass
    that follows does not carry its memory)."""
    from edgeroam._rng import child_seeds
    from edgeroam.datasets.load import cache_dir
    from edgeroam.mobility.windows import windows
    from edgeroam.predictors import make_predictor
    from edgeroam.predictors.cache import cached_fit
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
    return cached_fit(p, w.windows, w.targets, cache_dir=cache_dir() if cache else None, apart=cache)


def prepare(
    scenario: Scenario, world: World | None = None, *, progress: Callable[[str], None] | None = None
) -> Prepared:
    """Load the world, fit the predictor, replay the ticks and make every prediction of a scenario."""
    from edgeroam._memory import release_free_memory
    from edgeroam.emulator.dnn import model_graph, profile
    from edgeroam.mobility.replay import Replay
    from edgeroam.world import load_world

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
    release_free_memory()  # what loading and fitting freed goes back: the pass that follows starts from less
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
    tick, every = replay.steps()  # the ticks' rows, in the same order: the kept ticks are a prefix
    rows = slice(0, int(offsets[-1]))
    hist, server, actual, next_server = true_next_rows(
        tick[rows], every.history[rows], every.server[rows], every.user_code[rows], every.joined[rows])
    timing["replay_s"] = time.perf_counter() - t
    t = time.perf_counter()
    say("predicting")
    predicted = np.asarray(predictor.predict(hist), dtype=np.float64)
    timing["predict_s"] = time.perf_counter() - t
    r = scenario.policy.radius_m
    near_pred = near_servers(world, predicted, r)
    graph = model_graph(scenario.dnn.model)
    acc = scenario.topology.access
    planner = Planner(graph, profile(graph, scenario.dnn.client), profile(graph, scenario.dnn.server),
                      up_bps=acc.up_mbps * 1e6, down_bps=acc.down_mbps * 1e6,
                      query_gap_s=scenario.dnn.query_gap_s, whole=scenario.dnn.server_layers == "all")
    timing["plan_s"] = time.perf_counter() - t
    return Prepared(scenario, world, ticks, offsets, predicted, actual, near_pred, next_server, server,
                    planner, scenario.predictor.kind, predictor, timing)
