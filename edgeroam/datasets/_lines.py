"""Line bookkeeping shared by the trace readers: file offsets of a concatenated buffer and bad-line search.

The readers parse many files as one concatenated buffer with one C parse. This module maps a row of that
buffer back to (file, line) and, only when the fast parse fails, finds the offending lines by bisection: a
chunk of lines that parses is good as a whole, a failing chunk is split in two. Every line is parsed in the
same context, so a set of lines parses exactly when each of its lines does; one bad line among n costs about
2n parsed lines. Parsing itself is left to the readers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["file_and_line", "locate_bad_lines", "short_reason"]


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
