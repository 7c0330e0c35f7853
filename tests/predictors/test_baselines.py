"""Stay and constant velocity on hand-made walks."""

from __future__ import annotations

import numpy as np

from edgeroam.predictors import ConstantVelocityPredictor, StayPredictor


def _straight(n=5, steps=30, v=(12.0, -5.0)):
    pos = np.arange(steps)[:, None] * np.array(v)[None, :] + np.array([100.0, 200.0])
    w = np.stack([pos[i : i + n] for i in range(steps - n)])
    return w, pos[n:]


def test_constant_velocity_is_exact_on_a_straight_walk():
    w, y = _straight()
    np.testing.assert_allclose(ConstantVelocityPredictor().fit(w, y).predict(w), y, atol=1e-9)


def test_constant_velocity_steps_scale_the_extrapolation():
    w, y = _straight()
    out = ConstantVelocityPredictor(steps=2.0).fit(w, y).predict(w)
    np.testing.assert_allclose(out, y + (y - w[:, -1]), atol=1e-9)


def test_constant_velocity_with_one_position_stays():
    w, y = _straight(n=1)
    np.testing.assert_allclose(ConstantVelocityPredictor().fit(w, y).predict(w), w[:, -1])


def test_stay_predicts_the_current_position():
    w, y = _straight()
    out = StayPredictor().fit(w, y).predict(w)
    np.testing.assert_array_equal(out, w[:, -1])
    assert not np.shares_memory(out, w)
