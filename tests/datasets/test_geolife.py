"""Geolife reader: exact values on small written files, every bad-input error, and the manifest's numbers."""

from __future__ import annotations

import calendar
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.geolife import read_geolife, read_geolife_labels
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError, TraceFormatError

HEADER = (
    b"Geolife trajectory\r\nWGS 84\r\nAltitude is in Feet\r\nReserved 3\r\n"
    b"0,2,255,My Track,0,0,2,8421376\r\n0\r\n"
)
LABEL_HEADER = b"Start Time\tEnd Time\tTransportation Mode\r\n"
REPO = Path(__file__).resolve().parents[2]
BOX = (39.900341, 39.950932, 116.353370, 116.437765)


def _line(lat: float, lon: float, when: str) -> bytes:
    date, time = when.split(" ")
    return f"{lat},{lon},0,492,39744.1201851852,{date},{time}\r\n".encode()


def _epoch(when: str) -> float:
    return float(calendar.timegm(pd.Timestamp(when).timetuple()))


def small_dataset() -> dict[str, bytes]:
    """Relative path -> bytes of a two-user Geolife layout (user 000 with labels)."""
    root = "Geolife Trajectories 1.3/Data"
    return {
        f"{root}/000/Trajectory/20081023025304.plt": HEADER
        + _line(39.9847, 116.3184, "2008-10-23 02:53:04")
        + _line(39.9848, 116.3185, "2008-10-23 02:53:10")
        + _line(39.9849, 116.3186, "2008-10-23 02:53:15"),
        f"{root}/000/Trajectory/20081024020959.plt": HEADER
        + _line(40.0, 116.0, "2008-10-24 02:09:59")
        + _line(40.1, 116.1, "2008-10-24 02:10:04").rstrip(b"\r\n"),  # no final newline
        f"{root}/000/labels.txt": LABEL_HEADER
        + b"2008/10/23 02:53:04\t2008/10/23 02:53:10\twalk\r\n"
        + b"2008/10/24 02:00:00\t2008/10/24 03:00:00\tbus\r\n"
        + b"2008/10/24 02:10:00\t2008/10/24 02:20:00\tcar\r\n",  # overlaps the bus label
        f"{root}/001/Trajectory/20090101000000.plt": HEADER + _line(39.91, 116.36, "2009-01-01 00:00:00"),
    }


def write_folder(base: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return base


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path


def _mode_list(tr: pd.DataFrame) -> list[str | None]:
    return [None if pd.isna(m) else str(m) for m in tr["mode"]]


# ------------------------------------------------------------------------------------------- small files


@pytest.mark.parametrize("form", ["folder", "zip", "data-folder"])
def test_small_dataset_values(tmp_path, form):
    files = small_dataset()
    if form == "zip":
        source = write_zip(tmp_path / "g.zip", files)
    else:
        source = write_folder(tmp_path / "g", files)
        if form == "data-folder":
            source = source / "Geolife Trajectories 1.3" / "Data"
    tr = read_geolife(source)
    validate_traces(tr)
    assert tr["user"].tolist() == ["000"] * 5 + ["001"]
    assert tr["traj"].tolist() == [0, 0, 0, 1, 1, 0]
    assert tr["t"].iloc[0] == _epoch("2008-10-23 02:53:04") == 1224730384.0
    assert tr["t"].iloc[4] == _epoch("2008-10-24 02:10:04")
    assert tr["lat"].tolist()[:3] == [39.9847, 39.9848, 39.9849]
    assert tr["lon"].iloc[-1] == 116.36
    assert np.isnan(tr["x"]).all() and tr.attrs["crs"] is None and tr.attrs["metric_frame"] is None
    # label interval join: inclusive bounds; the later-starting of two overlapping labels wins
    assert _mode_list(tr) == ["walk", "walk", None, "bus", "car", None]
    assert tr["mode"].array.codes.dtype == np.int8  # as the reader placed them (pandas's own code type)
    assert np.shares_memory(tr["x"].to_numpy(), tr["y"].to_numpy())  # one NaN column, filled by the workers
    rep = tr.attrs["read_report"]
    assert (rep["files"], rep["lines"], rep["bad_lines_skipped"]) == (3, 6, 0)
    assert (rep["label_files"], rep["label_lines"]) == (1, 3)


def test_small_dataset_options(tmp_path):
    source = write_folder(tmp_path / "g", small_dataset())
    assert "mode" not in read_geolife(source, labels=False).columns
    only = read_geolife(source, users=[1], workers=1)
    assert only["user"].unique().tolist() == ["001"] and len(only) == 1
    with pytest.raises(DatasetError, match="users not found: 007"):
        read_geolife(source, users=["007"])
    with pytest.raises(DatasetError, match="workers"):
        read_geolife(source, workers=0)
    labels = read_geolife_labels(source)
    assert labels["user"].tolist() == ["000"] * 3
    assert labels["mode"].tolist() == ["walk", "bus", "car"]
    assert labels["start"].iloc[0] == _epoch("2008-10-23 02:53:04")
    assert labels["end"].iloc[2] - labels["start"].iloc[2] == 600.0


def _with(files: dict[str, bytes], rel_suffix: str, data: bytes) -> dict[str, bytes]:
    out = dict(files)
    key = next(k for k in out if k.endswith(rel_suffix))
    out[key] = data
    return out


BAD_CASES = [
    # (file suffix, new content, message regex, line, column)
    ("20081023025304.plt", b"Not geolife\r\n" + HEADER[20:], "wrong header", 1, None),
    ("20081023025304.plt", b"", "empty file", 1, None),
    ("20081023025304.plt", HEADER, "empty file: no data lines", 7, None),
    ("20081023025304.plt", HEADER[:40], "inside the 6-line header", 3, None),
    (
        "20081023025304.plt",
        HEADER + _line(39.9, 116.3, "2008-10-23 02:53:04") + b"39.9,116.3,0,492,39744.12,2008-10-23\r\n",
        "Expected 7 columns, got 6",
        8,
        None,
    ),
    (
        "20081023025304.plt",
        HEADER + _line(39.9, 116.3, "2008-10-23 02:53:04") * 3 + b"abc,116.3,0,492,1,2008-10-23,02:53:04\r\n",
        "not a number: 'abc'",
        10,
        "lat",
    ),
    ("20081023025304.plt", HEADER + b"39.9,116.3,0,492,1,2008-13-45,02:53:04\r\n", "2008-13-45", 7, "date"),
    ("20081023025304.plt", HEADER + _line(95.0, 116.3, "2008-10-23 02:53:04"), "latitude 95.0", 7, "lat"),
    ("20081023025304.plt", HEADER + _line(39.0, 200.0, "2008-10-23 02:53:04"), "longitude 200.0", 7, "lon"),
    ("20081023025304.plt", HEADER + b"39.9,116.3,0,492,1,2008-10-23\r02:53:04\r\n", "return", 7, None),
    ("labels.txt", b"Start\tEnd\tMode\r\n", "wrong header", 1, None),
    ("labels.txt", LABEL_HEADER + b"2008/10/23 02:53:04\t2008/10/23\twalk\r\n", "2008/10/23", 2, "end"),
    ("labels.txt", LABEL_HEADER + b"2008/10/23 02:53:04\t2008/10/22 02:53:04\twalk\r\n", "before", 2, "end"),
]


@pytest.mark.parametrize("form", ["folder", "zip"])
@pytest.mark.parametrize(("suffix", "content", "message", "line", "column"), BAD_CASES)
def test_bad_input_names_file_line_and_column(tmp_path, form, suffix, content, message, line, column):
    files = _with(small_dataset(), suffix, content)
    source = write_zip(tmp_path / "g.zip", files) if form == "zip" else write_folder(tmp_path / "g", files)
    with pytest.raises(TraceFormatError, match=message) as info:
        read_geolife(source)
    err = info.value
    assert err.path.endswith(suffix) and str(source) in err.path
    assert err.line == line
    assert err.column == column


def test_lenient_skips_bad_lines_and_files(tmp_path):
    files = small_dataset()
    key = next(k for k in files if k.endswith("20081023025304.plt"))
    files[key] = (
        HEADER
        + _line(39.9847, 116.3184, "2008-10-23 02:53:04")
        + b"garbage line\r\n"
        + _line(39.9849, 116.3186, "2008-10-23 02:53:15")
        + _line(99.0, 116.3, "2008-10-23 02:53:20")
    )
    files["Geolife Trajectories 1.3/Data/001/Trajectory/20090102000000.plt"] = b""
    source = write_folder(tmp_path / "g", files)
    with pytest.raises(TraceFormatError):
        read_geolife(source)
    tr = read_geolife(source, lenient=True)
    validate_traces(tr)
    rep = tr.attrs["read_report"]
    assert rep["bad_lines_skipped"] == 2 and rep["files_skipped"] == 1
    assert len(tr) == 2 + 2 + 1
    assert tr["lat"].tolist()[:2] == [39.9847, 39.9849]
    text = "\n".join(rep["warnings"])
    assert "20081023025304.plt, line 8" in text and "line 10, column lat" in text and "empty file" in text
    # traj numbering stays that of the file order even when a file is skipped
    assert tr.loc[tr["user"] == "001", "traj"].tolist() == [0]


def test_archive_and_folder_errors(tmp_path):
    good = write_zip(tmp_path / "g.zip", small_dataset())
    data = good.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"truncated\.zip: not a zip file, or a truncated/corrupt one"):
        read_geolife(truncated)
    # a member whose compressed bytes are damaged: CRC or inflate error names the entry
    corrupt = tmp_path / "corrupt.zip"
    raw = bytearray(data)
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("Geolife Trajectories 1.3/Data/000/Trajectory/20081023025304.plt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + info.compress_size - 2):
        raw[i] ^= 0x55
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"corrupt\.zip/.*20081023025304\.plt: corrupt or truncated zip"):
        read_geolife(corrupt)
    with pytest.raises(DatasetError, match="no such file or folder"):
        read_geolife(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no Geolife layout"):
        read_geolife(tmp_path / "empty")
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    with pytest.raises(DatasetError, match="not a zip file"):
        read_geolife(plain)
    other_zip = write_zip(tmp_path / "other.zip", {"readme.txt": b"x"})
    with pytest.raises(DatasetError, match="no Geolife trajectories inside"):
        read_geolife(other_zip)


def test_unreadable_file_and_folder(tmp_path):
    source = write_folder(tmp_path / "g", small_dataset())
    odd = source / "Geolife Trajectories 1.3/Data/001/Trajectory/20090105000000.plt"
    odd.mkdir()  # a folder where a file should be: reading it fails with an OSError
    with pytest.raises(DatasetError, match=r"20090105000000\.plt: cannot read"):
        read_geolife(source)
    odd.rmdir()
    if os.geteuid() == 0:
        return  # root reads anything: permissions cannot make a folder unreadable here
    locked = source / "Geolife Trajectories 1.3/Data/001/Trajectory"
    locked.chmod(0)
    try:
        with pytest.raises(DatasetError, match="cannot list folder"):
            read_geolife(source)
    finally:
        locked.chmod(0o755)


# ------------------------------------------------------------------------------------------ shared data


def _extracted(zip_path: Path) -> Path:
    """The shared zip extracted once under .cache/ (reused while the zip's size and mtime are unchanged)."""
    st = zip_path.stat()
    stamp = f"{st.st_size}-{st.st_mtime_ns}"
    dest = REPO / ".cache" / "geolife-extracted"
    marker = dest / ".complete"
    if marker.exists() and marker.read_text() == stamp:
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp)
    (tmp / ".complete").write_text(stamp)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


@pytest.fixture(scope="module")
def geolife_zip_traces(shared_traces):
    return read_geolife(shared_traces / "geolife_perdnn_box.zip")


def _counts(tr: pd.DataFrame) -> dict[str, int]:
    lat, lon = tr["lat"].to_numpy(), tr["lon"].to_numpy()
    in_box = (lat >= BOX[0]) & (lat <= BOX[1]) & (lon >= BOX[2]) & (lon <= BOX[3])
    return {
        "users": int(tr["user"].nunique()),
        "trajectories": int(tr.groupby("user", observed=True)["traj"].nunique().sum()),
        "points": len(tr),
        "in_box": int(in_box.sum()),
        "labelled_users": int(tr.loc[tr["mode"].notna(), "user"].nunique()),
    }


MANIFEST = {"users": 121, "trajectories": 1722, "points": 4_385_522, "in_box": 822_603}


@pytest.mark.slow
def test_shared_zip_matches_manifest(geolife_zip_traces):
    tr = geolife_zip_traces
    validate_traces(tr)
    counts = _counts(tr)
    print("geolife zip:", counts, tr.attrs["read_report"])
    assert {k: counts[k] for k in MANIFEST} == MANIFEST
    rep = tr.attrs["read_report"]
    assert (rep["files"], rep["lines"], rep["bad_lines_skipped"]) == (1722, 4_385_522, 0)
    assert (rep["label_files"], rep["label_lines"]) == (44, 12_871)
    assert tr["t"].min() == _epoch("2007-04-13 15:23:30")
    assert tr["t"].max() == _epoch("2012-06-30 23:13:10")


@pytest.mark.slow
def test_shared_labels_match_manifest(shared_traces):
    labels = read_geolife_labels(shared_traces / "geolife_perdnn_box.zip")
    assert labels["user"].nunique() == 44
    assert len(labels) == 12_871
    assert set(labels["mode"].cat.categories) == {
        "walk", "bus", "bike", "subway", "car", "taxi", "train", "airplane", "run", "boat", "motorcycle",
    }  # fmt: skip


@pytest.mark.slow
def test_shared_extracted_copy_gives_the_same_table(shared_traces, geolife_zip_traces):
    folder = _extracted(shared_traces / "geolife_perdnn_box.zip")
    tr = read_geolife(folder)
    counts = _counts(tr)
    print("geolife extracted:", counts)
    assert {k: counts[k] for k in MANIFEST} == MANIFEST
    assert counts == _counts(geolife_zip_traces)
    _assert_same_table(tr, geolife_zip_traces)


def _assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Column-by-column equality with numpy (assert_frame_equal takes ~45 s on 4.4 M categorical rows)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        assert x.dtype == y.dtype, col
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.cat.categories) == list(y.cat.categories), col
            assert np.array_equal(x.cat.codes.to_numpy(), y.cat.codes.to_numpy()), col
        else:
            assert np.array_equal(x.to_numpy(), y.to_numpy(), equal_nan=x.dtype.kind == "f"), col


# ------------------------------------------------------------------------------- hostile zips (bombs, paths)

_PLT_NAME = "Geolife Trajectories 1.3/Data/000/Trajectory/20081023025304.plt"


def _read_fast_and_small(path: Path) -> DatasetError:
    """Read `path`, expecting one DatasetError; assert it came within seconds and without inflating much."""
    import time
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError) as info:
            read_geolife(path, workers=1)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - start < 5.0
    assert peak < 8 << 20, f"peak {peak:,} bytes"
    return info.value


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(_PLT_NAME, HEADER + b"0" * (64 << 20))  # 64 MiB of zeros in about 64 KB
    assert bomb.stat().st_size < 200_000
    err = _read_fast_and_small(bomb)
    assert str(err).startswith(f"{bomb}/{_PLT_NAME}: inflates ")
    assert "over the 100-fold limit" in str(err) and "zip bomb" in str(err)


def test_zip_entry_lying_about_its_size_is_cut_at_the_declared_size(tmp_path):
    # a 16 MiB entry whose central directory claims 1000 bytes: zipfile stops at 1000 and the CRC check fails
    path = tmp_path / "liar.zip"
    body = HEADER + _line(39.9, 116.3, "2008-10-23 02:53:04") * 300_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_PLT_NAME, body)
    raw = bytearray(path.read_bytes())
    cd = raw.rindex(b"PK\x01\x02")  # the one central-directory record; uncompressed size at +24
    assert int.from_bytes(raw[cd + 24 : cd + 28], "little") == len(body)
    raw[cd + 24 : cd + 28] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    err = _read_fast_and_small(path)
    assert str(err).startswith(f"{path}/{_PLT_NAME}: corrupt or truncated zip entry")


def test_zip_size_limits_per_entry_and_in_total(tmp_path, monkeypatch):
    import edgeroam.datasets.geolife as geolife

    files = small_dataset()
    path = write_zip(tmp_path / "g.zip", files)
    first = len(files[_PLT_NAME])
    monkeypatch.setattr(geolife, "ZIP_MAX_ENTRY_BYTES", first - 1)
    with pytest.raises(DatasetError) as info:
        read_geolife(path)
    assert str(info.value).startswith(
        f"{path}/{_PLT_NAME}: declares {first} bytes uncompressed, over the {first - 1}-byte limit"
    )
    monkeypatch.setattr(geolife, "ZIP_MAX_ENTRY_BYTES", 10_000)
    total = sum(len(b) for b in files.values())  # every entry is a trajectory or labels.txt
    monkeypatch.setattr(geolife, "ZIP_MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(DatasetError, match=f"declare over {total - 1:,} bytes uncompressed"):
        read_geolife(path)
    monkeypatch.setattr(geolife, "ZIP_MAX_TOTAL_BYTES", total)
    assert len(read_geolife(path)) == 6


@pytest.mark.parametrize(
    "entry",
    [
        "Geolife Trajectories 1.3/Data/../Trajectory/20081023025304.plt",  # user '..'
        "Data/../Trajectory/20081023025304.plt",
        "../Data/000/Trajectory/20081023025304.plt",
        "/Data/000/Trajectory/20081023025304.plt",
        "Data/000/Trajectory/../../../../etc/x.plt",
        "C:/Data/000/Trajectory/20081023025304.plt",
        "Data\\..\\..\\000\\Trajectory\\20081023025304.plt",
        "notes/../../readme.txt",  # not even a trajectory: the archive is still refused
    ],
)
def test_zip_traversal_entries_are_refused(tmp_path, entry):
    files = small_dataset()
    files[entry] = HEADER + _line(39.9, 116.3, "2008-10-23 02:53:04")
    path = write_zip(tmp_path / "g.zip", files)
    with pytest.raises(DatasetError) as info:
        read_geolife(path)
    assert str(info.value) == (
        f"{path}: unsafe zip entry {entry!r} (absolute path or '..' component); refusing this archive"
    )
    assert list(tmp_path.iterdir()) == [path]  # nothing extracted


def test_times_going_backwards_in_a_plt_are_counted_and_named(tmp_path):
    # issue 17.5: a .plt whose times go backwards was re-sorted without a word
    files = small_dataset()
    key = next(k for k in files if k.endswith("20081023025304.plt"))
    files[key] = (HEADER + _line(39.9847, 116.3184, "2008-10-23 02:53:10")
                  + _line(39.9848, 116.3185, "2008-10-23 02:53:04")
                  + _line(39.9849, 116.3186, "2008-10-23 02:53:15"))
    files["Geolife Trajectories 1.3/Data/001/Trajectory/20090102000000.plt"] = b"not a plt\r\n"
    tr = read_geolife(write_zip(tmp_path / "g.zip", files), lenient=True)
    rep = tr.attrs["read_report"]
    assert rep["times_backwards"] == 1
    (entry,) = rep["resorted_files"]
    assert entry["file"].endswith("000/Trajectory/20081023025304.plt") and entry["first_line"] == 8
    assert tr[(tr["user"] == "000") & (tr["traj"] == 0)]["t"].tolist() == [
        _epoch("2008-10-23 02:53:04"), _epoch("2008-10-23 02:53:10"), _epoch("2008-10-23 02:53:15")]
    (skipped,) = rep["skipped_files"]
    assert skipped["file"].endswith("20090102000000.plt")
    assert skipped["reason"].startswith("line 1: wrong header")


def test_stored_and_bzip2_entries_read_like_deflated_ones(tmp_path):
    files = small_dataset()
    ref = read_geolife(write_zip(tmp_path / "d.zip", files))
    for method, name in ((zipfile.ZIP_STORED, "s.zip"), (zipfile.ZIP_BZIP2, "b.zip")):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", method) as zf:
            for rel, data in files.items():
                zf.writestr(rel, data)
        pd.testing.assert_frame_equal(read_geolife(path), ref)


def test_stored_entry_with_a_bad_crc_is_named(tmp_path):
    path = tmp_path / "crc.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(_PLT_NAME, HEADER + _line(39.9, 116.3, "2008-10-23 02:53:04"))
    raw = bytearray(path.read_bytes())
    at = raw.index(b"39.9,116.3")
    raw[at] = ord("4")  # 49.9: still a valid line, only the CRC-32 tells
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"crc\.zip/.*\.plt: corrupt or truncated zip entry \(Bad CRC-32"):
        read_geolife(path)


def _many_files(bad: dict[int, bytes]) -> dict[str, bytes]:
    """70 one-line trajectories of user 000 (several batches), with some lines replaced by `bad`."""
    out = {}
    for i in range(70):
        line = bad.get(i, _line(39.91, 116.36, f"2009-01-01 {i // 60:02d}:{i % 60:02d}:00"))
        out[f"Geolife Trajectories 1.3/Data/000/Trajectory/20090101{i:06d}.plt"] = HEADER + line
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_batches_report_and_raise_in_the_order_of_one_pass(tmp_path, workers):
    # a latitude out of range in an early batch, an unparsable line in a late one: one pass over all rows
    # parses everything before checking values, so the parse error wins and its warning comes first
    bad = {3: _line(91.0, 116.36, "2009-01-01 00:03:00"), 66: b"39.9,116.3,0,492,39744.1,2009-01-01,xx\r\n"}
    path = write_zip(tmp_path / "many.zip", _many_files(bad))
    with pytest.raises(TraceFormatError, match=r"20090101000066\.plt, line 7"):
        read_geolife(path, workers=workers)
    tr = read_geolife(path, workers=workers, lenient=True)
    rep = tr.attrs["read_report"]
    assert len(tr) == 68 and rep["bad_lines_skipped"] == 2 and rep["files"] == 70
    first, second = rep["warnings"][:2]
    assert "000066.plt, line 7" in first and "000003.plt, line 7, column lat" in second
    assert tr["traj"].tolist() == [i for i in range(70) if i not in bad]
    ok = read_geolife(write_zip(tmp_path / "ok.zip", _many_files({})), workers=workers)
    assert len(ok) == 70 and (np.diff(ok["t"]) == 60).all()


@pytest.mark.parametrize("workers", [1, 2])
def test_xy_projects_in_the_workers_as_project_does(tmp_path, workers):
    from edgeroam.datasets.project import project

    # the first 20 files in UTM zone 49, 50 in zone 50 (the whole data's median): the first batch's zone (49)
    # is not confirmed by the counts, so the median of every row decides; one file goes back in time
    # (re-sorted after projecting)
    files = {}
    for i in range(70):
        lon = 110.5 if i < 20 else 116.36
        first, second = (30, 0) if i == 33 else (0, 30)
        body = _line(39.91, lon + i * 1e-4, f"2009-01-01 {i // 60:02d}:{i % 60:02d}:{first:02d}")
        body += _line(39.92, lon, f"2009-01-01 {i // 60:02d}:{i % 60:02d}:{second:02d}")
        files[f"Geolife Trajectories 1.3/Data/{i // 24:03d}/Trajectory/20090101{i:06d}.plt"] = HEADER + body
    path = write_zip(tmp_path / "zones.zip", files)
    ref = project(read_geolife(path, workers=workers))
    tr = read_geolife(path, workers=workers, xy=True)
    _assert_same_table(tr, ref)
    assert tr.attrs == ref.attrs and tr.attrs["crs"] == "EPSG:32650"
    assert tr.attrs["read_report"]["times_backwards"] == 1
    empty = read_geolife(write_zip(tmp_path / "bad.zip", _many_files({i: b"x\r\n" for i in range(70)})),
                         lenient=True, xy=True)
    assert len(empty) == 0 and empty.attrs["crs"] is None and empty.attrs["metric_frame"] is None


def test_zone_by_counting_is_the_median_zone():
    from edgeroam.datasets.geolife import _Batch, _zone
    from edgeroam.datasets.project import utm_crs_for

    rng = np.random.default_rng(7)
    cases = [
        (rng.uniform(116.0, 116.5, 1001), rng.uniform(39.8, 40.1, 1001)),  # inside one zone, odd n
        (rng.uniform(110.0, 118.0, 1000), rng.uniform(-0.5, 0.4, 1000)),  # two zones, both hemispheres
        (np.r_[np.full(500, 113.9999999999), np.full(500, 114.0)], np.full(1000, 10.0)),  # middle on an edge
        (np.r_[np.full(500, 114.0 - 1e-7), np.full(500, 114.0 + 1e-7)], np.full(1000, 10.0)),
        (np.full(6, 179.99), np.r_[np.full(3, -1e-300), np.full(3, 0.0)]),  # the last zone, median lat 0
        (np.r_[np.full(3, -180.0), np.full(4, 5.0)], np.r_[np.full(4, -3.0), np.full(3, 3.0)]),
    ]
    for lon, lat in cases:
        cuts = np.sort(rng.choice(np.arange(1, len(lon)), size=3, replace=False))
        parts = [_Batch([], np.array([len(a)]), {"lon": a, "lat": b}, [], [])
                 for a, b in zip(np.split(lon, cuts), np.split(lat, cuts), strict=True)]
        assert _zone(parts, len(lon)) == utm_crs_for(lon, lat)


@pytest.mark.slow
def test_shared_zip_projected_by_the_workers_is_the_projected_table(shared_traces, geolife_zip_traces):
    from edgeroam.datasets.project import project

    tr = read_geolife(shared_traces / "geolife_perdnn_box.zip", xy=True)
    ref = project(geolife_zip_traces)
    _assert_same_table(tr, ref)
    assert tr.attrs == ref.attrs


def test_the_reader_imports_pandas_only_while_its_workers_read(tmp_path):
    # the labels and the workers' inflate, parse and checks need numpy and pyarrow alone (pyarrow's to_numpy
    # and cast would import pandas): the main thread imports pandas while the batches are read
    import subprocess
    import sys

    files = _many_files({})
    files["Geolife Trajectories 1.3/Data/000/labels.txt"] = (
        LABEL_HEADER + b"2009/01/01 00:00:00\t2009/01/01 00:30:00\twalk\r\n")
    path = write_zip(tmp_path / "many.zip", files)
    code = (
        "import sys; import edgeroam.datasets.geolife as g; seen = []; wait = g._import_while_reading; "
        "g._import_while_reading = lambda *a, **k: (seen.append('pandas' in sys.modules), wait(*a, **k))[1]; "
        f"tr = g.read_geolife({str(path)!r}, workers=2, xy=True); "
        "print(seen, 'pandas' in sys.modules, 'pyproj' in sys.modules, len(tr), tr['mode'].notna().sum(), "
        "sys.getswitchinterval())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[False]", "True", "True", "70", "31", "0.005"]


def _columns_are(cols, tr: pd.DataFrame) -> None:
    """`read_geolife_columns`'s arrays are `read_geolife`'s table, bit for bit, but for mode."""
    assert cols.users == list(tr["user"].cat.categories) and len(cols) == len(tr)
    np.testing.assert_array_equal(cols.codes, tr["user"].cat.codes.to_numpy())
    assert sorted(cols.data) == ["lat", "lon", "t", "traj", "x", "y"]
    for name, values in cols.data.items():
        want = tr[name].to_numpy()
        assert values.dtype == want.dtype and values.tobytes() == want.tobytes(), name
    assert cols.attrs == tr.attrs


@pytest.mark.parametrize("workers", [1, 2])
def test_columns_are_the_table_without_its_modes(tmp_path, workers):
    from edgeroam.datasets.geolife import read_geolife_columns

    # two zones, a file going back in time (re-sorted), a bad line and a bad label line skipped, labels
    files = {}
    for i in range(70):
        first, second = (30, 0) if i == 33 else (0, 30)
        body = _line(39.91, 116.36 + i * 1e-4, f"2009-01-01 {i // 60:02d}:{i % 60:02d}:{first:02d}")
        body += b"garbage\r\n" if i == 40 else b""
        body += _line(39.92, 116.36, f"2009-01-01 {i // 60:02d}:{i % 60:02d}:{second:02d}")
        files[f"Geolife Trajectories 1.3/Data/{i // 24:03d}/Trajectory/20090101{i:06d}.plt"] = HEADER + body
    files["Geolife Trajectories 1.3/Data/001/labels.txt"] = (
        LABEL_HEADER + b"2009/01/01 00:00:00\t2009/01/01 00:30:00\twalk\r\nbad label\r\n")
    path = write_zip(tmp_path / "g.zip", files)
    for xy in (False, True):
        tr = read_geolife(path, workers=workers, lenient=True, xy=xy)
        assert tr.attrs["read_report"]["times_backwards"] == 1 and tr["mode"].notna().any()
        assert tr.attrs["read_report"]["bad_lines_skipped"] == 2
        _columns_are(read_geolife_columns(path, workers=workers, lenient=True, xy=xy), tr)
    with pytest.raises(TraceFormatError) as want:
        read_geolife(path, workers=workers)
    with pytest.raises(TraceFormatError, match=r"20090101000040\.plt, line 8") as got:
        read_geolife_columns(path, workers=workers)
    assert str(got.value) == str(want.value)
    bad = write_zip(tmp_path / "bad.zip", _many_files({i: b"x\r\n" for i in range(70)}))
    _columns_are(read_geolife_columns(bad, lenient=True, xy=True), read_geolife(bad, lenient=True, xy=True))


def test_columns_are_read_without_pandas(tmp_path):
    import subprocess
    import sys

    path = write_zip(tmp_path / "many.zip", _many_files({}))
    # what a cold `datasets info` imports while the workers read needs no pandas either
    code = ("import sys; from edgeroam.datasets.geolife import read_geolife_columns as r; "
            f"c = r({str(path)!r}, workers=2, xy=True, imports=['edgeroam.datasets.stats', "
            "'edgeroam.datasets.resample']); "
            "print(len(c), 'pandas' in sys.modules, 'edgeroam.datasets.resample' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["70", "False", "True"]
