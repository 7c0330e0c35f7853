"""Execution-time estimator: fit/predict on synthetic load data, the comparison, and real data generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.dnn.estimator import (
    HYPER_FEATURES,
    LOAD_FEATURES,
    ExecutionTimeEstimator,
    compare_estimators,
    generate_load_dataset,
    gpu_stats_available,
    layer_features,
)
from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.errors import NotFittedError, PlanningError


def synthetic(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Time = flops / rate, slowed non-linearly by the number of clients (a contention knee at 3)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({c: rng.integers(1, 8, n).astype(float) for c in HYPER_FEATURES})
    df["flops"] = rng.uniform(1e7, 1e9, n)
    df["clients"] = rng.integers(1, 7, n)
    df["cpu_util"] = np.minimum(1.0, df["clients"] / 3)
    df["procs_running"] = df["clients"] + rng.integers(0, 2, n)
    df["loadavg1"] = df["clients"] * 0.9
    slow = np.where(df["clients"] <= 3, 1.0, 1.0 + (df["clients"] - 3) ** 2)
    df["seconds"] = df["flops"] / 1e10 * slow * rng.lognormal(0, 0.05, n)
    df["op"] = np.where(rng.random(n) < 0.8, "conv", "fc")
    return df


def test_random_forest_fits_per_layer_type():
    df = synthetic()
    est = ExecutionTimeEstimator(n_estimators=30, random_state=0).fit(df)
    assert set(est.forests_) == {"conv", "fc"}
    err = np.abs(est.predict(df) - df["seconds"]).mean()
    assert err < 0.1 * df["seconds"].mean()
    imp = est.feature_importances("conv")
    assert set(imp.index) == set(HYPER_FEATURES + LOAD_FEATURES)
    assert imp.index[0] in ("flops", "clients", "cpu_util", "procs_running", "loadavg1")


def test_same_seed_same_predictions_and_unfitted_errors():
    df = synthetic()
    a = ExecutionTimeEstimator(n_estimators=10, random_state=1).fit(df).predict(df)
    b = ExecutionTimeEstimator(n_estimators=10, random_state=1).fit(df).predict(df)
    assert np.array_equal(a, b)
    with pytest.raises(NotFittedError):
        ExecutionTimeEstimator().predict(df)
    est = ExecutionTimeEstimator(n_estimators=5).fit(df[df["op"] == "conv"])
    with pytest.raises(PlanningError, match="layer type 'fc'"):
        est.predict(df)
    with pytest.raises(PlanningError, match="lack columns"):
        ExecutionTimeEstimator().fit(df.drop(columns=["clients"]))


def test_comparison_load_features_help_under_load():
    c = compare_estimators(synthetic(1500), n_estimators=30)
    assert list(c.mae.index) == [1, 2, 3, 4, 5, 6]
    heavy = c.mae.loc[5:]
    # without load features the forest cannot tell 1 client from 6: far worse under heavy load
    assert (heavy["RF w/ load"] < heavy["RF w/o load"]).all()
    assert c.n_train + c.n_test == 1500


def test_layer_features_of_a_zoo_model():
    f = layer_features(model_graph("resnet18"))
    conv = f[f["op"] == "conv"]
    assert len(conv) == 20 and (conv["kernel"].isin([1, 3, 7])).all() and (conv["in_ch"] > 0).all()


def test_gpu_stats_detected_or_explained():
    ok, why = gpu_stats_available()
    assert isinstance(ok, bool) and why


@pytest.mark.slow
def test_generate_load_dataset_here(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE_DIR", str(tmp_path))
    df = generate_load_dataset("mobilenet_v1", max_clients=2, reps=1, seed=0)
    assert set(df["clients"]) == {1, 2} and len(df) == 2 * 27
    assert (df["seconds"] > 0).all() and df["cpu_util"].between(0, 1).all()
    again = generate_load_dataset("mobilenet_v1", max_clients=2, reps=1, seed=0)  # from the cache
    pd.testing.assert_frame_equal(df, again)
