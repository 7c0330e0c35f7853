"""Run directories: atomic writes, a crash leaves no complete directory, same input gives same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.rundir import (
    RunDir,
    RunDirWriter,
    open_run_dir,
    run_dir_name,
    scenario_hash,
    summary_bytes,
    summary_digest,
)
from edgeroam.errors import RunError

SCENARIO = {
    "name": "demo",
    "seed": 7,
    "dataset": {"kind": "synthetic", "interval_s": 30},
    "policy": {"kind": "perdnn", "radius_m": 100.0, "ttl_intervals": 5},
    "topology": {"radius_m": 50.0, "backhaul": {"shape": "mesh", "wireless_mbps": 100}},
}
SUMMARY = {
    "hit_ratio": 0.7, "hits": np.int64(7), "misses": 3, "queries": {"ionn": 10, "perdnn": 12},
    "nan_metric": float("nan"), "seed": 7, "per_server_peak": np.array([1.5, 2.0]),
}


def _write(path, timing=None, **kw):
    with RunDirWriter(path, **kw) as w:
        w.write_scenario(SCENARIO)
        w.write_table("queries", pd.DataFrame({"user": [1, 2], "t": [0.0, 0.5]}))
        w.log("start", t=0.0)
        w.write_summary(SUMMARY, timing=timing or {"wall_s": 1.25})
    return path


def test_run_dir_name_is_stable_and_order_independent():
    name = run_dir_name("perdnn kaist", SCENARIO)
    assert name.startswith("perdnn-kaist-") and len(name) == len("perdnn-kaist-") + 10
    reordered = dict(reversed(list(SCENARIO.items())))
    assert run_dir_name("perdnn kaist", reordered) == name
    assert scenario_hash({**SCENARIO, "seed": 8}) != scenario_hash(SCENARIO)
    # A fixed vector: the hash must not change between Python runs or versions (no hash(), no dict order).
    # sha256(b'{"a":1,"b":[1.5,"x"]}') starts with 2532523068
    assert scenario_hash({"a": 1, "b": [1.5, "x"]}) == "2532523068"
    proc = subprocess.run([sys.executable, "-c", "from edgeroam.emulator.rundir import scenario_hash;"
                           "print(scenario_hash({'b': [1.5, 'x'], 'a': 1}))"],
                          capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"})
    assert proc.stdout.strip() == "2532523068"


def test_complete_run_reads_back(tmp_path):
    path = _write(tmp_path / "demo-abc")
    assert not (tmp_path / "demo-abc.partial").exists()
    run = open_run_dir(path)
    assert run.tables == ["queries"]
    pd.testing.assert_frame_equal(run.table("queries"), pd.DataFrame({"user": [1, 2], "t": [0.0, 0.5]}))
    assert run.scenario == SCENARIO
    s = run.summary
    assert s["hits"] == 7 and s["nan_metric"] is None and s["per_server_peak"] == [1.5, 2.0]
    assert s["timing"] == {"wall_s": 1.25}
    assert list(run.log()) == [{"event": "start", "t": 0.0}]
    assert not list(path.glob(".*.tmp")) and run.figures == []
    with pytest.raises(RunError, match="no table 'handovers'"):
        run.table("handovers")


def test_summary_is_sorted_and_byte_identical_for_identical_input(tmp_path):
    a = _write(tmp_path / "a")
    b = _write(tmp_path / "b")
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    text = (a / "summary.json").read_text()
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    # Only the timing section may differ between runs; the digest ignores it.
    c = _write(tmp_path / "c", timing={"wall_s": 9.0})
    assert (a / "summary.json").read_bytes() != (c / "summary.json").read_bytes()
    assert summary_digest(a) == summary_digest(c) == RunDir(b).digest()
    d = _write(tmp_path / "d", timing={"wall_s": 1.25})
    assert summary_digest(d / "summary.json") == summary_digest(a)
    changed = dict(SUMMARY, hits=8)
    assert summary_bytes(changed) != summary_bytes(SUMMARY)
    with pytest.raises(RunError, match="timing"):
        summary_bytes({"timing": 1})


def test_an_exception_mid_write_leaves_no_complete_dir(tmp_path):
    path = tmp_path / "crash"
    with pytest.raises(ValueError, match="boom"), RunDirWriter(path) as w:
        w.write_table("queries", pd.DataFrame({"t": [1.0]}))
        raise ValueError("boom")
    assert not path.exists()
    partial = tmp_path / "crash.partial"
    assert (partial / "queries.parquet").exists() and not (partial / "summary.json").exists()
    assert json.loads((partial / "log.jsonl").read_text().splitlines()[-1])["event"] == "abort"
    with pytest.raises(RunError, match="incomplete run"):
        RunDir(partial)
    # The next writer of the same run clears the stale partial folder and completes.
    _write(path)
    assert not partial.exists() and RunDir(path).tables == ["queries"]


def test_a_killed_process_leaves_no_complete_dir(tmp_path):
    # A hard crash (no cleanup at all) after some files were written: only <dir>.partial exists.
    path = tmp_path / "killed"
    code = textwrap.dedent(f"""
        import os, pandas as pd
        from edgeroam.emulator.rundir import RunDirWriter
        w = RunDirWriter({str(path)!r}).open()
        w.write_table("queries", pd.DataFrame({{"t": [1.0]}}))
        w.write_summary({{"hits": 1}})
        os._exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert not path.exists()
    assert (tmp_path / "killed.partial" / "summary.json").exists()


def test_a_failed_table_write_leaves_no_file_and_commit_needs_a_summary(tmp_path, monkeypatch):
    path = tmp_path / "x"
    w = RunDirWriter(path).open()
    bad = pd.DataFrame({"t": [1.0]})

    def explode(self, target, **kw):
        with open(target, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", explode)
    with pytest.raises(RunError, match="disk full"):
        w.write_table("queries", bad)
    assert not (w.partial / "queries.parquet").exists()
    with pytest.raises(RunError, match="no summary.json"):
        w.commit()
    assert not path.exists()


def test_existing_run_dir_needs_overwrite(tmp_path):
    path = _write(tmp_path / "r")
    with pytest.raises(RunError, match="exists"):
        RunDirWriter(path).open()
    _write(path, timing={"wall_s": 2.0}, overwrite=True)
    assert RunDir(path).summary["timing"] == {"wall_s": 2.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_figures_and_bytes_and_bad_names(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with RunDirWriter(tmp_path / "f") as w:
        w.write_figure("hit_ratio", fig)
        w.write_bytes("figures/extra.txt", b"hello")
        with pytest.raises(RunError, match="bad table name"):
            w.write_table("../escape", pd.DataFrame())
        w.write_summary({})
    plt.close(fig)
    run = RunDir(tmp_path / "f")
    assert [p.name for p in run.figures] == ["hit_ratio.png"]
    assert (run.path / "figures" / "extra.txt").read_bytes() == b"hello"
    with pytest.raises(RunError, match="unsupported type"):
        summary_bytes({"x": object()})


def test_docstring_example_runs():
    import doctest

    from edgeroam.emulator import rundir

    result = doctest.testmod(rundir)
    assert result.attempted > 0 and result.failed == 0
