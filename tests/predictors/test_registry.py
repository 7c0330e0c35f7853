"""edgeroam.predictors.registry: kind -> class, `make_predictor` and `load_predictor` whatever the kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import FORMAT_VERSION, Predictor
from edgeroam.predictors.registry import PREDICTORS, load_predictor, make_predictor

W = np.array([[[0.0, 0.0], [30.0, 0.0]], [[100.0, 100.0], [100.0, 130.0]]])
Y = np.array([[60.0, 0.0], [100.0, 160.0]])


def test_each_kind_maps_to_its_own_class():
    assert len(set(PREDICTORS.values())) == len(PREDICTORS)
    for kind, cls in PREDICTORS.items():
        assert issubclass(cls, Predictor) and cls.kind == kind


def test_make_predictor_sets_the_parameters():
    p = make_predictor("velocity", steps=2.0)
    assert type(p) is PREDICTORS["velocity"] and p.steps == 2.0
    assert make_predictor("svr", C=3.0, random_state=5).get_params()["C"] == 3.0
    a, b = make_predictor("stay"), make_predictor("stay")
    assert a is not b  # a new object each call


def test_make_predictor_refuses_unknown_kind_and_parameter():
    with pytest.raises(EdgeroamError, match="unknown predictor 'oracle'; choose one of markov, svr, lstm"):
        make_predictor("oracle")
    with pytest.raises(EdgeroamError, match="has no parameter 'depth'"):
        make_predictor("svr", depth=3)


def test_load_predictor_returns_the_saved_kind(tmp_path):
    p = make_predictor("velocity", steps=0.5).fit(W, Y)
    q = load_predictor(p.save(tmp_path / "v.npz"))
    assert type(q) is PREDICTORS["velocity"] and q.steps == 0.5
    np.testing.assert_array_equal(q.predict(W), p.predict(W))


def test_load_predictor_refuses_an_unknown_kind(tmp_path):
    path = tmp_path / "m.npz"
    meta = {"format": "edgeroam-predictor", "version": FORMAT_VERSION, "kind": "oracle", "params": {},
            "learned": {"window_": 2}}
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    with pytest.raises(EdgeroamError, match=f"{path}: unknown predictor kind 'oracle'"):
        load_predictor(path)


def test_load_predictor_names_a_missing_file(tmp_path):
    with pytest.raises(EdgeroamError, match="no such predictor file"):
        load_predictor(tmp_path / "none.npz")
