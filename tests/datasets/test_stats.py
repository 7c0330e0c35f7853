"""stats: counts, intervals and mean speeds on a tiny table worked out by hand; real-data speeds (slow)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.stats import dataset_info, step_table
from edgeroam.datasets.traces import make_traces


@pytest.fixture
def tiny() -> pd.DataFrame:
    rows = [
        # user a, traj 0: 30 m in 10 s, then still for 10 s
        ("a", 0, 0.0, 0.0),
        ("a", 0, 10.0, 30.0),
        ("a", 0, 20.0, 30.0),
        # user a, traj 1: 100 m in 100 s (gap 100 s <= 120 s: a step)
        ("a", 1, 1000.0, 0.0),
        ("a", 1, 1100.0, 100.0),
        # user b: a 200 s gap (not a step), then 20 m in 10 s
        ("b", 0, 0.0, 0.0),
        ("b", 0, 200.0, 500.0),
        ("b", 0, 210.0, 520.0),
    ]
    df = pd.DataFrame(rows, columns=["user", "traj", "t", "x"]).assign(y=0.0)
    return make_traces(df, metric_frame="local", source="tiny")


def test_counts_span_and_interval(tiny):
    info = dataset_info(tiny)
    assert (info["users"], info["trajectories"], info["points"]) == (2, 3, 8)
    assert info["span_s"] == 1100.0 and info["t_start"] == 0.0 and info["t_end"] == 1100.0
    assert not info["time_is_absolute"]
    assert info["median_interval_s"] == 10.0  # intervals 10, 10, 100, 200, 10
    assert info["region"] is None and info["points_in_region"] is None
    assert info["perdnn_mean_speed_mps"] is None


def test_mean_speeds_by_hand(tiny):
    s = dataset_info(tiny)["speed"]
    assert s["steps"] == 4
    assert s["mean_speed_mps"] == pytest.approx(150 / 130)  # (30 + 0 + 100 + 20) m / (10 + 10 + 100 + 10) s
    assert s["moving_speed_mps"] == pytest.approx(150 / 120)
    assert s["stationary_share"] == pytest.approx(10 / 130)
    assert s["user_mean_speed_mps"] == pytest.approx((130 / 120 + 20 / 10) / 2)
    assert s["hours"] == pytest.approx(130 / 3600)
    # a longer gap limit lets b's 500 m in 200 s count
    s2 = dataset_info(tiny, max_gap_s=300)["speed"]
    assert s2["mean_speed_mps"] == pytest.approx(650 / 330)


def test_region_counts_and_speed(tiny):
    info = dataset_info(tiny, "metric:0,-1,40,1", kind="kaist")
    assert info["points_in_region"] == 5 and info["users_in_region"] == 2
    assert info["region"]["bounds"] == [0.0, -1.0, 40.0, 1.0]
    # only a's first two steps have both ends inside: 30 m in 20 s
    assert info["mean_speed_region_mps"] == pytest.approx(1.5)
    assert info["perdnn_mean_speed_mps"] == 0.5
    assert "120 s" in info["speed_definition"]


def test_haversine_when_not_projected_and_absolute_times():
    df = pd.DataFrame(
        {"user": "g", "traj": 0, "t": [1.2e9, 1.2e9 + 60], "lat": [39.90, 39.91], "lon": [116.4, 116.4]}
    )
    info = dataset_info(make_traces(df))
    metres = 6_371_008.8 * math.radians(0.01)
    assert info["mean_speed_mps"] == pytest.approx(metres / 60, rel=1e-9)
    assert info["time_is_absolute"] and info["t_start"] == "2008-01-10 21:20:00"


def test_step_table_and_empty():
    df = make_traces(pd.DataFrame({"user": ["a"], "traj": [0], "t": [0.0], "x": [0.0], "y": [0.0]}))
    assert len(step_table(df)) == 0
    info = dataset_info(df)
    assert info["median_interval_s"] is None and info["mean_speed_mps"] is None


@pytest.mark.slow
def test_mean_speeds_in_both_perdnn_regions(shared_traces):
    from edgeroam.datasets.load import describe_dataset

    got = {}
    for kind in ("kaist", "geolife"):
        info, _, _ = describe_dataset(kind, shared_traces)
        got[kind] = info
        sr, rs = info["speed_in_region"], info["speed_resampled_in_region"]
        print(
            f"{kind}: mean speed all {info['mean_speed_mps']:.3f} m/s, "
            f"in region {info['mean_speed_region_mps']:.3f} m/s, per-user {sr['user_mean_speed_mps']:.3f}, "
            f"resampled {rs['mean_speed_mps']:.3f}; PerDNN {info['perdnn_mean_speed_mps']}"
        )
    k, g = got["kaist"], got["geolife"]
    assert k["points_in_region"] == 120_700 and g["points_in_region"] == 822_603
    assert 0.3 < k["mean_speed_region_mps"] < 0.7  # PerDNN ~0.5 m/s
    assert 2.5 < g["mean_speed_region_mps"] < 5.0  # PerDNN ~3.9 m/s
    assert k["median_interval_s"] == 30.0 and g["median_interval_s"] <= 5.0
    assert np.isfinite(g["speed_resampled_in_region"]["mean_speed_mps"])


def test_user_sums_in_chunks_between_users_are_bincounts_sums():
    from edgeroam.datasets.stats import _CHUNK, _user_sums

    rng = np.random.default_rng(5)
    users = np.sort(rng.integers(0, 40, 3 * _CHUNK + 17)).astype(np.int8)
    users[: _CHUNK + 5] = 3  # one user across a chunk's end
    dt, dist = rng.random(len(users)) * 30, rng.random(len(users)) * 1e3
    dist[users == 39] = -0.0  # bincount's sum is +0.0 (from zero), a cumulative sum's -0.0
    dist[np.flatnonzero(users == 3)[:50]] = -0.0  # leading -0.0 of a user with other steps
    ut, ud = _user_sums(users, dt, dist)
    assert ut.tobytes() == np.bincount(users, weights=dt).tobytes()  # bit for bit, zero signs too
    assert ud.tobytes() == np.bincount(users, weights=dist).tobytes()
    shuffled = rng.permutation(users)  # not sorted: one bincount over all
    assert np.array_equal(_user_sums(shuffled, dt, dist)[0], np.bincount(shuffled, weights=dt))


def test_given_region_rows_and_nan_lat_lon_give_the_same_info(tiny):
    from edgeroam.datasets.regions import get_region, region_mask

    reg = get_region("metric:0,0,60,10")
    ref = dataset_info(tiny, reg)
    lean = tiny.assign(lat=np.nan, lon=np.nan)  # x, y filled everywhere: lat/lon are not read
    assert dataset_info(lean, reg, inside=region_mask(tiny, reg)) == ref


def test_steps_written_into_spare_memory_give_the_same_info(tiny):
    from edgeroam.datasets.regions import get_region

    reg = get_region("metric:0,0,60,10")
    ref = dataset_info(tiny, reg)
    n = len(tiny)
    spare = (np.full(n, 7.0), np.full(n, -3.0))  # what was there does not matter
    assert dataset_info(tiny, reg, spare=spare) == ref
    assert not np.array_equal(spare[0], np.full(n, 7.0))  # used, not copied
    assert dataset_info(tiny, reg, spare=(np.zeros(1), np.zeros(1))) == ref  # too short: new arrays


def test_users_are_counted_alike_sorted_or_not():
    from edgeroam.datasets.stats import _count_users

    rng = np.random.default_rng(0)
    for _ in range(300):
        codes = rng.integers(-1, 6, int(rng.integers(0, 50))).astype(np.int8)
        for c in (codes, np.sort(codes), np.sort(codes[codes >= 0])):
            assert _count_users(c, 6) == len(set(c[c >= 0].tolist()))


def test_counts_at_the_trajectory_breaks_are_the_counts_over_every_row():
    from edgeroam.datasets.stats import _breaks, _count_trajectories, _count_users

    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(0, 60))
        codes = rng.integers(-1, 5, n).astype(np.int8)
        traj = rng.integers(0, 4, n).astype(np.int32)
        order = np.lexsort((traj, codes))
        for c, tr in ((codes, traj), (codes[order], traj[order]), (np.abs(codes[order]), traj[order])):
            same = (c[1:] == c[:-1]) & (tr[1:] == tr[:-1])
            pairs = {(int(u), int(t)) for u, t in zip(c, tr, strict=True) if u >= 0}
            assert _count_trajectories(c, tr, _breaks(same)) == _count_trajectories(c, tr) == len(pairs)
            assert _count_users(c, 5, _breaks(same)) == _count_users(c, 5) == len({u for u, _ in pairs})


def test_the_median_without_a_sorted_copy_is_numpys():
    from edgeroam.datasets.stats import _median

    rng = np.random.default_rng(5)
    for trial in range(2000):
        n = int(rng.integers(1, 3000))
        v = [rng.uniform(0, 10, n), rng.integers(0, 4, n).astype(float), np.round(rng.exponential(3, n), 1),
             np.r_[rng.uniform(0, 1, n // 2), np.full(n - n // 2, 2.0)],
             rng.choice([1.0, 2.0, 5.0, np.nan] if trial % 2 else [1.0, 2.0, 5.0], n)][trial % 5]
        with np.errstate(all="ignore"):
            want, got = float(np.median(v)), _median(v)
        assert got == want or (math.isnan(got) and math.isnan(want))


def test_compacting_in_place_keeps_the_masked_values_in_order():
    from edgeroam.datasets.stats import _compact

    rng = np.random.default_rng(8)
    for n in (0, 5, 300_001):  # small: one thread; large: the first array on a second one
        mask = rng.uniform(size=n) < 0.9
        arrays = [rng.uniform(size=n), rng.uniform(size=n), rng.integers(0, 9, n).astype(np.int8)]
        want = [a[mask].copy() for a in arrays]
        k = _compact(mask, *arrays)
        assert k == int(mask.sum())
        assert all(a[:k].tolist() == w.tolist() for a, w in zip(arrays, want, strict=True))
