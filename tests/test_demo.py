"""run_demo: the demo as a library call (the CLI only renders what it returns)."""

from __future__ import annotations

import json

from edgeroam.demo import run_demo
from edgeroam.emulator.rundir import open_run_dir


def test_run_demo_summarises_runs_and_reports(tmp_path):
    steps = []
    res = run_demo(tmp_path / "d", policies=("ionn", "optimal"),
                   progress=lambda s, d, t: steps.append((d, t)))
    assert json.loads(res.info_path.read_text())["users"] == res.info["users"] and res.map_path.is_file()
    summaries = [open_run_dir(p).summary for p in res.runs]
    assert [s["policy"] for s in summaries] == ["ionn", "optimal"]
    assert summaries[0]["hit_ratio"] == 0.0 and summaries[1]["hit_ratio"] == 1.0
    assert res.report.markdown.is_file()
    assert steps[0] == (0, 2) and steps[-1] == (2, 2)
