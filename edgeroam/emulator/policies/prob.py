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
windows and stores the error pools. A ranking depends only on the replay, never on the emulation (like the
predictions `prepare` makes in one batch), so `ProbRule.targets` ranks every replay row at fit time, in
batches of samples; `decide` only looks the targets up and stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
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
        from edgeroam.topology.hexgrid import unpack_cell_id

        self.model, self.grid, self.servers = model, grid, servers
        # the edge server of each axial (q, r) over the servers' extent, the first listed where a cell has two
        # (as `server_of_cell`): a table lookup per sample instead of a search
        edge = servers[servers["tier"] == "edge"]
        cells, first = np.unique(edge["cell"].to_numpy(np.int64), return_index=True)
        q, r = unpack_cell_id(cells)
        self._q0, self._r0 = (int(q.min()), int(r.min())) if len(cells) else (0, 0)
        shape = (int(q.max(initial=0)) - self._q0 + 1, int(r.max(initial=0)) - self._r0 + 1)
        self._table = np.full(shape, -1, np.int64)
        self._table[q - self._q0, r - self._r0] = edge["server"].to_numpy(np.int64)[first]

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

    def targets(self, ticks: list[Tick], points: np.ndarray, near: tuple[np.ndarray, np.ndarray], *,
                tau: float | None, q: float, k_max: int,
                chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
        """The targets of every replay row, most probable first (CSR: row r's are ``dst[off[r]:off[r + 1]]``).

        A row's candidates are its `near` servers without its own; P ≥ `tau` (at most `k_max`), or with
        ``tau=None`` the fewest reaching `q` given the user leaves its server (at least one: where no sample
        lands, the nearest). A ranking depends only on the replay (history, server, prediction), never on
        the emulation, so `TargetPolicy.fit` makes them all here, in batches of about `chunk` samples;
        `decide` looks them up.
        """
        hist = np.concatenate([np.asarray(tk.history, np.float64) for tk in ticks])
        hlen = np.concatenate([np.asarray(tk.history_len) for tk in ticks])
        server = np.concatenate([np.asarray(tk.server, np.int64) for tk in ticks])
        n_rows, (noff, nsrv) = len(server), near
        # candidates: the near servers without the row's own, nearest first (flat, row `crow`)
        row = np.repeat(np.arange(n_rows), np.diff(noff))
        keep = nsrv != server[row]
        cand, crow = nsrv[keep], row[keep]
        ncand = np.bincount(crow, minlength=n_rows)
        first = np.concatenate([[0], np.cumsum(ncand)])
        prob = np.zeros(len(cand))
        # each row's error sample: its speed pool, turned into its heading (ErrorModel.samples)
        step = hist[:, -1] - hist[:, -2] if hist.shape[1] >= 2 else np.zeros((n_rows, 2))
        step = np.where((hlen >= 2)[:, None], step, 0.0)
        length = np.hypot(step[:, 0], step[:, 1])
        b = np.searchsorted(self.model.edges, length, side="right")
        pool = np.minimum(b, len(self.model.pools) - 1)
        asked = (server >= 0) & (ncand > 0) & np.isfinite(points).all(axis=1)
        for k, e in enumerate(self.model.pools):
            rows = np.flatnonzero(asked & (pool == k))
            turn = k > 0 and len(e) > 0
            e = e if len(e) else self.model.fallback  # an empty pool: every error, world frame
            if len(e) == 0 or len(rows) == 0:
                continue  # no sample lands: P = 0
            for lo in range(0, len(rows), max(1, chunk // len(e))):
                r = rows[lo: lo + max(1, chunk // len(e))]
                ex, ey = e[None, :, 0], e[None, :, 1]
                if turn:
                    cs = step[r] / length[r, None]
                    c, s = cs[:, :1], cs[:, 1:]
                    ex, ey = ex * c - ey * s, ex * s + ey * c
                landed = self._server_at(points[r, :1] + ex, points[r, 1:] + ey)
                src = server[r]
                away = (np.count_nonzero((landed >= 0) & (landed != src[:, None]), axis=1) if tau is None
                        else np.full(len(r), landed.shape[1]))
                for j in range(int(ncand[r].max())):
                    has = np.flatnonzero(ncand[r] > j)
                    at = first[r[has]] + j
                    hits = np.count_nonzero(landed[has] == cand[at][:, None], axis=1)
                    ok = away[has] > 0
                    prob[at[ok]] = hits[ok] / away[has][ok]
        # most probable first, ties nearest first (a stable sort within each row)
        order = np.lexsort((-prob, crow))
        cand, prob = cand[order], prob[order]
        pos = np.arange(len(cand)) - first[crow]
        if tau is not None:
            k_row = np.minimum(k_max, np.bincount(crow[prob >= tau], minlength=n_rows))
        else:  # choose_targets on each row, at least one
            table = np.zeros((n_rows, int(ncand.max(initial=0))))
            table[crow, pos] = prob
            reach = np.count_nonzero((np.cumsum(table, axis=1) < q - 1e-12)
                                     & (np.arange(table.shape[1]) < ncand[:, None]), axis=1) + 1
            k_row = np.minimum(np.minimum(k_max, reach), np.bincount(crow[prob > 0], minlength=n_rows))
            k_row = np.where(ncand > 0, np.maximum(k_row, 1), 0)
        take = pos < np.where(server >= 0, k_row, 0)[crow]  # a user without a server is never asked
        return np.concatenate([[0], np.cumsum(np.bincount(crow[take], minlength=n_rows))]), cand[take]

    def _server_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The edge server of the cell each point (x, y) lands in (-1: none), as `server_of_cell`."""
        q, r = self.grid.round_axial(*self.grid.fractional(x, y))
        q -= self._q0
        r -= self._r0
        inside = (q >= 0) & (q < self._table.shape[0]) & (r >= 0) & (r < self._table.shape[1])
        return np.where(inside, self._table[np.where(inside, q, 0), np.where(inside, r, 0)], -1)
