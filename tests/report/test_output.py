"""Reports are written all at once: a failure leaves the previous report whole; damaged runs are refused."""

from __future__ import annotations

import json
import shutil

import pytest

from edgeroam.errors import RunError
from edgeroam.report import figures as fg
from edgeroam.report import make_report
from edgeroam.report.output import ReportStage


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_failed_report_leaves_the_previous_one_whole(demo_runs, tmp_path, monkeypatch):
    # issue 17.4: a report failing at its last figure left new figures beside the old summary.md
    dest = tmp_path / "report"
    runs = [demo_runs[p] for p in ("ionn", "perdnn", "fractional")]
    make_report(runs, dest)
    (dest / "my_notes.txt").write_text("mine")
    before = _snapshot(dest)
    assert {"fig9.png", "summary.md", "report.json", "my_notes.txt"} <= set(before)

    def broken(*a, **k):
        raise RunError("latency: cannot draw")

    monkeypatch.setattr(fg, "latency_figure", broken)
    with pytest.raises(RunError, match="cannot draw"):
        make_report(runs[:2], dest)
    assert _snapshot(dest) == before  # byte for byte, no staging folder left


def test_the_next_report_removes_only_files_of_the_previous_one(demo_runs, tmp_path):
    dest = tmp_path / "report"
    runs = [demo_runs["ionn"], demo_runs["perdnn"]]
    make_report(runs, dest)
    # the previous report had a figure this one does not draw (e.g. Fig. 10 of fractional runs)
    (dest / "fig10_old.png").write_bytes(b"old figure")
    index = json.loads((dest / "report.json").read_text())
    index["files"]["fig10_old.png"] = {"bytes": 10, "sha256": "0" * 64}
    (dest / "report.json").write_text(json.dumps(index))
    (dest / "my_notes.txt").write_text("mine")
    make_report(runs, dest)
    assert not (dest / "fig10_old.png").exists()
    assert (dest / "my_notes.txt").read_text() == "mine"
    index = json.loads((dest / "report.json").read_text())
    assert sorted(index["files"]) == sorted(p.name for p in dest.iterdir()
                                            if p.name not in ("report.json", "my_notes.txt"))
    assert index["files"]["summary.md"]["bytes"] == (dest / "summary.md").stat().st_size


def test_a_truncated_table_is_refused_before_anything_is_written(demo_runs, tmp_path):
    # issue 17.4: a truncated transfers.parquet passed because the report never reads it
    run = tmp_path / "runs" / demo_runs["perdnn"].name
    shutil.copytree(demo_runs["perdnn"], run)
    data = (run / "transfers.parquet").read_bytes()
    (run / "transfers.parquet").write_bytes(data[: len(data) // 3])
    dest = tmp_path / "report"
    with pytest.raises(RunError, match=r"transfers\.parquet: \d+ bytes, manifest\.json says \d+"):
        make_report([demo_runs["ionn"], run], dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_stage_keeps_user_files_and_clears_dead_stages(tmp_path):
    dest = tmp_path / "r"
    dest.mkdir()
    (dest / "summary.md").write_text("a user's file, not a report's")  # no report.json: not ours
    dead = dest / ".report-999999-dead.partial"
    dead.mkdir()
    with ReportStage(dest) as stage:
        (stage.path / "fig9.png").write_bytes(b"png")
        stage.index = {"k": 1}
    assert not dead.exists()
    assert sorted(p.name for p in dest.iterdir()) == ["fig9.png", "report.json", "summary.md"]
    with ReportStage(dest) as stage:
        (stage.path / "summary.md").write_bytes(b"# new")
    assert sorted(p.name for p in dest.iterdir()) == ["report.json", "summary.md"]  # fig9 was the report's
    assert json.loads((dest / "report.json").read_text())["files"]["summary.md"]["bytes"] == 5


def test_docstring_example_runs():
    import doctest

    from edgeroam.report import output

    result = doctest.testmod(output)
    assert result.attempted > 0 and result.failed == 0
