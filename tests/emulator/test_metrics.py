"""Metrics: hit classes, closed-loop query counting, crowded servers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeroam.emulator.metrics import (
    arrival_table,
    classify_arrival,
    closed_loop_queries,
    hit_ratio,
    query_table,
    summarize,
)
from edgeroam.emulator.run import crowded_servers, run_prepared


def test_classify():
    t = np.array([True, True, False])
    assert classify_arrival(np.array([True, True, True]), t) == "hit"
    assert classify_arrival(np.array([False, True, False]), t) == "partial"
    assert classify_arrival(np.array([False, False, True]), t) == "miss"
    assert classify_arrival(np.zeros(3, bool), np.zeros(3, bool)) == "hit"


def test_closed_loop_hand_computed():
    # latency 2 s until t = 3, then 0.5 s; gap 0.5 s. Queries: [0,2], [2.5,4.5] (started before 3),
    # then [5,5.5], [6,6.5], [7,7.5], [8,8.5], [9,9.5]; [10, ...] starts at the end
    assert closed_loop_queries(0.0, 10.0, [(0.0, 2.0), (3.0, 0.5)], 0.5) == [(0.0, 2.0, 2), (5.0, 0.5, 5)]
    # a query that would end after the window does not count
    assert closed_loop_queries(0.0, 1.9, [(0.0, 2.0)], 0.5) == []


@given(st.floats(0.01, 3.0), st.floats(0.0, 1.0), st.floats(1.0, 40.0))
def test_closed_loop_matches_a_plain_loop(lat, gap, window):
    n = 0
    t = 0.0
    while t < window:
        if t + lat <= window + 1e-9:
            n += 1
        t += lat + gap
    got = sum(q for _, _, q in closed_loop_queries(0.0, window, [(0.0, lat)], gap))
    assert abs(got - n) <= 0 or abs(t - window) < 1e-6


def test_hit_ratio_and_crowded():
    assert hit_ratio(pd.Series(["hit", "miss", "partial", "hit"])) == 2 / 3
    assert hit_ratio(pd.Series(["partial"])) is None
    bh = pd.DataFrame({"interval": [0, 1, 0, 0], "server": [3, 3, 1, 2], "up_bytes": [1.0, 9.0, 9.0, 2.0]})
    assert crowded_servers(bh, 20, 0.1) == [1, 3]
    assert crowded_servers(bh, 20, 0.0) == []


def test_summary_of_hand_made_tables(scripted):
    prep = scripted({"a": (0, 0, 1, 1)})  # 4 ticks, 2 edge servers
    tables = {
        "handovers": pd.DataFrame({
            "handover": [False, True, True, True, True],
            "kind": ["miss", "hit", "partial", "miss", "hit"],
            "queries": [0, 10, 5, 1, 10],
        }),
        # interval 30 s: 3.75 MB in one interval is 1 Mbit/s
        "backhaul": pd.DataFrame({
            "interval": [0, 1, 0], "server": [0, 0, 1],
            "up_bytes": [3.75e6, 7.5e6, 0.0], "down_bytes": [0.0, 3.75e6, 1.875e6],
        }),
        "transfers": pd.DataFrame({"kind": ["migrate", "migrate", "upload"], "bytes": [100.0, 50.0, 7.0]}),
        "predictions": pd.DataFrame({
            "next_server": [0, 1, -1, 0],
            "futile": [True, False, False, False],
            "error_m": [1.0, 3.0, 100.0, 5.0],
            "covered": [True, True, False, False],
        }),
    }
    s = summarize(prep, "perdnn", tables, interval_s=30.0, crowded=[], fraction_bytes=math.inf)
    assert list(s) == [
        "scenario", "seed", "policy", "predictor", "model", "radius_m", "interval_s", "ttl_intervals",
        "server_plans", "users", "servers", "user_steps", "ticks", "cold_starts", "joins", "hits",
        "partial_hits", "misses", "hit_ratio", "hit_ratio_with_partial", "executed_queries",
        "queries_per_cold_start", "plan", "backhaul", "fractional", "prediction"]
    assert (s["scenario"], s["seed"], s["policy"], s["predictor"], s["model"]) == (
        "scripted", 1, "perdnn", prep.predictor_name, "mobilenet")
    assert (s["radius_m"], s["interval_s"], s["ttl_intervals"], s["server_plans"]) == (100.0, 30.0, 5, None)
    assert (s["users"], s["servers"], s["user_steps"], s["ticks"]) == ({"train": 0, "test": 1}, 2, 4, 4)
    entry = prep.planner.entry(1)
    assert s["plan"] == {
        "server_layers": int(entry.target.sum()), "layers": prep.planner.n_layers,
        "plan_bytes": int(entry.bytes),
        "latency_s": float(entry.plan.latency_s),
        "client_only_s": float(prep.planner.latency(1, np.zeros(prep.planner.n_layers, bool))),
        "rho": prep.planner.rho}
    assert s["plan"]["client_only_s"] > s["plan"]["latency_s"] > 0
    assert s["fractional"] == {"crowded": [], "fraction_bytes": None}
    assert summarize(prep, "fractional", tables, interval_s=30.0, crowded=[1], fraction_bytes=5e6)[
        "fractional"] == {"crowded": [1], "fraction_bytes": 5e6}
    assert (s["cold_starts"], s["joins"], s["hits"], s["partial_hits"], s["misses"]) == (4, 1, 2, 1, 1)
    assert s["hit_ratio"] == pytest.approx(2 / 3)  # partial hits are neither hits nor misses
    assert s["hit_ratio_with_partial"] == pytest.approx(3 / 4)
    assert (s["executed_queries"], s["queries_per_cold_start"]) == (26, 6.5)
    bh = s["backhaul"]
    assert list(bh) == ["migrated_bytes", "migration_chunks", "uploaded_bytes", "servers_with_traffic",
                        "peak_up_mbps", "peak_down_mbps", "peak_up_mbps_p50", "peak_up_mbps_p95",
                        "mean_up_mbps"]
    assert (bh["migrated_bytes"], bh["migration_chunks"], bh["uploaded_bytes"]) == (150.0, 2, 7.0)
    assert bh["peak_up_mbps_p50"] == pytest.approx(1.0) and bh["peak_up_mbps_p95"] == pytest.approx(1.9)
    assert bh["servers_with_traffic"] == 2
    assert bh["peak_up_mbps"] == pytest.approx(2.0) and bh["peak_down_mbps"] == pytest.approx(1.0)
    assert bh["mean_up_mbps"] == pytest.approx(3.0 / 4 / 2)  # 11.25 MB: 3 Mbit/s, over 4 ticks, 2 servers
    pr = s["prediction"]
    assert list(pr) == ["predictions", "with_next", "mae_m", "futile_ratio", "covered", "covered_nonfutile"]
    assert (pr["predictions"], pr["with_next"]) == (4, 3)  # next server 0 is known, -1 is not
    assert pr["mae_m"] == pytest.approx(3.0) and pr["futile_ratio"] == pytest.approx(1 / 3)
    assert pr["covered"] == pytest.approx(2 / 3) and pr["covered_nonfutile"] == pytest.approx(0.5)


def test_predictions_off_the_servers_are_unknown_not_futile(scripted):
    # cells 0, 0, 1, 5, 5 with servers only on cells 0 and 1: the last two steps have no server and no next
    prep = scripted({"a": (0, 0, 1, 5, 5)}, server_cells=(0, 1))
    res = run_prepared(prep, "perdnn")
    pr = res.tables["predictions"]
    assert pr["server"].tolist() == [0, 0, 1, -1, -1]
    assert pr["next_server"].tolist() == [0, 1, -1, -1, -1]
    assert pr["futile"].tolist() == [True, False, False, False, False]
    assert (res.summary["prediction"]["with_next"], res.summary["prediction"]["futile_ratio"]) == (2, 0.5)


def test_held_bytes_count_only_the_plans_layers(scripted):
    prep = scripted({"a": (0, 0, 1, 1)}, model="tiny_yolo")
    planner = prep.planner
    target, wb = planner.entry(1).target, planner.weight_bytes
    assert wb[~target].sum() > 0  # tiny YOLO keeps weighted layers on the client
    plan_bytes = int(wb[target].sum())
    half = target & (np.cumsum(target) <= target.sum() // 2)
    everything = np.ones(planner.n_layers, bool)
    arrivals = [  # (row, client, prev, server, t, load, handover, held)
        (0, 0, -1, 0, 0.0, 1, False, everything),  # holds the plan and more: a hit of exactly the plan
        (2, 0, 0, 1, 60.0, 1, True, ~target),  # only layers outside the plan: a miss with nothing held
        (3, 0, 1, 0, 90.0, 1, True, half | ~target),
    ]
    df = arrival_table(arrivals, query_table([]), prep, planner, everywhere=False)
    assert df["kind"].tolist() == ["hit", "miss", "partial"]
    assert df["held_bytes"].tolist() == [plan_bytes, 0, int(wb[half].sum())]
    assert df["plan_bytes"].tolist() == [plan_bytes] * 3
    assert df["user"].astype(str).tolist() == ["a"] * 3
    opt = arrival_table(arrivals, query_table([]), prep, planner, everywhere=True)
    assert opt["kind"].tolist() == ["hit"] * 3 and opt["held_bytes"].tolist() == [plan_bytes] * 3
    # queries: summed per arrival row; an arrival without any counts 0 (an integer column)
    runs = query_table([(2, 0, 1, 60.0, 0.5, 3), (2, 0, 1, 61.5, 0.2, 4)])
    q = arrival_table(arrivals, runs, prep, planner, everywhere=False)
    assert q["queries"].tolist() == [0, 7, 0] and q["queries"].dtype == np.int64
    assert list(q.columns)[:2] == ["row", "user"]


def test_arrival_classes_and_bytes_match_the_row_rule_for_mixed_loads(scripted):
    prep = scripted({"a": (0, 0, 1, 1)}, model="tiny_yolo")
    planner, wb = prep.planner, prep.planner.weight_bytes
    rng = np.random.default_rng(3)
    arrivals = [(i % 4, 0, 0, 1, float(i), int(rng.integers(1, 5)), True, rng.random(planner.n_layers) < p)
                for i, p in enumerate(rng.random(40).tolist() + [0.0, 1.0])]
    df = arrival_table(arrivals, query_table([]), prep, planner, everywhere=False)
    for (_r, _c, _p, _s, _t, k, _h, held), kind, held_b, plan_b in zip(
            arrivals, df["kind"], df["held_bytes"], df["plan_bytes"], strict=True):
        target = planner.entry(k).target
        assert (kind, held_b, plan_b) == (classify_arrival(held, target), int(wb[target & held].sum()),
                                          int(wb[target].sum()))
    assert {"hit", "miss", "partial"} <= set(df["kind"])


def test_summary_without_any_event(scripted):
    prep = scripted({"a": (0, 0, 1, 1)})
    none = {
        "handovers": pd.DataFrame({"handover": pd.Series([], dtype=bool), "kind": pd.Series([], dtype=object),
                                   "queries": pd.Series([], dtype=np.int64)}),
        "backhaul": pd.DataFrame({"interval": [], "server": [], "up_bytes": [], "down_bytes": []}),
        "transfers": pd.DataFrame({"kind": pd.Series([], dtype=object), "bytes": pd.Series([], dtype=float)}),
        "predictions": pd.DataFrame({"next_server": [-1], "futile": [False], "error_m": [math.nan],
                                     "covered": [False]}),
    }
    s = summarize(prep, "perdnn", none, interval_s=30.0, crowded=[], fraction_bytes=math.inf)
    assert (s["hit_ratio"], s["hit_ratio_with_partial"], s["queries_per_cold_start"]) == (None, None, None)
    assert s["backhaul"]["servers_with_traffic"] == 0 and s["backhaul"]["peak_up_mbps"] == 0.0
    assert (s["backhaul"]["peak_up_mbps_p50"], s["backhaul"]["peak_up_mbps_p95"]) == (None, None)
    assert s["prediction"]["with_next"] == 0 and s["prediction"]["mae_m"] is None
    assert (s["prediction"]["covered"], s["prediction"]["covered_nonfutile"]) == (None, None)
    ho = pd.DataFrame({"handover": [True, True], "kind": ["partial", "partial"], "queries": [1, 2]})
    s = summarize(prep, "perdnn", {**none, "handovers": ho}, interval_s=30.0, crowded=[], fraction_bytes=1.0)
    assert s["hit_ratio"] is None and s["hit_ratio_with_partial"] == 1.0  # no hit nor miss: no ratio


def test_prediction_table_columns_and_values(scripted):
    # stay predictor: the prediction is the current position; the truth is the next tick's position
    step = math.sqrt(3) * 50.0  # centre distance of neighbouring cells
    prep = scripted({"a": (0, 0, 1, 3)}, server_cells=(0, 1, 3))
    pr = run_prepared(prep, "perdnn").tables["predictions"]
    assert list(pr.columns) == ["user", "tick", "t", "x", "y", "px", "py", "ax", "ay", "error_m", "server",
                                "next_server", "futile", "covered"]
    assert pr["user"].astype(str).tolist() == ["a"] * 4 and pr["tick"].tolist() == [0, 1, 2, 3]
    assert pr["t"].tolist() == [0.0, 30.0, 60.0, 90.0]
    np.testing.assert_allclose(pr["x"], [0, 0, step, 3 * step])
    np.testing.assert_allclose(pr["px"], pr["x"])
    np.testing.assert_allclose(pr[["y", "py"]], 0.0)
    np.testing.assert_allclose(pr["ax"][:3], [0, step, 3 * step])
    np.testing.assert_allclose(pr["ay"][:3], 0.0)
    np.testing.assert_allclose(pr["error_m"][:3], [0, step, 2 * step])
    assert pr[["ax", "ay", "error_m"]].iloc[3].isna().all()  # no next position after the last tick
    assert pr["server"].tolist() == [0, 0, 1, 2] and pr["next_server"].tolist() == [0, 1, 2, -1]
    # r = 100 m around the prediction reaches the neighbouring server (87 m) but not one 173 m away
    assert pr["covered"].tolist() == [True, True, False, False]


def test_storage_summary_of_a_hand_made_log():
    from edgeroam.emulator.metrics import storage_summary

    # 2 GB from 0 s, 1 GB more from 1800 s, 2 GB less at 3600 s; two ticks of an hour at 0 and 3600 s:
    # copies 1 for 1800 s, 2 for 1800 s, 1 for 3600 s; bytes 2, 3, 1 GB
    log = pd.DataFrame({"t": [0.0, 1800.0, 3600.0], "bytes": [2e9, 1e9, -2e9], "copies": [1, 1, -1]})
    s = storage_summary(log, np.array([0.0, 3600.0]), 3600.0)
    assert s == {"copies_mean": 1.25, "copies_peak": 2.0, "bytes_mean": 1.75e9, "bytes_peak": 3e9,
                 "gb_hours": 3.5, "horizon_s": 7200.0}
    # the second tick after a gap of an hour: the gap does not count
    assert storage_summary(log, np.array([0.0, 7200.0]), 3600.0)["gb_hours"] == 3.5
    # a change before the first tick counts from it; one after the last interval not at all
    log = pd.DataFrame({"t": [-5.0, 15.0], "bytes": [10, 90], "copies": [1, 1]})
    s = storage_summary(log, np.array([0.0]), 10.0)
    assert (s["bytes_mean"], s["bytes_peak"], s["copies_peak"], s["horizon_s"]) == (10.0, 10.0, 1.0, 10.0)
    # nothing held, or no tick at all
    empty = pd.DataFrame({"t": np.zeros(0), "bytes": np.zeros(0, np.int64), "copies": np.zeros(0, np.int64)})
    assert storage_summary(empty, np.array([0.0, 10.0]), 10.0) == {
        "copies_mean": 0.0, "copies_peak": 0.0, "bytes_mean": 0.0, "bytes_peak": 0.0, "gb_hours": 0.0,
        "horizon_s": 20.0}
    assert storage_summary(log, np.zeros(0), 10.0)["horizon_s"] == 0.0
    with pytest.raises(ValueError, match="^holdings log not in time order$"):
        storage_summary(log.iloc[::-1], np.array([0.0]), 10.0)


def test_everywhere_holdings_step_with_the_active_clients(scripted):
    from edgeroam.emulator.metrics import everywhere_holdings

    # a on ticks 0-3, b on ticks 0-2: 2, 2, 2, 1 clients active; 3 servers hold every active model
    prep = scripted({"a": (0, 0, 1, 1), "b": (1, 1, 1)})
    log = everywhere_holdings(prep, 3)
    model = int(prep.planner.weight_bytes.sum())
    assert log["t"].tolist() == [0.0, 30.0, 60.0, 90.0]
    assert log["copies"].tolist() == [6, 0, 0, -3]
    assert log["bytes"].tolist() == [6 * model, 0, 0, -3 * model]


def test_hit_ratio_of_as_many_hits_as_misses_and_empty_query_runs():
    assert hit_ratio(pd.Series(["hit", "miss"])) == 0.5
    assert hit_ratio(pd.Series(["miss", "hit", "hit", "miss"])) == 0.5
    empty = query_table([])
    assert list(empty.columns) == ["row", "client", "server", "start", "latency_s", "queries"]
    assert [str(t) for t in empty.dtypes] == ["int64", "int64", "int64", "float64", "float64", "int64"]


def test_everywhere_holdings_without_ticks_and_on_a_clock_that_does_not_start_at_0(scripted):
    import dataclasses

    from edgeroam.emulator.metrics import everywhere_holdings

    prep = scripted({"a": (0, 0, 1)})
    prep.ticks = [dataclasses.replace(tk, time=tk.time + 1000.0) for tk in prep.ticks]
    assert everywhere_holdings(prep, 2)["t"].tolist() == [0.0, 30.0, 60.0]
    prep.ticks = []
    empty = everywhere_holdings(prep, 2)
    assert list(empty.columns) == ["t", "bytes", "copies"] and len(empty) == 0
    assert [str(t) for t in empty.dtypes] == ["float64", "int64", "int64"]


def test_storage_peaks_are_taken_after_each_instant_and_short_horizons_are_not_rounded_up():
    from edgeroam.emulator.metrics import storage_summary

    # one copy from 0 s; at 10 s one more arrives and one is evicted at the same instant: never two
    log = pd.DataFrame({"t": [0.0, 10.0, 10.0], "bytes": [5, 5, -5], "copies": [1, 1, -1]})
    s = storage_summary(log, np.array([0.0, 10.0]), 10.0)
    assert (s["copies_peak"], s["bytes_peak"], s["copies_mean"]) == (1.0, 5.0, 1.0)
    # one tick of half a second: the mean is over 0.5 s
    log = pd.DataFrame({"t": [0.25], "bytes": [8], "copies": [1]})
    assert storage_summary(log, np.array([0.0]), 0.5)["bytes_mean"] == 4.0


def test_the_net_backhaul_summary_counts_only_the_measured_rows(scripted):
    prep = scripted({"a": (0, 0, 1, 1)})
    tables = {
        "handovers": pd.DataFrame({"handover": [True, True], "kind": ["hit", "miss"], "queries": [1, 1]}),
        # the model estimate beside the switch counters: only the measured rows count
        "backhaul": pd.DataFrame({"interval": [0, 0], "server": [0, 0], "up_bytes": [3.75e6, 99e6],
                                  "down_bytes": [0.0, 99e6], "source": ["measured", "model"]}),
        "transfers": pd.DataFrame({"kind": ["migrate"], "bytes": [1.0]}),
        "predictions": pd.DataFrame({"next_server": [-1], "futile": [False], "error_m": [math.nan],
                                     "covered": [False]}),
    }
    s = summarize(prep, "perdnn", tables, interval_s=30.0, crowded=[], fraction_bytes=math.inf)
    assert s["backhaul"]["peak_up_mbps"] == 1.0 and s["backhaul"]["peak_down_mbps"] == 0.0
    assert s["hit_ratio"] == 0.5


def test_arrival_table_takes_held_masks_as_arrays_or_as_their_bytes():
    from tests.emulator.test_master import scripted

    prep, res = scripted()
    pl = prep.planner
    n = pl.n_layers
    rows = [(0, 0, -1, 3, 0.0, 1, False, np.ones(n, bool)), (1, 0, 3, 4, 30.0, 1, True, np.zeros(n, np.int8))]
    as_bytes = [(*r[:7], np.asarray(r[7]).astype(bool).tobytes()) for r in rows]
    q = res.tables["queries"].iloc[:0]
    a, b = (arrival_table(x, q, prep, pl, everywhere=False) for x in (rows, as_bytes))
    assert a.equals(b) and a["kind"].tolist() == ["hit", "miss"]
