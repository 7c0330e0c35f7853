"""The classifier rule of `TargetPolicy`: servers a classifier ranks likely to be next (``perdnn-rank``;
docs/reproductions/beat-the-paper.md, issue 6).

``perdnn-prob`` estimated P(next server = s) from the point predictor's error sample. Here a gradient-boosted
classifier learns it from the train users' replay (`edgeroam.predictors.nextserver`): per candidate server
(within r of the predicted point), from where it lies relative to the user's heading, position and
prediction, the user's speed and turn, the region's edge ahead, and the train users' server transitions.

Each tick, for each user:

- **targets**: every candidate with P ≥ `tau` (at most `k_max`, most probable first) gets the plan's layers,
  relayed as they land at the current server (``Migrate(relay=True)``). One target costs at most one plan of
  bytes and gains P in expected hits, so one threshold for all users buys the most hits for the bytes.
- **keep-alive**: every other server that still holds this client's layers and lies within `keep_m` of the
  user gets a `Migrate` with no layers, which only refreshes its TTL (what PerDNN does when a server "tries
  to send" layers already there). It costs no backhaul byte; it costs server memory, which the run reports
  (``summary["memory"]``). A user who turns back or zig-zags along a cell border then finds its layers.

`RankRule.fit` (from `TargetPolicy.fit`) takes the point predictor `prepare` fitted, replays the train users,
fits the ranker on their candidate rows, and scores every candidate row of the replay in one batch (a
probability depends only on the trajectory so far, never on the emulation, like the predictions `prepare`
makes in one batch), and `RankRule.targets` picks every row's targets from them at fit time. Ranking stays
pure: `decide` only looks them up. The keep-alive refreshes are `TargetPolicy`'s
(``keep_m``).

What it leaves to others: the classifier and its features (`edgeroam.predictors.nextserver`), executing the
relay and the TTL (the backend).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.errors import RunError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from edgeroam.emulator.prepare import Prepared
    from edgeroam.predictors.nextserver import CandidateRows

__all__ = ["RankRule", "scenario_rows", "server_sites"]


def scenario_rows(prep: Prepared, users: list[str], predictor: Any, radius_m: float) -> CandidateRows:
    """Candidate rows (servers within `radius_m` of each prediction) of `users` replayed in `prep`'s world
    with `predictor` (true next servers known: these are training rows)."""
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
    return candidate_rows(ticks, predicted, nxt, near_servers(world, predicted, radius_m))


def server_sites(servers: pd.DataFrame) -> np.ndarray:
    """Site (x, y) of every server id ([max id + 1, 2], NaN for unused ids).

    Examples
    --------
    >>> import pandas as pd
    >>> server_sites(pd.DataFrame({"server": [0, 2], "x": [1.0, 5.0], "y": [2.0, 6.0]})).tolist()
    [[1.0, 2.0], [nan, nan], [5.0, 6.0]]
    """
    sites = np.full((int(servers["server"].max()) + 1, 2), np.nan)
    sites[servers["server"].to_numpy(np.int64)] = servers[["x", "y"]].to_numpy(np.float64)
    return sites


class RankRule:
    """Next-server probabilities of every candidate row of a replay (`TargetPolicy` rule ``"classifier"``).

    Attributes
    ----------
    off, cand, prob : ndarray
        Candidate rows: row r's candidates are ``cand[off[r]:off[r + 1]]`` with probabilities ``prob``.
    sites : ndarray [S, 2]
        Server sites (`server_sites`).
    """

    def __init__(self, off: np.ndarray, cand: np.ndarray, prob: np.ndarray, sites: np.ndarray) -> None:
        self.off, self.cand, self.prob, self.sites = off, cand, prob, sites

    @classmethod
    def fit(cls, prep: Prepared, points: np.ndarray, near: tuple[np.ndarray, np.ndarray], radius_m: float, *,
            seed: int) -> RankRule:
        """Fit the ranker on the train users' replay and score every candidate of `prep`'s replay."""
        from edgeroam._rng import child_seeds
        from edgeroam.predictors.nextserver import NextServerRanker, candidate_rows

        sc, world = prep.scenario, prep.world
        sites = server_sites(world.topology.servers)
        tr = world.traces  # in-region traces: their extent is the region's rectangle (Geolife, KAIST)
        box = (float(tr["x"].min()), float(tr["x"].max()), float(tr["y"].min()), float(tr["y"].max()))
        train = scenario_rows(prep, list(world.train_users), prep.predictor, radius_m)
        ranker = NextServerRanker(seed=int(child_seeds(sc.seed + seed, 5)[4])).fit(train, sites, box)
        unknown = np.full(len(points), -1, np.int64)  # the replay's own future is never a feature
        rows = candidate_rows(prep.ticks, points, unknown, near)
        return cls(rows.offsets, rows.cand, ranker.predict_proba(rows, sites, box), sites)

    def targets(self, tau: float | None, k_max: int) -> tuple[np.ndarray, np.ndarray]:
        """The targets of every row, most probable first (CSR: row r's are ``dst[off[r]:off[r + 1]]``): P ≥
        `tau` (None: any), at most `k_max` (`TargetPolicy.fit` makes them all at once; `decide` looks them
        up)."""
        n_rows = len(self.off) - 1
        row = np.repeat(np.arange(n_rows), np.diff(self.off))
        order = np.lexsort((-self.prob, row))  # within each row, a stable sort by P, descending
        pos = np.arange(len(order)) - self.off[row]
        take = order[pos < k_max]
        if tau is not None:
            take = take[self.prob[take] >= tau]
        return np.concatenate([[0], np.cumsum(np.bincount(row[take], minlength=n_rows))]), self.cand[take]
