"""edgeroam.report.build: `make_report` writes the tables, figures, summary.md and report.json of runs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from edgeroam.errors import RunError
from edgeroam.report import Report, make_report

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = ["tables", "figure fig9", "figure backhaul", "figure fig10", "figure traffic_map", "figure latency",
         "summary.md"]


def test_make_report_writes_everything(demo_runs, tmp_path):
    rep = make_report(list(demo_runs.values()), tmp_path / "rep")
    assert set(rep.figures) == {"fig9", "backhaul", "fig10", "traffic_map", "latency"}
    for path in rep.figures.values():
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    md = rep.markdown.read_text()
    # the runs table and the storage table each have one ionn row
    assert md.count("\n| ionn |") == 2 and "## Fig. 10: fractional migration" in md
    assert "## Storage held on all servers" in md
    for name in rep.figures:
        assert f"]({name}.png)" in md
    js = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert [r["policy"] for r in js["summary"]] == ["ionn", "perdnn", "fractional", "oracle", "optimal"]
    assert js["fig10"][0]["model"] == "mobilenet"
    assert (tmp_path / "rep" / "summary.csv").read_text().startswith("run,scenario,policy")


@pytest.mark.slow
def test_report_is_deterministic(demo_runs, tmp_path):
    a = make_report([demo_runs["ionn"], demo_runs["perdnn"]], tmp_path / "a")
    b = make_report([demo_runs["perdnn"], demo_runs["ionn"]], tmp_path / "b")
    for name in a.figures:
        assert a.figures[name].read_bytes() == b.figures[name].read_bytes(), name
    assert a.markdown.read_text().replace(str(tmp_path / "a"), "") == \
        b.markdown.read_text().replace(str(tmp_path / "b"), "")


def test_single_run_report(demo_runs, tmp_path):
    rep = make_report([demo_runs["perdnn"]], tmp_path / "one")
    # no fractional run: no Fig. 10 table, but the scatter is still drawn
    assert len(rep.fig10) == 0 and "fig10" in rep.figures
    assert "Fig. 10: fractional" not in rep.markdown.read_text()


def test_make_report_rejects_non_run(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(RunError):
        make_report([tmp_path / "x"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_steps_json_and_markdown_of_sim_runs(demo_runs, tmp_path):
    seen: list[str] = []
    out = tmp_path / "deep" / "rep"
    rep = make_report([demo_runs["ionn"], demo_runs["oracle"]], out, progress=seen.append)
    assert seen == STEPS
    assert rep.out == out and rep.runs == [demo_runs["ionn"], demo_runs["oracle"]]
    assert rep.sources.empty and rep.fidelity.empty  # sim runs: no switch counters, no fidelity verdict
    d = rep.to_dict()
    on_disk = json.loads((out / "report.json").read_text())
    assert {k: on_disk[k] for k in d} == json.loads(json.dumps(d))
    assert d["unfaithful"] == [] and d["fidelity"] == []
    assert d["runs"] == [str(p) for p in rep.runs] and d["markdown"] == str(out / "summary.md")
    md = (out / "summary.md").read_text()
    assert md.startswith("# edgeroam report\n") and "Fidelity of emulated runs" not in md
    assert all(f"- `{p}`" in md for p in rep.runs) and "## Backhaul: switch counters" not in md
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["backhaul.png", "fig10.png", "fig9.png", "latency.png", "report.json", "summary.csv", "summary.md",
         "traffic_map.png"])


def test_a_folder_of_runs_is_read_like_its_runs(demo_runs, tmp_path):
    folder = tmp_path / "runs"
    for policy in ("ionn", "perdnn"):
        shutil.copytree(demo_runs[policy], folder / Path(demo_runs[policy]).name)
    rep = make_report([folder], tmp_path / "rep", max_map_panels=1)
    assert sorted(rep.runs) == sorted(folder / Path(demo_runs[p]).name for p in ("ionn", "perdnn"))
    assert rep.summary["policy"].tolist() == ["ionn", "perdnn"]


def test_to_dict_turns_nan_into_none_and_paths_into_text(tmp_path):
    table = pd.DataFrame({"run": ["a", "b"], "hit_ratio": [0.5, math.nan], "faithful": [True, False]})
    rep = Report(tmp_path, [tmp_path / "a"], table, table.iloc[:0], table.iloc[:0],
                 figures={"fig9": tmp_path / "fig9.png"}, fidelity=table)
    d = rep.to_dict()
    assert d["summary"] == [{"run": "a", "hit_ratio": 0.5, "faithful": True},
                            {"run": "b", "hit_ratio": None, "faithful": False}]
    assert d["fig9"] == [] and d["markdown"] is None and d["unfaithful"] == ["b"]
    assert d["figures"] == {"fig9": str(tmp_path / "fig9.png")} and d["out"] == str(tmp_path)
    json.dumps(d, allow_nan=False)
