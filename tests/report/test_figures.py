"""Report figures and make_report on real demo runs: files are PNGs, deterministic, and tables match."""

from __future__ import annotations

import json

import pytest

from edgeroam.emulator.rundir import manifest_of
from edgeroam.errors import RunError
from edgeroam.report import (
    backhaul_figure,
    fig9_figure,
    latency_figure,
    load_runs,
    make_report,
    traffic_map_figure,
)

PNG = b"\x89PNG\r\n\x1a\n"


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


def test_figure_panels(demo_runs):
    runs = load_runs(demo_runs.values())
    fig = fig9_figure(runs)
    assert len(fig.axes) == 2  # one (scenario, model): queries and hit ratio
    bars = fig.axes[1].patches
    heights = sorted(round(b.get_height(), 6) for b in bars)
    assert heights[0] == 0.0 and heights[-1] == 100.0  # ionn and optimal
    assert len(backhaul_figure(runs).axes) == 2
    lat = latency_figure(runs)
    assert len(lat.axes) == len(runs)
    tm = traffic_map_figure(runs, max_panels=2)
    visible = [ax for ax in tm.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(visible) == 2


def test_latency_figure_none_without_common_change(demo_runs, tmp_path):
    import shutil

    import pandas as pd

    # a copy of a run whose handovers share no replay row with the original
    copy = tmp_path / "demo-copy"
    shutil.copytree(demo_runs["perdnn"], copy)
    ho = pd.read_parquet(copy / "handovers.parquet")
    ho["row"] += 10**9
    ho.to_parquet(copy / "handovers.parquet", index=False)
    (copy / "manifest.json").write_text(json.dumps(manifest_of(copy)))  # a changed run, made consistent
    assert latency_figure(load_runs([demo_runs["perdnn"], copy], sort=False)) is None


def test_make_report_rejects_non_run(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(RunError):
        make_report([tmp_path / "x"], tmp_path / "out")
