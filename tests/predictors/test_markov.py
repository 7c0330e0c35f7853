"""Markov suffix tree: loops, the subsequence ratio, unseen cells."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.errors import EdgeroamError
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


def test_save_load_keeps_the_tree_and_an_odd_grid_exactly(tmp_path):
    from edgeroam.predictors import load_predictor

    grid = HexGrid(radius=30.0, origin=(5.0, -7.0), orientation="flat")
    cells = [(0, 0), (1, 0), (0, 0), (2, 0), (0, 0), (1, 0), (0, 0)]
    pos = np.array([grid.center(q, r) for q, r in cells], dtype=float)
    w = np.stack([pos[i : i + 2] for i in range(len(pos) - 2)])
    p = MarkovPredictor(grid=grid).fit(w, pos[2:])
    q = load_predictor(p.save(tmp_path / "m.npz"))
    assert q.grid == grid and q.grid_ == grid and (q.depth_, q.window_) == (2, 2)
    assert sorted(q.tree_) == sorted(p.tree_)
    for ctx, (succ, prob) in p.tree_.items():
        assert q.tree_[ctx][0].tolist() == succ.tolist() and q.tree_[ctx][1].tolist() == prob.tolist()
    assert np.array_equal(q.predict_cells(w, k=2)[0], p.predict_cells(w, k=2)[0])
    # an unfitted default grid survives too
    d = load_predictor(MarkovPredictor().fit(w, pos[2:]).save(tmp_path / "d.npz"))
    assert d.grid is None and d.grid_ == HexGrid(radius=50.0)


def test_default_grid_and_k():
    w, y = _path([(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)], n=2)
    p = MarkovPredictor().fit(w, y)  # no grid: 50 m pointy hexes, the same as GRID
    assert p.grid_ == HexGrid(radius=50.0)
    cells, prob = p.predict_cells(w)
    assert cells.shape == (3, 2) and cells[:, 0].tolist() == GRID.cell_ids_of(y[:, 0], y[:, 1]).tolist()
    np.testing.assert_allclose(p.predict(w), y, atol=1e-9)
    with pytest.raises(EdgeroamError, match="k must be >= 1, got 0"):
        p.predict_cells(w, k=0)


def test_max_depth_caps_the_context_length():
    seq, (a, b, c, x) = _ab_world()
    w, y = _path(seq, n=3)
    p = MarkovPredictor(grid=GRID, max_depth=1).fit(w, y)
    assert p.depth_ == 1 and {len(k) for k in p.tree_} == {1}
    assert {len(k) for k in MarkovPredictor(grid=GRID, max_depth=2).fit(w, y).tree_} == {1, 2}
    assert {len(k) for k in MarkovPredictor(grid=GRID, max_depth=9).fit(w, y).tree_} == {1, 2, 3}
    # depth 1: only the last cell counts; after (X, X, A) as after any A, the walk went on to B or to C
    hist = np.array([[GRID.center(*x), GRID.center(*x), GRID.center(*a)]])
    cells, prob = p.predict_cells(hist, k=2)
    assert set(cells[0].tolist()) == {cell_id(*b), cell_id(*c)} and prob[0].sum() == pytest.approx(1.0)


def test_successor_probabilities_of_a_later_context():
    # contexts in id order A < B < C; from C (not the first context) the walk goes to A twice, to B once
    a, b, c = (0, 0), (1, 0), (2, 0)
    seq = [a, c, a, c, b, c, a]
    w, y = _path(seq, n=1)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    succ, prob = p.tree_[(cell_id(*c),)]
    assert succ.tolist() == [cell_id(*a), cell_id(*b)]
    np.testing.assert_allclose(prob, [2 / 3, 1 / 3])


def test_min_count_keeps_frequent_contexts_after_a_rare_one():
    # with min_count 2: context A (seen once, the smallest id) is dropped, B and C (seen twice) are kept
    a, b, c = (0, 0), (1, 0), (2, 0)
    w, y = _path([a, b, c, b, c, b], n=1)
    kept = MarkovPredictor(grid=GRID, min_count=2).fit(w, y).tree_
    assert sorted(kept) == [(cell_id(*b),), (cell_id(*c),)]


def test_stay_is_the_last_cell_of_a_longer_window():
    w, y = _path([(0, 0), (1, 0)] * 4, n=3)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    far = np.array([[GRID.center(40, 40), GRID.center(41, 40), GRID.center(42, 40)]])
    assert p.predict_cells(far, k=1)[0].tolist() == [[cell_id(42, 40)]]


def test_a_shorter_context_is_used_when_the_longest_is_unseen():
    # trained on the loop A B C A B C ...; the window (C, B) never happened, but (B,) did: -> C
    a, b, c = (0, 0), (1, 0), (2, 0)
    w, y = _path([a, b, c] * 5, n=2)
    p = MarkovPredictor(grid=GRID).fit(w, y)
    hist = np.array([[GRID.center(*c), GRID.center(*b)]])
    assert p.predict_cells(hist, k=1)[0].tolist() == [[cell_id(*c)]]


def test_an_empty_tree_saves_and_loads(tmp_path):
    from edgeroam.predictors import load_predictor

    w, y = _path([(0, 0), (1, 0), (2, 0), (3, 0)], n=2)
    p = MarkovPredictor(grid=GRID, min_count=5).fit(w, y)  # every context is rarer than 5: nothing kept
    q = load_predictor(p.save(tmp_path / "empty.npz"))
    assert p.tree_ == {} and q.tree_ == {} and q.depth_ == 2
    assert q.predict_cells(w, k=1)[0][:, 0].tolist() == GRID.cell_ids_of(w[:, -1, 0], w[:, -1, 1]).tolist()
