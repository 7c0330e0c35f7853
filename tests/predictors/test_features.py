"""edgeroam.predictors.features: relative and absolute window features and the z-scorer."""

from __future__ import annotations

import numpy as np

from edgeroam.predictors.features import Standardizer, absolute_features, relative_features


def _windows() -> np.ndarray:
    return np.array(
        [
            [[0.0, 0.0], [10.0, 5.0], [30.0, 5.0]],
            [[100.0, 200.0], [100.0, 220.0], [90.0, 250.0]],
        ]
    )


def test_relative_features_are_offsets_to_the_last_position_without_it():
    rel = relative_features(_windows())
    assert rel.shape == (2, 4)
    np.testing.assert_array_equal(rel[0], [-30.0, -5.0, -20.0, 0.0])
    np.testing.assert_array_equal(rel[1], [10.0, -50.0, 10.0, -30.0])


def test_relative_features_are_translation_invariant():
    w = _windows()
    np.testing.assert_array_equal(relative_features(w), relative_features(w + [5_000.0, -3_000.0]))


def test_a_window_of_one_position_has_no_relative_features():
    assert relative_features(np.zeros((3, 1, 2))).shape == (3, 0)


def test_absolute_features_flatten_in_position_order():
    a = absolute_features(_windows())
    assert a.shape == (2, 6)
    np.testing.assert_array_equal(a[1], [100.0, 200.0, 100.0, 220.0, 90.0, 250.0])


def test_standardizer_gives_zero_mean_unit_spread_and_inverts():
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -300.0], [2.0, 40.0], size=(200, 2))
    s = Standardizer.fit(X)
    Z = s.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(s.inverse(Z), X)


def test_a_constant_column_keeps_scale_one():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    s = Standardizer.fit(X)
    np.testing.assert_array_equal(s.scale, [np.std([1.0, 3.0, 5.0]), 1.0])
    np.testing.assert_array_equal(s.transform(X)[:, 1], 0.0)
    assert np.isfinite(s.transform(np.array([[2.0, 9.0]]))).all()


def test_no_columns_fit_to_empty_parameters():
    s = Standardizer.fit(np.zeros((4, 0)))
    assert s.mean.shape == s.scale.shape == (0,)
    assert s.transform(np.zeros((4, 0))).shape == (4, 0)
