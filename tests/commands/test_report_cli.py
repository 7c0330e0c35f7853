"""`edgeroam report` and `edgeroam demo` through the root CLI on real demo runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeroam.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_report_help(capsys):
    assert main(["report", "--help"]) == 0
    assert "--max-map-panels" in capsys.readouterr().out


def test_report_json(demo_runs, tmp_path, capsys):
    root = next(iter(demo_runs.values())).parent
    assert main(["report", str(root), "--out", str(tmp_path / "r"), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert len(js["summary"]) == 5 and js["markdown"] == str(tmp_path / "r" / "summary.md")
    assert all((tmp_path / "r" / f"{k}.png").is_file() for k in js["figures"])


def test_report_table_and_default_out(demo_runs, capsys):
    runs = [str(demo_runs["ionn"]), str(demo_runs["perdnn"])]
    assert main(["report", *runs]) == 0
    out = capsys.readouterr().out
    assert "perdnn" in out and "summary.md" in out
    assert (demo_runs["ionn"].parent / "report" / "fig9.png").is_file()


def test_report_not_a_run_is_one_error_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not a run directory" in err and "Traceback" not in err


@pytest.mark.slow
def test_demo_runs_every_policy_and_reports(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo scenario is found beside the package
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    rep = json.loads((tmp_path / "d" / "report" / "report.json").read_text())
    assert [r["policy"] for r in rep["summary"]] == ["ionn", "perdnn", "fractional", "oracle", "optimal"]
    assert (tmp_path / "d" / "synthetic_traces.png").is_file()
    assert "report written to" in out and "fig9" in out
    assert REPO.joinpath("scenarios", "demo.toml").is_file()
