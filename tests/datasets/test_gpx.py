"""read_gpx: two tracks, users per file or per track, GPX 1.0, a folder; errors name file, line and field;
lenient counts bad points and skips broken files; arbitrary bytes never end in a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroam.datasets.gpx import read_gpx
from edgeroam.datasets.load import load_dataset
from edgeroam.datasets.traces import validate_traces
from edgeroam.errors import DatasetError, TraceFormatError

T0 = 1577836800.0  # 2020-01-01T00:00:00Z

TWO_TRACKS = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>morning</name>
    <trkseg>
      <trkpt lat="39.90" lon="116.40"><ele>50</ele><time>2020-01-01T00:00:00Z</time></trkpt>
      <trkpt lat="39.91" lon="116.41"><time>2020-01-01T00:00:10Z</time></trkpt>
    </trkseg>
    <trkseg>
      <trkpt lat="39.92" lon="116.42"><time>2020-01-01T00:01:00Z</time></trkpt>
    </trkseg>
  </trk>
  <trk><name>evening</name>
    <trkseg>
      <trkpt lat="39.93" lon="116.43"><time>2020-01-01T09:00:00+08:00</time></trkpt>
      <trkpt lat="39.94" lon="116.44"><time>{last}</time></trkpt>
    </trkseg>
  </trk>
</gpx>
"""


def _gpx(tmp_path: Path, last: str = "2020-01-01T01:00:20Z", name: str = "ride.gpx") -> Path:
    p = tmp_path / name
    p.write_text(TWO_TRACKS.replace("{last}", last))
    return p


def test_two_tracks_one_user_per_file(tmp_path):
    tr = read_gpx(_gpx(tmp_path))
    validate_traces(tr)
    assert tr["user"].astype(str).tolist() == ["ride"] * 5
    assert tr["traj"].tolist() == [0, 0, 1, 2, 2]  # each segment a trajectory
    assert tr["t"].tolist() == [T0, T0 + 10, T0 + 60, T0 + 3600, T0 + 3620]
    assert tr["lat"].tolist() == [39.90, 39.91, 39.92, 39.93, 39.94]
    assert tr["lon"].tolist() == [116.40, 116.41, 116.42, 116.43, 116.44]
    assert np.isnan(tr["x"]).all() and tr.attrs["read_report"]["lines"] == 5


def test_two_tracks_one_user_per_track(tmp_path):
    tr = read_gpx(_gpx(tmp_path), user_per="track")
    assert tr["user"].astype(str).tolist() == ["ride/0"] * 3 + ["ride/1"] * 2
    assert tr["traj"].tolist() == [0, 0, 1, 0, 0]


def test_gpx_1_0_and_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    _gpx(tmp_path, name="a.gpx")
    (tmp_path / "sub" / "b.gpx").write_text(
        '<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg>'
        '<trkpt lat="1" lon="2"><time>2020-01-01T00:00:00</time></trkpt></trkseg></trk></gpx>'
    )
    tr = read_gpx(tmp_path, timezone="Asia/Shanghai")  # the naive time is Beijing time
    assert tr["user"].astype(str).unique().tolist() == ["a", "sub/b"]
    assert tr.loc[tr["user"] == "sub/b", "t"].tolist() == [T0 - 8 * 3600]


def test_times_going_backwards_are_counted_and_resorted(tmp_path):
    p = _gpx(tmp_path, last="2020-01-01T00:59:00Z")
    tr = read_gpx(p)
    rep = tr.attrs["read_report"]
    assert rep["times_backwards"] == 1 and rep["resorted_files"] == [{"file": str(p), "backwards": 1,
                                                                      "first_line": 15}]
    assert tr["t"].tolist()[3:] == [T0 + 3540, T0 + 3600]


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "words"),
    [
        ('lat="39.94"', 'lat="north"', 15, "lat", "not a latitude"),
        ('lon="116.44"', "", 15, "lon", "trkpt without lon"),
        ("<time>2020-01-01T01:00:20Z</time>", "", 15, "time", "trkpt without time"),
        ("2020-01-01T01:00:20Z", "soon", 15, "time", "not a time"),
    ],
)
def test_a_bad_point_names_file_line_and_field(tmp_path, old, new, line, column, words):
    p = tmp_path / "ride.gpx"
    p.write_text(TWO_TRACKS.replace("{last}", "2020-01-01T01:00:20Z").replace(old, new))
    with pytest.raises(TraceFormatError) as err:
        read_gpx(p)
    assert (err.value.path, err.value.line, err.value.column) == (str(p), line, column)
    assert words in str(err.value)
    tr = read_gpx(p, lenient=True)
    assert len(tr) == 4 and tr.attrs["read_report"]["bad_lines_skipped"] == 1


def test_broken_files(tmp_path):
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx><trk><trkseg><trkpt lat='1' lon='2'>\n</trk>")
    with pytest.raises(TraceFormatError, match="not well-formed XML"):
        read_gpx(bad)
    other = tmp_path / "other.gpx"
    other.write_text("<kml/>")
    with pytest.raises(TraceFormatError, match="not a GPX file"):
        read_gpx(other)
    _gpx(tmp_path)
    tr = read_gpx(tmp_path, lenient=True)
    rep = tr.attrs["read_report"]
    assert len(tr) == 5 and rep["files"] == 3 and rep["files_skipped"] == 2
    assert [f["file"] for f in rep["skipped_files"]] == [str(bad), str(other)]
    with pytest.raises(DatasetError, match="no .gpx files"):
        read_gpx(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else tmp_path)
    with pytest.raises(DatasetError, match="user_per"):
        read_gpx(bad, user_per="lap")


def test_no_entities_are_expanded(tmp_path):
    p = tmp_path / "x.gpx"
    p.write_text('<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                 '<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>&e;</time></trkpt></trkseg></trk></gpx>')
    with pytest.raises(TraceFormatError, match="time"):
        read_gpx(p)


def test_load_dataset_projects_gpx(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))
    tr = load_dataset("gpx", _gpx(tmp_path), reader={"user_per": "track"})
    assert tr.attrs["crs"] == "EPSG:32650" and np.isfinite(tr["x"]).all()
    assert load_dataset("gpx", tmp_path / "ride.gpx", reader={"user_per": "track"}).attrs["cache"]["hit"]


_PIECES = st.sampled_from([
    "<gpx>", "</gpx>", "<trk>", "</trk>", "<trkseg>", "</trkseg>", '<trkpt lat="1" lon="2">', "</trkpt>",
    '<trkpt lat="x">', "<time>", "</time>", "2020-01-01T00:00:00Z", "nan", "<", "&", "<!--", "-->", "\n",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=30))
def test_arbitrary_gpx_never_ends_in_a_traceback(parts):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.gpx"
        p.write_text("".join(parts), encoding="utf-8", errors="surrogatepass")
        for lenient in (False, True):
            try:
                tr = read_gpx(p, lenient=lenient)
            except (TraceFormatError, DatasetError):
                continue
            validate_traces(tr)


def test_bytes_outside_the_declared_encoding_are_a_trace_error(tmp_path):
    p = tmp_path / "enc.gpx"
    p.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx>\xff\xfe</gpx>')
    with pytest.raises(TraceFormatError, match=r"enc.gpx, line 2: not well-formed XML"):
        read_gpx(p)
    assert read_gpx(p, lenient=True).attrs["read_report"]["files_skipped"] == 1
