"""The probability rule of `TargetPolicy` (``perdnn-prob``; docs/reproductions/beat-the-paper.md, issue 6).

``perdnn-forward-top<k>`` ranks the candidate servers (those within r of the predicted point) by their
distance to the point. Here they are ranked by an estimate of P(next server = s): the predictor's errors on
the train users' windows (target minus prediction) form an empirical error sample; ``p + e`` for each sample
error e is a possible next position, and the share of those that fall in s's cell estimates the probability
(given the user leaves its server, for the `q` rule; unconditional, for the `tau` rule). The errors are kept
in the frame of the user's last step (along / across the heading) and pooled by speed, so a fast walker's
prediction spreads along its path, not around it. The policy takes the fewest servers whose cumulative
probability reaches `q` (at most `k_max`), or every server of probability at least `tau` (`TargetPolicy`
parameters; the ``perdnn-prob`` alias relays to them).

The error sample needs the fitted predictor and the train windows, which a `MasterView` does not carry:
`ProbRule.fit` (from `TargetPolicy.fit`) takes the predictor `prepare` fitted, predicts the train users'
windows and stores the error pools. Ranking stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.policies.base import MasterView
    from edgeroam.emulator.prepare import Prepared
    from edgeroam.mobility.replay import Tick

__all__ = ["ErrorModel", "ProbRule", "choose_targets", "error_model"]


class ErrorModel:
    """Prediction-error pools by speed, in the heading frame (moving) or the world frame (standing).

    Parameters
    ----------
    edges : ndarray[float64]
        Step-length bin edges (metres per interval): pool b holds windows with ``edges[b-1] <= step <
        edges[b]``; pool 0 holds the standing windows (step below ``edges[0]``).
    pools : list of ndarray [m, 2]
        Error samples (along, across the heading; x, y for pool 0).
    fallback : ndarray [m, 2], optional
        Every error (world frame), for a user whose pool is empty.
    """

    def __init__(self, edges: np.ndarray, pools: list[np.ndarray],
                 fallback: np.ndarray | None = None) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.pools = pools
        self.fallback = np.zeros((0, 2)) if fallback is None else fallback

    def samples(self, last: np.ndarray, step: np.ndarray) -> list[np.ndarray]:
        """World-frame error samples for users whose last step is `step` [N, 2] (one array per user)."""
        length = np.hypot(step[:, 0], step[:, 1])
        b = np.searchsorted(self.edges, length, side="right")
        out = []
        for i in range(len(step)):
            e = self.pools[min(int(b[i]), len(self.pools) - 1)]
            if len(e) == 0:
                out.append(self.fallback)  # an empty pool: every error, world frame
                continue
            if b[i] == 0:
                out.append(e)
                continue
            c, s = step[i] / length[i]
            out.append(np.column_stack([e[:, 0] * c - e[:, 1] * s, e[:, 0] * s + e[:, 1] * c]))
        return out


def error_model(windows: np.ndarray, targets: np.ndarray, predicted: np.ndarray, *, n_bins: int = 3,
                stand_m: float = 1.0, n_samples: int = 500, seed: int = 0,
                moving_only: np.ndarray | None = None) -> ErrorModel:
    """Pools of prediction errors ``targets - predicted`` by the window's last step length.

    Parameters
    ----------
    windows : ndarray [W, n, 2]
    targets, predicted : ndarray [W, 2]
    n_bins : int
        Speed pools of the moving windows (quantile edges), plus one pool of standing windows.
    stand_m : float
        A last step shorter than this (metres) counts as standing.
    n_samples : int
        At most this many errors per pool (a fixed, seeded subsample).
    moving_only : ndarray[bool], optional
        Keep only these windows (e.g. the non-futile ones: the user changes cell).

    Examples
    --------
    >>> w = np.array([[[0.0, 0.0], [10.0, 0.0]]] * 4)
    >>> m = error_model(w, np.array([[30.0, 0.0]] * 4), np.array([[20.0, 0.0]] * 4), n_bins=1)
    >>> m.pools[1][0].tolist()
    [10.0, 0.0]
    """
    rng = np.random.default_rng(seed)
    err = np.asarray(targets, np.float64) - np.asarray(predicted, np.float64)
    step = windows[:, -1] - windows[:, -2] if windows.shape[1] >= 2 else np.zeros_like(err)
    ok = np.isfinite(err).all(axis=1)
    if moving_only is not None:
        ok &= np.asarray(moving_only, bool)
    err, step = err[ok], step[ok]
    length = np.hypot(step[:, 0], step[:, 1])
    moving = length >= stand_m
    qs = np.quantile(length[moving], np.linspace(0, 1, n_bins + 1)[1:-1]) if moving.any() else np.zeros(0)
    edges = np.concatenate([[stand_m], qs])
    b = np.searchsorted(edges, length, side="right")
    pools = []
    for k in range(n_bins + 1):
        sel = np.flatnonzero(b == k)
        if len(sel) > n_samples:
            sel = np.sort(rng.choice(sel, n_samples, replace=False))
        e = err[sel]
        if k > 0 and len(sel):
            u = step[sel] / length[sel, None]
            e = np.column_stack([e[:, 0] * u[:, 0] + e[:, 1] * u[:, 1],
                                 -e[:, 0] * u[:, 1] + e[:, 1] * u[:, 0]])
        pools.append(e)
    every = np.arange(len(err))
    if len(every) > n_samples:
        every = np.sort(rng.choice(every, n_samples, replace=False))
    return ErrorModel(edges, pools, err[every])


def choose_targets(prob: np.ndarray, q: float, k_max: int) -> int:
    """How many of the servers (sorted by `prob`, descending) reach cumulative probability `q` (≤ `k_max`).

    Examples
    --------
    >>> choose_targets(np.array([0.7, 0.2, 0.1]), 0.8, 3), choose_targets(np.array([0.9, 0.1]), 0.8, 3)
    (2, 1)
    """
    c = np.cumsum(prob)
    return int(min(k_max, np.searchsorted(c, q - 1e-12) + 1, np.count_nonzero(prob > 0)))


class ProbRule:
    """The fitted error model of a prepared scenario and the ranking it gives (`TargetPolicy` rule
    ``"probability"``)."""

    def __init__(self, model: ErrorModel, grid: Any, servers: Any) -> None:
        self.model, self.grid, self.servers = model, grid, servers
        # `server_of_cell`'s sorted edge cells, found once instead of every tick
        edge = servers[servers["tier"] == "edge"]
        cells = edge["cell"].to_numpy(np.int64)
        order = np.argsort(cells, kind="stable")
        self._cells, self._ids = cells[order], edge["server"].to_numpy(np.int64)[order]

    @classmethod
    def fit(cls, prep: Prepared, *, n_bins: int, n_samples: int, moving_only: bool, seed: int) -> ProbRule:
        """The error model of the scenario's predictor on the train users' windows of `prep`."""
        from edgeroam.mobility.windows import windows

        sc, world = prep.scenario, prep.world
        grid = world.topology.grid
        train = world.traces[world.traces["user"].astype(str).isin(world.train_users)]
        n, dt = sc.predictor.history, sc.dataset.interval_s
        w = windows(train, n=n, grid=grid, interval_s=dt)
        if len(w) == 0:
            w = windows(world.traces, n=n, grid=grid, interval_s=dt)
        pred = np.asarray(prep.predictor.predict(w.windows), dtype=np.float64)
        futile = np.asarray(w.meta["futile"], bool)
        model = error_model(w.windows, w.targets, pred, n_bins=n_bins, n_samples=n_samples, seed=seed,
                            moving_only=~futile if moving_only else None)
        return cls(model, grid, world.topology.servers)

    def probabilities(self, src: int, near: np.ndarray, point: np.ndarray, samples: np.ndarray, *,
                      conditional: bool) -> tuple[np.ndarray, np.ndarray]:
        """Candidates (`near` without the current server `src`) and P(next = each); `conditional`: given
        the user leaves `src` (the `q` rule)."""
        return self._counted(src, near, self._sample_servers(np.asarray(point)[None, :], [samples])[0],
                             conditional=conditional)

    def _sample_servers(self, points: np.ndarray, samples: list[np.ndarray]) -> list[np.ndarray]:
        """The server of the cell each ``points[j] + samples[j]`` lands in (-1: none), one array per user
        (empty where the point is not finite); one cell lookup for all users."""
        ok = np.isfinite(points).all(axis=1)
        lens = np.array([len(e) if ok[j] else 0 for j, e in enumerate(samples)], np.int64)
        if not lens.any():
            return [np.zeros(0, np.int64) for _ in samples]
        pts = np.concatenate([points[j] + samples[j] for j in lens.nonzero()[0]])
        cells = np.asarray(self.grid.cell_ids_of(pts[:, 0], pts[:, 1]), dtype=np.int64)
        if len(self._cells) == 0:
            srv = np.full(cells.shape, -1, dtype=np.int64)
        else:  # as server_of_cell
            pos = np.clip(np.searchsorted(self._cells, cells), 0, len(self._cells) - 1)
            srv = np.where(self._cells[pos] == cells, self._ids[pos], -1)
        ends = np.cumsum(lens).tolist()
        return [srv[e - n: e] for e, n in zip(ends, lens.tolist(), strict=True)]  # np.split, without its cost

    @staticmethod
    def _counted(src: int, near: np.ndarray, srv: np.ndarray, *, conditional: bool) -> tuple[np.ndarray,
                                                                                              np.ndarray]:
        """Candidates (`near` without `src`) and the share of the landed servers `srv` on each."""
        cand = np.array([s for s in near.tolist() if s != src], np.int64)
        if len(cand) == 0 or len(srv) == 0:
            return cand, np.zeros(len(cand))
        away = np.count_nonzero((srv >= 0) & (srv != src)) if conditional else len(srv)
        if away == 0:
            return cand, np.zeros(len(cand))
        counts = (srv[:, None] == cand[None, :]).sum(axis=0)
        return cand, counts / away

    def rank(self, view: MasterView, tick: Tick, users: np.ndarray, points: np.ndarray, off: np.ndarray,
             srv: np.ndarray, params: Any) -> list[list[int]]:
        """The targets of each user in `users`: P ≥ `params.tau` (at most `k_max`), or the fewest reaching
        `params.q` (at least one)."""
        if len(users) == 0:
            return []
        h = np.asarray(tick.history, np.float64)[users]
        step = h[:, -1] - h[:, -2] if h.shape[1] >= 2 else np.zeros((len(users), 2))
        step = np.where((np.asarray(tick.history_len)[users] >= 2)[:, None], step, 0.0)
        samples = self.model.samples(h[:, -1], step)
        landed = self._sample_servers(points[users], samples)
        b, out = view.first_row, []
        for j, i in enumerate(users.tolist()):
            cand, prob = self._counted(int(tick.server[i]), srv[off[b + i]: off[b + i + 1]], landed[j],
                                       conditional=params.tau is None)
            if not len(cand):
                out.append([])
                continue
            order = np.argsort(-prob, kind="stable")  # ties: nearest to the prediction first
            if params.tau is not None:
                k = min(params.k_max, int(np.count_nonzero(prob >= params.tau)))
            else:
                # at least one: where no sample lands, the nearest
                k = max(choose_targets(prob[order], params.q, params.k_max), 1)
            out.append(cand[order[:k]].tolist())
        return out
