"""project: UTM zone choice and the lat/lon -> UTM -> lat/lon round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.project import project, unproject, utm_crs_for
from edgeroam.datasets.traces import make_traces
from edgeroam.errors import DatasetError


def _lonlat_traces(lon, lat) -> pd.DataFrame:
    n = len(lon)
    return make_traces(
        pd.DataFrame(
            {"user": ["a"] * n, "traj": [0] * n, "t": np.arange(n, dtype=float), "lat": lat, "lon": lon}
        )
    )


def test_zone_beijing_is_50n():
    assert utm_crs_for(116.39, 39.92) == "EPSG:32650"


def test_zone_southern_hemisphere():
    assert utm_crs_for(151.21, -33.87) == "EPSG:32756"  # Sydney, 56S
    assert utm_crs_for(-58.38, -34.60) == "EPSG:32721"  # Buenos Aires, 21S


def test_zone_uses_median_and_ignores_nan():
    lon = np.array([116.3, 116.4, np.nan, 116.5, 0.0])
    lat = np.array([39.9, 39.9, np.nan, 39.9, 39.9])
    assert utm_crs_for(lon, lat) == "EPSG:32650"
    with pytest.raises(DatasetError):
        utm_crs_for([np.nan], [np.nan])


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (np.linspace(116.30, 116.45, 50), np.linspace(39.85, 40.00, 50), "EPSG:32650"),
        (np.linspace(151.0, 151.3, 50), np.linspace(-34.0, -33.7, 50), "EPSG:32756"),
    ],
)
def test_round_trip_below_1e6_degrees(lon, lat, crs):
    tr = _lonlat_traces(lon, lat)
    p = project(tr)
    assert p.attrs["crs"] == crs and p.attrs["metric_frame"] == "utm"
    assert np.isfinite(p["x"]).all() and np.isfinite(p["y"]).all()
    if crs.endswith("56"):
        assert (p["y"] > 6e6).all()  # southern false northing
    back = unproject(p.assign(lat=np.nan, lon=np.nan))
    assert np.abs(back["lat"].to_numpy() - lat).max() < 1e-6
    assert np.abs(back["lon"].to_numpy() - lon).max() < 1e-6


def test_projected_distances_are_metres():
    # 0.01 degree of latitude is about 1111 m
    tr = _lonlat_traces([116.4, 116.4], [39.90, 39.91])
    p = project(tr)
    d = np.hypot(*np.diff(p[["x", "y"]].to_numpy(), axis=0)[0])
    assert 1105 < d < 1115


def test_nan_rows_stay_nan_and_input_is_not_mutated():
    tr = _lonlat_traces([116.4, np.nan, 116.41], [39.9, np.nan, 39.91])
    p = project(tr, crs="EPSG:32650")
    assert np.isnan(p["x"].iloc[1]) and np.isfinite(p["x"].iloc[[0, 2]]).all()
    assert tr["x"].isna().all()


def test_local_frame_is_left_alone_and_cannot_unproject():
    tr = make_traces(
        pd.DataFrame({"user": ["k"] * 2, "traj": [0, 0], "t": [0.0, 30.0], "x": [1.0, 2.0], "y": [3.0, 4.0]}),
        metric_frame="local",
    )
    p = project(tr)
    assert p["x"].tolist() == [1.0, 2.0] and p.attrs["metric_frame"] == "local"
    with pytest.raises(DatasetError, match="no CRS"):
        unproject(tr)


def test_lonlat_to_utm_is_bit_identical_to_the_pyproj_pipeline():
    from pyproj import Transformer

    from edgeroam.datasets.project import transformer

    rng = np.random.default_rng(1)
    for zone in range(1, 61):
        for north in (True, False):
            crs = f"EPSG:{(32600 if north else 32700) + zone}"
            mid = (zone - 1) * 6 - 177
            lon = np.r_[mid + rng.uniform(-9, 9, 2000), np.nan, np.inf, mid, mid + 3, mid - 3]
            lat = np.r_[rng.uniform(0, 84, 2000) * (1 if north else -1), 1.0, 1.0, 0.0, -0.0, 89.9]
            want = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
            got = transformer("EPSG:4326", crs).transform(lon, lat)
            for a, b in zip(want, got, strict=True):
                assert np.array_equal(a, b, equal_nan=True)
    assert transformer("EPSG:4326", "EPSG:32750").definition == "proj=utm zone=50 south ellps=WGS84"
    assert transformer("EPSG:32650", "EPSG:4326").definition.startswith("proj=pipeline")  # the rest: from_crs
