"""Predictor cache: a second identical fit is read, not refitted, and predicts the same; anything that shapes
the fit (windows, targets, parameters, code, versions) gives a new entry."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam._digest import source_digest
from edgeroam.errors import EdgeroamError
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


@pytest.mark.parametrize("make", [lambda: SVRPredictor(C=3.0, random_state=1),
                                  lambda: ModeAwareSVRPredictor(min_class_windows=20, random_state=1)])
def test_a_fit_apart_is_the_fit_made_here(tmp_path, fits, make):
    w, y = _data()
    apart = pc.cached_fit(make(), w, y, cache_dir=tmp_path, apart=True)
    assert fits == [] and len(list(tmp_path.glob("predictor-*.npz"))) == 1  # the child fitted and wrote it
    assert [f.name for f in tmp_path.iterdir() if not f.name.endswith(".npz")] == []
    here = make().fit(w, y)
    wt, _ = _data(seed=5)
    assert type(apart) is type(here) and np.array_equal(apart.predict(wt), here.predict(wt))


def test_a_fit_apart_leaves_scikit_learn_unimported(tmp_path):
    import subprocess
    import sys

    code = ("import sys, numpy as np; from edgeroam.predictors import SVRPredictor, cache as pc\n"
            "rng = np.random.default_rng(0); walk = np.cumsum(rng.normal(0, 20, (60, 2)), axis=0)\n"
            "w = np.stack([walk[i:i + 4] for i in range(50)])\n"
            f"p = pc.cached_fit(SVRPredictor(), w, walk[4:54], cache_dir={str(tmp_path)!r}, apart=True)\n"
            "print(p.predict(w[:1]).shape, 'sklearn' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(1,", "2)", "False", "False"]


def test_a_failed_fit_apart_fits_here(tmp_path, fits, monkeypatch):
    import multiprocessing

    w, y = _data()
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # no fork here
    p = pc.cached_fit(SVRPredictor(), w, y, cache_dir=tmp_path, apart=True)
    assert fits == [len(w)] and p.predict(w[:2]).shape == (2, 2)
    assert [f.name.startswith("predictor-") for f in tmp_path.iterdir()] == [True]


def test_fit_apart_reports_the_child_error(tmp_path):
    w, y = _data()
    with pytest.raises(EdgeroamError, match="apart failed"):
        pc.fit_apart(SVRPredictor(C=-1.0), w, y, tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())


def test_fit_apart_reports_a_child_that_dies(tmp_path, monkeypatch):
    import os

    w, y = _data()
    monkeypatch.setattr(pc, "_fit_save", lambda *a: os._exit(3))  # killed before it could say
    with pytest.raises(EdgeroamError, match=r"exit 3\): no word from it"):
        pc.fit_apart(SVRPredictor(), w, y, tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())
