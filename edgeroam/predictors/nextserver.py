"""Which server will a user be at next? A classifier over candidate servers (beyond PerDNN; issue 6).

PerDNN predicts a *point* and migrates to every server within r of it. ``perdnn-prob`` turned the point
predictor's error sample into P(next server = s). This module learns that probability directly: one row per
(user step, candidate server), where the candidates are the servers within r of the predicted point other
than the current one, the label says whether the candidate is the server one interval later, and a
gradient-boosted tree classifier (scikit-learn's ``HistGradientBoostingClassifier``) is fitted on the train
users' replay. The features are geometric, in the frame of the user's heading (so a walker's candidates
ahead differ from those beside it): the candidate's site relative to the current and predicted positions,
the user's position in its own cell, speed and turn, how near the region edge the user is heading, whether
the candidate was the previous server, and the train users' server-to-server transition counts (a
first-order Markov prior on servers, computed leaving the row's own user out when fitting).

Tables, not objects: `candidate_rows` returns flat arrays (CSR by user step); `features` is a pure function
of them; `NextServerRanker` only wraps the classifier and the transition prior.

What it leaves to others: the point predictor (edgeroam.predictors), the replay (edgeroam.mobility.replay),
which targets to migrate to (``edgeroam.emulator.policies.rank``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgeroam.errors import NotFittedError

__all__ = ["CandidateRows", "NextServerRanker", "candidate_rows", "features", "transition_table"]


@dataclass(frozen=True, eq=False)
class CandidateRows:
    """User steps and their candidate next servers; candidate arrays are grouped by `owner` (sorted).

    Attributes
    ----------
    user, tick : ndarray[int64] [S]
        User code and tick index of each step.
    history : ndarray[float64] [S, n, 2]
        The last n positions (``history[:, -1]`` is now).
    history_len : ndarray[int64] [S]
    predicted : ndarray[float64] [S, 2]
        The point predictor's next position.
    server, prev_server, next_server : ndarray[int64] [S]
        Current, previous and true next server (-1: none or unknown).
    owner, cand : ndarray[int64] [C]
        Step index and server of each candidate.
    """

    user: np.ndarray
    tick: np.ndarray
    history: np.ndarray
    history_len: np.ndarray
    predicted: np.ndarray
    server: np.ndarray
    prev_server: np.ndarray
    next_server: np.ndarray
    owner: np.ndarray
    cand: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """CSR offsets of the candidates per step: step i owns ``cand[offsets[i]:offsets[i+1]]``."""
        return np.concatenate([[0], np.cumsum(np.bincount(self.owner, minlength=len(self.server)))])

    @property
    def label(self) -> np.ndarray:
        """True where the candidate is the step's next server."""
        return self.cand == self.next_server[self.owner]


def candidate_rows(ticks, predicted: np.ndarray, next_server: np.ndarray,
                   near: tuple[np.ndarray, np.ndarray]) -> CandidateRows:
    """Candidate rows of replayed `ticks` (a list of `Tick`), their predictions, true next servers and the CSR
    `near` of the servers within r of each prediction (the master's ``prepare`` makes all four)."""
    cat = np.concatenate
    server = cat([tk.server for tk in ticks]).astype(np.int64)
    off, srv = near
    owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
    keep = srv != server[owner]
    return CandidateRows(
        user=cat([tk.user_code for tk in ticks]).astype(np.int64),
        tick=cat([np.full(len(tk), tk.index, np.int64) for tk in ticks]),
        history=cat([tk.history for tk in ticks]),
        history_len=cat([tk.history_len for tk in ticks]).astype(np.int64),
        predicted=np.asarray(predicted, np.float64),
        server=server,
        prev_server=cat([tk.prev_server for tk in ticks]).astype(np.int64),
        next_server=np.asarray(next_server, np.int64),
        owner=owner[keep].astype(np.int64),
        cand=srv[keep].astype(np.int64),
    )


def _heading(rows: CandidateRows) -> tuple[np.ndarray, np.ndarray]:
    """Unit heading per step (last step; else toward the prediction; else east) and the last step."""
    h = rows.history
    step = h[:, -1] - h[:, -2] if h.shape[1] >= 2 else np.zeros((len(h), 2))
    step = np.where((rows.history_len >= 2)[:, None], step, 0.0)
    toward = rows.predicted - h[:, -1]
    toward = np.where(np.isfinite(toward), toward, 0.0)
    u = np.tile([1.0, 0.0], (len(h), 1))
    for v in (toward, step):  # the last step wins where it is long enough
        n = np.hypot(v[:, 0], v[:, 1])
        ok = n >= 1.0
        u[ok] = v[ok] / n[ok, None]
    return u, step


def _rot(v: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(along, across) components of vectors `v` in the frames of unit headings `u`."""
    return v[:, 0] * u[:, 0] + v[:, 1] * u[:, 1], -v[:, 0] * u[:, 1] + v[:, 1] * u[:, 0]


def features(rows: CandidateRows, sites: np.ndarray, box: tuple[float, float, float, float],
             prior: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix [C, F] of the candidate rows.

    Parameters
    ----------
    sites : ndarray [servers, 2]
        Server sites (x, y), indexed by server id.
    box : (x0, x1, y0, y1)
        The region's extent: distance to its edge, ahead and overall, tells a user about to leave.
    prior : ndarray [C, 4], optional
        Transition-prior columns (`NextServerRanker.prior`), appended when given.
    """
    o, c = rows.owner, rows.cand
    cur = rows.history[:, -1]
    u, step = _heading(rows)
    length = np.hypot(step[:, 0], step[:, 1])
    h = rows.history
    prev_step = h[:, -2] - h[:, -3] if h.shape[1] >= 3 else np.zeros_like(step)
    pa, pc = _rot(prev_step, u)
    mirror = np.where(pc < 0, 1.0, -1.0)  # turning right becomes turning left: one side to learn
    pred = np.where(np.isfinite(rows.predicted), rows.predicted, cur)
    uo, mo = u[o], mirror[o]
    site = sites[c]
    a1, c1 = _rot(site - cur[o], uo)
    a2, c2 = _rot(site - pred[o], uo)
    own = sites[np.maximum(rows.server, 0)]
    a3, c3 = _rot(cur - own, u)
    a4, c4 = _rot(pred - cur, u)
    span = np.hypot(*(h[:, -1] - h[:, 0]).T) / np.maximum(rows.history_len - 1, 1)
    x0, x1, y0, y1 = box
    edge = np.minimum.reduce([cur[:, 0] - x0, x1 - cur[:, 0], cur[:, 1] - y0, y1 - cur[:, 1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(u[:, 0] > 1e-9, (x1 - cur[:, 0]) / u[:, 0],
                      np.where(u[:, 0] < -1e-9, (x0 - cur[:, 0]) / u[:, 0], np.inf))
        ty = np.where(u[:, 1] > 1e-9, (y1 - cur[:, 1]) / u[:, 1],
                      np.where(u[:, 1] < -1e-9, (y0 - cur[:, 1]) / u[:, 1], np.inf))
    ahead = np.minimum(np.minimum(tx, ty), 5000.0)
    n_cand = np.bincount(o, minlength=len(cur)).astype(np.float64)
    cols = [
        a1, c1 * mo, np.hypot(a1, c1), a2, c2 * mo, np.hypot(a2, c2),
        a3[o], (c3 * mirror)[o], length[o], span[o], a4[o], (c4 * mirror)[o], pa[o], np.abs(pc)[o],
        rows.history_len[o].astype(np.float64), n_cand[o], (c == rows.prev_server[o]).astype(np.float64),
        edge[o], ahead[o],
    ]
    x = np.column_stack(cols)
    return x if prior is None else np.column_stack([x, prior])


def transition_table(rows: CandidateRows) -> pd.DataFrame:
    """(user, a, b): one row per step with a known next server (a = current server, b = next; b may be a)."""
    ok = (rows.next_server >= 0) & (rows.server >= 0)
    return pd.DataFrame({"user": rows.user[ok], "a": rows.server[ok], "b": rows.next_server[ok]})


class NextServerRanker:
    """P(next server = candidate) from a gradient-boosted classifier on `features` (+ a transition prior).

    Parameters
    ----------
    max_iter, learning_rate : int, float
        Of ``HistGradientBoostingClassifier`` (early stopping on a 10 % validation share).
    seed : int
        The classifier's random_state.

    Examples
    --------
    >>> r = NextServerRanker(max_iter=50)
    >>> r.max_iter, r.model_ is None
    (50, True)
    """

    def __init__(self, max_iter: int = 300, learning_rate: float = 0.1, seed: int = 0) -> None:
        self.max_iter, self.learning_rate, self.seed = int(max_iter), float(learning_rate), int(seed)
        self.model_ = None
        self.transitions_: pd.DataFrame | None = None

    @staticmethod
    def prior(rows: CandidateRows, transitions: pd.DataFrame, *, leave_own_out: bool) -> np.ndarray:
        """[C, 4]: train transitions current→candidate, visits of the candidate, transitions out of the
        current server, and their ratio; with `leave_own_out` each row's own user's counts are removed."""
        o, c = rows.owner, rows.cand
        a = rows.server[o]
        tables = {
            "ab": transitions.groupby(["a", "b"]).size(), "b": transitions.groupby("b").size(),
            "a": transitions.groupby("a").size(),
        }
        keys = {"ab": pd.MultiIndex.from_arrays([a, c]), "b": c, "a": a}
        cols = {k: tables[k].reindex(keys[k]).fillna(0).to_numpy(np.float64) for k in tables}
        if leave_own_out:
            u = rows.user[o]
            own = {"ab": (["user", "a", "b"], [u, a, c]), "b": (["user", "b"], [u, c]),
                   "a": (["user", "a"], [u, a])}
            for k, (by, arrays) in own.items():
                counts = transitions.groupby(by).size()
                mine = counts.reindex(pd.MultiIndex.from_arrays(arrays)).fillna(0)
                cols[k] = cols[k] - mine.to_numpy(np.float64)
        return np.column_stack([cols["ab"], cols["b"], cols["a"], cols["ab"] / np.maximum(cols["a"], 1.0)])

    def fit(self, rows: CandidateRows, sites: np.ndarray, box) -> NextServerRanker:
        """Fit on the candidate rows whose next server is known."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        trans = transition_table(rows)
        x = features(rows, sites, box, self.prior(rows, trans, leave_own_out=True))
        y = rows.label
        known = rows.next_server[rows.owner] >= 0
        if not known.any() or y[known].all() or not y[known].any():
            raise NotFittedError("next-server ranker: the train rows need both next and not-next candidates")
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, early_stopping=True,
            random_state=self.seed,
        ).fit(x[known], y[known])
        self.transitions_ = trans
        return self

    def predict_proba(self, rows: CandidateRows, sites: np.ndarray, box) -> np.ndarray:
        """P(next = candidate) for every candidate row [C]."""
        if self.model_ is None or self.transitions_ is None:
            raise NotFittedError("NextServerRanker is not fitted; call fit() first")
        if len(rows.cand) == 0:
            return np.zeros(0)
        x = features(rows, sites, box, self.prior(rows, self.transitions_, leave_own_out=False))
        return self.model_.predict_proba(x)[:, 1]
