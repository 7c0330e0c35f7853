"""Sweeps on a Dask LocalCluster: a killed sweep reruns only what is missing; a failure is kept."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from edgeroam.cli import main
from edgeroam.emulator.rundir import open_run_dir
from edgeroam.errors import RunError
from edgeroam.sweep import load_sweep, run_sweep
from edgeroam.sweep.dask_runner import open_client

# runs of a second or two each (a bigger demo world), so that the kill below lands while runs are in flight
GRID = """scenario = "demo"
seeds = [1, 2]
set = ["dataset.synthetic.duration_s=14400", "dataset.synthetic.users=80", "dataset.split.test_users=40"]
[grid]
"policy.radius_m" = [50, 100]
"policy.kind" = ["perdnn", "ionn"]
"""


def _complete(runs: Path) -> set[str]:
    done = set()
    for p in runs.glob("demo-*"):
        with contextlib.suppress(RunError):
            done.add(open_run_dir(p).name)
    return done


def test_a_killed_sweep_restarts_with_only_the_missing_runs(tmp_path):
    f = tmp_path / "grid.toml"
    f.write_text(GRID)
    out = tmp_path / "sweep"
    # a 2 x 2 x 2 sweep on 2 workers in its own process group, killed (SIGKILL) while runs are in flight
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeroam.cli",
            "sweep",
            str(f),
            "--workers",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if _complete(out / "runs"):  # the first run is done, the others are queued or in flight
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    before = _complete(out / "runs")
    assert 1 <= len(before) < 8, f"the kill came too late or too early: {len(before)} complete"
    assert not (out / "sweep.parquet").exists()

    res = run_sweep(load_sweep(f), out, workers=2, progress=False)
    assert set(res.skipped) == before
    assert len(res.executed) == 8 - len(before) and not set(res.executed) & before
    assert res.failed == []
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 8 and table["run_id"].is_unique
    assert set(table["status"]) <= {"done", "skipped"} and table["hit_ratio"].notna().all()
    assert set(zip(table["policy.kind"], table["policy.radius_m"], table["seed"], strict=True)) == {
        (k, r, s) for k in ("perdnn", "ionn") for r in (50, 100) for s in (1, 2)
    }
    assert (table.loc[table["policy.kind"] == "ionn", "hit_ratio"] == 0).all()
    assert not list((out / "runs").glob("*.partial"))  # the killed runs' leftovers were cleared

    again = run_sweep(load_sweep(f), out, workers=1, progress=False)  # nothing left: no cluster work at all
    assert again.executed == [] and len(again.skipped) == 8


def test_a_failed_run_keeps_its_error_and_never_stops_the_others(tmp_path, capsys):
    f = tmp_path / "fail.toml"
    # 100 km is beyond the demo region: that run fails when it starts, on its worker
    f.write_text('scenario = "demo"\n[grid]\n"policy.radius_m" = [100, 100000]\n"policy.kind" = ["ionn"]\n')
    out = tmp_path / "s"
    code = main(["sweep", str(f), "--workers", "1", "--out", str(out), "--json"])
    assert code == 1
    info = json.loads(capsys.readouterr().out)
    assert len(info["executed"]) == 1 and len(info["failed"]) == 1
    table = pd.read_parquet(out / "sweep.parquet")
    bad = table[table["status"] == "failed"]
    assert bad["policy.radius_m"].tolist() == [100000] and "radius_m" in bad["error"].iat[0]
    kept = json.loads((out / "errors" / f"{info['failed'][0]}.json").read_text())
    assert kept["params"] == {"policy.radius_m": 100000, "policy.kind": "ionn"} and kept["error"]


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    f = tmp_path / "g.toml"
    f.write_text('scenario = "demo"\n[grid]\n"policy.kind" = ["ionn"]\n')
    with pytest.raises(RunError, match="cannot reach the Dask scheduler"):
        open_client("tcp://127.0.0.1:9", timeout_s=2)
    with pytest.raises(RunError, match="--workers must be at least 1"):
        run_sweep(load_sweep(f), tmp_path / "o", workers=0, progress=False)


def test_sweeps_sharing_a_store_run_an_identical_scenario_once(tmp_path, capsys):
    """Two sweeps that share a run (r = 100, ionn) and a store: the second links it instead of running it;
    the same scenario twice in one sweep runs once; the CLI's --store does the same."""
    store = tmp_path / "store"
    a = tmp_path / "a.toml"
    a.write_text('scenario = "demo"\n[grid]\n"policy.radius_m" = [50, 100]\n"policy.kind" = ["ionn"]\n')
    b = tmp_path / "b.toml"
    # 100 twice: the same resolved scenario, one run directory, two rows
    b.write_text('scenario = "demo"\n[grid]\n"policy.radius_m" = [100, 150, 100]\n"policy.kind" = ["ionn"]\n')
    client = open_client(None, 1)
    try:
        ra = run_sweep(load_sweep(a), tmp_path / "sa", client=client, progress=False, store=store)
        rb = run_sweep(load_sweep(b), tmp_path / "sb", client=client, progress=False, store=store)
    finally:
        client.close()
    assert len(ra.executed) == 2 and ra.reused == []
    shared = ra.table.loc[ra.table["policy.radius_m"] == 100, "run_id"].iat[0]
    assert rb.reused == [shared] and len(rb.executed) == 1 and rb.executed[0] not in ra.executed
    assert rb.table["status"].tolist() == ["reused", "done", "reused"]
    assert rb.table["run_id"].iat[0] == rb.table["run_id"].iat[2] == shared
    # one directory in the store per distinct scenario; each sweep's runs/ holds links to them
    assert sorted(p.name for p in store.iterdir() if not p.name.startswith(".")) == sorted(
        {*ra.executed, *rb.executed})
    for sweep_dir, rid in ((tmp_path / "sa", shared), (tmp_path / "sb", shared)):
        link = sweep_dir / "runs" / rid
        assert link.is_symlink() and link.resolve() == (store / rid).resolve()
        assert open_run_dir(link).digest() == open_run_dir(store / rid).digest()
    row_a = ra.table.set_index("run_id").loc[shared]
    row_b = rb.table.drop_duplicates("run_id").set_index("run_id").loc[shared]
    assert row_a["hit_ratio"] == row_b["hit_ratio"] and row_a["executed_queries"] == row_b["executed_queries"]
    # a restart of b: its own links are complete runs (skipped); the CLI reuses through --store
    again = run_sweep(load_sweep(b), tmp_path / "sb", workers=1, progress=False, store=store)
    assert again.executed == [] and sorted(again.skipped) == sorted({shared, *rb.executed})
    code = main(["sweep", str(b), "--workers", "1", "--out", str(tmp_path / "sc"), "--store", str(store),
                 "--json"])
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["executed"] == [] and sorted(info["reused"]) == sorted({shared, *rb.executed})


def test_a_run_made_by_other_code_runs_again_and_replaces_the_old_one(tmp_path, monkeypatch):
    """A complete run whose summary names another code digest is neither skipped nor reused."""
    from edgeroam.emulator.rundir import code_digest
    from edgeroam.sweep import dask_runner

    f = tmp_path / "one.toml"
    f.write_text('scenario = "demo"\n[grid]\n"policy.kind" = ["ionn"]\n')
    store = tmp_path / "store"
    client = open_client(None, 1)
    try:
        first = run_sweep(load_sweep(f), tmp_path / "s", client=client, progress=False, store=store)
        (rid,) = first.executed
        old = open_run_dir(store / rid)
        assert old.summary["versions"]["code"] == code_digest()
        old_timing, old_digest = old.summary["timing"], old.digest()
        # the same store seen by other code: the run is stale, for this sweep's runs/ and for the store
        monkeypatch.setattr(dask_runner, "code_digest", lambda: "0" * 12)
        again = run_sweep(load_sweep(f), tmp_path / "s", client=client, progress=False, store=store)
    finally:
        client.close()
    assert again.executed == [rid] and again.skipped == again.reused == [] and again.failed == []
    new = open_run_dir(store / rid)
    assert new.summary["timing"] != old_timing  # written again, not linked
    assert new.digest() == old_digest  # the same code made it: the same results
