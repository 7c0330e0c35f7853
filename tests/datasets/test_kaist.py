"""KAIST-family reader: the shared KAIST traces, sibling sites from written files, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeroam.datasets.kaist import KAIST_SITES, kaist_files, read_kaist
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError, TraceFormatError


def _fmt(v: float) -> str:
    """CRAWDAD's number style: ' -3.8420858381879395e+002', '  0.0000000000000000e+000' (C's "% .16e")."""
    mant, exp = f"{v: .16e}".split("e")
    return f" {mant}e{exp[0]}{int(exp[1:]):03d}"


def _trace(rows: list[tuple[float, float, float]]) -> bytes:
    return "".join(f"{_fmt(t)}\t{_fmt(x)}\t{_fmt(y)}\t\r\n" for t, x, y in rows).encode()


def _site(folder: Path, site: str, traces: dict[int, list[tuple[float, float, float]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for num, rows in traces.items():
        (folder / f"{site}_30sec_{num:03d}.txt").write_bytes(_trace(rows))
    return folder


def test_number_format_matches_the_shared_files(shared_traces):
    first = (shared_traces / "kaist" / "KAIST" / "KAIST_30sec_001.txt").read_bytes().split(b"\r\n")[0]
    t, x, y = (float(v) for v in first.split())
    assert _trace([(t, x, y)]).split(b"\r\n")[0] == first


@pytest.mark.parametrize("site", ["NCSU", "NewYork", "Orlando", "Statefair"])
def test_sibling_sites_from_written_files(tmp_path, site):
    rows1 = [(0.0, -384.20858381879395, -46.66783382816962), (30.0, -353.0, -23.98), (60.0, 1.5e3, -2e-3)]
    rows2 = [(0.0, 10.0, 20.0), (30.0, 11.0, 21.5)]
    folder = _site(tmp_path / site, site, {2: rows2, 1: rows1})
    (folder / "README.txt").write_text("not a trace")
    (folder / "KAIST_30sec_001.txt").write_bytes(_trace([(0.0, 0.0, 0.0)]))  # another site: ignored
    for root in (folder, tmp_path):  # the site folder itself, or its parent
        tr = read_kaist(root, site=site.lower())
        validate_traces(tr)
        assert tr["user"].tolist() == [f"{site}_001"] * 3 + [f"{site}_002"] * 2
        assert tr["traj"].tolist() == [0] * 5
        assert tr["t"].tolist() == [0.0, 30.0, 60.0, 0.0, 30.0]
        assert tr["x"].tolist() == [r[1] for r in rows1 + rows2]
        assert tr["y"].tolist() == [r[2] for r in rows1 + rows2]
        assert np.isnan(tr["lat"]).all() and np.isnan(tr["lon"]).all()
        assert tr.attrs["metric_frame"] == "local" and tr.attrs["crs"] is None
        assert tr.attrs["read_report"]["files"] == 2 and tr.attrs["read_report"]["lines"] == 5
    assert [p.name for p in kaist_files(tmp_path, site)] == [f"{site}_30sec_001.txt", f"{site}_30sec_002.txt"]


def test_archive_layout_and_spaces(tmp_path):
    folder = tmp_path / "Traces_TimeXY_30sec_txt" / "NCSU"
    folder.mkdir(parents=True)
    (folder / "NCSU_30sec_007.txt").write_bytes(b"0 1.5 2.5\n30   3.5\t4.5\n")  # plain spaces, LF, any widths
    tr = read_kaist(tmp_path, site="NCSU")
    assert tr["user"].tolist() == ["NCSU_007"] * 2 and tr["x"].tolist() == [1.5, 3.5]


BAD = [
    (b"0 1 2\r\n30 1 2 3\r\n", 2, None, "expected 3 whitespace-separated fields"),
    (b"0 1 2\r\n30 1\r\n", 2, None, "got 2"),
    (b"0 1 2\r\n30 1 2\r\n60 abc 2\r\n", 3, "x", "not a number: 'abc'"),
    (b"0 1 2\r\n30 1 nan\r\n", 2, "y", "not a finite number"),
    (b"0 1 2\r\n\r\n60 1 2\r\n", 2, None, "got 0"),
    (b"0 1\r2\r\n", 1, None, "carriage return"),
    (b"", 1, None, "empty file"),
    (b"\r\n \t\r\n", 1, None, "empty file"),
]


@pytest.mark.parametrize(("content", "line", "column", "message"), BAD)
def test_bad_lines_name_file_line_and_column(tmp_path, content, line, column, message):
    folder = _site(tmp_path, "KAIST", {1: [(0.0, 1.0, 2.0)]})
    bad = folder / "KAIST_30sec_002.txt"
    bad.write_bytes(content)
    with pytest.raises(TraceFormatError, match=message) as info:
        read_kaist(folder)
    assert info.value.path == str(bad) and info.value.line == line and info.value.column == column


def test_lenient_skips_and_counts(tmp_path):
    folder = _site(tmp_path, "KAIST", {1: [(0.0, 1.0, 2.0)]})
    (folder / "KAIST_30sec_002.txt").write_bytes(b"0 1 2\r\n30 x 2\r\n60 3 4 5\r\n90 5 6\r\n")
    (folder / "KAIST_30sec_003.txt").write_bytes(b"")
    tr = read_kaist(folder, lenient=True)
    rep = tr.attrs["read_report"]
    assert rep["bad_lines_skipped"] == 2 and rep["files_skipped"] == 1 and rep["lines"] == 5
    assert tr["t"].tolist() == [0.0, 0.0, 90.0]
    assert any("KAIST_30sec_002.txt, line 2, column x" in w for w in rep["warnings"])


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown site 'Paris'"):
        read_kaist(tmp_path, site="Paris")
    with pytest.raises(DatasetError, match="no such folder"):
        read_kaist(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no 'Orlando_30sec_NNN.txt' files"):
        read_kaist(tmp_path, site="Orlando")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        read_kaist(tmp_path / "f.txt")
    (tmp_path / "KAIST_30sec_001.txt").mkdir()  # a folder named like a trace is not a trace
    with pytest.raises(DatasetError, match="no 'KAIST_30sec_NNN.txt' files"):
        read_kaist(tmp_path)
    assert set(KAIST_SITES) == {"KAIST", "NCSU", "NewYork", "Orlando", "Statefair"}


def test_shared_kaist_matches_manifest(shared_traces):
    tr = read_kaist(shared_traces / "kaist")
    validate_traces(tr)
    print("kaist:", tr["user"].nunique(), "users,", len(tr), "points")
    assert tr["user"].nunique() == 92
    assert len(tr) == 135_055
    assert tr["user"].iloc[0] == "KAIST_001" and tr["user"].iloc[-1] == "KAIST_092"
    starts = tr.groupby("user", observed=True)["t"].min()
    assert (starts == 0.0).all()
    assert tr["t"].max() == 83_970.0
    assert np.all(np.diff(tr["t"].to_numpy())[np.diff(tr["user"].cat.codes.to_numpy()) == 0] == 30.0)
    assert tr.attrs["read_report"] == {
        "files": 92, "lines": 135_055, "bad_lines_skipped": 0, "files_skipped": 0, "warnings": [],
        "skipped_files": [], "times_backwards": 0, "resorted_files": [],
    }  # fmt: skip
    same = read_kaist(shared_traces / "kaist" / "KAIST", site="KAIST")
    assert np.array_equal(same["x"].to_numpy(), tr["x"].to_numpy())


def test_lenient_names_every_skipped_file_and_counts_times_going_backwards(tmp_path):
    # issue 17.5: whole files were dropped with one count and no name; backwards times re-sorted silently
    backwards = [(0.0, 1.0, 2.0), (60.0, 3.0, 4.0), (30.0, 2.0, 3.0), (90.0, 5.0, 6.0), (80.0, 5.0, 5.0)]
    folder = _site(tmp_path, "KAIST", {1: backwards, 2: [(0.0, 1.0, 1.0), (30.0, 1.0, 1.0)]})
    (folder / "KAIST_30sec_003.txt").write_bytes(b"")
    (folder / "KAIST_30sec_004.txt").write_bytes(b"\r\n  \r\n")
    tr = read_kaist(folder, lenient=True)
    rep = tr.attrs["read_report"]
    assert rep["files_skipped"] == 2
    assert [(Path(f["file"]).name, f["reason"]) for f in rep["skipped_files"]] == [
        ("KAIST_30sec_003.txt", "line 1: empty file"),
        ("KAIST_30sec_004.txt", "line 1: empty file: no data lines"),
    ]
    assert rep["times_backwards"] == 2
    assert [(Path(f["file"]).name, f["backwards"], f["first_line"]) for f in rep["resorted_files"]] == [
        ("KAIST_30sec_001.txt", 2, 3)]
    assert any("re-sorted" in w and "first at line 3" in w for w in rep["warnings"])
    assert tr[tr["user"] == "KAIST_001"]["t"].tolist() == [0.0, 30.0, 60.0, 80.0, 90.0]


def test_lenient_survives_a_file_whose_every_line_is_bad(tmp_path):
    # found by docs/reliability_inputs.py: with no good line left, the re-parse saw an empty row and raised
    folder = _site(tmp_path, "KAIST", {})
    (folder / "KAIST_30sec_001.txt").write_bytes(b"0 x 2\r\n30 1\r\n")
    tr = read_kaist(folder, lenient=True)
    assert len(tr) == 0 and tr.attrs["read_report"]["bad_lines_skipped"] == 2
