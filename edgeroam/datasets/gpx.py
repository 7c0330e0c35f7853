"""Read GPX tracks (a file or a folder of them) into a Traces table.

Each ``<trk>`` is a list of ``<trkseg>`` of ``<trkpt lat lon><time/></trkpt>``; GPX 1.0 and 1.1 (the root's
namespace, or none) are read alike. One user per file (named by its path under the root, without ``.gpx``;
every segment of every track one trajectory) or per track (``<file>/<k>``, k the track's 0-based index;
every segment one trajectory). lxml parses each file in C and compiled XPath queries hand over a segment's
latitudes, longitudes and times as whole lists, so there is no Python loop per point (the slow path that
finds a point without a time or position runs only when a segment's lists disagree). Entities are not
resolved and nothing is fetched from the network. A bad point raises one `TraceFormatError` naming file,
line and field, or is skipped and counted under ``lenient``. Projection and regions are left to ``load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from edgeroam.datasets._lines import short_reason, warn
from edgeroam.datasets._values import BadRows, check_timezone, to_float, to_seconds
from edgeroam.datasets.traces import empty_read_report, make_traces
from edgeroam.errors import DatasetError, TraceFormatError

__all__ = ["gpx_files", "read_gpx"]

UserPer = Literal["file", "track"]


class _Paths:
    """The compiled XPath queries of one file, in the namespace of its root (GPX 1.0, 1.1 or none); they
    return plain strings (lxml's "smart" ones would each keep a reference to their element)."""

    def __init__(self, root: Any) -> None:
        from lxml import etree

        tag = root.tag if isinstance(root.tag, str) else ""
        ns = tag[1:].split("}")[0] if tag.startswith("{") else None
        p = "g:" if ns else ""
        options: dict[str, Any] = {"smart_strings": False, "namespaces": {"g": ns} if ns else {}}

        def xp(expr: str) -> Any:
            return etree.XPath(expr, **options)

        self.trk, self.seg, self.pt = xp(f"{p}trk"), xp(f"{p}trkseg"), xp(f"{p}trkpt")
        self.lat, self.lon = xp(f"{p}trkpt/@lat"), xp(f"{p}trkpt/@lon")
        self.time = xp(f"{p}trkpt/{p}time/text()")
        self.count, self.count_time = xp(f"count({p}trkpt)"), xp(f"count({p}trkpt/{p}time)")
        self.time_of = xp(f"string({p}time)")


def gpx_files(root: str | Path) -> list[Path]:
    """The ``.gpx`` files of `root`: the file itself, or every ``.gpx`` under a folder (sorted)."""
    path = Path(root).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder (expected GPX tracks)")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".gpx")
    if not files:
        raise DatasetError(f"{path}: no .gpx files in it")
    return files


def _parse(path: Path) -> Any:
    from lxml import etree

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or short_reason(exc)})") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:  # also bytes that are not in the declared encoding
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        raise TraceFormatError(path, f"not well-formed XML ({short_reason(exc)})", line=line) from None
    if root is None:
        raise TraceFormatError(path, "empty file", line=1)
    return root


def _segment(seg: Any, paths: _Paths) -> tuple[list[Any], list[Any], list[Any]]:
    """lat, lon and time (text or None) of every point of one segment."""
    lat, lon, time = paths.lat(seg), paths.lon(seg), paths.time(seg)
    n = int(paths.count(seg))
    if len(lat) == len(lon) == len(time) == n and int(paths.count_time(seg)) == n:
        return lat, lon, time
    points = paths.pt(seg)  # slow path: some point lacks a field; read them one by one
    return ([p.get("lat") for p in points], [p.get("lon") for p in points],
            [(paths.time_of(p) or None) for p in points])


class _Lines:
    """Row → line of its ``<trkpt>``, looked up only for the rows an error or warning names."""

    def __init__(self, paths: _Paths) -> None:
        self.paths = paths
        self.segments: list[Any] = []
        self.starts: list[int] = []

    def add(self, seg: Any, start: int) -> None:
        self.segments.append(seg)
        self.starts.append(start)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.starts), rows, side="right") - 1
        return np.asarray([self.paths.pt(self.segments[i])[r - self.starts[i]].sourceline or 0
                           for i, r in zip(idx, rows, strict=True)], dtype=np.int64)


def _read_file(path: Path, name: str, user_per: UserPer, timezone: str | None, lenient: bool,
               report: dict[str, Any]) -> pd.DataFrame:
    root = _parse(path)
    if root.xpath("local-name()") != "gpx":
        raise TraceFormatError(path, f"not a GPX file: the root element is <{root.xpath('local-name()')}>",
                               line=root.sourceline)
    lat: list[Any] = []
    lon: list[Any] = []
    time: list[Any] = []
    users: list[str] = []
    trajs: list[int] = []
    sizes: list[int] = []
    paths = _Paths(root)
    line_of = _Lines(paths)
    for k, trk in enumerate(paths.trk(root)):
        for seg in paths.seg(trk):
            la, lo, ti = _segment(seg, paths)
            if not la:
                continue
            line_of.add(seg, len(lat))
            users.append(name if user_per == "file" else f"{name}/{k}")
            trajs.append(trajs[-1] + 1 if trajs and (user_per == "file" or users[-2] == users[-1]) else 0)
            sizes.append(len(la))
            lat += la
            lon += lo
            time += ti
    report["files"] += 1
    report["lines"] += len(lat)
    bad = BadRows(str(path), line_of)
    la_v, la_miss, la_bad = to_float(np.asarray(lat, dtype=object))
    lo_v, lo_miss, lo_bad = to_float(np.asarray(lon, dtype=object))
    t_v, t_miss, t_bad, t_reason = to_seconds(np.asarray(time, dtype=object), timezone)
    bad.flag(la_miss, "lat", "trkpt without lat")
    bad.flag(la_bad | (np.abs(la_v) > 90), "lat", "not a latitude -90…90", lambda i: lat[i])
    bad.flag(lo_miss, "lon", "trkpt without lon")
    bad.flag(lo_bad | (np.abs(lo_v) > 180), "lon", "not a longitude -180…180", lambda i: lon[i])
    bad.flag(t_miss, "time", "trkpt without time")
    bad.flag(t_bad, "time", t_reason, lambda i: time[i])
    keep = bad.resolve(len(lat), lenient=lenient, report=report)
    seg_of = np.repeat(np.arange(len(sizes)), sizes)[keep]
    t = t_v[keep]
    back = np.flatnonzero((seg_of[1:] == seg_of[:-1]) & (t[1:] < t[:-1])) + 1
    if len(back):
        line = int(line_of(np.flatnonzero(keep)[back[:1]])[0])
        report["times_backwards"] += len(back)
        report["resorted_files"].append({"file": str(path), "backwards": len(back), "first_line": line})
        warn(report, f"re-sorted {path}: time goes backwards {len(back)} time(s), first at line {line}")
    return pd.DataFrame({
        "user": np.asarray(users, dtype=object)[seg_of],
        "traj": np.asarray(trajs, dtype=np.int32)[seg_of],
        "t": t,
        "lat": la_v[keep],
        "lon": lo_v[keep],
    })


def read_gpx(
    root: str | Path, *, user_per: UserPer = "file", timezone: str | None = None, lenient: bool = False
) -> pd.DataFrame:
    """Read GPX tracks into a Traces table (lat/lon; x/y NaN until ``project``).

    Parameters
    ----------
    root
        A ``.gpx`` file or a folder of them (read recursively, in path order).
    user_per
        ``"file"``: one user per file, each segment a trajectory; ``"track"``: one user per ``<trk>``.
    timezone
        IANA zone of times written without an offset (GPX asks for UTC; default UTC).
    lenient
        Skip bad points and unreadable files (counted in ``attrs["read_report"]``) instead of raising.

    Raises
    ------
    DatasetError
        No such file or folder, no ``.gpx`` files, an unknown time zone or `user_per`.
    TraceFormatError
        Malformed XML, a root other than ``<gpx>``, or a point without a valid lat, lon or time (names the
        file, line and field).
    """
    if user_per not in ("file", "track"):
        raise DatasetError(f"user_per must be 'file' or 'track', got {user_per!r}")
    check_timezone(timezone)
    files = gpx_files(root)
    base = Path(root).expanduser()
    report = empty_read_report()
    frames = []
    for path in files:
        name = path.with_suffix("").relative_to(base).as_posix() if base.is_dir() else path.stem
        try:
            frames.append(_read_file(path, name, user_per, timezone, lenient, report))
        except TraceFormatError as exc:  # under lenient only a file-wide problem gets here
            if not lenient:
                raise
            report["files"] += 1
            report["files_skipped"] += 1
            reason = str(exc)[len(exc.path):].lstrip(", ")
            report["skipped_files"].append({"file": str(path), "reason": reason})
            warn(report, f"skipped {exc}")
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"user": [], "traj": np.zeros(0, dtype=np.int32), "t": [], "lat": [], "lon": []})
    return make_traces(df, crs=None, source=str(base), metric_frame=None, read_report=report)
