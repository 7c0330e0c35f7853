"""The sim/net comparison: chunks joined into whole transfers; a run compared with itself meets every target;
a changed run shows its gap; runs of different scenarios are refused."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from edgeroam.emulator.net.validate import compare, query_gap, transfer_spans
from edgeroam.errors import RunError


def test_chunks_of_one_sender_are_one_transfer() -> None:
    t = pd.DataFrame({"kind": ["migrate"] * 3 + ["upload"], "client": [1, 1, 1, 1], "src": [2, 2, 2, -1],
                      "dst": [3, 3, 3, 2], "start": [0.0, 1.0, 5.0, 0.0], "end": [1.0, 2.0, 6.0, 4.0],
                      "bytes": [8.0, 8.0, 4.0, 10.0], "layers": [1, 1, 1, 2], "hops": [1, 1, 1, 0],
                      "complete": [True] * 4})
    s = transfer_spans(t).sort_values(["kind", "start"]).reset_index(drop=True)
    assert s[["kind", "start", "end", "bytes", "seconds"]].values.tolist() == [
        ["migrate", 0.0, 2.0, 16.0, 2.0], ["migrate", 5.0, 6.0, 4.0, 1.0], ["upload", 0.0, 4.0, 10.0, 4.0]]


def test_a_run_against_itself_and_against_a_changed_copy(demo_runs, tmp_path) -> None:
    run = demo_runs["perdnn"]
    same = compare(run, run)
    judged = same.dropna(subset=["met"])  # a sim run has no switch counters: those rows are not judged
    assert judged["met"].all() and len(judged) >= 5 and (judged["gap"].abs() < 1e-12).all()
    other = tmp_path / "other"
    shutil.copytree(run, other)
    s = json.loads((other / "summary.json").read_text())
    s["hit_ratio"] = s["hit_ratio"] - 0.1
    s["backhaul"]["migrated_bytes"] *= 1.05
    (other / "summary.json").write_text(json.dumps(s))
    c = compare(run, other).set_index("measure")
    assert c.loc["hit ratio", "gap"] == pytest.approx(-0.1) and not c.loc["hit ratio", "met"]
    assert c.loc["migrated bytes (layers)", "gap"] == pytest.approx(0.05)
    assert not c.loc["migrated bytes (layers)", "met"]
    q = query_gap(run, run)
    assert (q["sim_queries"] == q["net_queries"]).all() and q["sim_queries"].sum() > 0
    s["seed"] += 1
    (other / "summary.json").write_text(json.dumps(s))
    with pytest.raises(RunError, match="same scenario and seed"):
        compare(run, other)
