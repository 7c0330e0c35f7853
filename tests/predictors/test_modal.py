"""Mode-aware SVR: speed classes, heading frame, fallback to the global model."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.errors import EdgeroamError
from edgeroam.predictors import ModeAwareSVRPredictor
from edgeroam.predictors.modal import heading_rotation, speed_classes


def _walk(v, start=(0.0, 0.0), steps=30, n=5):
    pos = np.array(start) + np.arange(steps)[:, None] * np.array(v, dtype=float)
    return np.stack([pos[i : i + n] for i in range(steps - n)]), pos[n:]


def test_speed_classes_by_mean_step():
    slow, _ = _walk((3.0, 4.0))  # 5 m per step
    fast, _ = _walk((30.0, 40.0))  # 50 m per step
    assert (speed_classes(slow, (10.0, 40.0)) == 0).all()
    assert (speed_classes(fast, (10.0, 40.0)) == 2).all()


def test_heading_rotation_turns_the_last_step_to_plus_x():
    w, _ = _walk((0.0, 7.0))
    R = heading_rotation(w)
    step = np.einsum("nij,nj->ni", R, w[:, -1] - w[:, -2])
    np.testing.assert_allclose(step, np.tile([7.0, 0.0], (len(w), 1)), atol=1e-9)
    still = np.zeros((2, 3, 2))
    np.testing.assert_allclose(heading_rotation(still), np.tile(np.eye(2), (2, 1, 1)))


def test_straight_walks_in_every_direction_are_near_exact():
    parts = [_walk(40 * np.array([np.cos(a), np.sin(a)]), start=(100 * a, 0)) for a in np.linspace(0, 6, 9)]
    parts += [_walk(4 * np.array([np.cos(a), np.sin(a)])) for a in np.linspace(0, 6, 9)]
    w = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    p = ModeAwareSVRPredictor(speed_edges=(10.0,), min_class_windows=20, C=100.0, random_state=0).fit(w, y)
    assert all(m is not None for m in p.models_)
    assert np.hypot(*(p.predict(w) - y).T).max() < 1.0


def test_small_classes_fall_back_to_the_global_model():
    w, y = _walk((3.0, 4.0))
    p = ModeAwareSVRPredictor(speed_edges=(10.0, 40.0), min_class_windows=10, random_state=0).fit(w, y)
    assert p.models_[0] is not None and p.models_[1] is None and p.models_[2] is None
    fast, _ = _walk((30.0, 0.0))
    assert np.isfinite(p.predict(fast)).all()


def test_edges_must_increase():
    w, y = _walk((3.0, 4.0))
    with pytest.raises(EdgeroamError, match="increasing"):
        ModeAwareSVRPredictor(speed_edges=(40.0, 10.0)).fit(w, y)
