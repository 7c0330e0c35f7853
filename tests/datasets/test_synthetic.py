"""synthetic: seeded Levy walk and random waypoint traces with plausible walking speeds."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.datasets.project import unproject
from edgeroam.datasets.synthetic import _truncated_power, synthetic_traces
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError


def _speeds(df):
    same = df["user"].to_numpy()[1:] == df["user"].to_numpy()[:-1]
    d = np.hypot(np.diff(df["x"]), np.diff(df["y"]))[same]
    return d / np.diff(df["t"])[same]


@pytest.mark.parametrize("kind", ["levy", "rwp"])
def test_seeded_identical_and_seeds_differ(kind):
    a = synthetic_traces(kind, users=5, duration_s=1800, seed=3)
    b = synthetic_traces(kind, users=5, duration_s=1800, seed=3)
    c = synthetic_traces(kind, users=5, duration_s=1800, seed=4)
    assert a.equals(b)
    assert not np.allclose(a["x"], c["x"])


@pytest.mark.parametrize("kind", ["levy", "rwp"])
def test_shape_area_and_plausible_speeds(kind):
    df = synthetic_traces(kind, users=20, duration_s=3600, interval_s=30, seed=0)
    validate_traces(df)
    assert len(df) == 20 * 121 and df["user"].nunique() == 20
    assert df["t"].min() == 0.0 and df["t"].max() == 3600.0
    assert df["x"].between(0, 1500).all() and df["y"].between(0, 2000).all()
    v = _speeds(df)
    assert v.max() <= 1.5 + 1e-9  # never faster than the fastest walker
    if kind == "levy":
        assert 0.1 < v.mean() < 0.8  # pauses dominate, like KAIST's ~0.5 m/s
        assert (v < 0.01).mean() > 0.3  # many stationary samples
    else:
        assert 0.5 < v.mean() < 1.3


def test_lat_lon_match_the_declared_crs():
    df = synthetic_traces(users=3, duration_s=600, seed=1)
    assert df.attrs["metric_frame"] == "local" and "+proj=aeqd" in df.attrs["crs"]
    assert df["lat"].between(36.35, 36.40).all() and df["lon"].between(127.34, 127.38).all()
    back = unproject(df.assign(lat=np.nan, lon=np.nan))
    assert np.allclose(back["lat"], df["lat"], atol=1e-9)


def test_truncated_power_law_bounds_and_tail():
    rng = np.random.default_rng(0)
    v = _truncated_power(rng, 1.6, 30.0, 1500.0, 200_000)
    assert v.min() >= 30.0 and v.max() <= 1500.0
    # survival at 2x the minimum of a Pareto(1.6) is 2^-1.6 = 0.33 (truncation changes it little)
    assert abs((v > 60).mean() - (2**-1.6 - (30 / 1500) ** 1.6) / (1 - (30 / 1500) ** 1.6)) < 0.005


def test_bad_arguments():
    with pytest.raises(DatasetError, match="kind"):
        synthetic_traces("teleport")
    with pytest.raises(DatasetError, match="users"):
        synthetic_traces(users=0)
