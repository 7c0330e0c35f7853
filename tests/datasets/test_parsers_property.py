"""Property tests: whatever bytes the trace parsers get, they give a valid table or raise our typed errors."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroam.datasets.geolife import read_geolife, read_geolife_labels
from edgeroam.datasets.kaist import read_kaist
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError, TraceFormatError

HEADER = (
    b"Geolife trajectory\r\nWGS 84\r\nAltitude is in Feet\r\nReserved 3\r\n"
    b"0,2,255,My Track,0,0,2,8421376\r\n0\r\n"
)
LABEL_HEADER = b"Start Time\tEnd Time\tTransportation Mode\r\n"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# near-valid pieces mixed with noise, so that examples reach the parsers' deeper paths
_TOKENS = st.sampled_from(
    [b"39.9", b"116.3", b"0", b"-777", b"39744.12", b"2008-10-23", b"02:53:04", b"nan", b"inf", b"1e999",
     b"-91", b"2008-02-30", b"25:00:00", b"", b" ", b"\t", b"\r", b'"', b"abc", b"\xef\xbb\xbf", b"\x00",
     b"2008/10/23 02:53:04", b"walk", b"1.5e+002", b"-3.0e-001"]
)  # fmt: skip
_SEPS = st.sampled_from([b",", b"\t", b" ", b"\r\n", b"\n", b"\r", b""])
_MIXED = st.lists(st.one_of(_TOKENS, _SEPS, st.binary(max_size=6)), max_size=40).map(b"".join)
_GARBAGE = st.one_of(st.binary(max_size=300), _MIXED)


def _check(read) -> None:
    for lenient in (False, True):
        try:
            table = read(lenient)
        except (TraceFormatError, DatasetError):
            continue
        if "user" in table.columns and "traj" in table.columns:
            validate_traces(table)
        if lenient:
            report = table.attrs["read_report"]
            assert report["bad_lines_skipped"] >= 0 and len(report["warnings"]) <= 50


def _geolife_folder(base: Path, plt: bytes, labels: bytes | None) -> Path:
    tdir = base / "Data" / "000" / "Trajectory"
    tdir.mkdir(parents=True)
    (tdir / "20080101000000.plt").write_bytes(HEADER + b"39.9,116.3,0,0,1,2008-01-01,00:00:00\r\n")
    (tdir / "20080102000000.plt").write_bytes(plt)
    if labels is not None:
        (base / "Data" / "000" / "labels.txt").write_bytes(labels)
    return base


@SETTINGS
@given(body=_GARBAGE, with_header=st.booleans())
def test_geolife_plt_garbage(body, with_header):
    with tempfile.TemporaryDirectory() as tmp:
        source = _geolife_folder(Path(tmp), (HEADER if with_header else b"") + body, None)
        _check(lambda lenient: read_geolife(source, lenient=lenient))


@SETTINGS
@given(body=_GARBAGE, with_header=st.booleans())
def test_geolife_labels_garbage(body, with_header):
    with tempfile.TemporaryDirectory() as tmp:
        source = _geolife_folder(
            Path(tmp),
            HEADER + b"39.9,116.3,0,0,1,2008-01-02,00:00:00\r\n",
            (LABEL_HEADER if with_header else b"") + body,
        )
        _check(lambda lenient: read_geolife(source, lenient=lenient))
        _check(lambda lenient: read_geolife_labels(source, lenient=lenient))


@SETTINGS
@given(data=st.binary(max_size=400), cut=st.integers(min_value=0, max_value=10_000))
def test_geolife_zip_garbage(data, cut):
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.zip"
        with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("Data/000/Trajectory/20080101000000.plt", HEADER + data)
        raw = good.read_bytes()
        for name, blob in (("cut.zip", raw[: cut % (len(raw) + 1)]), ("raw.zip", data), ("good.zip", raw)):
            path = Path(tmp) / name
            path.write_bytes(blob)
            _check(lambda lenient, path=path: read_geolife(path, lenient=lenient))


@SETTINGS
@given(body=_GARBAGE)
def test_kaist_garbage(body):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "KAIST_30sec_001.txt").write_bytes(b" 0.0e+000\t 1.0e+000\t 2.0e+000\t\r\n")
        (folder / "KAIST_30sec_002.txt").write_bytes(body)
        _check(lambda lenient: read_kaist(folder, lenient=lenient))


@pytest.mark.parametrize("n_bad", [1, 3])
def test_bisection_finds_every_bad_line_in_a_long_file(tmp_path, n_bad):
    lines = [b"%d 1.0 2.0" % (30 * i) for i in range(5000)]
    bad_at = [17, 2500, 4999][:n_bad]
    for i in bad_at:
        lines[i] = b"oops"
    (tmp_path / "KAIST_30sec_001.txt").write_bytes(b"\r\n".join(lines) + b"\r\n")
    with pytest.raises(TraceFormatError) as info:
        read_kaist(tmp_path)
    assert info.value.line == bad_at[0] + 1
    tr = read_kaist(tmp_path, lenient=True)
    assert tr.attrs["read_report"]["bad_lines_skipped"] == n_bad and len(tr) == 5000 - n_bad
