"""read_table: CSV with ISO times and a time zone, Parquet, GeoParquet, a folder; exact Traces, errors that
name file, line (or row) and column, lenient counts, arbitrary CSV rows, and the Geolife round trip."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroam.datasets.load import load_dataset
from edgeroam.datasets.table import assign_trajectories, parse_columns, read_table
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError, TraceFormatError

TAXI = {"user": "taxi_id", "t": "time", "lat": "lat", "lon": "lon"}
# 2008-10-23 10:53:04 in Beijing (UTC+8) is 02:53:04 UTC = 1224730384
T0 = 1224730384.0


def _csv(tmp_path: Path, text: str, name: str = "fixes.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_iso_times_in_a_time_zone_give_exact_traces(tmp_path):
    p = _csv(tmp_path, "taxi_id,time,lat,lon,speed\n"
                       "7,2008-10-23 10:53:09,39.91,116.41,3\n"
                       "7,2008-10-23 10:53:04,39.90,116.40,3\n"
                       "b,2008-10-23T02:53:04Z,39.95,116.43,0\n"
                       "7,2008-10-23T03:53:04+01:00,39.92,116.42,1\n")
    tr = read_table(p, TAXI, timezone="Asia/Shanghai")
    validate_traces(tr)
    assert tr["user"].astype(str).tolist() == ["7", "7", "7", "b"]
    # sorted by user, traj, t (ties in file order); an offset wins over the zone (+01:00 03:53 = 02:53 UTC)
    assert tr["t"].tolist() == [T0, T0, T0 + 5, T0]
    assert tr["traj"].tolist() == [0, 0, 0, 0]
    assert tr["lat"].tolist() == [39.90, 39.92, 39.91, 39.95]
    assert tr["lon"].tolist() == [116.40, 116.42, 116.41, 116.43]
    assert np.isnan(tr["x"]).all() and tr.attrs["metric_frame"] is None
    report = tr.attrs["read_report"]
    assert report["files"] == 1 and report["lines"] == 4 and report["bad_lines_skipped"] == 0
    # user 7's fix at line 3 is before line 2's: counted and named
    assert report["times_backwards"] == 1
    assert report["resorted_files"] == [{"file": str(p), "backwards": 1, "first_line": 3}]


def test_naive_times_default_to_utc_and_epoch_seconds_pass_through(tmp_path):
    p = _csv(tmp_path, "user,t,lat,lon\na,2008-10-23 02:53:04,1,2\nb,1224730384.5,1,2\n")
    tr = read_table(p)
    assert tr["t"].tolist() == [T0, T0 + 0.5]


def test_parquet_with_traj_mode_and_timestamps(tmp_path):
    times = pd.to_datetime(["2008-10-23 02:53:04", "2008-10-23 02:53:06", "2008-10-23 02:53:05"]).tz_localize(
        "UTC")
    table = pa.table({"id": [3, 3, 4], "ts": pa.array(times), "trip": [1, 0, 0],
                      "la": [39.9, 39.8, 39.7], "lo": [116.1, 116.2, 116.3],
                      "how": ["walk", None, "bus"]})
    p = tmp_path / "fixes.parquet"
    pq.write_table(table, p)
    tr = read_table(p, {"user": "id", "t": "ts", "lat": "la", "lon": "lo", "traj": "trip", "mode": "how"})
    validate_traces(tr)
    assert tr["user"].astype(str).tolist() == ["3", "3", "4"]
    assert tr["traj"].tolist() == [0, 1, 1 - 1]
    assert tr["t"].tolist() == [T0 + 2, T0, T0 + 1]
    assert tr["mode"].astype(object).where(tr["mode"].notna(), None).tolist() == [None, "walk", "bus"]


def test_geoparquet_points_in_a_projected_crs(tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"who": ["a", "a", "b"], "time": [10.0, 20.0, 5.0]},
                           geometry=gpd.points_from_xy([448000.0, 448010.0, 449000.0],
                                                       [4420000.0, 4420020.0, 4421000.0]),
                           crs="EPSG:32650")
    p = tmp_path / "fixes.parquet"
    gdf.to_parquet(p)
    tr = read_table(p, {"user": "who", "t": "time"})
    validate_traces(tr)
    assert tr.attrs["crs"] == "EPSG:32650" and tr.attrs["metric_frame"] == "utm"
    assert tr["x"].tolist() == [448000.0, 448010.0, 449000.0]
    assert tr["y"].tolist() == [4420000.0, 4420020.0, 4421000.0]
    assert tr["lat"].between(39.9, 40.0).all()  # filled from x, y by unproject


def test_geoparquet_in_lonlat_fills_lat_lon(tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"who": ["a"], "time": [1.0]}, geometry=gpd.points_from_xy([116.4], [39.9]),
                           crs="EPSG:4326")
    p = tmp_path / "fixes.parquet"
    gdf.to_parquet(p)
    tr = read_table(p, {"user": "who", "t": "time"})
    assert tr["lon"].tolist() == [116.4] and tr["lat"].tolist() == [39.9] and np.isnan(tr["x"]).all()


def test_geoparquet_rows_that_are_not_points(tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    shapes = [Point(1, 2), LineString([(0, 0), (1, 1)]), None, Point()]
    gdf = gpd.GeoDataFrame({"u": ["a"] * 4, "t": [1.0, 2.0, 3.0, 4.0]}, geometry=shapes, crs="EPSG:32650")
    p = tmp_path / "mixed.parquet"
    gdf.to_parquet(p)
    with pytest.raises(TraceFormatError, match=r"column geometry: row 2: not a point: 'LineString'"):
        read_table(p, "user=u,t=t")
    tr = read_table(p, "user=u,t=t", lenient=True)
    assert tr["x"].tolist() == [1.0] and tr.attrs["read_report"]["bad_lines_skipped"] == 3


def test_xy_without_crs_is_a_local_frame_and_gaps_split_trajectories(tmp_path):
    p = _csv(tmp_path, "u,t,e,n\na,0,0,0\na,10,1,1\na,100,2,2\na,105,3,3\n")
    tr = read_table(p, {"user": "u", "t": "t", "x": "e", "y": "n"}, max_gap_s=30)
    assert tr.attrs["metric_frame"] == "local" and tr.attrs["crs"] is None
    assert tr["traj"].tolist() == [0, 0, 1, 1] and tr["x"].tolist() == [0, 1, 2, 3]


def test_assign_trajectories_restarts_per_user():
    codes = np.array([0, 0, 0, 1, 1])
    t = np.array([0.0, 100.0, 101.0, 0.0, 500.0])
    assert assign_trajectories(codes, t, 60.0).tolist() == [0, 1, 1, 0, 1]
    assert assign_trajectories(codes, t, None).tolist() == [0, 0, 0, 0, 0]


def test_a_folder_reads_every_table(tmp_path):
    _csv(tmp_path, "user,t,lat,lon\na,1,1,1\n", "a.csv")
    _csv(tmp_path, "user,t,lat,lon\nb,2,2,2\n", "b.csv")
    tr = read_table(tmp_path)
    assert tr["user"].astype(str).tolist() == ["a", "b"] and tr.attrs["read_report"]["files"] == 2


def test_lenient_skips_a_file_of_a_folder_that_is_not_a_table(tmp_path):
    _csv(tmp_path, "user,t,lat,lon\na,1,1,1\n", "a.csv")
    _csv(tmp_path, "who,when\nb,2\n", "b.csv")
    _csv(tmp_path, "", "c.csv")
    with pytest.raises(TraceFormatError, match="b.csv, line 1, column user: no column for user"):
        read_table(tmp_path)
    tr = read_table(tmp_path, lenient=True)
    rep = tr.attrs["read_report"]
    assert tr["user"].tolist() == ["a"] and rep["files"] == 3 and rep["files_skipped"] == 2
    assert [f["file"] for f in rep["skipped_files"]] == [str(tmp_path / "b.csv"), str(tmp_path / "c.csv")]
    assert rep["skipped_files"][1]["reason"] == "line 1: empty file or empty header line"


@pytest.mark.parametrize(
    ("body", "line", "column", "words"),
    [
        ("a,2008-10-23 10:53:04,39.9,116.4\na,yesterday,39.9,116.4\n", 3, "time", "not a time"),
        ("a,1,39.9,116.4\na,2,north,116.4\n", 3, "lat", "not a finite number: 'north'"),
        ("a,1,39.9,116.4\na,2,95,116.4\n", 3, "lat", "latitude outside"),
        ("a,1,39.9,116.4\n,2,39.9,116.4\n", 3, "taxi_id", "missing user"),
        ("a,1,39.9,116.4\na,2,39.9,\n", 3, "lon", "missing lon"),
        ("a,1,39.9,116.4\na,2,39.9,116.4,9\n", 3, None, "expected 4 fields, got 5"),
    ],
)
def test_a_bad_row_names_file_line_and_column(tmp_path, body, line, column, words):
    p = _csv(tmp_path, "taxi_id,time,lat,lon\n" + body)
    with pytest.raises(TraceFormatError) as err:
        read_table(p, TAXI)
    assert err.value.path == str(p) and err.value.line == line and err.value.column == column
    assert words in str(err.value)
    tr = read_table(p, TAXI, lenient=True)
    assert len(tr) == 1 and tr.attrs["read_report"]["bad_lines_skipped"] == 1
    assert f"line {line}" in tr.attrs["read_report"]["warnings"][0]


def test_lenient_counts_every_bad_row_and_keeps_line_numbers(tmp_path):
    p = _csv(tmp_path, "taxi_id,time,lat,lon\na,1,x,1\na,2,1,1,1\na,3,1,1\na,4,1,\na,zz,1,1\n")
    tr = read_table(p, TAXI, lenient=True)
    rep = tr.attrs["read_report"]
    assert tr["t"].tolist() == [3.0] and rep["bad_lines_skipped"] == 4 and rep["lines"] == 5
    lines = [int(re.search(r", line (\d+)", w).group(1)) for w in rep["warnings"]]
    assert sorted(lines) == [2, 3, 5, 6]


def test_line_numbers_count_blank_lines_and_stray_carriage_returns(tmp_path):
    p = tmp_path / "gaps.csv"
    p.write_bytes(b"user,t,lat,lon\r\n\r\na,1,1,1\rb,x,1,1\r\n\r\n\r\nc,1,1\n\n")
    with pytest.raises(TraceFormatError, match=r"gaps.csv, line 7: expected 4 fields, got 3"):
        read_table(p)
    warnings = read_table(p, lenient=True).attrs["read_report"]["warnings"]
    assert sorted(w.split(", line ")[1][0] for w in warnings) == ["4", "7"]


def test_text_that_is_not_utf8_is_a_bad_line(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes(b"user,t,lat,lon\na,1,1,1\nJos\xe9,2,1,1\n")
    with pytest.raises(TraceFormatError, match=r"latin1.csv, line 3: not UTF-8 text \(byte 0xe9\)"):
        read_table(p)
    tr = read_table(p, lenient=True)
    assert tr["user"].tolist() == ["a"] and tr.attrs["read_report"]["bad_lines_skipped"] == 1


def test_a_local_time_lost_to_daylight_saving_is_a_bad_row(tmp_path):
    p = _csv(tmp_path, "user,t,lat,lon\na,2021-03-28 01:59:00,1,1\na,2021-03-28 02:30:00,1,1\n")
    with pytest.raises(TraceFormatError, match=r"line 3, column t: .*does not exist or is ambiguous in "
                                               r"Europe/Berlin: '2021-03-28 02:30:00'"):
        read_table(p, timezone="Europe/Berlin")
    assert read_table(p, timezone="Europe/Berlin", lenient=True)["t"].tolist() == [1616893140.0]


def test_parquet_errors_name_the_row(tmp_path):
    p = tmp_path / "fixes.parquet"
    pq.write_table(pa.table({"user": ["a", "a"], "t": [1.0, None], "lat": [1.0, 2.0], "lon": [1.0, 2.0]}), p)
    with pytest.raises(TraceFormatError, match=r"fixes.parquet, column t: row 2: missing time"):
        read_table(p)


def test_parquet_with_a_column_of_the_wrong_type_or_damaged(tmp_path):
    p = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"user": [[1], [2]], "t": [1.0, 2.0], "lat": [1.0, 2.0], "lon": [1.0, 2.0]}), p)
    with pytest.raises(TraceFormatError, match=r"nested.parquet, column user: a list<element: int64> column"):
        read_table(p)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(p.read_bytes()[:60] + b"PAR1")
    with pytest.raises(TraceFormatError, match="not a readable Parquet file"):
        read_table(cut)


def test_mapping_and_file_errors(tmp_path):
    p = _csv(tmp_path, "id,time,lat,lon\na,1,1,1\n")
    with pytest.raises(TraceFormatError, match=r"line 1, column user: no column for user = 'taxi'"):
        read_table(p, {"user": "taxi", "t": "time", "lat": "lat", "lon": "lon"})
    with pytest.raises(DatasetError, match="'lat' and 'lon' go together"):
        parse_columns({"user": "id", "t": "time", "lat": "lat"})
    with pytest.raises(DatasetError, match="unknown role 'speed'"):
        parse_columns("user=id,t=time,speed=v")
    with pytest.raises(DatasetError, match="unknown time zone"):
        read_table(p, "user=id,t=time,lat=lat,lon=lon", timezone="Mars/Olympus")
    with pytest.raises(DatasetError, match="is geographic"):
        read_table(p, "user=id,t=time,x=lat,y=lon", crs="EPSG:4326")
    with pytest.raises(DatasetError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(TraceFormatError, match="empty"):
        read_table(_csv(tmp_path, "", "empty.csv"))


def test_load_dataset_projects_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))
    p = _csv(tmp_path, "taxi_id,time,lat,lon\na,0,39.90,116.40\na,30,39.901,116.401\na,60,39.902,116.402\n")
    reader = {"columns": TAXI}
    first = load_dataset("table", p, reader=reader)
    assert first.attrs["crs"] == "EPSG:32650" and np.isfinite(first["x"]).all()
    again = load_dataset("table", p, reader=reader)
    assert again.attrs["cache"]["hit"] and again["x"].tolist() == first["x"].tolist()
    res = load_dataset("table", p, reader=reader, interval_s=20)
    assert res["t"].tolist() == [0.0, 20.0, 40.0, 60.0]
    with pytest.raises(DatasetError, match="takes columns, crs, timezone, max_gap_s; got 'coords'"):
        load_dataset("table", p, reader={"coords": "xy"})
    with pytest.raises(DatasetError, match="give their path"):
        load_dataset("table")


# arbitrary CSV rows: any text in any cell, ragged rows, quotes; the reader returns Traces or one typed error
_CELL = st.one_of(
    st.sampled_from(["a", "7", "0", "1e3", "-91", "39.9", "116.4", "nan", "inf", "", " ", '"', '""', "x,y",
                     "2008-10-23 10:53:04", "2008-10-23T02:53:04Z", "2021-03-28 02:30:00", "1e999", "\r"]),
    st.text(max_size=8),
)
_ROW = st.lists(_CELL, min_size=0, max_size=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, max_size=12), zone=st.sampled_from([None, "Europe/Berlin"]))
def test_arbitrary_csv_rows_never_end_in_a_traceback(rows, zone):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["user", "t", "lat", "lon"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rows.csv"
        p.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
        for lenient in (False, True):
            try:
                tr = read_table(p, timezone=zone, lenient=lenient)
            except (TraceFormatError, DatasetError):
                continue
            validate_traces(tr)
            assert np.isfinite(tr["t"]).all() and tr["lat"].abs().le(90).all()


@pytest.mark.slow
def test_geolife_as_one_csv_gives_the_same_traces(shared_traces, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))
    geo = load_dataset("geolife", shared_traces)  # cached in tmp_path: the worlds below read it again
    cols = ["user", "traj", "t", "lat", "lon", "mode"]
    p = tmp_path / "geolife.csv"
    import pyarrow.csv as pacsv

    plain = {"user": str, "mode": object}
    pacsv.write_csv(pa.Table.from_pandas(geo[cols].astype(plain), preserve_index=False), p)
    tab = load_dataset("table", p, reader={"columns": {c: c for c in cols}})
    assert tab.attrs["crs"] == geo.attrs["crs"]
    for c in ("user", "traj", "t", "x", "y", "lat", "lon", "mode"):
        assert tab[c].astype(object).equals(geo[c].astype(object)), c
    digest = pd.util.hash_pandas_object(geo[[*cols, "x", "y"]], index=False)
    assert digest.equals(pd.util.hash_pandas_object(tab[[*cols, "x", "y"]], index=False))
    # the perdnn-geolife scenario on that CSV: the same replayed world (region, resampling, split, servers);
    # the full run's summary digest is compared by hand (README, "Your own data")
    from edgeroam.scenario import load_scenario, scenario_from_dict
    from edgeroam.world import load_world

    base = load_scenario("perdnn-geolife", [f"dataset.root={shared_traces}"])
    as_table = base.model_dump(mode="json")
    as_table["dataset"].update(kind="table", root=str(p), columns={c: c for c in cols})
    a = load_world(base)
    b = load_world(scenario_from_dict(as_table))
    assert (a.train_users, a.test_users) == (b.train_users, b.test_users)
    assert a.traces.astype(plain).equals(b.traces.astype(plain))
    assert a.topology.servers.equals(b.topology.servers)


def test_doctests_run():
    import doctest

    from edgeroam.datasets import table

    result = doctest.testmod(table)
    assert result.attempted >= 4 and result.failed == 0
