"""Column values of user-supplied traces (table, GPX, SUMO): numbers, times and the bad rows among them.

The readers of user data get raw columns (strings from CSV or XML, typed values from Parquet) and need the
same three things: turn a column into float64 (one C cast; `pandas.to_numeric` only to find the bad values
when that fails), turn a time column into epoch seconds (numbers, ISO 8601 strings with or without an
offset, timestamps; naive times in a given time zone, else UTC), and collect every bad row with its column
and reason so that one error names file, line (or row) and column, or the lenient reader skips and counts
them. Finding files and building the Traces table are left to the readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from edgeroam.datasets._lines import warn
from edgeroam.datasets.traces import MAX_REPORT_WARNINGS
from edgeroam.errors import DatasetError, TraceFormatError

__all__ = ["BadRows", "check_timezone", "count_backwards_by_user", "to_float", "to_seconds", "to_strings"]

_OFFSET = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"  # an ISO 8601 time that carries its own UTC offset
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"  # epoch seconds written as a number


def _shown(value: Any) -> str:
    text = "" if value is None else str(value)
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _as_array(values: Any) -> pa.Array:
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], type=arr.type)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def to_strings(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(object array of str, missing mask); numbers are written as text (an integer id stays ``"7"``)."""
    arr = _as_array(values)
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    out = arr.to_numpy(zero_copy_only=False)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        blank = pc.equal(pc.utf8_trim_whitespace(arr), "").fill_null(True).to_numpy(zero_copy_only=False)
        missing = missing | blank
    return out, missing


def to_float(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float64 values, missing mask, bad mask): bad = present but not a finite number."""
    arr = _as_array(values)
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        trimmed = pc.utf8_trim_whitespace(arr)
        missing = missing | pc.equal(trimmed, "").fill_null(True).to_numpy(zero_copy_only=False)
        try:
            out = pc.cast(trimmed, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = pd.to_numeric(pd.Series(trimmed.to_numpy(zero_copy_only=False)), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_boolean(arr.type) or pa.types.is_null(arr.type):
        out = np.full(len(arr), np.nan)
    else:
        raise TypeError(f"a number was expected, the column holds {arr.type}")
    out = np.asarray(out, dtype=np.float64)
    bad = ~np.isfinite(out) & ~missing
    return np.where(missing, np.nan, out), missing, bad


def check_timezone(timezone: str | None) -> None:
    """Raise DatasetError unless `timezone` is None or an IANA name (``Asia/Shanghai``) pandas knows."""
    if timezone is None:
        return
    try:
        pd.Timestamp("2000-01-01").tz_localize(timezone)
    except Exception as exc:  # pytz/zoneinfo raise several unrelated types for an unknown name
        raise DatasetError(f"unknown time zone {timezone!r} (an IANA name such as 'Asia/Shanghai')") from exc


def _localize(naive: pd.Series, timezone: str | None) -> tuple[pd.Series, np.ndarray]:
    """Naive datetimes in `timezone` (UTC when None) to UTC; non-existent or ambiguous local times are NaT."""
    if timezone is None:
        return naive.dt.tz_localize("UTC"), np.zeros(len(naive), dtype=bool)
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    lost = (local.isna() & naive.notna()).to_numpy()
    return local.dt.tz_convert("UTC"), lost


def _epoch(utc: pd.Series) -> np.ndarray:
    ns = utc.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out = (ns // 1_000_000_000).astype(np.float64) + (ns % 1_000_000_000) / 1e9
    return np.where(utc.isna().to_numpy(), np.nan, out)


def to_seconds(values: Any, timezone: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(epoch seconds, missing mask, bad mask, reason for bad rows) of a time column.

    Numbers are seconds since the Unix epoch (a numeric string too); strings are ISO 8601
    (``2008-10-23T02:53:04Z``, ``2008-10-23 10:53:04+08:00``, ``2008-10-23 02:53:04``); timestamps are taken
    as they are. A time without an offset is local time in `timezone` (an IANA name), else UTC; a local time
    that does not exist or is ambiguous there (a DST change) is bad.
    """
    arr = _as_array(values)
    reason = "not a time (epoch seconds or ISO 8601)"
    if pa.types.is_timestamp(arr.type):
        series = pd.Series(arr.to_pandas())
        missing = series.isna().to_numpy()
        if arr.type.tz is None:
            utc, lost = _localize(series, timezone)
            return _epoch(utc), missing, lost, f"local time does not exist or is ambiguous in {timezone}"
        return _epoch(series.dt.tz_convert("UTC")), missing, np.zeros(len(arr), dtype=bool), reason
    if pa.types.is_date(arr.type):
        arr = pc.cast(arr, pa.timestamp("s"))
        return to_seconds(arr, timezone)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        numbers, missing, bad = to_float(arr)
        return numbers, missing, bad, "not a finite number of seconds"
    trimmed = pc.utf8_trim_whitespace(arr)
    missing = arr.is_null().to_numpy(zero_copy_only=False) | pc.equal(trimmed, "").fill_null(True).to_numpy(
        zero_copy_only=False)
    number = pc.match_substring_regex(trimmed, _NUMBER).fill_null(False).to_numpy(zero_copy_only=False)
    out = np.full(len(arr), np.nan)
    if number.any():
        out[number] = pc.cast(trimmed.filter(pa.array(number)), pa.float64()).to_numpy(zero_copy_only=False)
    is_text = ~number & ~missing
    if not is_text.any():
        return out, missing, number & ~np.isfinite(out), "not a finite number of seconds"
    has_offset = pc.match_substring_regex(trimmed, _OFFSET).fill_null(False).to_numpy(zero_copy_only=False)
    text = pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)
    aware = is_text & has_offset
    naive = is_text & ~has_offset
    still_bad = number & ~np.isfinite(out)
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = _epoch(parsed)
    if naive.any():
        parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):  # cannot happen without an offset; be safe
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        utc, lost = _localize(parsed, timezone)
        out[naive] = _epoch(utc)
        if lost.any():
            reason = f"not a time, or a local time that does not exist or is ambiguous in {timezone}"
    still_bad[is_text] = ~np.isfinite(out[is_text])
    return out, missing, still_bad, reason


@dataclass
class BadRows:
    """The bad rows of one file, each with its column and reason; one error or a lenient skip at the end.

    `line_of` maps row indices to line numbers (None: rows are named by their 1-based number, as in
    Parquet). `show` gives the raw value of a row in a column for the message.
    """

    path: str
    line_of: Callable[[np.ndarray], np.ndarray] | None = None
    flags: list[tuple[np.ndarray, str, str, Callable[[int], Any] | None]] = field(default_factory=list)

    def flag(
        self, mask: np.ndarray, column: str, reason: str, show: Callable[[int], Any] | None = None
    ) -> None:
        """Record the rows of `mask` as bad in `column` for `reason` (`show(row)` gives the value)."""
        if mask.any():
            self.flags.append((np.asarray(mask, dtype=bool), column, reason, show))

    def any(self) -> bool:
        return bool(self.flags)

    def _error(
        self, row: int, column: str, reason: str, show: Callable[[int], Any] | None
    ) -> TraceFormatError:
        text = f"{reason}: {_shown(show(row))}" if show is not None else reason
        if self.line_of is None:
            return TraceFormatError(self.path, f"row {row + 1}: {text}", column=column)
        line = int(self.line_of(np.asarray([row]))[0])
        return TraceFormatError(self.path, text, line=line, column=column)

    def resolve(self, n: int, *, lenient: bool, report: dict[str, Any]) -> np.ndarray:
        """The keep mask over `n` rows; raises the first bad row's error unless `lenient`, which counts
        them in ``report["bad_lines_skipped"]`` and warns about the first few."""
        keep = np.ones(n, dtype=bool)
        if not self.flags:
            return keep
        firsts = [int(np.flatnonzero(m)[0]) for m, *_ in self.flags]
        if not lenient:
            i = int(np.argmin(firsts))
            mask, column, reason, show = self.flags[i]
            raise self._error(firsts[i], column, reason, show)
        first_flag = np.full(n, -1, dtype=np.int64)  # which flag names each bad row (the first one)
        for k in range(len(self.flags) - 1, -1, -1):
            first_flag[self.flags[k][0]] = k
        bad_rows = np.flatnonzero(first_flag >= 0)
        keep[bad_rows] = False
        report["bad_lines_skipped"] += len(bad_rows)
        for row in bad_rows[:MAX_REPORT_WARNINGS]:
            _, column, reason, show = self.flags[int(first_flag[row])]
            warn(report, f"skipped {self._error(int(row), column, reason, show)}")
        return keep


def count_backwards_by_user(
    path: str, user: np.ndarray, t: np.ndarray, lines: np.ndarray | None, report: dict[str, Any]
) -> None:
    """Count rows whose time is before the previous row of the same user (file order; users may
    interleave) into `report`: ``times_backwards``, ``resorted_files`` (file, backwards, first_line) and a
    warning. The Traces table re-sorts them. `lines` gives each row's line (None: rows are numbered)."""
    if len(t) < 2:
        return
    order = np.argsort(user, kind="stable")
    us, ts = user[order], t[order]
    back = np.flatnonzero((ts[1:] < ts[:-1]) & (us[1:] == us[:-1])) + 1
    if len(back) == 0:
        return
    first_row = int(order[back].min())
    first = int(lines[first_row]) if lines is not None else first_row + 1
    report["times_backwards"] += len(back)
    report["resorted_files"].append({"file": path, "backwards": len(back), "first_line": first})
    unit = "line" if lines is not None else "row"
    warn(report, f"re-sorted {path}: time goes backwards {len(back)} time(s), first at {unit} {first}")
