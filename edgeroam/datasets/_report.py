"""The readers' read report, apart from the Traces table so that they load no pandas.

A reader's worker phase (inflate, parse, check) needs only these, numpy and pyarrow: the Geolife reader
imports pandas while its workers run (see `edgeroam.datasets.geolife`). `edgeroam.datasets.traces`
re-exports them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_REPORT_WARNINGS", "empty_read_report"]

MAX_REPORT_WARNINGS = 50


def empty_read_report() -> dict[str, Any]:
    """A fresh ``read_report``: files read, data lines seen, bad lines skipped, warnings (capped), every
    skipped file with its reason (``skipped_files``: file, reason), and the steps where time went backwards
    inside a file (``times_backwards``; ``resorted_files``: file, backwards, first_line), which the Traces
    table re-sorts."""
    return {"files": 0, "lines": 0, "bad_lines_skipped": 0, "files_skipped": 0, "warnings": [],
            "skipped_files": [], "times_backwards": 0, "resorted_files": []}
