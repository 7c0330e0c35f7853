"""One contract test over every predictor (our 3-D windows version of scikit-learn's estimator checks)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.errors import EdgeroamError, NotFittedError
from edgeroam.predictors import (
    PREDICTORS,
    ConstantVelocityPredictor,
    LSTMPredictor,
    MarkovPredictor,
    ModeAwareSVRPredictor,
    StayPredictor,
    SVRPredictor,
    clone,
    load_predictor,
    make_predictor,
)
from edgeroam.topology.hexgrid import HexGrid


def _walks(seed: int = 0, users: int = 6, steps: int = 40, n: int = 4):
    """Correlated random walks at ~1 m/s sampled every 30 s, cut into windows of n and the next position."""
    rng = np.random.default_rng(seed)
    wins, tgts = [], []
    for _ in range(users):
        heading = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(0.3, 2.0) * 30
        ang = heading + np.cumsum(rng.normal(0, 0.3, steps))
        step = speed * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        pos = rng.uniform(0, 500, 2) + np.cumsum(step, axis=0)
        for i in range(steps - n):
            wins.append(pos[i : i + n])
            tgts.append(pos[i + n])
    return np.array(wins), np.array(tgts)


def _instances():
    return [
        MarkovPredictor(grid=HexGrid(radius=50.0)),
        SVRPredictor(random_state=0),
        SVRPredictor(kernel="rbf", random_state=0),
        SVRPredictor(kernel="poly", degree=2, target="absolute", random_state=0),
        LSTMPredictor(hidden_size=8, max_epochs=3, patience=2, random_state=0),
        StayPredictor(),
        ConstantVelocityPredictor(),
        ModeAwareSVRPredictor(speed_edges=(20.0,), min_class_windows=20, random_state=0),
    ]


CASES = _instances()
IDS = [f"{type(p).__name__}-{i}" for i, p in enumerate(CASES)]


@pytest.fixture(scope="module")
def data():
    return _walks()


def test_registry_covers_every_kind():
    assert sorted(PREDICTORS) == ["lstm", "markov", "stay", "svr", "svr-mode", "velocity"]
    for kind, cls in PREDICTORS.items():
        assert cls.kind == kind
        assert isinstance(make_predictor(kind), cls)
    with pytest.raises(EdgeroamError, match="unknown predictor"):
        make_predictor("oracle")


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_clone_and_params_round_trip(predictor):
    params = predictor.get_params()
    twin = clone(predictor)
    assert twin is not predictor
    assert twin.get_params() == params
    assert type(twin)(**params).get_params() == params
    with pytest.raises(EdgeroamError, match="no parameter"):
        twin.set_params(not_a_parameter=1)


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_unfitted_raises(predictor, data):
    w, _ = data
    with pytest.raises(NotFittedError):
        clone(predictor).predict(w)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_fit_returns_self_and_leaves_input_alone(predictor, data):
    w, y = data
    w0, y0 = w.copy(), y.copy()
    p = clone(predictor)
    assert p.fit(w, y) is p
    out = p.predict(w)
    assert out.shape == (len(w), 2) and np.isfinite(out).all()
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(y, y0)
    # predicting one window gives the same as that row of a batch
    np.testing.assert_allclose(p.predict(w[3]), out[3:4], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_same_seed_same_output(predictor, data):
    w, y = data
    a = clone(predictor).fit(w, y).predict(w)
    b = clone(predictor).fit(w, y).predict(w)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_save_load_round_trip(predictor, data, tmp_path):
    w, y = data
    p = clone(predictor).fit(w, y)
    path = p.save(tmp_path / f"model.{'safetensors' if p.kind == 'lstm' else 'npz'}")
    q = load_predictor(path)
    assert type(q) is type(p)
    assert q.get_params() == p.get_params()
    np.testing.assert_allclose(q.predict(w), p.predict(w), rtol=1e-6, atol=1e-6)
    if hasattr(p, "predict_cells"):
        for a, b in zip(p.predict_cells(w, k=3), q.predict_cells(w, k=3), strict=True):
            np.testing.assert_array_equal(a, b)
    assert type(p).load(path).get_params() == p.get_params()


@pytest.mark.parametrize("predictor", CASES, ids=IDS)
def test_wrong_window_length_raises(predictor, data):
    w, y = data
    p = clone(predictor).fit(w, y)
    with pytest.raises(EdgeroamError, match="fitted on windows of 4"):
        p.predict(w[:, 1:])


def test_bad_parameters_name_the_parameter(data):
    w, y = data
    with pytest.raises(EdgeroamError, match="'kernel'.*'sigmoid'"):
        SVRPredictor(kernel="sigmoid").fit(w, y)
    with pytest.raises(EdgeroamError, match="'ratio'"):
        MarkovPredictor(ratio=0.0).fit(w, y)
    with pytest.raises(EdgeroamError, match="'hidden_size'"):
        LSTMPredictor(hidden_size=0).fit(w, y)
    with pytest.raises(EdgeroamError, match="'steps'"):
        ConstantVelocityPredictor(steps=-1.0).fit(w, y)


def test_bad_shapes_raise(data):
    w, y = data
    with pytest.raises(EdgeroamError, match=r"\[N, n, 2\]"):
        StayPredictor().fit(w[..., :1], y)
    with pytest.raises(EdgeroamError, match="targets must have shape"):
        SVRPredictor().fit(w, y[:-1])
    bad = w.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(EdgeroamError, match="NaN"):
        SVRPredictor().fit(bad, y)


def test_load_rejects_foreign_files(tmp_path):
    junk = tmp_path / "junk.npz"
    np.savez(junk, a=np.zeros(3))
    with pytest.raises(EdgeroamError, match="not an edgeroam predictor"):
        load_predictor(junk)
    other = tmp_path / "other.bin"
    other.write_bytes(b"\x00" * 64)
    with pytest.raises(EdgeroamError, match="not a predictor file"):
        load_predictor(other)
    with pytest.raises(EdgeroamError, match="no such predictor file"):
        load_predictor(tmp_path / "missing.npz")


def test_load_with_the_wrong_class_raises(data, tmp_path):
    w, y = data
    path = StayPredictor().fit(w, y).save(tmp_path / "stay.npz")
    with pytest.raises(EdgeroamError, match="not a SVRPredictor"):
        SVRPredictor.load(path)
