"""Markov suffix tree: loops, the subsequence ratio, unseen cells."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.predictors import MarkovPredictor
from edgeroam.predictors.markov import NO_CELL
from edgeroam.topology.hexgrid import HexGrid, cell_id

GRID = HexGrid(radius=50.0)


def _path(cells, n):
    """Windows over a sequence of axial cells (positions = cell centres)."""
    pos = np.array([GRID.center(q, r) for q, r in cells], dtype=float)
    w = np.stack([pos[i : i + n] for i in range(len(pos) - n)])
    return w, pos[n:]


def test_repeated_loop_predicts_the_next_cell():
    loop = [(0, 0), (1, 0), (1, 1), (0, 1)] * 6
    w, y = _path(loop, n=3)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    cells, prob = p.predict_cells(w, k=2)
    truth = GRID.cell_ids_of(y[:, 0], y[:, 1])
    np.testing.assert_array_equal(cells[:, 0], truth)
    np.testing.assert_array_equal(prob[:, 0], 1.0)
    assert (cells[:, 1] == NO_CELL).all() and (prob[:, 1] == 0).all()
    np.testing.assert_allclose(p.predict(w), y, atol=1e-9)


def test_probabilities_follow_frequencies_and_ties_by_id():
    # from A the walk goes to B twice and to C once; from B/C back to A
    a, b, c = (0, 0), (1, 0), (0, 1)
    seq = [a, b, a, b, a, c, a]
    w, y = _path(seq, n=1)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    cells, prob = p.predict_cells(w[:1], k=3)
    assert cells[0].tolist() == [cell_id(*b), cell_id(*c), NO_CELL]
    np.testing.assert_allclose(prob[0], [2 / 3, 1 / 3, 0.0])


def _ab_world():
    # context (X, A) is always followed by B, while A alone is followed by B or C equally often
    a, b, c, x, z = (0, 0), (1, 0), (2, 0), (0, 2), (0, 3)
    return [x, a, b, z, a, c, z, a, c, x, a, b, z, a, c, x, a, b], (a, b, c, x)


@pytest.mark.parametrize(("ratio", "expect_b_only"), [(1.0, True), (0.7, False)])
def test_subsequence_ratio_shortens_the_matched_context(ratio, expect_b_only):
    seq, (a, b, c, x) = _ab_world()
    w, y = _path(seq, n=2)
    p = MarkovPredictor(grid=GRID, ratio=ratio).fit(w, y)
    hist = np.array([[GRID.center(*x), GRID.center(*a)]])
    cells, prob = p.predict_cells(hist, k=2)
    if expect_b_only:  # longest match (X, A) of length 2 used as is
        assert cells[0, 0] == cell_id(*b) and prob[0, 0] == 1.0
    else:  # round(0.7 * 2) = 1: context (A,) -> B 3 times, C 3 times
        assert set(cells[0].tolist()) == {cell_id(*b), cell_id(*c)}
        np.testing.assert_allclose(prob[0], [0.5, 0.5])


def test_context_lengths_after_the_ratio():
    seq = [(i % 7, 0) for i in range(60)]
    w, y = _path(seq, n=5)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    cells = GRID.cell_ids_of(w[0, :, 0], w[0, :, 1])
    assert len(p._context(cells)) == 4  # 5 -> round(3.5) = 4
    assert len(p._context(cells[-3:])) == 2  # 3 -> round(2.1) = 2
    assert len(p._context(cells[-1:])) == 1


def test_unseen_cell_predicts_stay():
    w, y = _path([(0, 0), (1, 0)] * 4, n=2)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    far = np.array([[GRID.center(40, 40), GRID.center(41, 40)]])
    cells, prob = p.predict_cells(far, k=2)
    assert cells[0].tolist() == [cell_id(41, 40), NO_CELL]
    assert prob[0].tolist() == [1.0, 0.0]


def test_min_count_prunes_rare_contexts():
    seq, _ = _ab_world()
    w, y = _path(seq, n=2)
    full = MarkovPredictor(grid=GRID).fit(w, y)
    pruned = MarkovPredictor(grid=GRID, min_count=3).fit(w, y)
    assert len(pruned.tree_) < len(full.tree_)
    assert all(len(c) <= 2 for c in full.tree_)


def test_a_context_seen_min_count_times_is_kept():
    # one walk (0,0) (1,0) (2,0) (3,0): windows of 2 -> two training rows, each context seen exactly once.
    # min_count = 1 keeps all four contexts ((0,0)(1,0), (1,0), (1,0)(2,0), (2,0)) and predicts the walk;
    # min_count = 2 drops them all, and a window then predicts staying put
    w, y = _path([(0, 0), (1, 0), (2, 0), (3, 0)], n=2)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    a, b, c = cell_id(0, 0), cell_id(1, 0), cell_id(2, 0)
    assert sorted(p.tree_) == sorted([(a, b), (b,), (b, c), (c,)])
    cells, prob = p.predict_cells(w, k=1)
    assert cells[:, 0].tolist() == [c, cell_id(3, 0)] and prob[:, 0].tolist() == [1.0, 1.0]
    strict = MarkovPredictor(grid=GRID, min_count=2).fit(w, y)
    assert strict.tree_ == {}
    assert strict.predict_cells(w, k=1)[0][:, 0].tolist() == [b, c]
    # a context seen twice survives min_count = 2
    w2, y2 = _path([(0, 0), (1, 0), (0, 0), (1, 0), (0, 0)], n=1)
    assert sorted(MarkovPredictor(grid=GRID, min_count=2).fit(w2, y2).tree_) == [(a,), (b,)]
