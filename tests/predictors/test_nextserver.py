"""The next-server ranker: candidate rows, the leave-own-user-out transition prior, and what it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.errors import NotFittedError
from edgeroam.predictors.nextserver import (
    CandidateRows,
    NextServerRanker,
    candidate_rows,
    features,
    transition_table,
)
from tests.emulator.policies.test_rank import walkers


def rows_of():
    """Two users, hand-made: user 0 goes 1 -> 2 -> 2, user 1 goes 1 -> 3 (then unknown)."""
    return CandidateRows(
        user=np.array([0, 0, 0, 1, 1]), tick=np.array([0, 1, 2, 0, 1]),
        history=np.zeros((5, 2, 2)), history_len=np.full(5, 2), predicted=np.zeros((5, 2)),
        server=np.array([1, 2, 2, 1, 3]), prev_server=np.array([-1, 1, 2, -1, 1]),
        next_server=np.array([2, 2, -1, 3, -1]),
        owner=np.array([0, 0, 1, 3, 3]), cand=np.array([2, 3, 1, 2, 3]),
    )


def test_offsets_label_and_transitions():
    r = rows_of()
    assert r.offsets.tolist() == [0, 2, 3, 3, 5, 5]
    assert r.label.tolist() == [True, False, False, False, True]
    t = transition_table(r)
    assert list(map(tuple, t[["user", "a", "b"]].to_numpy())) == [(0, 1, 2), (0, 2, 2), (1, 1, 3)]


def test_prior_counts_and_leave_own_user_out():
    r = rows_of()
    t = transition_table(r)
    full = NextServerRanker.prior(r, t, leave_own_out=False)
    # row 0: user 0 at server 1, candidate 2: 1 transition 1->2, 2 arrivals at 2, 2 transitions out of 1
    assert full[0].tolist() == [1.0, 2.0, 2.0, 0.5]
    loo = NextServerRanker.prior(r, t, leave_own_out=True)
    # without user 0's own rows only user 1's 1->3 is left
    assert loo[0].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert loo[1].tolist() == [1.0, 1.0, 1.0, 1.0]  # candidate 3 from server 1: user 1's transition


def test_features_are_in_the_heading_frame():
    # a user heading north at (0, 0); candidate 10 m ahead and candidate 10 m to its left
    r = CandidateRows(
        user=np.array([0]), tick=np.array([0]), history=np.array([[[0.0, -10.0], [0.0, 0.0]]]),
        history_len=np.array([2]), predicted=np.array([[0.0, 10.0]]), server=np.array([0]),
        prev_server=np.array([-1]), next_server=np.array([-1]), owner=np.array([0, 0]), cand=np.array([1, 2]),
    )
    sites = np.array([[0.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    x = features(r, sites, (-100.0, 100.0, -100.0, 100.0))
    assert x[0, :3].tolist() == [10.0, 0.0, 10.0]  # along, across, distance from the user
    assert x[1, 0] == 0.0 and abs(x[1, 1]) == 10.0
    assert x[0, 18] == 100.0  # the region edge 100 m ahead


def test_unfitted_and_degenerate_inputs_raise():
    with pytest.raises(NotFittedError):
        NextServerRanker().predict_proba(rows_of(), np.zeros((4, 2)), (0, 1, 0, 1))
    r = rows_of()
    no_pos = CandidateRows(**{**r.__dict__, "next_server": np.full(5, -1)})
    with pytest.raises(NotFittedError, match="both"):
        NextServerRanker().fit(no_pos, np.zeros((4, 2)), (0, 1, 0, 1))


def test_ranker_learns_that_walkers_go_ahead():
    prep = walkers()
    rows = candidate_rows(prep.ticks, prep.predicted, prep.next_server, prep.near_pred)
    servers = prep.world.topology.servers
    sites = servers.sort_values("server")[["x", "y"]].to_numpy()
    box = (-1e4, 1e4, -1e4, 1e4)
    train_prep = walkers(test="train")
    train = candidate_rows(train_prep.ticks, train_prep.predicted, train_prep.next_server,
                           train_prep.near_pred)
    p = NextServerRanker(seed=3).fit(train, sites, box).predict_proba(rows, sites, box)
    best = pd.Series(p).groupby(rows.owner).idxmax().to_numpy()
    moving = rows.next_server[np.unique(rows.owner)] >= 0
    # the most probable candidate is the true next server for every step with a known next
    assert (rows.cand[best] == rows.next_server[np.unique(rows.owner)])[moving].all()


def test_docstring_examples_run():
    import doctest

    from edgeroam.emulator.policies import rank
    from edgeroam.predictors import nextserver

    for module in (nextserver, rank):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
