"""The Table III protocol on the real KAIST traces (slow: loads, resamples and trains)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from edgeroam.predictors.evaluate import prepare_data, run_table3
from edgeroam.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "perdnn-kaist.toml"


@pytest.mark.slow
def test_kaist_table3_svr_and_baselines(shared_traces):
    sc = load_scenario(SCENARIO)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = prepare_data(sc)
    assert data.info["test_users"] == 31 and data.info["train_users"] == 61
    res = run_table3(sc, ("svr", "stay", "velocity", "markov"), data=data)["results"]
    svr, stay = res["svr"]["pooled"], res["stay"]["pooled"]
    # same scored set for every predictor; most predictions are futile at 0.5 m/s and 50 m cells
    assert len({r["pooled"]["non_futile"] for r in res.values()}) == 1
    assert 0.7 < svr["futile_ratio"] < 0.95
    # PerDNN Table III: SVR top-2 54.1 %, MAE 12.9 m; within 5 points / a few metres
    assert abs(svr["top2"] - 54.1) < 5.0
    assert abs(svr["mae_m"] - 12.9) < 3.0
    assert stay["top1"] == 0.0
    assert res["markov"]["pooled"]["top2"] < svr["top2"]
