"""edgeroam.predictors.study: PerDNN Fig. 6's two panels on the synthetic demo (fast baselines)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeroam.predictors.study import StudyResult, plot_study, run_study
from edgeroam.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo():
    return load_scenario(SCENARIOS / "demo.toml")


@pytest.fixture(scope="module")
def stay_study(demo):
    seen: list[tuple[int, int, str]] = []
    res = run_study(demo, kind="stay", ns=(1, 2, 4), n_intervals=(30.0,), t_intervals=(30.0, 60.0),
                    n_for_t=2, progress=lambda done, total, what: seen.append((done, total, what)))
    return res, seen


def test_tables_have_the_documented_columns(stay_study):
    res, _ = stay_study
    assert list(res.by_n.columns) == ["interval_s", "n", "mae_m", "mae_nonfutile_m", "windows"]
    assert res.by_t.index.name == "interval_s" and list(res.by_t.index) == [30.0, 60.0]
    assert list(res.by_t.columns) == ["p", "f", "futile_ratio", "mae_m", "mae_nonfutile_m", "a",
                                      "benefit_cost"]
    assert res.info == {"scenario": "demo", "dataset": "synthetic", "predictor": "stay", "n_for_t": 2}


def test_every_n_is_scored_on_the_same_targets_with_its_last_positions(stay_study):
    res, _ = stay_study
    assert res.by_n["n"].tolist() == [1, 2, 4] and res.by_n["windows"].nunique() == 1
    # the stay predictor only reads the last position: the same targets and the last n positions give one MAE
    assert res.by_n["mae_m"].nunique() == 1 and res.by_n["mae_nonfutile_m"].nunique() == 1


def test_history_length_matters_to_a_model_that_reads_it(demo):
    res = run_study(demo, kind="svr", ns=(1, 3), n_intervals=(30.0,), t_intervals=())
    assert res.by_n["windows"].nunique() == 1
    assert res.by_n["mae_m"].iloc[0] != res.by_n["mae_m"].iloc[1]
    assert len(res.by_t) == 0 and np.isnan(res.best_t)


def test_benefit_cost_and_best_t_follow_their_definitions(stay_study):
    res, _ = stay_study
    bt = res.by_t
    np.testing.assert_allclose(bt["futile_ratio"], bt["f"] / bt["p"])
    np.testing.assert_allclose(bt["benefit_cost"], bt["a"] * (bt["p"] - bt["f"]) / bt["p"])
    assert ((bt["a"] >= 0) & (bt["a"] <= 1)).all() and (bt["f"] <= bt["p"]).all()
    assert res.best_t == float(bt["benefit_cost"].idxmax())
    # a longer interval gives fewer predictions over the same traces
    assert bt.loc[60.0, "p"] < bt.loc[30.0, "p"]


def test_progress_counts_every_step_once(stay_study):
    _, seen = stay_study
    assert [(d, t) for d, t, _ in seen] == [(i, 5) for i in range(1, 6)]
    assert [w for *_, w in seen] == ["t=30 s n=1", "t=30 s n=2", "t=30 s n=4", "t=30 s benefit/cost",
                                     "t=60 s benefit/cost"]


def test_to_dict_is_json(stay_study):
    res, _ = stay_study
    d = json.loads(json.dumps(res.to_dict()))
    assert d["best_t"] == res.best_t and len(d["by_n"]) == 3
    assert [r["interval_s"] for r in d["by_t"]] == [30.0, 60.0]


def test_plot_study_writes_a_png(stay_study, tmp_path):
    res, _ = stay_study
    path = plot_study(res, tmp_path / "sub" / "fig6.png")
    assert path.read_bytes().startswith(PNG)
    empty_t = StudyResult(res.by_n, res.by_t.iloc[:0], float("nan"), res.info)
    assert plot_study(empty_t, tmp_path / "only_n.png").read_bytes().startswith(PNG)
