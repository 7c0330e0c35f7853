"""Predictor cache: a second identical fit is read, not refitted, and predicts the same; anything that shapes
the fit (windows, targets, parameters, code, versions) gives a new entry."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam._digest import source_digest
from edgeroam.predictors import ModeAwareSVRPredictor, StayPredictor, SVRPredictor
from edgeroam.predictors import cache as pc


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 20, (n + 5, 2)), axis=0)
    w = np.stack([walk[i:i + 4] for i in range(n)])
    return w, walk[4:n + 4]


@pytest.fixture
def fits(monkeypatch):
    """Counts the real fits of SVR (ModeAwareSVR fits through it)."""
    calls = []
    real = SVRPredictor.fit

    def counted(self, w, y):
        calls.append(len(w))
        return real(self, w, y)

    monkeypatch.setattr(SVRPredictor, "fit", counted)
    return calls


@pytest.mark.parametrize("make", [lambda: SVRPredictor(C=3.0, random_state=1),
                                  lambda: ModeAwareSVRPredictor(min_class_windows=20, random_state=1)])
def test_second_fit_is_read_and_predicts_the_same(tmp_path, fits, make):
    w, y = _data()
    a = pc.cached_fit(make(), w, y, cache_dir=tmp_path)
    n = len(fits)
    assert n >= 1 and len(list(tmp_path.glob("predictor-*.npz"))) == 1
    b = pc.cached_fit(make(), w, y, cache_dir=tmp_path)
    assert len(fits) == n and b is not a and type(b) is type(a)
    assert b.get_params() == a.get_params()
    wt, _ = _data(seed=5)
    assert np.array_equal(a.predict(wt), b.predict(wt))


def test_what_shapes_the_fit_gives_a_new_entry(tmp_path, fits, monkeypatch):
    w, y = _data()
    pc.cached_fit(SVRPredictor(random_state=1), w, y, cache_dir=tmp_path)
    y2 = y.copy()
    y2[7, 0] += 1e-9
    pc.cached_fit(SVRPredictor(random_state=1), w, y2, cache_dir=tmp_path)  # targets
    pc.cached_fit(SVRPredictor(random_state=1), w[:, 1:], y, cache_dir=tmp_path)  # windows
    pc.cached_fit(SVRPredictor(random_state=2), w, y, cache_dir=tmp_path)  # parameters (the seed)
    monkeypatch.setattr(pc, "_code_digest", lambda: "other code")
    pc.cached_fit(SVRPredictor(random_state=1), w, y, cache_dir=tmp_path)
    monkeypatch.setattr(pc, "_versions", lambda: {"scikit-learn": "0.0"})
    pc.cached_fit(SVRPredictor(random_state=1), w, y, cache_dir=tmp_path)
    assert len(fits) == 6 and len(list(tmp_path.glob("predictor-*.npz"))) == 6


def test_the_code_digest_covers_the_predictor_sources():
    source_digest.cache_clear()
    assert pc._code_digest() == pc._code_digest() and len(pc._code_digest()) == 64
    assert pc._versions()["numpy"] == np.__version__


def test_unreadable_entry_is_refitted_and_rewritten(tmp_path, fits):
    w, y = _data()
    pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("predictor-*.npz")
    entry.write_bytes(b"PK not a zip")
    p = pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path)
    assert len(fits) == 2 and isinstance(p, SVRPredictor)
    assert pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path).predict(w[:3]).shape == (3, 2)
    assert len(fits) == 2


def test_no_cache_dir_or_an_uncached_kind_fits_every_time(tmp_path, fits):
    w, y = _data()
    pc.cached_fit(SVRPredictor(), w, y, cache_dir=None)
    pc.cached_fit(SVRPredictor(), w, y, cache_dir=None)
    assert len(fits) == 2
    pc.cached_fit(StayPredictor(), w, y, cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_truncated_entry_is_refitted(tmp_path, fits):
    w, y = _data()
    pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("predictor-*.npz")
    entry.write_bytes(entry.read_bytes()[:200])  # a zip cut short (a crash mid-copy)
    assert pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path).predict(w[:2]).shape == (2, 2)
    assert len(fits) == 2 and not list(tmp_path.glob("*.tmp"))
