"""resample: exact linear interpolation on an absolute grid, gap splits and region exits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.resample import resample, segment_ids
from edgeroam.datasets.traces import make_traces, validate_traces
from edgeroam.errors import DatasetError


def _tr(rows, **kw) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["user", "traj", "t", "x", "y"])
    return make_traces(df, metric_frame="local", source="hand", **kw)


def test_interpolation_is_exactly_linear_on_absolute_grid():
    # x = 2 t + 1, y = -t + 5 sampled irregularly; grid multiples of 10 inside [3, 47]
    t = np.array([3.0, 7.0, 18.0, 19.5, 33.0, 47.0])
    tr = _tr({"user": "a", "traj": 0, "t": t, "x": 2 * t + 1, "y": -t + 5})
    r = resample(tr, 10, max_gap_s=100)
    validate_traces(r)
    assert r["t"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert np.allclose(r["x"], 2 * r["t"] + 1, rtol=0, atol=1e-12)
    assert np.allclose(r["y"], -r["t"] + 5, rtol=0, atol=1e-12)
    assert r["traj"].tolist() == [0, 0, 0, 0]
    assert r.attrs["resample"] == {"interval_s": 10.0, "max_gap_s": 100.0, "region": None}
    assert r.attrs["source"] == "hand"


def test_piecewise_linear_between_samples_and_endpoints_exact():
    tr = _tr({"user": "a", "traj": 0, "t": [0.0, 10.0, 20.0], "x": [0.0, 10.0, 10.0], "y": [0.0, 0.0, 30.0]})
    r = resample(tr, 5, max_gap_s=60)
    assert r["t"].tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert r["x"].tolist() == [0.0, 5.0, 10.0, 10.0, 10.0]
    assert r["y"].tolist() == [0.0, 0.0, 0.0, 15.0, 30.0]


def test_gap_longer_than_limit_starts_new_trajectory():
    t = [0.0, 20.0, 40.0, 200.0, 220.0]
    tr = _tr({"user": "a", "traj": 0, "t": t, "x": t, "y": 0.0})
    r = resample(tr, 20, max_gap_s=60)
    assert r["t"].tolist() == [0.0, 20.0, 40.0, 200.0, 220.0]
    assert r["traj"].tolist() == [0, 0, 0, 1, 1]
    # a gap exactly at the limit is not a gap
    r2 = resample(tr, 20, max_gap_s=160)
    assert r2["traj"].nunique() == 1 and len(r2) == 12


def test_leaving_the_region_ends_a_trajectory_and_reentering_starts_one():
    # walks x = 0..100 and back, region x in [0, 40]: in, out, in again
    t = np.arange(0.0, 210.0, 10.0)
    x = np.r_[np.arange(0.0, 110.0, 10.0), np.arange(90.0, -10.0, -10.0)]
    tr = _tr({"user": "a", "traj": 0, "t": t, "x": x, "y": 0.0})
    r = resample(tr, 10, max_gap_s=1000, region="metric:0,-1,40,1")
    assert (r["x"] <= 40).all()
    assert r.groupby("traj")["t"].agg(["min", "max"]).values.tolist() == [[0.0, 40.0], [160.0, 200.0]]
    assert r.attrs["resample"]["region"] == "metric:0,-1,40,1"


def test_trajectories_and_users_are_kept_apart_and_renumbered():
    rows = {
        "user": ["b"] * 3 + ["a"] * 4,
        "traj": [5, 5, 5, 2, 2, 7, 7],
        "t": [0.0, 10.0, 20.0, 0.0, 10.0, 15.0, 35.0],
        "x": [0.0, 1.0, 2.0, 0.0, 10.0, 100.0, 120.0],
        "y": 0.0,
    }
    r = resample(_tr(rows), 10, max_gap_s=100)
    got = list(zip(r["user"].astype(str), r["traj"], r["t"], r["x"], strict=True))
    assert got == [
        ("a", 0, 0.0, 0.0),
        ("a", 0, 10.0, 10.0),
        ("a", 1, 20.0, 105.0),
        ("a", 1, 30.0, 115.0),
        ("b", 0, 0.0, 0.0),
        ("b", 0, 10.0, 1.0),
        ("b", 0, 20.0, 2.0),
    ]
    assert r["traj"].dtype == np.int32 and list(r["user"].cat.categories) == ["a", "b"]


def test_duplicate_times_short_segments_and_min_points():
    rows = {
        "user": "a",
        "traj": 0,
        "t": [0.0, 0.0, 10.0, 500.0, 503.0],
        "x": [0.0, 9.0, 10.0, 0.0, 3.0],
        "y": 0.0,
    }
    r = resample(_tr(rows), 10, max_gap_s=60)
    # the repeated t=0 keeps its first sample; the 3-s segment holds the grid point 500 only
    assert r["t"].tolist() == [0.0, 10.0, 500.0]
    assert r["x"].tolist() == [0.0, 10.0, 0.0]
    assert len(resample(_tr(rows), 10, max_gap_s=60, min_points=2)) == 2


def test_lat_lon_and_mode_follow():
    df = pd.DataFrame(
        {
            "user": "a",
            "traj": 0,
            "t": [0.0, 10.0, 20.0],
            "lat": [39.9, 39.91, 39.92],
            "lon": [116.3, 116.3, 116.32],
            "mode": ["walk", "walk", "bus"],
        }
    )
    tr = make_traces(df)
    # a lon/lat region applies to lon/lat: lon 116.3 lies west of the PerDNN box, so nothing is left
    assert len(resample(tr, 4, max_gap_s=60, region="perdnn-geolife")) == 0
    assert len(resample(tr, 4, max_gap_s=60, region="lonlat:116.2,39.8,116.4,40")) == 6
    r = resample(tr, 4, max_gap_s=60)
    assert np.allclose(r["lat"], 39.9 + r["t"] / 1000)
    assert r["mode"].astype(str).tolist() == ["walk", "walk", "walk", "walk", "bus", "bus"]
    assert isinstance(r["mode"].dtype, pd.CategoricalDtype)


def test_empty_result_and_bad_arguments():
    tr = _tr({"user": "a", "traj": 0, "t": [1.0, 2.0], "x": 0.0, "y": 0.0})
    r = resample(tr, 10, max_gap_s=60)
    assert len(r) == 0
    validate_traces(r)
    with pytest.raises(DatasetError, match="interval_s"):
        resample(tr, 0, max_gap_s=60)
    with pytest.raises(DatasetError, match="max_gap_s"):
        resample(tr, 10, max_gap_s=-1)


def test_segment_ids_marks_outside_rows():
    tr = _tr({"user": "a", "traj": 0, "t": [0.0, 1.0, 2.0, 3.0], "x": 0.0, "y": 0.0})
    assert segment_ids(tr, max_gap_s=10, inside=np.array([1, 0, 1, 1], bool)).tolist() == [0, -1, 1, 1]


def test_large_random_table_matches_per_trajectory_numpy_interp():
    rng = np.random.default_rng(7)
    parts = []
    for u in range(5):
        for k in range(4):
            t = np.cumsum(rng.uniform(0.5, 8.0, 300))
            parts.append(
                pd.DataFrame(
                    {
                        "user": f"u{u}",
                        "traj": k,
                        "t": t,
                        "x": rng.normal(size=300).cumsum(),
                        "y": rng.normal(size=300).cumsum(),
                    }
                )
            )
    tr = make_traces(pd.concat(parts, ignore_index=True), metric_frame="local")
    r = resample(tr, 5, max_gap_s=100)
    for (u, k), g in tr.groupby(["user", "traj"], observed=True):
        grid = np.arange(np.ceil(g.t.min() / 5) * 5, g.t.max() + 1e-9, 5)
        got = r[(r.user == u) & (r.traj == k)]
        assert np.array_equal(got["t"].to_numpy(), grid)
        assert np.allclose(got["x"], np.interp(grid, g.t, g.x), atol=1e-9)
        assert np.allclose(got["y"], np.interp(grid, g.t, g.y), atol=1e-9)


def test_a_new_segment_may_start_at_the_time_the_last_one_ended():
    # user a ends at t = 60 and user b starts at t = 60; trajectory 1 of b starts when trajectory 0 ends:
    # neither first sample is a "repeated time" (those only count inside one segment)
    rows = {
        "user": ["a", "a", "b", "b", "b", "b"],
        "traj": [0, 0, 0, 0, 1, 1],
        "t": [0.0, 60.0, 60.0, 120.0, 120.0, 140.0],
        "x": [0.0, 60.0, 0.0, 60.0, 500.0, 520.0],
        "y": 0.0,
    }
    r = resample(_tr(rows), 20, max_gap_s=100)
    got = list(zip(r["user"].astype(str), r["traj"], r["t"], r["x"], strict=True))
    assert got == [
        ("a", 0, 0.0, 0.0),
        ("a", 0, 20.0, 20.0),
        ("a", 0, 40.0, 40.0),
        ("a", 0, 60.0, 60.0),
        ("b", 0, 60.0, 0.0),
        ("b", 0, 80.0, 20.0),
        ("b", 0, 100.0, 40.0),
        ("b", 0, 120.0, 60.0),
        ("b", 1, 120.0, 500.0),
        ("b", 1, 140.0, 520.0),
    ]


def test_attrs_follow_and_small_arguments_are_fine():
    rows = {"user": "a", "traj": 0, "t": [0.0, 0.5], "x": [0.0, 1.0], "y": 0.0}
    src = make_traces(pd.DataFrame(rows), metric_frame="local", source="hand.csv",
                      read_report={"files": 1}, crs="EPSG:32652")
    r = resample(src, 0.25, max_gap_s=0.75)  # sub-second interval and gap: both valid
    assert r["t"].tolist() == [0.0, 0.25, 0.5] and r["x"].tolist() == [0.0, 0.5, 1.0]
    assert (r.attrs["crs"], r.attrs["metric_frame"], r.attrs["source"]) == ("EPSG:32652", "local", "hand.csv")
    assert r.attrs["read_report"] == {"files": 1}
    assert r["traj"].dtype == np.int32
    with pytest.raises(DatasetError, match="resample: max_gap_s must be > 0, got 0"):
        resample(src, 1, max_gap_s=0)
    with pytest.raises(DatasetError, match="resample: interval_s must be > 0, got -1"):
        resample(src, -1, max_gap_s=1)


def test_mode_is_taken_from_the_nearer_sample_and_keeps_its_categories():
    # samples at 0 s (walk) and 10 s (bus); the grid point 5 s is half way: the earlier sample wins the tie
    df = pd.DataFrame({"user": "a", "traj": 0, "t": [0.0, 10.0], "x": [0.0, 10.0], "y": 0.0,
                       "mode": pd.Categorical(["walk", "bus"], categories=["bus", "car", "walk"])})
    r = resample(make_traces(df, metric_frame="local"), 2.5, max_gap_s=60)
    assert r["mode"].astype(str).tolist() == ["walk", "walk", "walk", "bus", "bus"]
    assert list(r["mode"].cat.categories) == ["bus", "car", "walk"]


def test_a_single_sample_segment_and_the_last_sample_interpolate_exactly():
    # segment 1: one sample on the grid (t = 20); segment 2 (after a gap): 100 .. 130 with the last point at
    # a grid time, so the grid point 130 comes from the last sample itself
    rows = {"user": "a", "traj": 0, "t": [20.0, 100.0, 110.0, 130.0], "x": [7.0, 0.0, 10.0, 50.0], "y": 0.0}
    r = resample(_tr(rows), 10, max_gap_s=40)
    assert list(zip(r["traj"], r["t"], r["x"], strict=True)) == [
        (0, 20.0, 7.0), (1, 100.0, 0.0), (1, 110.0, 10.0), (1, 120.0, 30.0), (1, 130.0, 50.0)]
    assert segment_ids(_tr(rows).iloc[:0], max_gap_s=10).tolist() == []
    assert segment_ids(_tr(rows), max_gap_s=40).dtype == np.int64
    assert segment_ids(_tr(rows), max_gap_s=40, inside=[1, 1, 0, 1]).tolist() == [0, 1, -1, 2]


def test_a_repeated_time_keeps_the_first_sample_in_every_segment():
    # the repeat is in user b's segment (not the first one): b's first sample at t = 10 is kept
    tr = _tr({"user": ["a", "a", "b", "b", "b", "b"], "traj": 0, "t": [0.0, 10.0, 0.0, 10.0, 10.0, 20.0],
              "x": [0.0, 1.0, 0.0, 5.0, 99.0, 105.0], "y": 0.0})
    r = resample(tr, 5, max_gap_s=60)
    assert r["user"].astype(str).tolist() == ["a"] * 3 + ["b"] * 5
    assert r["x"].tolist() == [0.0, 0.5, 1.0, 0.0, 2.5, 5.0, 55.0, 105.0]


def test_segment_ids_of_one_row_none_and_an_integer_mask():
    one = _tr({"user": ["a"], "traj": 0, "t": [0.0], "x": [0.0], "y": [0.0]})
    assert segment_ids(one, max_gap_s=60).tolist() == [0]
    empty = segment_ids(one.iloc[:0], max_gap_s=60)
    assert empty.dtype == np.int64 and np.arange(3)[empty].tolist() == []  # usable as an index
    tr = _tr({"user": "a", "traj": 0, "t": [0.0, 10.0, 20.0, 30.0], "x": 0.0, "y": 0.0})
    # an inside mask given as 0/1 numbers means the same as booleans: leaving and re-entering splits
    assert segment_ids(tr, max_gap_s=60, inside=np.array([1, 0, 1, 1])).tolist() == [0, -1, 1, 1]
    assert segment_ids(tr, max_gap_s=60, inside=np.array([1.0, 0.0, 1.0, 1.0])).tolist() == [0, -1, 1, 1]


def test_a_single_sample_segment_on_the_grid_gives_no_warning():
    import warnings

    tr = _tr({"user": ["a", "b", "b"], "traj": 0, "t": [20.0, 0.0, 10.0], "x": [7.0, 0.0, 1.0], "y": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 / 0 on the way
        r = resample(tr, 10, max_gap_s=60)
    assert r["x"].tolist() == [7.0, 0.0, 1.0]


def test_the_tables_index_is_ignored_and_a_missing_source_stays_empty():
    tr = _tr({"user": "a", "traj": 0, "t": [0.0, 10.0], "x": [0.0, 2.0], "y": 0.0})
    tr.index = pd.Index([7, 9], name="x")  # an index named like a column is not turned into one
    del tr.attrs["source"]
    r = resample(tr, 5, max_gap_s=60)
    assert r["x"].tolist() == [0.0, 1.0, 2.0] and r.index.tolist() == [0, 1, 2]
    assert r.attrs["source"] == ""


def test_the_region_rows_and_segments_are_those_of_segment_ids():
    from edgeroam.datasets.resample import _kept_rows

    rng = np.random.default_rng(3)
    for n in (1, 2, 50, 3000):
        df = make_traces(pd.DataFrame({
            "user": np.sort(rng.integers(0, 4, n)).astype(str),
            "traj": np.zeros(n, dtype=np.int32),
            "t": np.round(rng.uniform(0, 50, n)).cumsum(),  # steps of 0 (repeated times) to 50 s
            "x": rng.uniform(0, 100, n), "y": rng.uniform(0, 100, n),
        }), metric_frame="local")
        df["traj"] = (rng.uniform(size=n) < 0.05).cumsum().astype(np.int32)
        first_only = np.r_[True, np.zeros(n - 1, bool)]
        for inside in (rng.uniform(size=n) < 0.7, np.ones(n, bool), np.zeros(n, bool), first_only):
            seg_all = segment_ids(df, max_gap_s=30.0, inside=inside)
            t = df["t"].to_numpy()
            dup = np.r_[False, (seg_all[1:] == seg_all[:-1]) & (t[1:] == t[:-1])]
            want = np.flatnonzero((seg_all >= 0) & ~dup)
            rows, seg = _kept_rows(df, 30.0, inside)
            assert rows.tolist() == want.tolist()
            # the same segments, numbered without gaps among these rows
            assert (np.diff(seg) >= 0).all() and ((np.diff(seg) != 0) == (np.diff(seg_all[want]) != 0)).all()
            assert len(seg) == 0 or seg[0] == 0


def test_trace_columns_resample_as_the_table_does():
    from edgeroam.datasets._columns import TraceColumns
    from edgeroam.datasets.regions import get_region, region_mask

    rng = np.random.default_rng(5)
    n = 4000
    df = make_traces(pd.DataFrame({
        "user": np.sort(rng.integers(0, 5, n)).astype(str),
        "traj": np.zeros(n, dtype=np.int32),
        "t": np.round(rng.uniform(0, 40, n)).cumsum(),
        "x": rng.uniform(0, 100, n).cumsum(), "y": rng.uniform(0, 100, n),
    }), metric_frame="local", source="walks")
    df["traj"] = (rng.uniform(size=n) < 0.01).cumsum().astype(np.int32)
    cols = TraceColumns(df["user"].cat.codes.to_numpy(), list(df["user"].cat.categories),
                        {c: df[c].to_numpy() for c in ("traj", "t", "x", "y", "lat", "lon")}, dict(df.attrs))
    reg = get_region(f"metric:0,0,{df['x'].median()},100")
    for opts in ({}, {"region": reg}, {"region": reg, "inside": region_mask(cols, reg)}):
        want = resample(df, 20.0, max_gap_s=60.0, **opts)
        got = resample(cols, 20.0, max_gap_s=60.0, **opts)
        assert isinstance(got, TraceColumns) and got.users == list(want["user"].cat.categories)
        assert got.codes.tolist() == want["user"].cat.codes.tolist()
        for c, v in got.data.items():
            assert v.tobytes() == want[c].to_numpy().tobytes(), c
        assert got.attrs == want.attrs and len(got) > 100
