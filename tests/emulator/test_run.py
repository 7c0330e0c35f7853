"""run_scenario and `edgeroam run`: the run directory, determinism, the policy ordering on the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from edgeroam.cli import main
from edgeroam.emulator.prepare import prepare
from edgeroam.emulator.run import run_prepared, run_scenario
from edgeroam.emulator.rundir import open_run_dir, summary_digest
from edgeroam.errors import RunError
from edgeroam.scenario import load_scenario

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo_prep():
    return prepare(load_scenario(DEMO, ['dnn.model="inception"']))


def test_run_dir_and_determinism(tmp_path):
    a = run_scenario(DEMO, tmp_path / "a", progress=False)
    b = run_scenario(DEMO, tmp_path / "b", progress=False)
    assert a.name == b.name
    assert summary_digest(a) == summary_digest(b)
    assert (a / "summary.json").read_bytes().split(b'"timing"')[0] == \
        (b / "summary.json").read_bytes().split(b'"timing"')[0]
    rd = open_run_dir(a)
    assert set(rd.tables) >= {"handovers", "queries", "transfers", "backhaul", "predictions"}
    assert (a / "scenario.toml").exists() and (a / "log.jsonl").exists()
    ho = rd.table("handovers")
    assert rd.summary["cold_starts"] == int(ho["handover"].sum())
    assert isinstance(rd.table("predictions"), pd.DataFrame)


def test_policy_order_on_demo(demo_prep):
    got = {k: run_prepared(demo_prep, k).summary for k in ("optimal", "perdnn", "ionn", "oracle")}
    q = {k: s["executed_queries"] for k, s in got.items()}
    assert q["optimal"] >= q["perdnn"] >= q["ionn"]
    assert got["oracle"]["hit_ratio"] >= got["perdnn"]["hit_ratio"]
    assert got["ionn"]["hit_ratio"] == 0.0 and got["optimal"]["hit_ratio"] == 1.0


def test_fractional_runs_two_passes(demo_prep):
    s = run_prepared(demo_prep, "fractional").summary
    assert s["fractional"]["crowded"]
    assert s["backhaul"]["peak_up_mbps"] <= s["fractional"]["perdnn_peak_up_mbps"] + 1e-9


def test_cli_run_json(tmp_path, capsys):
    code = main(["run", str(DEMO), "--policy", "ionn", "--out", str(tmp_path), "--json",
                 "--set", "policy.ttl_intervals=3"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["policy"] == "ionn" and out["ttl_intervals"] == 3 and out["hits"] == 0


def test_cli_unknown_policy(tmp_path, capsys):
    assert main(["run", str(DEMO), "--policy", "nope", "--out", str(tmp_path)]) == 1
    assert "policy.kind" in capsys.readouterr().err


@pytest.mark.slow
def test_policy_order_on_kaist(shared_traces):
    """The full KAIST PerDNN experiment (Inception, r = 100): optimal >= perdnn >= ionn, oracle >= perdnn."""
    prep = prepare(load_scenario(DEMO.parent / "perdnn-kaist.toml"))
    got = {k: run_prepared(prep, k).summary for k in ("optimal", "perdnn", "ionn", "oracle")}
    q = {k: s["executed_queries"] for k, s in got.items()}
    assert q["optimal"] >= q["perdnn"] > q["ionn"]
    assert got["oracle"]["hit_ratio"] >= got["perdnn"]["hit_ratio"] > 0.5


def test_running_again_needs_force_and_keeps_the_users_files(tmp_path, demo_prep, caplog):
    # issue 17.2: the same scenario into the same --out silently replaced the run directory, notes and all
    sc = demo_prep.scenario
    path = run_scenario(sc, tmp_path, progress=False, prepared=demo_prep)
    (path / "my_notes.txt").write_text("what I saw")
    with pytest.raises(RunError, match="already there.*--force"):
        run_scenario(sc, tmp_path, progress=False, prepared=demo_prep)
    assert (path / "my_notes.txt").read_text() == "what I saw"
    with caplog.at_level("WARNING", logger="edgeroam.emulator.run"):
        again = run_scenario(sc, tmp_path, progress=False, prepared=demo_prep, overwrite=True)
    assert again == path and (path / "my_notes.txt").read_text() == "what I saw"
    assert "replaced the earlier run" in caplog.text and "my_notes.txt" in caplog.text
    assert open_run_dir(path).digest() == summary_digest(path)


def test_cli_run_twice_says_use_force(tmp_path, capsys):
    args = ["run", str(DEMO), "--policy", "ionn", "--out", str(tmp_path), "--no-progress", "--json"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 1
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
