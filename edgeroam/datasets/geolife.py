"""Read Microsoft Geolife Trajectories 1.3 into a Traces table, from the official zip or an extracted folder.

Layout: ``Geolife Trajectories 1.3/Data/NNN/Trajectory/YYYYMMDDhhmmss.plt`` (one trajectory per file) and
optionally ``Data/NNN/labels.txt`` (transport modes). A ``.plt`` file has 6 header lines (line 1 is
``Geolife trajectory``), then ``lat,lon,0,altitude_ft,days_since_1899-12-30,YYYY-MM-DD,HH:MM:SS`` per line
with CRLF endings; date and time are GMT. ``t`` comes from the date and time columns; altitude and the day
count are checked for being numbers and dropped.

Speed: the files are read (and unzipped) by a thread pool, their data lines concatenated into one buffer and
parsed by one multi-threaded pyarrow CSV parse; rows map back to user and trajectory by ``np.repeat`` over the
per-file line counts. Only when that parse fails are the bad lines searched (by bisection, see ``_lines``).
Projection, regions and resampling are left to the other modules of ``edgeroam.datasets``.
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from edgeroam.datasets._lines import (
    PARSE_ERRORS,
    STRAY_CR,
    Parsed,
    apply_row_checks,
    column,
    count_backwards,
    merge_parsed,
    parse_files,
    prepare,
    sentinel_parses,
    short_reason,
    stray_cr,
)
from edgeroam.datasets.traces import MAX_REPORT_WARNINGS, empty_read_report, make_traces
from edgeroam.errors import DatasetError

__all__ = [
    "GEOLIFE_ROOT",
    "LABEL_HEADER",
    "PLT_HEADER_LINE",
    "geolife_files",
    "read_geolife",
    "read_geolife_labels",
]

GEOLIFE_ROOT = "Geolife Trajectories 1.3"
PLT_HEADER_LINE = "Geolife trajectory"
PLT_HEADER_LINES = 6
LABEL_HEADER = "Start Time\tEnd Time\tTransportation Mode"
_PLT_RE = re.compile(r"(?:^|/)Data/([^/]+)/Trajectory/([^/]+\.plt)$", re.IGNORECASE)
_LABELS_RE = re.compile(r"(?:^|/)Data/([^/]+)/labels\.txt$", re.IGNORECASE)
# Zip limits, checked on the declared sizes before anything is inflated (zipfile never inflates past the
# declared size, so these bound memory). Real Geolife: files up to a few MB, deflate ratios up to about 13.
ZIP_MAX_ENTRY_BYTES = 256 << 20
ZIP_MAX_TOTAL_BYTES = 8 << 30
ZIP_MAX_RATIO = 100.0
_ZIP_RATIO_FROM = 1 << 20  # smaller entries may compress as well as they like
_UNSAFE_NAME = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)|^[/\\]|^[A-Za-z]:|\x00")


# --------------------------------------------------------------------------------------------- file access


@dataclass(frozen=True)
class _Member:
    """One file of the dataset: its user, how to read it (zip entry or path) and its name in messages."""

    user: str
    key: str
    display: str


@dataclass
class _Store:
    """The files of a Geolife source (a zip or a folder) and a thread-safe way to read them."""

    source: Path
    plt: list[_Member]
    labels: list[_Member]
    zf: zipfile.ZipFile | None = None

    def read(self, member: _Member) -> bytes:
        try:
            if self.zf is not None:
                size = self.zf.getinfo(member.key).file_size  # checked against the limits when listed
                with self.zf.open(member.key) as fh:
                    data = fh.read(size + 1)
                if len(data) > size:
                    raise DatasetError(f"{member.display}: inflates past its declared {size:,} bytes")
                return data
            return Path(member.key).read_bytes()
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DatasetError(
                f"{member.display}: corrupt or truncated zip entry ({short_reason(exc)})"
            ) from exc
        except OSError as exc:
            raise DatasetError(
                f"{member.display}: cannot read ({exc.strerror or short_reason(exc)})"
            ) from exc


@contextlib.contextmanager
def _open_store(source: str | Path) -> Iterator[_Store]:
    src = Path(source)
    if not src.exists():
        raise DatasetError(f"{src}: no such file or folder (expected the Geolife zip or an extracted folder)")
    if src.is_file():
        try:
            zf = zipfile.ZipFile(src)
        except zipfile.BadZipFile as exc:
            raise DatasetError(
                f"{src}: not a zip file, or a truncated/corrupt one ({short_reason(exc)})"
            ) from exc
        except OSError as exc:
            raise DatasetError(f"{src}: cannot read ({exc.strerror or short_reason(exc)})") from exc
        with zf:
            plt, labels = _zip_members(src, zf)
            yield _Store(src, plt, labels, zf)
        return
    plt, labels = _folder_members(src)
    yield _Store(src, plt, labels)


def _zip_members(src: Path, zf: zipfile.ZipFile) -> tuple[list[_Member], list[_Member]]:
    plt: list[tuple[str, str, str]] = []
    labels: list[_Member] = []
    total = 0
    for info in zf.infolist():
        name = info.filename
        if _UNSAFE_NAME.search(name):
            raise DatasetError(
                f"{src}: unsafe zip entry {name!r} (absolute path or '..' component); refusing this archive"
            )
        if name.endswith("/"):
            continue
        m = _PLT_RE.search(name) or _LABELS_RE.search(name)
        if m is None:
            continue
        total += _check_entry_size(src, info)
        if total > ZIP_MAX_TOTAL_BYTES:
            raise DatasetError(
                f"{src}: the trajectory entries declare over {ZIP_MAX_TOTAL_BYTES:,} bytes uncompressed "
                f"(reached at {name!r}); refusing to read it (a zip bomb?)"
            )
        if m.re is _PLT_RE:
            plt.append((m.group(1), m.group(2), name))
        else:
            labels.append(_Member(m.group(1), name, f"{src}/{name}"))
    if not plt:
        raise DatasetError(
            f"{src}: no Geolife trajectories inside (expected 'Data/NNN/Trajectory/*.plt' entries)"
        )
    plt.sort()
    labels.sort(key=lambda mem: mem.user)
    return [_Member(u, name, f"{src}/{name}") for u, _, name in plt], labels


def _check_entry_size(src: Path, info: zipfile.ZipInfo) -> int:
    """The declared uncompressed size of one entry, after checking it and its compression ratio."""
    size, packed = info.file_size, info.compress_size
    if size > ZIP_MAX_ENTRY_BYTES:
        raise DatasetError(
            f"{src}/{info.filename}: declares {size:,} bytes uncompressed, over the "
            f"{ZIP_MAX_ENTRY_BYTES:,}-byte limit for one file; refusing to read it (a zip bomb?)"
        )
    if size > _ZIP_RATIO_FROM and size > ZIP_MAX_RATIO * max(packed, 1):
        raise DatasetError(
            f"{src}/{info.filename}: inflates {size / max(packed, 1):,.0f}-fold "
            f"({packed:,} -> {size:,} bytes), over the {ZIP_MAX_RATIO:.0f}-fold limit; refusing to read it "
            "(a zip bomb?)"
        )
    return size


def _data_dir(src: Path) -> Path:
    candidates = [src / GEOLIFE_ROOT / "Data", src / "Data", src]
    for cand in candidates:
        try:
            if cand.is_dir() and any((d / "Trajectory").is_dir() for d in _scandir_dirs(cand)):
                return cand
        except DatasetError:
            if cand == src:
                raise
    raise DatasetError(
        f"{src}: no Geolife layout found (expected '{GEOLIFE_ROOT}/Data/NNN/Trajectory/*.plt', "
        "'Data/NNN/Trajectory/*.plt' or 'NNN/Trajectory/*.plt' under it)"
    )


def _scandir_dirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            return sorted(Path(e.path) for e in it if e.is_dir())
    except OSError as exc:
        raise DatasetError(f"{path}: cannot list folder ({exc.strerror or short_reason(exc)})") from exc


def _folder_members(src: Path) -> tuple[list[_Member], list[_Member]]:
    data = _data_dir(src)
    plt: list[_Member] = []
    labels: list[_Member] = []
    for udir in _scandir_dirs(data):
        tdir = udir / "Trajectory"
        if tdir.is_dir():
            try:
                with os.scandir(tdir) as it:
                    names = sorted(e.name for e in it if e.name.lower().endswith(".plt"))
            except OSError as exc:
                raise DatasetError(
                    f"{tdir}: cannot list folder ({exc.strerror or short_reason(exc)})"
                ) from exc
            plt.extend(_Member(udir.name, str(tdir / n), str(tdir / n)) for n in names)
        lab = udir / "labels.txt"
        if lab.exists():
            labels.append(_Member(udir.name, str(lab), str(lab)))
    if not plt:
        raise DatasetError(f"{data}: no .plt trajectory files found")
    return plt, labels


def geolife_files(source: str | Path) -> list[Path]:
    """The files whose size and mtime key a cache of `source`: the zip itself, or every file of the folder."""
    src = Path(source)
    if src.is_file():
        return [src]
    with _open_store(src) as store:
        return [Path(m.key) for m in store.plt + store.labels]


def _select(members: list[_Member], users: Iterable[str | int] | None) -> list[_Member]:
    if users is None:
        return members
    wanted = {f"{u:03d}" if isinstance(u, int) else str(u) for u in users}
    return [m for m in members if m.user in wanted]


def _check_users(users: Iterable[str | int] | None, members: list[_Member], source: Path) -> None:
    if users is None:
        return
    wanted = {f"{u:03d}" if isinstance(u, int) else str(u) for u in users}
    missing = sorted(wanted - {m.user for m in members})
    if missing:
        raise DatasetError(f"{source}: users not found: {', '.join(missing[:20])}")


def _batches(members: list[_Member], workers: int) -> list[list[_Member]]:
    """Consecutive batches of files, several per worker so that the pool balances them."""
    if workers <= 1 or len(members) < 64:
        return [members] if members else []
    n = min(len(members) // 16, 4 * workers)
    edges = np.linspace(0, len(members), n + 1).astype(int)
    return [members[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


# ------------------------------------------------------------------------------------ concatenated parsing


@dataclass(frozen=True)
class _CsvSpec:
    """How one kind of file (``.plt`` or ``labels.txt``) is parsed by pyarrow."""

    names: tuple[str, ...]
    types: dict[str, pa.DataType]
    delimiter: str
    sentinel: bytes  # a valid line put first so that every real line is parsed in the same context
    header_lines: int
    timestamp_parsers: tuple[str, ...] = ()
    used: tuple[str, ...] | None = None  # columns converted (and so checked); the others only counted

    def parse(self, buffer: bytes | memoryview, threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(buffer),
            read_options=pacsv.ReadOptions(
                column_names=list(self.names), use_threads=threads, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter, quote_char=False, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={k: v for k, v in self.types.items() if self.used is None or k in self.used},
                include_columns=list(self.used) if self.used else None,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                timestamp_parsers=list(self.timestamp_parsers) or None,
            ),
        )

    def parses(self, lines: Sequence[bytes]) -> bool:
        return sentinel_parses(self, lines)

    def reason(self, line: bytes) -> tuple[str, str | None]:
        """Why one line does not parse: (message, column name or None)."""
        if stray_cr(line):
            return STRAY_CR, None
        try:
            table = self.parse(self.sentinel + line + b"\n", threads=False)
        except PARSE_ERRORS as exc:
            msg = short_reason(exc)
            m = re.search(r"column #(\d+)", msg)
            col = self.names[int(m.group(1))] if m and int(m.group(1)) < len(self.names) else None
            msg = re.sub(r"In CSV column #\d+: |Row #\d+: |CSV parse error: ", "", msg)
            for arrow, plain in _ARROW_TYPES.items():
                msg = msg.replace(f"CSV conversion error to {arrow}: invalid value", plain)
            return msg, col
        if table.num_rows != 2:
            return STRAY_CR, None
        return "unparsable line", None


_ARROW_TYPES = {
    "double": "not a number:",
    "date32[day]": "not a date YYYY-MM-DD:",
    "time32[s]": "not a time HH:MM:SS:",
    "timestamp[s]": "not a time YYYY/MM/DD HH:MM:SS:",
}
_PLT_SPEC = _CsvSpec(
    names=("lat", "lon", "zero", "alt_ft", "days", "date", "time"),
    types={
        "lat": pa.float64(),
        "lon": pa.float64(),
        "zero": pa.float64(),
        "alt_ft": pa.float64(),
        "days": pa.float64(),
        "date": pa.date32(),
        "time": pa.time32("s"),
    },
    delimiter=",",
    sentinel=b"0,0,0,0,0,1970-01-01,00:00:00\n",
    header_lines=PLT_HEADER_LINES,
    used=("lat", "lon", "date", "time"),  # the 3rd field, altitude and day count are dropped unconverted
)
_LABEL_SPEC = _CsvSpec(
    names=("start", "end", "mode"),
    types={"start": pa.timestamp("s"), "end": pa.timestamp("s"), "mode": pa.string()},
    delimiter="\t",
    sentinel=b"1970/01/01 00:00:00\t1970/01/01 00:00:00\twalk\n",
    header_lines=1,
    timestamp_parsers=("%Y/%m/%d %H:%M:%S",),
)


def _epoch_seconds(dates: pa.ChunkedArray, times: pa.ChunkedArray) -> np.ndarray:
    t = column(pa.table({"d": dates.cast(pa.int32())}), "d", np.float64)
    t *= 86400.0
    t += column(pa.table({"s": times.cast(pa.int32())}), "s", np.int32)
    return t


def _timestamps(col: pa.ChunkedArray) -> np.ndarray:
    return column(pa.table({"v": col.cast(pa.int64())}), "v", np.float64)


def _resolve_workers(workers: int | None) -> int:
    if workers is None:
        return min(4, max(2, os.cpu_count() or 1))
    if workers < 1:
        raise DatasetError(f"workers must be >= 1, got {workers}")
    return workers


# ----------------------------------------------------------------------------------------------- readers


def read_geolife(
    source: str | Path,
    *,
    labels: bool = True,
    lenient: bool = False,
    users: Iterable[str | int] | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Read Geolife trajectories into a Traces table.

    Parameters
    ----------
    source
        The Geolife zip, a folder holding ``Geolife Trajectories 1.3/Data``, or the ``Data`` folder itself.
    labels
        Join the transport modes of ``labels.txt`` onto the points (column ``mode``; NaN where unlabelled).
    lenient
        Skip malformed lines (and unusable files) instead of raising; ``attrs["read_report"]`` counts them.
    users
        Only these users (``"010"`` or ``10``).
    workers
        Threads that unzip and parse batches of files in parallel (default: the CPU count, at least 2 and
        at most 4); zlib and pyarrow release the GIL, so two threads use both cores.

    Returns
    -------
    pandas.DataFrame
        Traces: user = folder name ``NNN``, traj = index of the ``.plt`` within the user (by file name),
        t = GMT date and time as epoch seconds, lat/lon filled, x/y NaN, ``attrs["crs"]`` None.

    Raises
    ------
    DatasetError
        The source is missing, not a Geolife layout, a corrupt zip, or unreadable.
    TraceFormatError
        A file is malformed (names the file, line and column); not raised for bad lines when ``lenient``.
    """
    nworkers = _resolve_workers(workers)
    src = Path(source)
    report = empty_read_report()
    with _open_store(src) as store:
        _check_users(users, store.plt, src)
        members = _select(store.plt, users)
        header = PLT_HEADER_LINE.encode()

        def read_batch(batch: list[_Member]) -> Parsed:
            # unzip and parse one batch of files; zlib and pyarrow release the GIL, so batches run in parallel
            prepared = [prepare(m, store.read(m), PLT_HEADER_LINES, header) for m in batch]
            sub = empty_read_report()
            return parse_files(prepared, _PLT_SPEC, lenient=lenient, threads=False, report=sub)

        batches = _batches(members, nworkers)
        if len(batches) > 1:
            with ThreadPoolExecutor(nworkers, thread_name_prefix="geolife-read") as pool:
                parts = list(pool.map(read_batch, batches))  # in order: the first bad file's error wins
        else:
            parts = [read_batch(batch) for batch in batches]
        parsed = merge_parsed(parts, report)
        del parts
        label_members = _select(store.labels, users) if labels else []
        label_table = (
            _labels_from_store(store, label_members, lenient, report, merge=True) if labels else None
        )
    lat = column(parsed.table, "lat", np.float64)
    lon = column(parsed.table, "lon", np.float64)
    bad_lat = ~(np.abs(lat) <= 90.0)
    parsed = apply_row_checks(
        parsed, bad_lat, "lat", lambda r: f"latitude {float(lat[r])} not in [-90, 90]", lenient
    )
    if bad_lat.any():
        lat, lon = lat[~bad_lat], lon[~bad_lat]
    bad_lon = ~(np.abs(lon) <= 180.0)
    parsed = apply_row_checks(
        parsed, bad_lon, "lon", lambda r: f"longitude {float(lon[r])} not in [-180, 180]", lenient
    )
    if bad_lon.any():
        lat, lon = lat[~bad_lon], lon[~bad_lon]
    t = _epoch_seconds(parsed.table.column("date"), parsed.table.column("time"))
    count_backwards(t, parsed)  # re-sorted by make_traces; counted and named in the read report
    del parsed.table

    file_users = [p.member.user for p in parsed.files]
    categories = sorted(set(file_users))
    code_of = {u: i for i, u in enumerate(categories)}
    file_codes = np.fromiter((code_of[u] for u in file_users), dtype=np.int32, count=len(file_users))
    # traj = index of the file among the user's files (all, sorted by name): stable whatever is skipped
    traj_index: dict[str, int] = {}
    all_traj = {}
    for m in members:
        all_traj[m.key] = traj_index.get(m.user, 0)
        traj_index[m.user] = all_traj[m.key] + 1
    file_traj = np.fromiter(
        (all_traj[p.member.key] for p in parsed.files), dtype=np.int32, count=len(file_users)
    )
    codes = file_codes[parsed.row_file]
    frame: dict[str, Any] = {
        "user": pd.Categorical.from_codes(codes, categories=categories),
        "traj": file_traj[parsed.row_file],
        "t": t,
        "lat": lat,
        "lon": lon,
    }
    if label_table is not None:
        frame["mode"] = _join_modes(codes, categories, t, label_table)
    return make_traces(
        pd.DataFrame(frame, copy=False), crs=None, source=str(src), metric_frame=None, read_report=report
    )


def read_geolife_labels(
    source: str | Path, *, users: Iterable[str | int] | None = None, lenient: bool = False
) -> pd.DataFrame:
    """Read every ``labels.txt`` of a Geolife source.

    Returns
    -------
    pandas.DataFrame
        Columns user (category), start, end (float64 epoch seconds, the file's times read as GMT like the
        ``.plt`` times), mode (category); sorted by user, start. ``attrs["read_report"]`` as for the points.
    """
    src = Path(source)
    report = empty_read_report()
    with _open_store(src) as store:
        _check_users(users, store.plt + store.labels, src)
        table = _labels_from_store(store, _select(store.labels, users), lenient, report, merge=False)
    table.attrs = {"source": str(src), "read_report": report}
    return table


def _labels_from_store(
    store: _Store, members: list[_Member], lenient: bool, report: dict[str, Any], *, merge: bool
) -> pd.DataFrame:
    header = LABEL_HEADER.encode()
    prepared = [prepare(m, store.read(m), 1, header) for m in members]
    sub = empty_read_report() if merge else report
    parsed = parse_files(prepared, _LABEL_SPEC, lenient=lenient, threads=False, report=sub)
    start = _timestamps(parsed.table.column("start"))
    end = _timestamps(parsed.table.column("end"))
    mode = np.asarray(parsed.table.column("mode").to_pylist(), dtype=object)
    empty = mode == ""
    parsed = apply_row_checks(parsed, empty, "mode", lambda r: "empty transportation mode", lenient)
    if empty.any():
        start, end, mode = start[~empty], end[~empty], mode[~empty]
    backwards = end < start
    parsed = apply_row_checks(parsed, backwards, "end", lambda r: "end time before start time", lenient)
    if backwards.any():
        start, end, mode = start[~backwards], end[~backwards], mode[~backwards]
    if merge:  # the points' report: label counts kept apart, skips and warnings merged
        report["label_files"] = sub["files"]
        report["label_lines"] = sub["lines"]
        report["bad_lines_skipped"] += sub["bad_lines_skipped"]
        report["files_skipped"] += sub["files_skipped"]
        report["skipped_files"].extend(sub["skipped_files"])
        report["warnings"].extend(sub["warnings"][: MAX_REPORT_WARNINGS - len(report["warnings"])])
    users = [p.member.user for p in parsed.files]
    categories = sorted(set(users))
    code_of = {u: i for i, u in enumerate(categories)}
    file_codes = np.fromiter((code_of[u] for u in users), dtype=np.int32, count=len(users))
    codes = file_codes[parsed.row_file]
    order = np.lexsort((start, codes))
    mode_cat = pd.Categorical(mode[order], categories=sorted(set(mode.tolist())))
    return pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(codes[order], categories=categories),
            "start": start[order],
            "end": end[order],
            "mode": mode_cat,
        }
    )


def _join_modes(codes: np.ndarray, categories: list[str], t: np.ndarray, lab: pd.DataFrame) -> pd.Categorical:
    """Interval join: each point gets the mode of the latest label of its user with start <= t <= end."""
    modes = lab["mode"].cat.categories
    out = np.full(len(t), -1, dtype=np.int16)
    if len(lab) and len(t):
        point_of = {u: i for i, u in enumerate(categories)}
        lab_users = lab["user"].astype(str).to_numpy()
        lab_codes = np.array([point_of.get(u, -1) for u in lab_users], dtype=np.int64)
        ok = lab_codes >= 0
        lab_codes = lab_codes[ok]
        start = lab["start"].to_numpy()[ok]
        end = lab["end"].to_numpy()[ok]
        mcode = lab["mode"].cat.codes.to_numpy()[ok]
        labelled = np.zeros(len(categories), dtype=bool)
        labelled[lab_codes] = True
        rows = np.flatnonzero(labelled[codes])  # only points of users that have labels
        pc, pt = codes[rows].astype(np.int64), t[rows]
        if len(rows) and len(lab_codes):
            # one sorted key over (user, time): code * span + time offset, exact in float64 for whole seconds
            base = min(start.min(), pt.min()) - 1.0
            span = max(end.max(), pt.max()) - base + 2.0
            lab_key = lab_codes * span + (start - base)
            order = np.argsort(lab_key, kind="stable")
            lab_key, lab_codes, end, mcode = lab_key[order], lab_codes[order], end[order], mcode[order]
            idx = np.searchsorted(lab_key, pc * span + (pt - base), side="right") - 1
            valid = idx >= 0
            idxc = np.where(valid, idx, 0)
            valid &= (lab_codes[idxc] == pc) & (pt <= end[idxc])
            out[rows[valid]] = mcode[idxc[valid]]
    return pd.Categorical.from_codes(out, categories=modes)
