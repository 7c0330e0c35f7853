"""Read Microsoft Geolife Trajectories 1.3 into a Traces table, from the official zip or an extracted folder.

Layout: ``Geolife Trajectories 1.3/Data/NNN/Trajectory/YYYYMMDDhhmmss.plt`` (one trajectory per file) and
optionally ``Data/NNN/labels.txt`` (transport modes). A ``.plt`` file has 6 header lines (line 1 is
``Geolife trajectory``), then ``lat,lon,0,altitude_ft,days_since_1899-12-30,YYYY-MM-DD,HH:MM:SS`` per line
with CRLF endings; date and time are GMT. ``t`` comes from the date and time columns; altitude and the day
count are checked for being numbers and dropped.

Speed: a thread pool takes consecutive batches of files; each worker inflates its entries straight from the
zip (ISA-L's inflate when the ``isal`` package is there, else zlib; both release the GIL), parses the batch's
data lines in one pyarrow CSV parse (which releases it too), checks them and keeps only the final columns
(t, lat, lon float64), so the text of at most one batch per worker is alive at a time; meanwhile the calling
thread reads the labels. Once every batch is parsed (so every batch's offset is known), the same workers copy
each batch's columns into the final arrays at its offset, user and trajectory codes too, join its transport
modes there, and with ``xy`` project its rows there, so that the copies' page faults and the projection use
every core. Only when a
parse fails are the bad lines searched (by bisection, see ``_lines``).
Projection, regions and resampling are left to the other modules of ``edgeroam.datasets``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import struct
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from edgeroam._memory import trim_heap
from edgeroam.datasets._columns import TraceColumns, sort_order
from edgeroam.datasets._lines import (
    PARSE_ERRORS,
    STRAY_CR,
    Prepared,
    apply_row_checks,
    count_backwards,
    fixed_values,
    parse_files,
    prepare,
    sentinel_parses,
    short_reason,
    stray_cr,
    warn,
)
from edgeroam.datasets._report import MAX_REPORT_WARNINGS, empty_read_report
from edgeroam.datasets.project import transformer, utm_crs_for
from edgeroam.errors import DatasetError, TraceFormatError

if TYPE_CHECKING:  # pandas is imported while the workers read (`_import_while_reading`)
    import pandas as pd

try:  # ISA-L inflates about 2.5x faster than zlib, with the same output and errors
    from isal.isal_zlib import crc32 as _crc32
    from isal.isal_zlib import decompressobj as _inflater
    from isal.isal_zlib import error as _inflate_error
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the same stream format
    from zlib import crc32 as _crc32
    from zlib import decompressobj as _inflater
    from zlib import error as _inflate_error

__all__ = [
    "GEOLIFE_ROOT",
    "LABEL_HEADER",
    "PLT_HEADER_LINE",
    "geolife_files",
    "read_geolife",
    "read_geolife_columns",
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
_FAST_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # read by `_Store._entry`, the rest by zipfile
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

    fd: int = -1  # the zip opened for `os.pread` (thread-safe: no shared file position)

    def read(self, member: _Member) -> bytes:
        try:
            if self.zf is not None:
                info = self.zf.getinfo(member.key)  # its sizes were checked against the limits when listed
                if info.compress_type in _FAST_METHODS and not info.flag_bits & 1:
                    return self._entry(info)
                size = info.file_size
                with self.zf.open(member.key) as fh:  # other methods, encrypted entries: zipfile's way
                    data = fh.read(size + 1)
                if len(data) > size:
                    raise DatasetError(f"{member.display}: inflates past its declared {size:,} bytes")
                return data
            return Path(member.key).read_bytes()
        except (zipfile.BadZipFile, zlib.error, _inflate_error, EOFError) as exc:
            raise DatasetError(
                f"{member.display}: corrupt or truncated zip entry ({short_reason(exc)})"
            ) from exc
        except OSError as exc:
            raise DatasetError(
                f"{member.display}: cannot read ({exc.strerror or short_reason(exc)})"
            ) from exc

    def _entry(self, info: zipfile.ZipInfo) -> bytes:
        """A stored or deflated entry read with two `os.pread` calls and inflated at most to its declared
        size (one byte more shows a lie), its length and CRC-32 checked as zipfile checks them."""
        head = os.pread(self.fd, 30, info.header_offset)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local file header")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        packed = os.pread(self.fd, info.compress_size, info.header_offset + 30 + name_len + extra_len)
        if len(packed) < info.compress_size:
            raise EOFError(f"the archive ends inside the entry ({len(packed):,} of {info.compress_size:,})")
        size = info.file_size
        data = packed if info.compress_type == zipfile.ZIP_STORED else _inflater(-15).decompress(
            packed, max_length=size + 1)
        if len(data) != size:
            more = "past" if len(data) > size else "short of"
            raise zipfile.BadZipFile(f"inflates {more} its declared {size:,} bytes")
        if _crc32(data) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return data


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
            try:
                fd = os.open(src, os.O_RDONLY)
            except OSError as exc:
                raise DatasetError(f"{src}: cannot read ({exc.strerror or short_reason(exc)})") from exc
            try:
                yield _Store(src, plt, labels, zf, fd)
            finally:
                os.close(fd)
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


_BATCH_FILES = 16
"""Files per batch (about 3 MB of text in Geolife): the text of one batch per worker is alive at a time
(a third of the 48 of before: 0.43 -> 0.38 GB peak reading and projecting Geolife, fewer page faults)."""


_TRIM_EVERY = 4
"""Batches placed between two heap trims (`_assemble`): at most a few MB of their freed columns wait, the
peak is the same, and 20 thousand madvise calls fewer than trimming after every batch (Geolife)."""


def _batches(members: list[_Member], workers: int) -> list[list[_Member]]:
    """Consecutive batches of files, small enough to bound memory and several per worker for balance."""
    if len(members) < 64:
        return [members] if members else []
    n = min(len(members) // 16, max(4 * workers, len(members) // _BATCH_FILES))
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
            memory_pool=_parse_pool(),
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
    t = fixed_values(dates, np.int32).astype(np.float64)  # days since the epoch
    t *= 86400.0
    t += fixed_values(times, np.int32)  # seconds of the day
    return t


def _timestamps(col: pa.ChunkedArray) -> np.ndarray:
    return fixed_values(col, np.int64).astype(np.float64)


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
    xy: bool = False,
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
    xy
        Also fill x, y as `project` does (the UTM zone of every row's median, `utm_crs_for`), each batch
        projected by a worker into its place in the final arrays (pyproj releases the GIL too).

    Returns
    -------
    pandas.DataFrame
        Traces: user = folder name ``NNN``, traj = index of the ``.plt`` within the user (by file name),
        t = GMT date and time as epoch seconds, lat/lon filled, x/y NaN and ``attrs["crs"]`` None (with `xy`:
        x/y in metres, ``attrs["crs"]`` the UTM zone, ``metric_frame`` "utm", the table `project` returns).

    Raises
    ------
    DatasetError
        The source is missing, not a Geolife layout, a corrupt zip, or unreadable.
    TraceFormatError
        A file is malformed (names the file, line and column); not raised for bad lines when ``lenient``.
    """
    return cast("pd.DataFrame", _read(source, labels, lenient, users, workers, xy, frame=True))


def read_geolife_columns(
    source: str | Path,
    *,
    lenient: bool = False,
    workers: int | None = None,
    xy: bool = False,
    imports: Sequence[str] = (),
) -> TraceColumns:
    """`read_geolife`'s table as `TraceColumns`, without pandas (for a cold ``datasets info``): the same rows
    and columns but ``mode``; the labels are read all the same (their checks, skipped lines and counts are
    the read report's), only not joined onto the points. `imports`: modules the caller needs next, imported
    on this thread while the workers read (not after)."""
    return cast(TraceColumns, _read(source, True, lenient, None, workers, xy, frame=False, imports=imports))


def _read(
    source: str | Path,
    labels: bool,
    lenient: bool,
    users: Iterable[str | int] | None,
    workers: int | None,
    xy: bool,
    *,
    frame: bool,
    imports: Sequence[str] = (),
) -> pd.DataFrame | TraceColumns:
    """`read_geolife` (`frame`) or `read_geolife_columns`."""
    nworkers = _resolve_workers(workers)
    src = Path(source)
    report = empty_read_report()
    with contextlib.ExitStack() as stack:  # the pool's threads are joined however this ends
        store = stack.enter_context(_open_store(src))
        _check_users(users, store.plt, src)
        members = _select(store.plt, users)
        buffers = threading.local()  # one concatenation buffer per worker, reused batch after batch

        def scratch(size: int) -> bytearray:
            buf: bytearray | None = getattr(buffers, "buf", None)
            if buf is None or len(buf) < size:  # a new one, never resized: no view of the old one can break
                buf = buffers.buf = bytearray(size + size // 4)
            return buf

        def read_batch(batch: list[_Member]) -> _Batch:
            return _read_batch(store, batch, lenient, scratch)

        batches = _batches(members, nworkers)
        pool = None
        if len(batches) > 1:
            pool = stack.enter_context(ThreadPoolExecutor(nworkers, thread_name_prefix="geolife-read"))
            running = pool.map(read_batch, batches)
        # the labels while the workers read (the modes are joined as the batches are placed); their report
        # and errors keep their place after parsing
        label_report = empty_read_report()
        label_table: _Labels | None = None
        label_error: DatasetError | TraceFormatError | None = None
        if labels:
            try:
                label_table = _labels_from_store(
                    store, _select(store.labels, users), lenient, label_report, merge=True
                )
            except (DatasetError, TraceFormatError) as exc:
                label_error = exc
        if pool is None:
            parts = [read_batch(b) for b in batches]
        else:
            _import_while_reading(xy, pandas=frame, modules=imports)
            parts = list(running)  # in order: the first bad file's error wins
        return _assemble(parts, members, label_table, label_error, label_report, report, src, xy, pool, frame)


def _import_while_reading(xy: bool, pandas: bool = True, modules: Sequence[str] = ()) -> None:
    """Import pandas (a fifth of a second) unless not `pandas`, pyproj for `xy` and the other `modules`, while
    the workers inflate and parse instead of before (or after); with a short GIL switch interval meanwhile,
    so that a worker back from C code waits a tenth of a millisecond for the GIL, not the default five."""
    wanted = [*(["pandas"] if pandas else []), *(["pyproj"] if xy else []), *modules]
    if all(name in sys.modules for name in wanted):
        return
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        for name in wanted:
            importlib.import_module(name)
    finally:
        sys.setswitchinterval(interval)


def _assemble(
    parts: list[_Batch],
    members: list[_Member],
    label_table: _Labels | None,
    label_error: DatasetError | TraceFormatError | None,
    label_report: dict[str, Any],
    report: dict[str, Any],
    src: Path,
    xy: bool,
    pool: ThreadPoolExecutor | None,
    frame: bool = True,
) -> pd.DataFrame | TraceColumns:
    """The Traces table of the parsed batches: errors and reports in the order of one pass, then every
    batch's columns copied into the final arrays at its offset (and x, y projected there with `xy`) by the
    workers, so that the copies' page faults and the projection run on every core. Not `frame`: as
    `TraceColumns` without ``mode`` (the labels' checks and counts still in the report)."""
    trim_heap()
    if label_error is not None:
        raise label_error
    checks = [(phase, i) for i, part in enumerate(parts) for phase, _ in part.errors]
    if checks:  # a value check failed: the first one of the earliest check, as one pass over all rows does
        phase, i = min(checks)
        raise dict(parts[i].errors)[phase]
    for phase in range(len(_PHASES)):
        for part in parts:
            _merge_report(report, part.reports[phase])
        if phase == 0:
            for key in ("label_files", "label_lines"):
                if key in label_report:
                    report[key] = label_report[key]
            _merge_report(report, label_report)

    files = [f for part in parts for f in part.files]
    categories = sorted({f.member.user for f in files})
    code_of = {u: i for i, u in enumerate(categories)}
    code_type = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32767 else np.int32
    file_codes = np.fromiter((code_of[f.member.user] for f in files), dtype=code_type, count=len(files))
    # traj = index of the file among the user's files (all, sorted by name): stable whatever is skipped
    traj_index: dict[str, int] = {}
    all_traj = {}
    for m in members:
        all_traj[m.key] = traj_index.get(m.user, 0)
        traj_index[m.user] = all_traj[m.key] + 1
    file_traj = np.fromiter((all_traj[f.member.key] for f in files), dtype=np.int32, count=len(files))
    part_rows = [int(part.rows.sum()) for part in parts]
    row_at = np.concatenate(([0], np.cumsum(part_rows, dtype=np.int64))).tolist()
    file_at = np.concatenate(([0], np.cumsum([len(part.files) for part in parts], dtype=np.int64))).tolist()
    n = row_at[-1]
    crs = _zone(parts, n) if xy and n else None  # no rows: unprojected, as `project` leaves such a table
    joined = label_table is not None and frame
    names = ["t", "lat", "lon", *(["x", "y"] if crs else []), *(["mode"] if joined else [])]
    # mode codes in the type pandas keeps for that many categories (int8 below 127): not copied into it
    mode_type = np.int8 if label_table is None or len(label_table.modes) < 127 else np.int16
    out = {c: np.empty(n, dtype=mode_type if c == "mode" else np.float64) for c in names}
    codes = np.empty(n, dtype=code_type)
    traj = np.empty(n, dtype=np.int32)
    # x, y unprojected: one NaN column for both (as `make_traces` fills them), filled by the workers too
    nan = np.empty(n) if crs is None else None
    local = threading.local()
    by_user = _labels_by_user(label_table) if joined and label_table is not None else None
    released: set[int] = set()
    _release_parse_memory(released)  # every batch is parsed: the pools' pages of this thread go back

    def fill(i: int) -> None:
        """Batch `i`'s rows into their place, its modes joined there; its own columns let go as they are
        copied."""
        _release_parse_memory(released)  # a worker's first batch here: its parses are over
        part, a, b = parts[i], row_at[i], row_at[i + 1]
        rows, fa, fb = part.rows, file_at[i], file_at[i + 1]
        if by_user is not None:
            _batch_modes(part.files, rows, part.columns["t"], by_user, out["mode"][a:b])
        for c in ("t", "lat", "lon"):
            col = part.columns.pop(c, None)
            if col is not None:
                out[c][a:b] = col
            if crs and c in ("lat", "lon"):  # x from lon, y from lat, projected in place below
                out["y" if c == "lat" else "x"][a:b] = col
            del col
        codes[a:b] = np.repeat(file_codes[fa:fb], rows)
        traj[a:b] = np.repeat(file_traj[fa:fb], rows)
        if nan is not None:
            nan[a:b] = np.nan
        if crs and b > a:
            held: tuple[str, Any] | None = getattr(local, "held", None)
            if held is None or held[0] != crs:  # one Transformer per thread (they are not thread-safe)
                held = local.held = (crs, transformer("EPSG:4326", crs))
            held[1].transform(out["x"][a:b], out["y"][a:b], inplace=True)  # each point on its own
        if i % _TRIM_EVERY == _TRIM_EVERY - 1:  # the batches' own columns leave the resident memory as the
            trim_heap()  # final ones fill up (each trim: ~240 madvise calls, so not after every batch)

    if pool is not None and len(parts) > 1:
        list(pool.map(fill, range(len(parts))))
    else:
        for i in range(len(parts)):
            fill(i)
    trim_heap()
    # rows come in (user, traj, t) order when no file's time goes backwards: users and their files are
    # sorted, each file is one traj (numbered in name order)
    presorted = report["times_backwards"] == 0
    metric_frame = None if crs is None else "utm"
    if not frame:
        data = {"traj": traj, **{c: out[c] for c in names}}
        if nan is not None:
            data["x"] = data["y"] = nan
        table = TraceColumns(codes, categories, data, {"crs": crs, "source": str(src),
                                                        "metric_frame": metric_frame, "read_report": report})
        order = None if presorted else sort_order(codes, traj, out["t"])
        return table if order is None else table.take(order)
    import pandas as pd

    from edgeroam.datasets.traces import make_traces

    columns: dict[str, Any] = {
        "user": pd.Categorical.from_codes(codes, categories=categories),
        "traj": traj,
        **{c: out[c] for c in names if c != "mode"},
    }
    if label_table is not None:
        columns["mode"] = pd.Categorical.from_codes(out["mode"], categories=label_table.modes)
    return make_traces(pd.DataFrame(columns, copy=False), crs=crs, source=str(src), metric_frame=metric_frame,
                       read_report=report, presorted=presorted, nan=nan)


_ZONE_MARGIN = 1e-6
"""Degrees: a median this far inside a zone's edges (or the equator) is in that zone whatever its rounding."""


def _zone(parts: list[_Batch], n: int) -> str:
    """`utm_crs_for` of every row (the zone of the median lon/lat) without sorting them: the zone of the first
    batch's median, confirmed by counting the rows below its edges (both middle values of all the rows lie
    well inside it, and on one side of the equator); the full median when that does not hold."""
    first = next(part for part in parts if len(part.columns.get("lon", ())))
    guess = utm_crs_for(first.columns["lon"], first.columns["lat"])
    zone = int(guess[-2:])
    lo = (zone - 1) * 6.0 - 180.0
    low, high = lo + _ZONE_MARGIN, lo + 6.0 - _ZONE_MARGIN
    below_low = below_high = south = 0
    for part in parts:
        lon, lat = part.columns.get("lon"), part.columns.get("lat")
        if lon is None or lat is None:
            continue
        below_low += int(np.count_nonzero(lon < low))
        below_high += int(np.count_nonzero(lon < high))
        south += int(np.count_nonzero(lat < 0.0))
    mid_lo, mid_hi = (n - 1) // 2, n // 2  # the middle values' positions in sorted order (one when n is odd)
    north = south <= mid_lo
    if below_low <= mid_lo and mid_hi < below_high and (north or south > mid_hi):
        return f"EPSG:{32600 + zone if north else 32700 + zone}"
    lon = np.concatenate([p.columns["lon"] for p in parts if p.columns.get("lon") is not None])
    lat = np.concatenate([p.columns["lat"] for p in parts if p.columns.get("lat") is not None])
    return utm_crs_for(lon, lat)


_PHASES = ("parse", "lat", "lon", "backwards")
"""The steps of a batch, in the order one pass over all rows reports them (the labels come after parsing)."""


@dataclass
class _Batch:
    """One batch of files read by a worker: the final columns of its rows, the rows kept per file, and one
    read report per step of `_PHASES`; `errors` holds a failed value check (phase, error), raised by the
    caller only after every batch has parsed, so that errors come in the order of a single pass."""

    files: list[Prepared]
    rows: np.ndarray
    columns: dict[str, np.ndarray]
    reports: list[dict[str, Any]]
    errors: list[tuple[int, TraceFormatError]]


def _read_batch(
    store: _Store,
    batch: list[_Member],
    lenient: bool,
    scratch: Callable[[int], bytearray],
) -> _Batch:
    """Inflate, parse and check one batch of files; keep only t, lat and lon."""
    header = PLT_HEADER_LINE.encode()
    prepared = [prepare(m, store.read(m), PLT_HEADER_LINES, header) for m in batch]
    reports = [empty_read_report() for _ in _PHASES]
    # the .plt parse keeps no string column, so the table holds no view of the reused buffer
    parsed = parse_files(
        prepared, _PLT_SPEC, lenient=lenient, threads=False, report=reports[0], scratch=scratch
    )
    phase = 1
    try:
        lat, lon = _floats(parsed.table, "lat"), _floats(parsed.table, "lon")
        parsed.report = reports[1]
        bad_lat = ~(np.abs(lat) <= 90.0)
        parsed = apply_row_checks(
            parsed, bad_lat, "lat", lambda r: f"latitude {float(lat[r])} not in [-90, 90]", lenient
        )
        if bad_lat.any():
            lat, lon = lat[~bad_lat], lon[~bad_lat]
        phase = 2
        parsed.report = reports[2]
        bad_lon = ~(np.abs(lon) <= 180.0)
        parsed = apply_row_checks(
            parsed, bad_lon, "lon", lambda r: f"longitude {float(lon[r])} not in [-180, 180]", lenient
        )
        if bad_lon.any():
            lat, lon = lat[~bad_lon], lon[~bad_lon]
    except TraceFormatError as exc:
        return _Batch(parsed.files, np.zeros(0, dtype=np.int64), {}, reports, [(phase, exc)])
    t = _epoch_seconds(parsed.table.column("date"), parsed.table.column("time"))
    parsed.report = reports[3]
    count_backwards(t, parsed)  # re-sorted by make_traces; counted and named in the read report
    rows = np.bincount(parsed.row_file, minlength=len(parsed.files)).astype(np.int64, copy=False)
    columns: dict[str, np.ndarray] = {"t": t, "lat": lat, "lon": lon}
    return _Batch(parsed.files, rows, columns, reports, [])


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A float64 column of a batch's table, copied out of the parse's memory pool (`_parse_pool`)."""
    return np.array(fixed_values(table.column(name), np.float64))


@functools.cache
def _parse_pool() -> pa.MemoryPool:
    """The memory pool of the CSV parses: mimalloc's when pyarrow has it, else malloc's.

    The parser shrinks its buffer of parsed text when a parse ends: with malloc (64-byte aligned blocks) that
    is a new block and a copy into fresh pages, every batch; mimalloc shrinks in place and reuses a thread's
    freed pages for its next batch (Geolife: 24 thousand page faults and 0.2-0.3 s of CPU fewer). Nothing
    parsed outlives its batch (the columns kept are copied out), and each worker hands the pool's free
    pages back once its batches are parsed (`_release_parse_memory`)."""
    try:
        return pa.mimalloc_memory_pool()
    except (NotImplementedError, AttributeError):  # pragma: no cover - pyarrow built without mimalloc
        return pa.system_memory_pool()


def _release_parse_memory(done: set[int]) -> None:
    """Once per thread (`done` holds the threads that did): the parse pool's free pages of this thread go
    back to the system (mimalloc keeps them per thread, and only the thread itself can collect them)."""
    me = threading.get_ident()
    if me not in done:
        done.add(me)
        _parse_pool().release_unused()


def _merge_report(report: dict[str, Any], sub: dict[str, Any]) -> None:
    """Add a batch's (or the labels') report into `report`: counts summed, lists appended, warnings capped."""
    for key in ("files", "lines", "bad_lines_skipped", "files_skipped", "times_backwards"):
        report[key] += sub[key]
    report["skipped_files"].extend(sub["skipped_files"])
    report["resorted_files"].extend(sub["resorted_files"])
    for text in sub["warnings"]:
        warn(report, text)


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
        lab = _labels_from_store(store, _select(store.labels, users), lenient, report, merge=False)
    import pandas as pd

    table = pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(lab.user_codes, categories=lab.users),
            "start": lab.start,
            "end": lab.end,
            "mode": pd.Categorical(lab.mode, categories=lab.modes),
        }
    )
    table.attrs = {"source": str(src), "read_report": report}
    return table


@dataclass(frozen=True)
class _Labels:
    """Every label row, sorted by user, then start: the `read_geolife_labels` table's columns as arrays."""

    users: list[str]  # the user categories (sorted)
    user_codes: np.ndarray
    start: np.ndarray
    end: np.ndarray
    mode: np.ndarray  # the mode of each row (str objects)
    modes: list[str]  # the mode categories (sorted)
    mode_codes: np.ndarray


def _labels_from_store(
    store: _Store, members: list[_Member], lenient: bool, report: dict[str, Any], *, merge: bool
) -> _Labels:
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
    mode = mode[order]
    modes = sorted(set(mode.tolist()))
    mode_of = {m: i for i, m in enumerate(modes)}
    mode_codes = np.fromiter((mode_of[m] for m in mode), dtype=np.int16, count=len(mode))
    return _Labels(categories, codes[order], start[order], end[order], mode, modes, mode_codes)


_UserLabels = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One user's labels in table order (sorted by start): start, end (epoch seconds) and mode codes."""


def _labels_by_user(lab: _Labels) -> dict[str, _UserLabels]:
    """The labels split by user (they are sorted by user, then start)."""
    users, start, end, mcode = lab.user_codes, lab.start, lab.end, lab.mode_codes
    cuts = np.flatnonzero(np.diff(users)) + 1
    out: dict[str, _UserLabels] = {}
    for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(users)].tolist(), strict=True):
        if b > a:
            out[lab.users[users[a]]] = (start[a:b], end[a:b], mcode[a:b])
    return out


def _batch_modes(
    files: list[Prepared], rows: np.ndarray, t: np.ndarray, by_user: dict[str, _UserLabels], out: np.ndarray
) -> None:
    """Interval join of one batch into `out`: each point gets the mode code of the latest label of its user
    with start <= t <= end, else -1. A user's rows are consecutive (files are sorted by user)."""
    out[:] = -1
    ends = np.cumsum(rows)
    first = 0
    while first < len(files):
        user, last = files[first].member.user, first
        while last + 1 < len(files) and files[last + 1].member.user == user:
            last += 1
        lab = by_user.get(user)
        if lab is not None:
            lo, hi = int(ends[first] - rows[first]), int(ends[last])
            start, end, mcode = lab
            pt = t[lo:hi]
            idx = np.searchsorted(start, pt, side="right") - 1
            valid = idx >= 0
            idx = np.where(valid, idx, 0)
            valid &= pt <= end[idx]
            out[lo:hi][valid] = mcode[idx[valid]]
        first = last + 1
