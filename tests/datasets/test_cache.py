"""Parquet cache: hits, invalidation by size/mtime/options, attrs round trip, bypass and recovery."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from edgeroam.datasets.cache import cache_key, cached_read
from edgeroam.datasets.kaist import read_kaist
from edgeroam.datasets.traces import make_traces, validate_traces


class Builder:
    """Counts how often the cache had to build the table."""

    def __init__(self, source: Path):
        self.source = source
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        n = len(self.source.read_bytes())
        df = pd.DataFrame(
            {
                "user": ["a", "b"] * n,
                "traj": 0,
                "t": np.arange(2 * n, dtype=float),
                "mode": ["walk", None] * n,
            }
        )
        return make_traces(
            df,
            source=str(self.source),
            crs="EPSG:32650",
            metric_frame="utm",
            read_report={
                "files": 1,
                "lines": n,
                "bad_lines_skipped": 0,
                "files_skipped": 0,
                "warnings": ["w"],
            },
        )


def _read(builder: Builder, tmp_path: Path, **options) -> pd.DataFrame:
    return cached_read("unit", [builder.source], options, builder, cache_dir=tmp_path / "cache")


def test_second_read_hits_and_keeps_attrs_and_dtypes(tmp_path):
    src = tmp_path / "data.txt"
    src.write_bytes(b"abc")
    b = Builder(src)
    first = _read(b, tmp_path, lenient=False)
    second = _read(b, tmp_path, lenient=False)
    assert b.calls == 1
    assert first.attrs["cache"]["hit"] is False and second.attrs["cache"]["hit"] is True
    assert Path(second.attrs["cache"]["path"]).exists()
    strip = {k: v for k, v in first.attrs.items() if k != "cache"}
    assert {k: v for k, v in second.attrs.items() if k != "cache"} == strip
    assert second.attrs["crs"] == "EPSG:32650" and second.attrs["read_report"]["warnings"] == ["w"]
    validate_traces(second)
    assert second.dtypes.to_dict() == first.dtypes.to_dict()
    assert second["user"].tolist() == first["user"].tolist()
    assert second["mode"].isna().tolist() == first["mode"].isna().tolist()
    np.testing.assert_array_equal(second["t"].to_numpy(), first["t"].to_numpy())
    assert not list((tmp_path / "cache").glob("*.tmp"))  # atomic write leaves no temporary behind


def test_changes_invalidate(tmp_path):
    src = tmp_path / "data.txt"
    src.write_bytes(b"abc")
    b = Builder(src)
    _read(b, tmp_path)
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # mtime
    assert _read(b, tmp_path).attrs["cache"]["hit"] is False and b.calls == 2
    src.write_bytes(b"abcd")  # size (and content)
    df = _read(b, tmp_path)
    assert b.calls == 3 and len(df) == 8
    _read(b, tmp_path, lenient=True)  # options
    assert b.calls == 4
    _read(b, tmp_path, lenient=True)
    assert b.calls == 4
    cached_read("unit", [src], {}, b, cache_dir=tmp_path / "cache", enabled=False)  # bypass
    assert b.calls == 5


def test_folder_sources_and_missing_sources(tmp_path):
    folder = tmp_path / "traces"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_bytes(b"1")
    k1 = cache_key("unit", [folder], {})
    (folder / "sub" / "b.txt").write_bytes(b"2")
    k2 = cache_key("unit", [folder], {})
    assert k1 != k2 and k2 == cache_key("unit", [folder], {})
    assert cache_key("unit", [tmp_path / "missing"], {}) is None
    b = Builder(folder / "sub" / "a.txt")
    df = cached_read("unit", [tmp_path / "missing"], {}, b, cache_dir=tmp_path / "cache")
    assert b.calls == 1 and "cache" not in df.attrs  # nothing keyed, nothing cached


def test_corrupt_entry_is_rebuilt(tmp_path):
    src = tmp_path / "data.txt"
    src.write_bytes(b"abc")
    b = Builder(src)
    path = Path(_read(b, tmp_path).attrs["cache"]["path"])
    path.write_bytes(b"not parquet")
    again = _read(b, tmp_path)
    assert b.calls == 2 and again.attrs["cache"]["hit"] is False
    assert _read(b, tmp_path).attrs["cache"]["hit"] is True


def test_real_kaist_round_trip(shared_traces, tmp_path):
    root = shared_traces / "kaist" / "KAIST"
    calls = []

    def build():
        calls.append(1)
        return read_kaist(root)

    first = cached_read("kaist", [root], {"site": "KAIST"}, build, cache_dir=tmp_path)
    second = cached_read("kaist", [root], {"site": "KAIST"}, build, cache_dir=tmp_path)
    assert len(calls) == 1 and second.attrs["cache"]["hit"]
    validate_traces(second)
    assert second.attrs["metric_frame"] == "local" and second.attrs["read_report"]["lines"] == 135_055
    for col in ("t", "x", "y"):
        np.testing.assert_array_equal(second[col].to_numpy(), first[col].to_numpy())
    assert second["user"].cat.categories.tolist() == first["user"].cat.categories.tolist()


def test_all_missing_category_column_stays_category(tmp_path):
    # issue 17.1: a category column with no value (Geolife without labels.txt) came back as object
    src = tmp_path / "data.txt"
    src.write_bytes(b"ab")

    def build() -> pd.DataFrame:
        df = pd.DataFrame({"user": ["a", "b"], "traj": 0, "t": [0.0, 1.0],
                           "mode": pd.Categorical([None, None], categories=[])})
        return make_traces(df, source=str(src))

    for _ in range(2):
        df = cached_read("unit", [src], {}, build, cache_dir=tmp_path / "cache")
        validate_traces(df)
        assert isinstance(df["mode"].dtype, pd.CategoricalDtype) and df["mode"].isna().all()
    assert df.attrs["cache"]["hit"] is True


def test_geolife_without_labels_loads_twice_from_the_cache(tmp_path, monkeypatch):
    # issue 17.1 end to end: `load_dataset` (and `datasets info`) twice on a Geolife zip with no labels.txt
    from edgeroam.datasets import geolife, load_dataset
    from tests.datasets.test_geolife import small_dataset, write_zip

    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))
    reads = []
    real = geolife.read_geolife
    monkeypatch.setattr(geolife, "read_geolife", lambda *a, **k: reads.append(1) or real(*a, **k))
    files = {k: v for k, v in small_dataset().items() if not k.endswith("labels.txt")}
    zpath = write_zip(tmp_path / "geolife.zip", files)
    first = load_dataset("geolife", zpath, region="lonlat:116,39,117,41")
    second = load_dataset("geolife", zpath, region="lonlat:116,39,117,41")
    assert len(reads) == 1  # the second load came from the cache
    validate_traces(second)
    assert len(second) == len(first) == 6 and second["mode"].isna().all()


def test_all_nan_columns_are_named_not_stored_and_come_back_in_place(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "data.txt"
    src.write_bytes(b"abcd")
    b = Builder(src)  # x, y, lat, lon all NaN (the builder gives t only)
    first = _read(b, tmp_path)
    first_x = first["x"].to_numpy().copy()
    stored = pq.ParquetFile(first.attrs["cache"]["path"]).schema_arrow.names
    assert not {"x", "y", "lat", "lon"} & set(stored) and {"user", "t"} <= set(stored)
    second = _read(b, tmp_path)
    assert second.attrs["cache"]["hit"] is True and list(second.columns) == list(first.columns)
    assert pd.util.hash_pandas_object(second).equals(pd.util.hash_pandas_object(first))
    validate_traces(second)
    second.loc[0, "x"] = 1.0  # the NaN columns share one array until written: the others stay NaN
    assert second["x"].iloc[0] == 1.0 and second[["y", "lat", "lon"]].isna().all().all()
    assert np.isnan(first_x).all()


def test_a_column_with_some_values_is_stored(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "data.txt"
    src.write_bytes(b"ab")

    def build() -> pd.DataFrame:
        df = pd.DataFrame({"user": ["a"] * 4, "traj": 0, "t": np.arange(4.0),
                           "x": [np.nan, 1.0, np.nan, np.nan], "y": np.nan})
        return make_traces(df)

    first = cached_read("unit", [src], {}, build, cache_dir=tmp_path / "cache")
    stored = set(pq.ParquetFile(first.attrs["cache"]["path"]).schema_arrow.names)
    assert "x" in stored and "y" not in stored
    second = cached_read("unit", [src], {}, build, cache_dir=tmp_path / "cache")
    assert second["x"].tolist()[1] == 1.0 and np.isnan(second["x"].tolist()[0]) and second["y"].isna().all()
