"""SVR: exact on straight walks, kernels selectable, both target framings."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.predictors import SVRPredictor


def _walks(n=5, seed=0):
    """Straight walks with different speeds and headings (no noise)."""
    rng = np.random.default_rng(seed)
    wins, tgts = [], []
    for _ in range(8):
        v = rng.uniform(-40, 40, 2)
        pos = rng.uniform(0, 3000, 2) + np.arange(25)[:, None] * v
        for i in range(25 - n):
            wins.append(pos[i : i + n])
            tgts.append(pos[i + n])
    return np.array(wins), np.array(tgts)


@pytest.mark.parametrize("target", ["displacement", "absolute"])
def test_linear_svr_is_near_exact_on_straight_walks(target):
    w, y = _walks()
    p = SVRPredictor(target=target, C=100.0, random_state=0).fit(w, y)
    err = np.hypot(*(p.predict(w) - y).T)
    assert err.max() < 1.0, err.max()  # metres, for steps of up to ~55 m


def test_linear_svr_generalises_to_unseen_walks():
    w, y = _walks(seed=0)
    w2, y2 = _walks(seed=1)
    p = SVRPredictor(C=100.0, random_state=0).fit(w, y)
    assert np.hypot(*(p.predict(w2) - y2).T).max() < 1.0


def test_l1_loss_also_fits():
    w, y = _walks()
    p = SVRPredictor(loss="epsilon_insensitive", C=100.0, max_iter=50000, random_state=0).fit(w, y)
    assert np.hypot(*(p.predict(w) - y).T).mean() < 2.0


def test_rbf_kernel_learns_a_walk_and_subsamples():
    w, y = _walks()
    p = SVRPredictor(kernel="rbf", C=10.0, max_samples=100, random_state=0).fit(w, y)
    assert sum(len(s) for s in p.support_vectors_) <= 200
    stay = np.hypot(*(w[:, -1] - y).T).mean()
    assert np.hypot(*(p.predict(w) - y).T).mean() < 0.5 * stay


def test_window_of_one_predicts_the_mean_step():
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 100, (50, 1, 2))
    y = w[:, 0] + np.array([3.0, -1.0])
    out = SVRPredictor().fit(w, y).predict(w)
    np.testing.assert_allclose(out - w[:, 0], np.tile([3.0, -1.0], (50, 1)), atol=1e-6)


def test_refit_with_another_kernel_drops_old_state():
    w, y = _walks()
    p = SVRPredictor(kernel="rbf", max_samples=50, random_state=0).fit(w, y)
    p.set_params(kernel="linear").fit(w, y)
    assert not hasattr(p, "support_vectors_") and hasattr(p, "coef_")
