"""The readers' read report and heap trimming, apart from the Traces table so that they load no pandas.

A reader's worker phase (inflate, parse, check) needs only these, numpy and pyarrow: the Geolife reader
imports pandas while its workers run (see `edgeroam.datasets.geolife`). `edgeroam.datasets.traces`
re-exports them.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["MAX_REPORT_WARNINGS", "empty_read_report", "trim_heap"]

MAX_REPORT_WARNINGS = 50


def empty_read_report() -> dict[str, Any]:
    """A fresh ``read_report``: files read, data lines seen, bad lines skipped, warnings (capped), every
    skipped file with its reason (``skipped_files``: file, reason), and the steps where time went backwards
    inside a file (``times_backwards``; ``resorted_files``: file, backwards, first_line), which the Traces
    table re-sorts."""
    return {"files": 0, "lines": 0, "bad_lines_skipped": 0, "files_skipped": 0, "warnings": [],
            "skipped_files": [], "times_backwards": 0, "resorted_files": []}


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None elsewhere."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Hand the heap memory freed so far back to the system: glibc keeps freed blocks of the main and of each
    thread's arena resident otherwise, and the next peak grows by them; a no-op without glibc."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
