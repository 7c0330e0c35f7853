"""Report tables on real demo runs: they agree with each run's summary.json and its Parquet tables."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.rundir import open_run_dir
from edgeroam.errors import RunError
from edgeroam.report import (
    SUMMARY_COLUMNS,
    backhaul_peaks,
    cell_traffic,
    expand_run_dirs,
    fig9_table,
    fig10_table,
    latency_timeline,
    load_runs,
    pick_server_change,
    run_grid,
    run_labels,
    run_servers,
    summary_table,
    to_markdown,
)


def test_expand_folder_sorted_and_skips_partial(demo_runs, tmp_path):
    root = next(iter(demo_runs.values())).parent
    found = expand_run_dirs([root])
    assert sorted(found) == sorted(demo_runs.values())
    shutil.copytree(demo_runs["ionn"], tmp_path / "x-1.partial")
    shutil.copytree(demo_runs["ionn"], tmp_path / "x-2")
    assert expand_run_dirs([tmp_path]) == [tmp_path / "x-2"]
    # the same run named twice is read once
    assert expand_run_dirs([demo_runs["ionn"], demo_runs["ionn"]]) == [demo_runs["ionn"]]


def test_expand_errors(tmp_path, demo_runs):
    with pytest.raises(RunError, match="no such run directory"):
        expand_run_dirs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="holds none"):
        expand_run_dirs([tmp_path / "empty"])
    shutil.copytree(demo_runs["ionn"], tmp_path / "y.partial")
    with pytest.raises(RunError, match="incomplete"):
        load_runs([tmp_path / "y.partial"])


def test_load_runs_orders_policies(demo_runs):
    runs = load_runs(list(demo_runs.values())[::-1])
    assert [r.summary["policy"] for r in runs] == ["ionn", "perdnn", "fractional", "oracle", "optimal"]
    assert run_labels(runs) == ["ionn", "perdnn", "fractional", "oracle", "optimal"]


def test_summary_table_matches_summaries(demo_runs):
    runs = load_runs(demo_runs.values())
    df = summary_table(runs)
    assert list(df.columns) == SUMMARY_COLUMNS and len(df) == len(demo_runs)
    for run, row in zip(runs, df.itertuples(index=False), strict=True):
        s = run.summary
        assert (row.policy, row.model, row.radius_m) == (s["policy"], s["model"], s["radius_m"])
        assert (row.hits, row.partial_hits, row.misses) == (s["hits"], s["partial_hits"], s["misses"])
        assert row.hits + row.partial_hits + row.misses == row.cold_starts
        assert row.executed_queries == s["executed_queries"]
        assert row.peak_up_mbps == pytest.approx(s["backhaul"]["peak_up_mbps"])
        st = s["storage"]
        assert row.storage_gb_hours == pytest.approx(st["gb_hours"])
        assert row.storage_gb_peak == pytest.approx(st["bytes_peak"] / 1e9)
        assert (row.storage_copies_mean, row.storage_copies_peak) == (st["copies_mean"], st["copies_peak"])
    by = df.set_index("policy")
    assert by.loc["ionn", "hit_ratio"] == 0.0 and by.loc["optimal", "hit_ratio"] == 1.0
    assert by.loc["optimal", "migrated_gb"] == 0.0 and by.loc["perdnn", "migrated_gb"] > 0


def test_fig9_table_gain_over_ionn(demo_runs):
    df = fig9_table(load_runs(demo_runs.values())).set_index("policy")
    assert df.loc["ionn", "gain_vs_ionn"] == 0.0
    q = df["executed_queries"]
    assert df.loc["optimal", "gain_vs_ionn"] == pytest.approx(q["optimal"] / q["ionn"] - 1)
    assert q["optimal"] >= q["perdnn"] >= q["ionn"]


def test_fig9_table_without_ionn_has_nan_gain(demo_runs):
    df = fig9_table(load_runs([demo_runs["perdnn"]]))
    assert math.isnan(df["gain_vs_ionn"].iloc[0])


def test_fig10_table_reads_both_passes(demo_runs):
    df = fig10_table(load_runs(demo_runs.values()))
    assert len(df) == 1
    row = df.iloc[0]
    s = open_run_dir(demo_runs["fractional"]).summary
    perdnn = open_run_dir(demo_runs["perdnn"]).summary
    # the whole-model first pass of `fractional` is the perdnn run
    assert row["whole_peak_up_mbps"] == pytest.approx(perdnn["backhaul"]["peak_up_mbps"])
    assert row["whole_queries"] == perdnn["executed_queries"]
    assert row["fractional_peak_up_mbps"] == pytest.approx(s["backhaul"]["peak_up_mbps"])
    ratio = row["fractional_peak_up_mbps"] / row["whole_peak_up_mbps"]
    assert row["peak_reduction"] == pytest.approx(1 - ratio)
    assert row["crowded_servers"] == len(s["fractional"]["crowded"]) > 0
    assert 0 < row["fraction_mb"] < row["plan_mb"]


def test_backhaul_peaks(demo_runs):
    run = open_run_dir(demo_runs["perdnn"])
    peaks = backhaul_peaks(run)
    s = run.summary
    assert peaks["peak_up_mbps"].iloc[0] == pytest.approx(s["backhaul"]["peak_up_mbps"])
    assert peaks["peak_down_mbps"].max() == pytest.approx(s["backhaul"]["peak_down_mbps"])
    assert peaks["peak_up_mbps"].is_monotonic_decreasing and peaks["server"].is_unique
    bh = run.table("backhaul")
    assert peaks["total_up_gb"].sum() == pytest.approx(bh["up_bytes"].sum() / 1e9)
    # a run with no migration has no backhaul traffic but a typed, empty table
    empty = backhaul_peaks(open_run_dir(demo_runs["optimal"]))
    assert len(empty) == 0 and empty["peak_up_mbps"].dtype == np.float64


def test_cell_traffic_from_rebuilt_topology(demo_runs):
    run = open_run_dir(demo_runs["perdnn"])
    servers = run_servers(run)
    cells = cell_traffic(run, servers)
    assert cells["server"].is_unique and not cells.duplicated(["q", "r"]).any()
    assert set(cells["server"]) == set(servers["server"])
    grid = run_grid(run)
    pr = run.table("predictions")
    # every served user step lies in its server's cell
    pos = pr.merge(cells[["server", "q", "r"]], on="server")
    q, r = grid.cell_of(pos["x"].to_numpy(), pos["y"].to_numpy())
    assert len(pos) == (pr["server"] >= 0).sum()
    assert (q == pos["q"].to_numpy()).all() and (r == pos["r"].to_numpy()).all()
    assert cells["user_steps"].sum() == len(pos)
    # every server with backhaul traffic is on the map, with its peaks
    peaks = backhaul_peaks(run).set_index("server")["peak_up_mbps"]
    got = cells.set_index("server")["peak_up_mbps"]
    assert np.allclose(got.reindex(peaks.index).to_numpy(), peaks.to_numpy())
    assert cells["arrivals"].sum() == len(run.table("handovers"))
    assert np.allclose(cells[["x", "y"]].to_numpy(), np.column_stack(grid.center(cells["q"], cells["r"])))


def test_cell_traffic_without_topology_keeps_served_cells(demo_runs):
    run = open_run_dir(demo_runs["perdnn"])
    full = cell_traffic(run, run_servers(run)).set_index("server")
    served = cell_traffic(run).set_index("server")
    # servers only reached by migrations are left out; the served ones sit on the same cells
    assert set(served.index) < set(full.index)
    assert (served["user_steps"] > 0).all()
    assert (served[["q", "r"]] == full.loc[served.index, ["q", "r"]]).all().all()


def test_latency_timeline_expands_query_runs(demo_runs):
    runs = load_runs(demo_runs.values())
    row = pick_server_change(runs)
    assert row is not None
    for run in runs:
        ho = run.table("handovers").set_index("row")
        tl = latency_timeline(run, row)
        interval = run.summary["interval_s"]
        after = tl[(tl["since_change_s"] >= 0) & (tl["since_change_s"] < interval)]
        assert len(after) == ho.loc[row, "queries"]
        assert (after["end"] <= after["start"].iloc[0] + interval + 1e-6).all()
        assert (after["server"] == ho.loc[row, "server"]).all()
        assert tl["start"].is_monotonic_increasing
        # the next query starts a think time after the previous one ended
        gap = (after["start"].to_numpy()[1:] - after["end"].to_numpy()[:-1])
        assert np.allclose(gap, 0.5)
    # the pick is a change where the policies differ
    q = [open_run_dir(p).table("handovers").set_index("row").loc[row, "queries"] for p in demo_runs.values()]
    assert max(q) > min(q)


def test_latency_timeline_unknown_row(demo_runs):
    with pytest.raises(RunError, match="no server change"):
        latency_timeline(open_run_dir(demo_runs["perdnn"]), -5)


def test_to_markdown():
    df = pd.DataFrame({"policy": ["a", "b"], "radius_m": [100.0, 50.0], "hit_ratio": [0.9, math.nan],
                       "executed_queries": [12345, 7], "peak_up_mbps": [616.04, 1.234]})
    md = to_markdown(df).splitlines()
    assert md[0] == "| policy | radius_m | hit_ratio | executed_queries | peak_up_mbps |"
    assert md[1] == "|---|---:|---:|---:|---:|"
    assert md[2] == "| a | 100 | 90.0 % | 12,345 | 616.0 |"
    assert md[3] == "| b | 50 | — | 7 | 1.23 |"
