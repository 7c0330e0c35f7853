"""load: default root, dataset sources, and reader -> projection -> region -> resampling composition."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.datasets.load import dataset_sources, default_root, describe_dataset, load_dataset
from edgeroam.datasets.regions import KAIST_RECTANGLE
from edgeroam.errors import DatasetError


def test_default_root_env_and_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEROAM_DATA", str(tmp_path))
    assert default_root("geolife") == tmp_path
    monkeypatch.setenv("EDGEROAM_DATA", str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="does not exist"):
        default_root("kaist")
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        default_root("nope")


def test_sources_error_names_the_folder_and_the_fetch_command(tmp_path):
    with pytest.raises(DatasetError, match=r"no Geolife data under .*datasets fetch geolife"):
        dataset_sources("geolife", tmp_path)
    with pytest.raises(DatasetError, match="no kaist trace files"):
        dataset_sources("kaist", tmp_path)


def test_kaist_sources_find_site_files(tmp_path):
    site = tmp_path / "kaist" / "NCSU"
    site.mkdir(parents=True)
    (site / "NCSU_30sec_001.txt").write_text("0 1 2\r\n")
    (site / "KAIST_30sec_001.txt").write_text("0 1 2\r\n")
    src, files = dataset_sources("kaist", tmp_path, site="NCSU")
    assert src == tmp_path / "kaist" and [f.name for f in files] == ["NCSU_30sec_001.txt"]


def test_synthetic_region_and_resampling():
    full = load_dataset("synthetic", synthetic={"users": 4, "duration_s": 1200, "seed": 2})
    assert full["user"].nunique() == 4 and full.attrs["source"] == "synthetic-levy"
    half = load_dataset("synthetic", region="metric:0,0,750,2000", synthetic={"users": 4, "seed": 2})
    assert (half["x"] <= 750).all() and half.attrs["region"] == "metric:0,0,750,2000"
    res = load_dataset("synthetic", interval_s=60, synthetic={"users": 4, "duration_s": 1200, "seed": 2})
    assert np.all(res["t"] % 60 == 0) and len(res) == 4 * 21


def test_describe_synthetic_has_region_and_resampled_speed():
    info, traces, reg = describe_dataset("synthetic", synthetic={"users": 3, "duration_s": 600})
    assert reg.name == "synthetic" and info["points_in_region"] == info["points"] == len(traces)
    assert info["speed_resampled_in_region"]["interval_s"] == 30.0
    assert info["dataset"] == "synthetic"


def test_kaist_default_region_is_derived_from_the_data(shared_traces):
    tr = load_dataset("kaist", shared_traces, region="default", cache=False)
    assert len(tr) == 120_700 and tr["user"].nunique() == 92
    assert tr["x"].between(KAIST_RECTANGLE[0], KAIST_RECTANGLE[2]).all()
    res = load_dataset("kaist", shared_traces, region="perdnn-kaist", interval_s=30)
    same = (np.diff(res["traj"]) == 0) & (np.diff(res["user"].cat.codes) == 0)
    assert (np.diff(res["t"])[same] == 30).all()
    assert res["traj"].max() > 0  # leaving the rectangle ended trajectories


@pytest.mark.slow
def test_geolife_projected_region_and_resampled(shared_traces):
    tr = load_dataset("geolife", shared_traces, region="perdnn-geolife")
    assert len(tr) == 822_603 and tr.attrs["crs"] == "EPSG:32650"
    assert tr["x"].between(440_000, 460_000).all() and tr["y"].between(4_415_000, 4_425_000).all()
    res = load_dataset("geolife", shared_traces, region="perdnn-geolife", interval_s=20)
    assert (res["t"] % 20 == 0).all() and res["user"].nunique() <= 121
    assert res.attrs["resample"] == {"interval_s": 20.0, "max_gap_s": 60.0, "region": "perdnn-geolife"}


def _traces_hash(df) -> str:
    """A hash of a Traces table: column names, dtypes and every value (not the index)."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256(repr([(c, str(t)) for c, t in df.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def test_the_loaded_table_is_cached_whole_and_identical(shared_traces, tmp_path, monkeypatch):
    from edgeroam.datasets.regions import get_region

    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path))
    opts = {"region": "perdnn-kaist", "interval_s": 30, "max_gap_s": 90}
    ref = load_dataset("kaist", shared_traces, cache=False, **opts)
    assert _traces_hash(ref) == "7607425740f1a445"  # the shared KAIST selection, pinned
    miss = load_dataset("kaist", shared_traces, **opts)
    hit = load_dataset("kaist", shared_traces, **opts)
    assert miss.attrs["cache"]["hit"] is False and hit.attrs["cache"]["hit"] is True
    assert "kaist-loaded-" in hit.attrs["cache"]["path"]
    for df in (miss, hit):
        assert _traces_hash(df) == _traces_hash(ref)
        assert {k: v for k, v in df.attrs.items() if k != "cache"} == {
            k: v for k, v in ref.attrs.items() if k != "cache"
        }
    same = load_dataset("kaist", shared_traces, region="perdnn-kaist", interval_s=30.0, max_gap_s=90.0)
    assert same.attrs["cache"]["hit"] is True  # 30 and 30.0 give one table, so one entry
    # every option that shapes the table keys it: another gap, or a Region object, is a new entry
    other = load_dataset("kaist", shared_traces, **{**opts, "max_gap_s": 60})
    assert other.attrs["cache"]["hit"] is False
    box = get_region("metric:-1100,-700,0,1300")
    cut = load_dataset("kaist", shared_traces, region=box, interval_s=30)
    assert cut.attrs["cache"]["hit"] is False and (cut["x"] <= 0).all()
    assert load_dataset("kaist", shared_traces, region=box, interval_s=30).attrs["cache"]["hit"] is True


@pytest.mark.slow
def test_geolife_shared_selection_hash_is_pinned(shared_traces, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path))
    opts = {"region": "perdnn-geolife", "interval_s": 20, "max_gap_s": 60}
    ref = load_dataset("geolife", shared_traces, cache=False, **opts)
    assert len(ref) == 118_843 and _traces_hash(ref) == "0f8e4df8f44b677d"
    load_dataset("geolife", shared_traces, **opts)
    hit = load_dataset("geolife", shared_traces, **opts)
    assert hit.attrs["cache"]["hit"] is True and _traces_hash(hit) == "0f8e4df8f44b677d"


def test_describe_stores_its_info_and_a_warm_call_reads_only_that(shared_traces, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path))
    info, traces, reg = describe_dataset("kaist", shared_traces, region="perdnn-kaist")
    assert traces is not None and reg is not None and len(list(tmp_path.glob("kaist-info-*.json"))) == 1
    steps = []
    warm, none, no_reg = describe_dataset("kaist", shared_traces, region="perdnn-kaist", traces_needed=False,
                                          progress=lambda step, done, total: steps.append(step))
    assert warm == info and none is None and no_reg is None and steps == ["done"]
    # another region is another entry; traces_needed (the default) always loads the table
    box = "metric:-1100,-700,0,1300"
    other, _, _ = describe_dataset("kaist", shared_traces, region=box, traces_needed=False)
    assert other["points_in_region"] < info["points_in_region"]
    again, traces2, _ = describe_dataset("kaist", shared_traces, region="perdnn-kaist")
    assert again == info and traces2 is not None


@pytest.mark.parametrize("interval_s", [None, 20.0])
def test_a_lonlat_region_cut_before_projecting_gives_the_whole_tables_result(tmp_path, interval_s):
    import pandas as pd

    from edgeroam.datasets.regions import filter_region, get_region
    from edgeroam.datasets.resample import resample

    rng = np.random.default_rng(3)
    parts = []
    for user in ("a", "b"):  # random walks in and out of a 400 m box, with a long gap halfway
        t = np.cumsum(rng.integers(1, 30, 600)).astype(float)
        t[300:] += 500.0
        lat = 39.92 + np.cumsum(rng.normal(0, 2e-4, 600))
        lon = 116.40 + np.cumsum(rng.normal(0, 2e-4, 600))
        parts.append(pd.DataFrame({"user": user, "t": t, "lat": lat, "lon": lon}))
    path = tmp_path / "walks.csv"
    pd.concat(parts).to_csv(path, index=False)
    box = "lonlat:116.398,39.918,116.402,39.922"
    whole = load_dataset("table", path, cache=False)  # every row projected
    reg = get_region(box)
    if interval_s is None:
        want = filter_region(whole, reg)
    else:
        want = resample(whole, 20.0, max_gap_s=60, region=reg)
    got = load_dataset("table", path, region=box, interval_s=interval_s, cache=False)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs
    if interval_s is not None:  # the walks left and re-entered the box: several trajectories per user
        assert got["traj"].max() >= 3


@pytest.mark.parametrize("kind", ["kaist", "synthetic"])
def test_describe_without_the_table_gives_the_same_info(shared_traces, kind):
    root = shared_traces if kind == "kaist" else None
    opts = {"synthetic": {"users": 4, "duration_s": 900}} if kind == "synthetic" else {}
    ref, traces, _ = describe_dataset(kind, root, cache=False, **opts)
    lean, none, _ = describe_dataset(kind, root, cache=False, traces_needed=False, **opts)
    assert lean == ref and traces is not None and none is None


_PLT_HEADER = ("Geolife trajectory\r\nWGS 84\r\nAltitude is in Feet\r\nReserved 3\r\n"
               "0,2,255,My Track,0,0,2,8421376\r\n0\r\n")


def _walks_zip(path):
    """80 random walks around Beijing's centre (4 users), one file going back in time once."""
    import zipfile

    rng = np.random.default_rng(3)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(80):
            t = (1230768000 + 3600 * i + np.cumsum(rng.integers(1, 40, 120))).astype("datetime64[s]")
            if i == 33:
                t[[5, 6]] = t[[6, 5]]
            lat = 39.91 + np.cumsum(rng.normal(0, 3e-4, 120))
            lon = 116.38 + np.cumsum(rng.normal(0, 3e-4, 120))
            when = np.char.replace(t.astype(str), "T", ",")
            rows = zip(lat, lon, when, strict=True)
            body = "".join(f"{a:.6f},{o:.6f},0,492,39744.1,{w}\r\n" for a, o, w in rows)
            name = f"Geolife Trajectories 1.3/Data/{i // 20:03d}/Trajectory/2009{i:010d}.plt"
            zf.writestr(name, _PLT_HEADER + body)
    return path


@pytest.mark.parametrize("region", ["default", "lonlat:116.36,39.90,116.40,39.93", None,
                                    "metric:443000,4417000,447000,4420000"])
def test_describe_geolife_from_columns_gives_the_same_info(tmp_path, region):
    # without the table, a cold Geolife describe reads `TraceColumns` (no pandas); with it, the DataFrame
    path = _walks_zip(tmp_path / "g.zip")
    ref, traces, _ = describe_dataset("geolife", path, cache=False, region=region)
    lean, none, _ = describe_dataset("geolife", path, cache=False, region=region, traces_needed=False)
    assert lean == ref and traces is not None and none is None
    assert ref["read"]["times_backwards"] == 1
    if region is not None:
        assert 0 < ref["points_in_region"] < ref["points"] and ref["speed_resampled_in_region"]["points"] > 0


def test_statistics_columns_hand_over_lat_lon_memory_of_their_own_only():
    import numpy as np
    import pandas as pd

    from edgeroam.datasets.load import _statistics_columns
    from edgeroam.datasets.traces import make_traces

    df = pd.DataFrame({"user": ["a"] * 4, "traj": np.zeros(4, np.int32), "t": np.arange(4.0),
                       "x": np.ones(4), "y": np.ones(4), "lat": np.full(4, 39.0), "lon": np.full(4, 116.0)},
                      copy=False)  # each column its own array, as a reader builds them
    lean, spare = _statistics_columns(make_traces(df, metric_frame="local"))
    assert spare is not None and all(s.flags.writeable and len(s) == 4 for s in spare)
    assert lean["lat"].isna().all() and not np.may_share_memory(spare[0], spare[1])
    # lat/lon missing: make_traces fills both from one NaN array, which is no one's to overwrite
    _, shared = _statistics_columns(make_traces(df.drop(columns=["lat", "lon"]), metric_frame="local"))
    assert shared is None
