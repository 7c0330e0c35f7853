"""Relay to the servers a classifier ranks likely to be next, and keep the held ones alive (``perdnn-rank``;
docs/reproductions/beat-the-paper.md, issue 6).

``perdnn-prob`` estimated P(next server = s) from the point predictor's error sample. Here a gradient-boosted
classifier learns it from the train users' replay (`edgeroam.predictors.nextserver`): per candidate server
(within r of the predicted point), from where it lies relative to the user's heading, position and
prediction, the user's speed and turn, the region's edge ahead, and the train users' server transitions.

Each tick, for each user:

- **targets**: every candidate with P ≥ `tau` (at most `k_max`, most probable first) gets the plan's layers,
  relayed as they land at the current server (``relay = True``). One target costs at most one plan of bytes
  and gains P in expected hits, so one threshold for all users buys the most hits for the bytes.
- **keep-alive**: every other server that still holds this client's layers and lies within `keep_m` of the
  user gets a `Migrate` with no layers, which only refreshes its TTL (what PerDNN does when a server "tries
  to send" layers already there). It costs no backhaul byte; it costs server memory, which the run reports
  (``summary["memory"]``). A user who turns back or zig-zags along a cell border then finds its layers.

`bind(prep)` (called by `Master` before the pass) refits the scenario's point predictor on the train users as
`prepare` does, replays the train users, fits the ranker on their candidate rows, and scores every candidate
row of the replay in one batch (a probability depends only on the trajectory so far, never on the
emulation, like the predictions `prepare` makes in one batch). `decide` stays pure: it only looks them up.

What it leaves to others: the classifier and its features (`edgeroam.predictors.nextserver`), executing the
relay and the TTL (the backend).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.emulator.actions import Action, Migrate
from edgeroam.emulator.policies.base import MasterView, current_plans
from edgeroam.errors import RunError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick
    from edgeroam.predictors.nextserver import CandidateRows

__all__ = ["RankForwardPolicy", "scenario_rows"]


def scenario_rows(prep: Any, users: list[str], predictor: Any) -> CandidateRows:
    """Candidate rows of `users` replayed in `prep`'s world with `predictor` (true next servers known)."""
    from edgeroam.emulator.prepare import near_servers, true_next
    from edgeroam.mobility.replay import Replay
    from edgeroam.predictors.nextserver import candidate_rows

    sc, world = prep.scenario, prep.world
    tr = world.traces[world.traces["user"].astype(str).isin(users)]
    ticks = list(Replay(tr, world.topology.grid, world.topology.servers, interval_s=sc.dataset.interval_s,
                        history=sc.predictor.history))
    if not ticks:
        raise RunError(f"{sc.name}: perdnn-rank has no train user steps to learn from")
    hist, _, _, nxt = true_next(ticks)
    predicted = np.asarray(predictor.predict(hist), dtype=np.float64)
    return candidate_rows(ticks, predicted, nxt, near_servers(world, predicted, sc.policy.radius_m))


class RankForwardPolicy:
    """Relay to the candidates a next-server classifier gives P ≥ `tau`; refresh held servers within `keep_m`.

    Parameters
    ----------
    tau : float
        Probability threshold of a target. The default 0.11 is the largest hit ratio within perdnn's bytes
        on 3 validation folds of the Geolife train users, never the test users
        (docs/reproductions/beat-the-paper.md).
    k_max : int
        At most this many targets per user and tick.
    keep_m : float
        Refresh the TTL of servers holding the client's layers within this distance of the user (0: none).
    seed : int
        The classifier's seed.

    Examples
    --------
    >>> p = RankForwardPolicy()
    >>> p.name, p.relay, p.tau, p.k_max, p.keep_m
    ('perdnn-rank', True, 0.11, 5, 300.0)
    """

    relay = True
    everywhere = False
    name = "perdnn-rank"

    def __init__(self, tau: float = 0.11, k_max: int = 5, keep_m: float = 300.0, *, seed: int = 0) -> None:
        self.tau, self.k_max, self.keep_m, self.seed = float(tau), int(k_max), float(keep_m), int(seed)
        self._base: dict[int, int] = {}
        self._off = np.zeros(1, np.int64)
        self._cand = np.zeros(0, np.int64)
        self._prob = np.zeros(0)
        self._sites = np.zeros((0, 2))

    def bind(self, prep: Any) -> None:
        """Fit the ranker on the train users' replay and score every candidate of `prep`'s replay."""
        from edgeroam._rng import child_seeds
        from edgeroam.emulator.prepare import fit_predictor
        from edgeroam.predictors.nextserver import NextServerRanker, candidate_rows

        sc, world = prep.scenario, prep.world
        servers = world.topology.servers
        sites = np.full((int(servers["server"].max()) + 1, 2), np.nan)
        sites[servers["server"].to_numpy(np.int64)] = servers[["x", "y"]].to_numpy(np.float64)
        tr = world.traces  # in-region traces: their extent is the region's rectangle (Geolife, KAIST)
        box = (float(tr["x"].min()), float(tr["x"].max()), float(tr["y"].min()), float(tr["y"].max()))
        predictor = fit_predictor(sc, world, sc.predictor.kind)
        train = scenario_rows(prep, list(world.train_users), predictor)
        ranker = NextServerRanker(seed=int(child_seeds(sc.seed + self.seed, 5)[4])).fit(train, sites, box)
        unknown = np.full(len(prep.predicted), -1, np.int64)  # the replay's own future is never a feature
        rows = candidate_rows(prep.ticks, prep.predicted, unknown, prep.near_pred)
        self._prob = ranker.predict_proba(rows, sites, box)
        self._off, self._cand, self._sites = rows.offsets, rows.cand, sites
        self._base = {tk.index: int(b) for tk, b in zip(prep.ticks, prep.offsets[:-1], strict=True)}

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, relays to each user's likely next servers, TTL refreshes for the rest."""
        base = self._base.get(tick.index)
        if base is None:
            raise RunError("perdnn-rank: no scores for this tick (the master calls bind(prep) first)")
        out = current_plans(view, tick)
        keep2 = self.keep_m ** 2
        for i in np.flatnonzero(tick.server >= 0).tolist():
            src, client = int(tick.server[i]), int(tick.user_code[i])
            lo, hi = self._off[base + i], self._off[base + i + 1]
            cand, prob = self._cand[lo:hi], self._prob[lo:hi]
            order = np.argsort(-prob, kind="stable")[: self.k_max]
            targets = [int(s) for s in cand[order[prob[order] >= self.tau]]]
            for dst in targets:
                entry = view.future_plan(dst)
                if entry.layers:
                    out.append(Migrate(client, src, dst, entry.layers, relay=True))
            if self.keep_m <= 0:
                continue
            held = view.held_by(client) - {src, *targets}
            if held:
                here = np.array([tick.x[i], tick.y[i]])
                for s in sorted(held):
                    d = self._sites[s] - here
                    if d[0] * d[0] + d[1] * d[1] <= keep2:
                        out.append(Migrate(client, src, s, ()))
        return out
