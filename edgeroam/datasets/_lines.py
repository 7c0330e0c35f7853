"""Line bookkeeping shared by the trace readers: one parse of many files, row-to-line maps, bad-line search.

The readers parse many files as one concatenated buffer with one C parse. This module keeps the per-file line
counts, maps a row of that buffer back to (file, line) and, only when the fast parse fails, finds the
offending lines by bisection: a chunk of lines that parses is good as a whole, a failing chunk is split in
two. A sentinel line goes first so every real line is parsed in the same context; then a set of lines parses
exactly when each of its lines does, and one bad line among n costs about 2n parsed lines. How a line is
parsed (pyarrow, pandas) is the reader's ``LineParser``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from edgeroam.datasets._report import MAX_REPORT_WARNINGS, empty_read_report
from edgeroam.errors import TraceFormatError

__all__ = [
    "PARSE_ERRORS",
    "STRAY_CR",
    "LineParser",
    "Parsed",
    "Prepared",
    "apply_row_checks",
    "column",
    "count_backwards",
    "file_and_line",
    "fixed_values",
    "locate_bad_lines",
    "parse_files",
    "prepare",
    "sentinel_parses",
    "short_reason",
    "stray_cr",
    "warn",
]


_NON_SPACE = re.compile(rb"\S")
PARSE_ERRORS = (pa.ArrowException, ValueError, OverflowError)  # what a parser may raise on bad bytes
STRAY_CR = "stray carriage return splits the line"  # the reason for a line with a carriage return inside


class LineParser(Protocol):
    """How one kind of file is parsed: a valid sentinel line, the header length, three parse entry points."""

    sentinel: bytes
    header_lines: int

    def parse(self, buffer: bytes | memoryview, threads: bool) -> pa.Table:
        """Parse a buffer of whole lines (sentinel first); raise on any malformed line."""
        ...

    def parses(self, lines: Sequence[bytes]) -> bool:
        """True when these lines (after the sentinel) parse and pass the parser's own checks."""
        ...

    def reason(self, line: bytes) -> tuple[str, str | None]:
        """Why one line does not parse: (message, column name or None)."""
        ...


def sentinel_parses(parser: LineParser, lines: Sequence[bytes]) -> bool:
    """True when `lines` parse after the parser's sentinel, one row each (a stray CR would add a row)."""
    try:
        table = parser.parse(parser.sentinel + b"\n".join(lines) + b"\n", threads=False)
    except PARSE_ERRORS:
        return False
    return table.num_rows == len(lines) + 1


def stray_cr(line: bytes) -> bool:
    """True when `line` holds a carriage return other than a final one (the parsers split the line there)."""
    return b"\r" in (line[:-1] if line.endswith(b"\r") else line)


def locate_bad_lines(
    lines: Sequence[bytes], parses: Callable[[Sequence[bytes]], bool], *, first_only: bool = False
) -> list[int]:
    """Return the indices (ascending) of the lines that do not parse.

    Parameters
    ----------
    lines
        The data lines, without line terminators.
    parses
        True when a chunk of lines parses cleanly; must judge each line on its own (no cross-line state).
    first_only
        Stop at the first bad line (depth-first, low half first).
    """
    bad: list[int] = []
    stack = [(0, len(lines))]
    while stack:
        lo, hi = stack.pop()
        if hi <= lo or parses(lines[lo:hi]):
            continue
        if hi - lo == 1:
            bad.append(lo)
            if first_only:
                break
            continue
        mid = (lo + hi) // 2
        stack.append((mid, hi))
        stack.append((lo, mid))
    return sorted(bad)


def file_and_line(rows: np.ndarray, counts: np.ndarray, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """Map row numbers of a concatenated buffer to (file index, 1-based line number in that file).

    ``counts`` are the data lines per file in buffer order; ``first_line`` is the line number of a file's
    first data line (7 for Geolife after its 6 header lines, 1 for KAIST).
    """
    starts = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    rows = np.asarray(rows, dtype=np.int64)
    files = np.searchsorted(starts, rows, side="right") - 1
    return files, rows - starts[files] + first_line


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception message, shortened for an error or a warning."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Prepared:
    """A file's data lines located inside its bytes (the header checked), or the reason it is unusable."""

    member: Any  # the reader's handle for the file; must have a ``display`` name for messages
    data: bytes = b""
    start: int = 0
    nlines: int = 0
    needs_newline: bool = False
    problem: TraceFormatError | None = None


def prepare(member: Any, data: bytes, header_lines: int, header: bytes | None) -> Prepared:
    """Check a file's header (when `header` is given) and locate its data lines; a problem is recorded, not
    raised, so the lenient reader can skip the file."""
    out = Prepared(member, data)
    if not data:
        out.problem = TraceFormatError(member.display, "empty file", line=1)
        return out
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r\n \t")
    if header is not None and first != header:
        shown = first[:60].decode("utf-8", "replace")
        out.problem = TraceFormatError(
            member.display, f"wrong header: line 1 is {shown!r}, expected {header.decode()!r}", line=1
        )
        return out
    pos = -1
    for k in range(header_lines):
        pos = data.find(b"\n", pos + 1)
        if pos < 0:
            out.problem = TraceFormatError(
                member.display, f"file ends inside the {header_lines}-line header", line=k + 1
            )
            return out
    out.start = pos + 1
    if _NON_SPACE.search(data, out.start) is None:
        what = "no data lines after the header" if header_lines else "no data lines"
        out.problem = TraceFormatError(member.display, f"empty file: {what}", line=header_lines + 1)
        return out
    out.needs_newline = not data.endswith(b"\n")
    # numpy counts newlines about 3x faster than bytes.count, and its compare releases the GIL
    newlines = np.count_nonzero(np.frombuffer(data, np.uint8, offset=out.start) == 10)
    out.nlines = int(newlines) + int(out.needs_newline)
    return out


@dataclass
class Parsed:
    """The rows of one `parse_files` call with, for each row, the file (and line) it came from."""

    table: pa.Table  # without the sentinel row
    row_file: np.ndarray  # index into `files` for each row
    row_line: np.ndarray | None  # 1-based line numbers, only filled by the slow path
    files: list[Prepared]
    first_line: int  # line number of a file's first data line
    report: dict[str, Any] = field(default_factory=empty_read_report)


def warn(report: dict[str, Any], text: str) -> None:
    """Append a warning to a read report, up to `MAX_REPORT_WARNINGS`."""
    if len(report["warnings"]) < MAX_REPORT_WARNINGS:
        report["warnings"].append(text)


def parse_files(
    prepared: list[Prepared],
    spec: LineParser,
    *,
    lenient: bool,
    threads: bool,
    report: dict[str, Any],
    scratch: Callable[[int], bytearray] | None = None,
) -> Parsed:
    """One C parse over the concatenated data lines of all usable files; bisection only when it fails.

    `scratch(size)` gives a reusable buffer of at least `size` bytes to concatenate into (a fresh buffer's
    page faults cost more than the copy); only for a parser whose table keeps no view of its input (no string
    columns)."""
    files: list[Prepared] = []
    for p in prepared:
        if p.problem is None:
            files.append(p)
        elif lenient:
            report["files_skipped"] += 1
            text = str(p.problem)
            reason = text[len(p.problem.path):].lstrip(", ") if text.startswith(p.problem.path) else text
            report["skipped_files"].append({"file": p.problem.path, "reason": reason})
            warn(report, f"skipped {p.problem}")
        else:
            raise p.problem
    report["files"] += len(prepared)
    buffer = _concatenate(spec.sentinel, files, scratch)
    counts = np.fromiter((p.nlines for p in files), dtype=np.int64, count=len(files))
    total = int(counts.sum())
    report["lines"] += total
    table: pa.Table | None
    try:
        table = spec.parse(buffer, threads=threads)
        if table.num_rows != total + 1:
            table = None
    except PARSE_ERRORS:
        table = None
    if table is not None:
        del buffer
        row_file = np.repeat(np.arange(len(files), dtype=np.int32), counts)
        return Parsed(table.slice(1), row_file, None, files, spec.header_lines + 1, report)
    # slow path: find the bad lines, then parse the good ones
    lines = bytes(buffer).split(b"\n")[1:-1]
    del buffer
    bad = locate_bad_lines(lines, spec.parses, first_only=not lenient)
    bad_arr = np.asarray(bad, dtype=np.int64)
    bad_files, bad_lines = file_and_line(bad_arr, counts, spec.header_lines + 1)
    if not lenient:
        if not bad:  # should not happen: the full parse failed but every line parses alone
            raise TraceFormatError(files[0].member.display if files else "<none>", "unparsable data")
        msg, col = spec.reason(lines[bad[0]])
        raise TraceFormatError(
            files[int(bad_files[0])].member.display, msg, line=int(bad_lines[0]), column=col
        )
    for i, fi, ln in zip(bad[:MAX_REPORT_WARNINGS], bad_files, bad_lines, strict=False):
        msg, col = spec.reason(lines[i])
        where = f", column {col}" if col else ""
        warn(report, f"skipped {files[int(fi)].member.display}, line {int(ln)}{where}: {msg}")
    report["bad_lines_skipped"] += len(bad)
    keep = np.ones(len(lines), dtype=bool)
    keep[bad_arr] = False
    all_files, all_lines = file_and_line(np.arange(len(lines)), counts, spec.header_lines + 1)
    good = [ln for ln, k in zip(lines, keep, strict=True) if k]
    del lines
    body = b"\n".join(good) + b"\n" if good else b""  # every line bad: the sentinel alone, no empty row
    try:
        table = spec.parse(spec.sentinel + body, threads=threads).slice(1)
    except PARSE_ERRORS as exc:  # every kept line parses alone; a failure here is a parser inconsistency
        name = files[0].member.display if files else "<none>"
        raise TraceFormatError(name, f"unparsable data ({short_reason(exc)})") from exc
    return Parsed(
        table, all_files[keep].astype(np.int32), all_lines[keep], files, spec.header_lines + 1, report
    )


def _concatenate(
    sentinel: bytes, files: list[Prepared], scratch: Callable[[int], bytearray] | None
) -> bytes | memoryview:
    """The sentinel and every file's data lines (each ending in a newline) in one buffer; each file's bytes
    are freed once copied (the raw text lives on in the buffer only, so the peak memory halves)."""
    if scratch is None:
        parts: list[bytes | memoryview] = [sentinel]
        for p in files:
            parts.append(memoryview(p.data)[p.start :])
            if p.needs_newline:
                parts.append(b"\n")
        joined = b"".join(parts)
        del parts
        for p in files:
            p.data = b""
        return joined
    size = len(sentinel) + sum(len(p.data) - p.start + p.needs_newline for p in files)
    view = memoryview(scratch(size))
    view[: len(sentinel)] = sentinel
    pos = len(sentinel)
    for p in files:
        n = len(p.data) - p.start
        view[pos : pos + n] = memoryview(p.data)[p.start :]
        pos += n
        if p.needs_newline:
            view[pos] = 10
            pos += 1
        p.data = b""
    return view[:pos]


def apply_row_checks(
    parsed: Parsed, bad: np.ndarray, column: str, reason: Callable[[int], str], lenient: bool
) -> Parsed:
    """Drop (lenient) or raise on rows flagged by a vectorized value check."""
    if not bad.any():
        return parsed
    rows = np.flatnonzero(bad)
    if parsed.row_line is None:
        counts = np.bincount(parsed.row_file, minlength=len(parsed.files))
        _, lines = file_and_line(rows, counts, parsed.first_line)
    else:
        lines = parsed.row_line[rows]
    if not lenient:
        fi = int(parsed.row_file[rows[0]])
        raise TraceFormatError(
            parsed.files[fi].member.display, reason(int(rows[0])), line=int(lines[0]), column=column
        )
    for r, ln in zip(rows[:MAX_REPORT_WARNINGS], lines, strict=False):
        fi = int(parsed.row_file[r])
        warn(
            parsed.report,
            f"skipped {parsed.files[fi].member.display}, line {int(ln)}, column {column}: {reason(int(r))}",
        )
    parsed.report["bad_lines_skipped"] += len(rows)
    keep = ~bad
    if parsed.row_line is None:
        all_rows = np.arange(len(keep))
        counts = np.bincount(parsed.row_file, minlength=len(parsed.files))
        _, parsed.row_line = file_and_line(all_rows, counts, parsed.first_line)
    return Parsed(
        parsed.table.filter(pa.array(keep)),
        parsed.row_file[keep],
        parsed.row_line[keep],
        parsed.files,
        parsed.first_line,
        parsed.report,
    )


def count_backwards(t: np.ndarray, parsed: Parsed) -> None:
    """Count, per file, the rows whose time is before the previous row's (the Traces table re-sorts them)
    into ``parsed.report``: ``times_backwards``, ``resorted_files`` (file, backwards, first_line), a warning.

    `t` holds one time per row of `parsed`, in file order.
    """
    rf = parsed.row_file
    if len(t) < 2:
        return
    back = np.flatnonzero((t[1:] < t[:-1]) & (rf[1:] == rf[:-1])) + 1
    if len(back) == 0:
        return
    if parsed.row_line is None:
        counts = np.bincount(rf, minlength=len(parsed.files))
        lines = file_and_line(back, counts, parsed.first_line)[1]
    else:
        lines = parsed.row_line[back]
    files, first, per_file = np.unique(rf[back], return_index=True, return_counts=True)
    report = parsed.report
    report["times_backwards"] += len(back)
    for fi, i, n in zip(files, first, per_file, strict=True):
        name = parsed.files[int(fi)].member.display
        report["resorted_files"].append({"file": name, "backwards": int(n), "first_line": int(lines[i])})
        warn(report, f"re-sorted {name}: time goes backwards {int(n)} time(s), first at line {int(lines[i])}")


def fixed_values(col: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    """The values of a fixed-width column without nulls as `dtype` (its physical type: int32 for date32 and
    time32, int64 for timestamps), read straight from the Arrow buffers: a read-only view of a single chunk.

    pyarrow's own ``to_numpy`` and ``cast`` import pandas and pyarrow.compute (a fifth of a second), which
    the readers' workers leave to the main thread; a column with nulls goes through `column`.
    """
    dtype = np.dtype(dtype)
    chunks = [c for c in col.chunks if len(c)]
    if any(c.null_count or c.type.bit_width != 8 * dtype.itemsize for c in chunks):
        return column(pa.table({"v": col}), "v", dtype)
    parts = [np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize)
             for c in chunks]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def column(table: pa.Table, name: str, dtype: Any) -> np.ndarray:
    """One column of `table` as one numpy array of `dtype` (its chunks joined)."""
    col = table.column(name)
    if col.num_chunks == 0:
        return np.empty(0, dtype=dtype)
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in col.chunks]).astype(dtype, copy=False)
