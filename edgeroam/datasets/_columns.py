"""A Traces table's columns as plain numpy arrays, and reading a column from either kind of table.

A cold ``edgeroam datasets info geolife`` reads, summarises and resamples the traces without a DataFrame, so
that it never imports pandas (a fifth of a second of CPU beside the reader's workers and 40 MB of resident
memory): `TraceColumns` holds what the statistics and the resampling read. The other functions read a column
from a DataFrame Traces table or a `TraceColumns` alike. Building and checking the DataFrame table is left to
`traces`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TraceColumns", "column", "has_column", "is_sorted", "sort_order", "user_codes", "user_count"]


@dataclass
class TraceColumns:
    """The columns of a Traces table without pandas: each row's user code (into `users`, the sorted user
    categories) and ``traj`` (int32), ``t``, ``x``, ``y``, ``lat``, ``lon`` (float64) in `data`, rows sorted
    by user, traj, t as in the DataFrame table (whoever builds one sorts it: `sort_order`); `attrs` as the
    table's (crs, source, metric_frame, read_report). No ``mode``: nothing that reads one needs it."""

    codes: np.ndarray
    users: list[str]
    data: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> TraceColumns:
        """These rows (positions), in this order; attrs shared."""
        return TraceColumns(self.codes[rows], self.users, {k: v[rows] for k, v in self.data.items()},
                            self.attrs)


def user_codes(traces: pd.DataFrame | TraceColumns) -> np.ndarray:
    """Each row's user code (the categorical's codes)."""
    if isinstance(traces, TraceColumns):
        return traces.codes
    return traces["user"].cat.codes.to_numpy()


def user_count(traces: pd.DataFrame | TraceColumns) -> int:
    """How many user categories the table has (occurring or not)."""
    if isinstance(traces, TraceColumns):
        return len(traces.users)
    return len(traces["user"].cat.categories)


def column(traces: pd.DataFrame | TraceColumns, name: str, dtype: Any = None) -> np.ndarray:
    """Column `name` as a numpy array (of `dtype` when given; a view where the column already is one)."""
    if isinstance(traces, TraceColumns):
        values = traces.data[name]
        return values if dtype is None else values.astype(dtype, copy=False)
    return traces[name].to_numpy() if dtype is None else traces[name].to_numpy(dtype=dtype)


def has_column(traces: pd.DataFrame | TraceColumns, name: str) -> bool:
    """True when the table has column `name`."""
    if isinstance(traces, TraceColumns):
        return name == "user" or name in traces.data
    return name in traces.columns


def is_sorted(codes: np.ndarray, traj: np.ndarray, t: np.ndarray) -> bool:
    """True when rows are ordered by (codes, traj, t); the few group breaks are checked on their own."""
    brk = np.flatnonzero((codes[1:] != codes[:-1]) | (traj[1:] != traj[:-1]))
    c0, c1 = codes[brk].astype(np.int64), codes[brk + 1].astype(np.int64)
    if not ((c1 > c0) | ((c1 == c0) & (traj[brk + 1] > traj[brk]))).all():
        return False
    t_back = np.flatnonzero(t[1:] < t[:-1])  # NaN compares False: never counted as out of order
    return bool(np.isin(t_back, brk).all())


def sort_order(codes: np.ndarray, traj: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """The rows' order by (codes, traj, t), stable; None when they are in that order already."""
    if len(codes) < 2 or is_sorted(codes, traj, t):
        return None
    return np.lexsort((t, traj, codes))
