"""Run directories: atomic writes, a crash leaves no complete directory, same input gives same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    partial = w.partial
    assert partial.parent == tmp_path
    assert partial.name.startswith("crash.") and partial.name.endswith(".partial")
    assert (partial / "queries.parquet").exists() and not (partial / "summary.json").exists()
    assert json.loads((partial / "log.jsonl").read_text().splitlines()[-1])["event"] == "abort"
    with pytest.raises(RunError, match="incomplete run"):
        RunDir(partial)
    # The next writer of the same run clears the stale partial folder and completes.
    _write(path)
    assert not partial.exists() and RunDir(path).tables == ["queries"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crash"]


def test_a_killed_process_leaves_no_complete_dir(tmp_path):
    # A hard crash (no cleanup at all) after some files were written: only its partial folder exists.
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
    (partial,) = tmp_path.glob("killed.*.partial")
    assert (partial / "summary.json").exists()
    _write(path)  # the dead writer's lock went with it: the next writer clears its folder
    assert not partial.exists() and RunDir(path).tables == ["queries"]


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
    with pytest.raises(RunError, match="already there.*--force"):
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


# ------------------------------------------------------------------ issue 17: results must never be lost


def test_replacing_needs_overwrite_and_keeps_files_edgeroam_did_not_write(tmp_path):
    # issue 17.2: a second run into the same folder deleted the user's notes
    path = _write(tmp_path / "r")
    (path / "my_notes.txt").write_text("keep me")
    (path / "figures" / "sketch.png").write_bytes(b"mine")
    (path / "mine").mkdir()
    (path / "mine" / "data.csv").write_text("1,2")
    with pytest.raises(RunError, match="--force"):
        _write(path)
    with RunDirWriter(path, overwrite=True) as w:
        w.write_scenario(SCENARIO)
        w.write_summary({"hits": 1})
    assert w.replaced and w.kept == ["figures/sketch.png", "mine/data.csv", "my_notes.txt"]
    run = RunDir(path)
    assert run.summary["hits"] == 1 and run.tables == []  # the old run's own table is gone
    assert (path / "my_notes.txt").read_text() == "keep me"
    assert (path / "figures" / "sketch.png").read_bytes() == b"mine"
    assert (path / "mine" / "data.csv").read_text() == "1,2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # nothing left beside it


def test_replacing_a_run_dir_from_before_the_manifest_keeps_unknown_files(tmp_path):
    path = _write(tmp_path / "r")
    (path / "manifest.json").unlink()
    (path / "notes.md").write_text("x")
    _write(path, overwrite=True)
    assert (path / "notes.md").read_text() == "x" and RunDir(path).tables == ["queries"]


def test_a_user_file_named_like_a_new_output_is_not_overwritten(tmp_path):
    path = tmp_path / "r"
    with RunDirWriter(path) as w:
        w.write_summary({"hits": 1})
    (path / "queries.parquet").write_bytes(b"the user's own")
    with pytest.raises(RunError, match="queries.parquet: not written by edgeroam"):
        _write(path, overwrite=True)
    assert (path / "queries.parquet").read_bytes() == b"the user's own"


def test_manifest_lists_every_file_and_the_reader_checks_it(tmp_path):
    # issue 17.4: a truncated table passed every reader that did not open it
    path = _write(tmp_path / "r")
    manifest = json.loads((path / "manifest.json").read_text())["files"]
    assert sorted(manifest) == ["log.jsonl", "queries.parquet", "scenario.toml", "summary.json"]
    assert manifest["queries.parquet"]["bytes"] == (path / "queries.parquet").stat().st_size
    (path / "my_notes.txt").write_text("not listed, not checked")
    RunDir(path)
    data = (path / "queries.parquet").read_bytes()
    (path / "queries.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunError, match=r"queries\.parquet: \d+ bytes, manifest.json says \d+ \(truncated"):
        RunDir(path)
    (path / "queries.parquet").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other bytes
    with pytest.raises(RunError, match="queries.parquet: content differs"):
        open_run_dir(path)
    (path / "queries.parquet").write_bytes(data)
    RunDir(path)
    (path / "manifest.json").unlink()
    with pytest.raises(RunError, match="no manifest.json"):
        RunDir(path)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(RunError, match="damaged manifest"):
        RunDir(path)
    outside = {"files": {"../r/summary.json": {"bytes": 1, "sha256": ""}}}
    (path / "manifest.json").write_text(json.dumps(outside))
    with pytest.raises(RunError, match="not a plain path"):
        RunDir(path)


_CONCURRENT = textwrap.dedent("""
    import os, sys, time, pandas as pd
    from pathlib import Path
    from edgeroam.emulator.rundir import RunDirWriter
    from edgeroam.errors import EdgeroamError
    path, go, overwrite, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    try:
        with RunDirWriter(path, overwrite=overwrite) as w:
            w.write_scenario({"name": "same"})
            for k in range(5):
                w.write_table(f"t{k}", pd.DataFrame({"v": range(2000)}))
            w.write_summary({"writer": 0})
    except EdgeroamError as exc:
        print(f"error: {exc}")
        sys.exit(1)
""")


@pytest.mark.parametrize("overwrite", [True, False])
def test_concurrent_writers_of_one_run_never_collide(tmp_path, overwrite):
    # issue 17.3: four runs into one --out shared one .partial folder (failures and a raw traceback)
    path, go = tmp_path / "out" / "same-abc", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(path), str(go), str(int(overwrite)),
                               str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    go.touch()
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for code, out, err in results:
        assert "Traceback" not in err, err
        lost = "another run of the same scenario finished first" in out or "already there" in out
        assert code == 0 or (not overwrite and lost), (code, out, err)
    assert sum(code == 0 for code, _, _ in results) == (4 if overwrite else 1)
    run = RunDir(path)  # complete and matching its manifest
    assert run.tables == ["t0", "t1", "t2", "t3", "t4"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["same-abc"]  # no partial or aside left


def test_a_file_system_without_locks_still_commits(tmp_path, monkeypatch, caplog):
    import errno
    import fcntl

    real = fcntl.flock

    def no_locks(fd, op):
        if op & fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, "No locks available")
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level("WARNING", logger="edgeroam.emulator.rundir"):
        path = _write(tmp_path / "r")
    assert RunDir(path).tables == ["queries"] and "not supported" in caplog.text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=st.one_of(st.binary(max_size=200),
                          st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                                       lambda inner: st.dictionaries(st.text(max_size=12), inner, max_size=3),
                                       max_leaves=6).map(lambda v: json.dumps(v).encode())),
       cut=st.integers(min_value=0, max_value=10_000))
def test_any_damage_is_one_run_error(tmp_path_factory, manifest, cut):
    path = _write(tmp_path_factory.mktemp("run") / "r")
    table = path / "queries.parquet"
    data = table.read_bytes()
    table.write_bytes(data[: cut % len(data)])
    with pytest.raises(RunError, match="queries.parquet"):
        RunDir(path)
    (path / "manifest.json").write_bytes(manifest)
    with pytest.raises(RunError) as exc:  # a damaged manifest can never vouch for the truncated table
        RunDir(path)
    assert "manifest.json" in str(exc.value) or "queries.parquet" in str(exc.value)
