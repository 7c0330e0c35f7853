"""The Traces table: construction, validation and the GeoDataFrame view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.traces import (
    OPTIONAL_COLUMNS,
    TRACE_COLUMNS,
    make_traces,
    to_geodataframe,
    validate_traces,
)
from edgeroam.errors import DatasetError


def _raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": ["b", "a", "a", "b", "a"],
            "traj": [0, 1, 0, 0, 0],
            "t": [5.0, 1.0, 3.0, 4.0, 2.0],
            "lat": [39.91, 39.90, 39.92, 39.93, 39.94],
            "lon": [116.36, 116.37, 116.38, 116.39, 116.40],
            "extra": [1, 2, 3, 4, 5],
        }
    )


def test_make_traces_sorts_types_and_sets_attrs():
    tr = make_traces(_raw(), source="unit", crs=None, metric_frame=None)
    assert list(tr.columns) == list(TRACE_COLUMNS)
    assert tr["user"].tolist() == ["a", "a", "a", "b", "b"]
    assert tr["traj"].tolist() == [0, 0, 1, 0, 0]
    assert tr["t"].tolist() == [2.0, 3.0, 1.0, 4.0, 5.0]
    assert tr["traj"].dtype == np.int32 and tr["t"].dtype == np.float64
    assert isinstance(tr["user"].dtype, pd.CategoricalDtype)
    assert np.isnan(tr["x"]).all() and np.isnan(tr["y"]).all()
    assert tr.attrs["source"] == "unit" and tr.attrs["crs"] is None and tr.attrs["metric_frame"] is None
    assert tr.attrs["read_report"]["bad_lines_skipped"] == 0
    validate_traces(tr)


def test_make_traces_checks_the_order_unless_the_caller_built_it_sorted():
    df = pd.DataFrame({"user": ["a", "a", "b"], "traj": [0, 0, 0], "t": [2.0, 1.0, 0.5]})
    assert make_traces(df)["t"].tolist() == [1.0, 2.0, 0.5]
    # presorted: the caller's word (a reader that saw no time go backwards), the rows kept as given
    assert make_traces(df, presorted=True)["t"].tolist() == [2.0, 1.0, 0.5]


def test_make_traces_takes_the_callers_nan_column_for_x_and_y():
    df = pd.DataFrame({"user": ["a", "a", "b"], "traj": [0, 0, 0], "t": [1.0, 2.0, 0.5]})
    nan = np.full(3, np.nan)
    tr = make_traces(df, presorted=True, nan=nan)
    assert np.shares_memory(tr["x"].to_numpy(), nan) and np.shares_memory(tr["y"].to_numpy(), nan)
    tr.loc[0, "x"] = 5.0  # copy-on-write: the shared column is copied, never written for both
    assert tr["x"].tolist()[0] == 5.0 and np.isnan(tr["y"]).all() and np.isnan(nan).all()


def test_make_traces_keeps_mode_as_category():
    raw = _raw()
    raw["mode"] = ["walk", "bus", None, "walk", "car"]
    tr = make_traces(raw)
    assert "mode" in OPTIONAL_COLUMNS and isinstance(tr["mode"].dtype, pd.CategoricalDtype)
    modes = [None if pd.isna(m) else m for m in tr["mode"].tolist()]
    assert modes == ["car", None, "bus", "walk", "walk"]


def test_make_traces_rejects_bad_frame_and_missing_columns():
    with pytest.raises(DatasetError, match="metric_frame"):
        make_traces(_raw(), metric_frame="polar")
    with pytest.raises(DatasetError, match="'t'"):
        make_traces(_raw().drop(columns="t"))


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (lambda d: d.drop(columns="lon"), "lon"),
        (lambda d: d.assign(traj=d["traj"].astype(np.int64)), "traj"),
        (lambda d: d.assign(user=d["user"].astype(str)), "user"),
        (lambda d: d.assign(t=d["t"].astype(np.float32)), "t"),
        (lambda d: d.iloc[::-1], "t"),
        (lambda d: d.assign(t=np.where(np.arange(len(d)) == 0, np.nan, d["t"])), "t"),
    ],
)
def test_validate_traces_names_the_column(mutate, column):
    tr = make_traces(_raw())
    bad = mutate(tr)
    bad.attrs = dict(tr.attrs)
    with pytest.raises(DatasetError, match=f"'{column}'"):
        validate_traces(bad)


def test_to_geodataframe_lonlat_metric_and_local():
    tr = make_traces(_raw(), source="unit")
    gdf = to_geodataframe(tr)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.x.iloc[0] == pytest.approx(tr["lon"].iloc[0])

    utm = tr.copy()
    utm["x"] = np.arange(len(utm), dtype=float) * 10.0
    utm["y"] = np.arange(len(utm), dtype=float) * 20.0
    utm.attrs = dict(tr.attrs, crs="EPSG:32650", metric_frame="utm")
    g2 = to_geodataframe(utm)
    assert g2.crs.to_epsg() == 32650
    assert g2.geometry.y.tolist() == utm["y"].tolist()

    local = make_traces(
        pd.DataFrame(
            {"user": ["u"] * 3, "traj": 0, "t": [0.0, 30.0, 60.0], "x": [1.0, 2, 3], "y": [4.0, 5, 6]}
        ),
        metric_frame="local",
        source="kaist-like",
    )
    with pytest.warns(UserWarning, match="no known CRS"):
        g3 = to_geodataframe(local)
    assert g3.crs is None and g3.geometry.x.tolist() == [1.0, 2.0, 3.0]


def test_make_traces_accepts_a_repeated_index():
    df = pd.DataFrame(
        {"user": ["b", "a"], "traj": [0, 0], "t": [1.0, 2.0], "x": [0.0, 1.0], "y": [0.0, 1.0],
         "mode": ["walk", "bus"]},
        index=[0, 0],
    )
    out = make_traces(df)
    assert list(out["user"].astype(str)) == ["a", "b"]
    assert list(out["mode"].astype(str)) == ["bus", "walk"]


@pytest.mark.parametrize("index", [None, [3, 3, 7]])
def test_a_traces_table_takes_writes_and_leaves_the_callers_frame_as_it_was(index):
    df = pd.DataFrame({"user": ["a", "a", "b"], "traj": [0, 0, 0], "t": [1.0, 2.0, 3.0],
                       "lat": [39.9, 39.91, 39.92], "lon": [116.3, 116.31, 116.32]}, index=index)
    tr = make_traces(df, presorted=True)  # rows kept as given: the columns share the caller's memory
    assert np.shares_memory(tr["t"].to_numpy(), df["t"].to_numpy())
    tr.loc[0, "t"] = 0.5  # copy-on-write copies the shared column, where a read-only one would refuse
    tr.loc[1, ["lat", "traj"]] = [40.0, 4]
    assert tr["t"].tolist() == [0.5, 2.0, 3.0]
    assert tr["lat"].tolist()[1] == 40.0 and tr["traj"].tolist()[1] == 4
    assert df["t"].tolist() == [1.0, 2.0, 3.0]
    assert df["lat"].tolist()[1] == 39.91 and df["traj"].tolist()[1] == 0
