"""`edgeroam predict train|evaluate|study` through the root CLI, on the synthetic demo scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeroam.cli import main
from edgeroam.predictors import SVRPredictor, load_predictor

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo() -> str:
    if not DEMO.exists():
        pytest.skip("scenarios/demo.toml not present")
    return str(DEMO)


def test_train_writes_a_loadable_model(demo, tmp_path, capsys):
    out = tmp_path / "svr.npz"
    assert main(["predict", "train", demo, "--predictor", "svr", "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["predictor"] == "svr" and info["train_windows"] > 0
    assert isinstance(load_predictor(out), SVRPredictor)


def test_evaluate_json_has_the_table_iii_numbers(demo, capsys):
    assert main(["predict", "evaluate", demo, "-p", "svr", "-p", "stay", "-p", "markov", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["results"]) == {"svr", "stay", "markov"}
    for r in data["results"].values():
        p = r["pooled"]
        assert p["predictions"] == p["futile"] + p["non_futile"] > 0
        assert 0 <= p["top1"] <= p["top2"] <= 100
    assert data["results"]["stay"]["pooled"]["top1"] == 0.0  # staying never names the next server


def test_evaluate_a_saved_model_and_render_the_table(demo, tmp_path, capsys):
    out = tmp_path / "v.npz"
    assert main(["predict", "train", demo, "-p", "velocity", "-o", str(out)]) == 0
    assert main(["predict", "evaluate", demo, "--model", str(out), "--per-user"]) == 0
    text = capsys.readouterr().out
    assert "Table III protocol" in text and "velocity" in text and "per test user" in text


def test_unknown_scenario_is_one_red_line(capsys):
    assert main(["predict", "evaluate", "no-such-scenario.toml", "-p", "stay"]) == 1
    assert "file not found" in capsys.readouterr().err


def test_study_writes_figure_and_tables(demo, tmp_path, capsys):
    code = main(["predict", "study", demo, "--out", str(tmp_path), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert Path(data["figure"]).exists()
    assert {r["n"] for r in data["by_n"]} == set(range(1, 11))
    assert data["best_t"] in {r["interval_s"] for r in data["by_t"]}
    assert (tmp_path / "demo" / "by_t.csv").exists()
