"""Resampling of a Traces table onto a fixed time grid by linear interpolation inside each trajectory.

A trajectory is cut into segments wherever two consecutive samples are more than ``max_gap_s`` apart and,
when a region is given, wherever it leaves the region (points outside are dropped; re-entering starts a new
segment). Each segment is sampled on the absolute grid ``k * interval_s`` (so every user's samples fall on the
same ticks) between its first and last sample, never extrapolated. Segments become the new trajectories,
numbered 0, 1, … per user. Everything is vectorized over all segments at once (one lexsort, no Python loop).
Reading, projecting and region presets are left to the other modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.datasets._columns import TraceColumns, column, has_column, sort_order, user_codes
from edgeroam.datasets._report import empty_read_report
from edgeroam.datasets.regions import Region, get_region, region_mask
from edgeroam.errors import DatasetError

if TYPE_CHECKING:  # a `TraceColumns` table is resampled without pandas
    import pandas as pd

__all__ = ["resample", "segment_ids"]

_NUMERIC = ("x", "y", "lat", "lon")


def _sorted(traces: pd.DataFrame | TraceColumns) -> pd.DataFrame | TraceColumns:
    if isinstance(traces, TraceColumns):  # sorted and checked by whoever built it
        return traces
    from edgeroam.datasets.traces import validate_traces

    validate_traces(traces)  # also checks the sort order
    return traces.reset_index(drop=True)


def segment_ids(
    traces: pd.DataFrame | TraceColumns, *, max_gap_s: float, inside: np.ndarray | None = None
) -> np.ndarray:
    """Segment number of every row (sorted by user, traj, t); -1 for rows outside `inside`.

    A new segment starts at a new (user, traj), after a gap longer than `max_gap_s`, and where the track
    re-enters the region (``inside`` goes from False to True). Numbers are global and increasing.
    """
    n = len(traces)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    u = user_codes(traces)
    tr = column(traces, "traj")
    t = column(traces, "t", float)
    keep = np.ones(n, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    start = np.ones(n, dtype=bool)
    later = start[1:]  # each term or-ed in place: one temporary at a time on a large table
    np.not_equal(u[1:], u[:-1], out=later)
    later |= tr[1:] != tr[:-1]
    later |= np.diff(t) > max_gap_s
    later |= keep[1:] & ~keep[:-1]
    seg = np.cumsum(start)
    del start
    seg -= 1
    seg[~keep] = -1
    return seg


def _kept_rows(
    src: pd.DataFrame | TraceColumns, max_gap_s: float, inside: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rows `resample` interpolates between when only `inside` rows are used, and their segments.

    The same rows as from `segment_ids` (rows inside, less a repeated time within a segment), computed from
    each inside row and the row before it alone; the segment numbers count segments among these rows only,
    so they differ from `segment_ids`'s by a gap-free renumbering that keeps their order and equalities (all
    `resample` reads of them).
    """
    idx = np.flatnonzero(inside)
    if len(idx) == 0:
        return idx, np.zeros(0, dtype=np.int64)
    u = user_codes(src)
    tr = column(src, "traj")
    t = column(src, "t", float)
    # every row but the table's first has a row before it (the rows are ascending: only the first may be 0);
    # the flags of the rows that have one are views of the arrays of all
    first = int(idx[0] == 0)
    cur = idx[first:]
    prev = cur - 1
    start = np.ones(len(idx), dtype=bool)
    later = start[first:]
    np.not_equal(u[cur], u[prev], out=later)
    later |= tr[cur] != tr[prev]
    t_cur, t_prev = t[cur], t[prev]
    later |= (t_cur - t_prev) > max_gap_s
    later |= ~inside[prev]
    del prev
    # a repeated timestamp inside a segment (keep the first): it cannot be interpolated between
    dup = np.zeros(len(idx), dtype=bool)
    np.equal(t_cur, t_prev, out=dup[first:])
    del t_cur, t_prev
    dup[first:] &= ~later
    seg = np.cumsum(start)
    seg -= 1
    keep = ~dup
    return idx[keep], seg[keep]


def resample(
    traces: pd.DataFrame | TraceColumns,
    interval_s: float,
    *,
    max_gap_s: float,
    region: Region | str | None = None,
    min_points: int = 1,
    inside: np.ndarray | None = None,
) -> pd.DataFrame | TraceColumns:
    """Resample every trajectory to one sample per `interval_s` seconds by linear interpolation.

    Parameters
    ----------
    traces : DataFrame or TraceColumns
        A Traces table (x, y and/or lat, lon filled).
    interval_s : float
        Grid step; samples fall on multiples of it (absolute time).
    max_gap_s : float
        Two consecutive samples further apart than this are not interpolated across: a new trajectory starts.
    region : Region or str, optional
        When given, only points inside are used and leaving the region ends a trajectory.
    min_points : int
        Segments yielding fewer resampled points are dropped.
    inside : bool array, optional
        The rows inside `region` when the caller knows them (`region_mask`; e.g. it let go of lat/lon).

    Returns
    -------
    DataFrame or TraceColumns
        A Traces table of the kind given (same columns; ``mode`` taken from the nearer source sample), new
        traj ids per user, attrs kept plus ``attrs["resample"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> from edgeroam.datasets.traces import make_traces
    >>> df = make_traces(pd.DataFrame({"user": ["a", "a"], "traj": [0, 0], "t": [0.0, 60.0],
    ...                                "x": [0.0, 60.0], "y": [0.0, 0.0]}), metric_frame="local")
    >>> resample(df, 20, max_gap_s=120)["x"].tolist()
    [0.0, 20.0, 40.0, 60.0]
    """
    if not interval_s > 0:
        raise DatasetError(f"resample: interval_s must be > 0, got {interval_s}")
    if not max_gap_s > 0:
        raise DatasetError(f"resample: max_gap_s must be > 0, got {max_gap_s}")
    src = _sorted(traces)
    reg = None if region is None else get_region(region)
    if reg is None:
        inside = None
    elif inside is None:
        inside = region_mask(src, reg)
    t_all = column(src, "t", float)
    if inside is not None:  # the region's rows and their predecessors alone: no array of every row
        rows, seg = _kept_rows(src, max_gap_s, np.asarray(inside, dtype=bool))
    else:
        seg_all = segment_ids(src, max_gap_s=max_gap_s)
        # drop repeated timestamps inside a segment (keep the first): they cannot be interpolated between
        dup = np.zeros(len(src), dtype=bool)
        dup[1:] = (seg_all[1:] == seg_all[:-1]) & (t_all[1:] == t_all[:-1])
        rows = np.nonzero(~dup)[0]
        seg = seg_all[rows]
        del seg_all, dup
    t = t_all[rows]
    del inside  # the rest works on the kept rows only

    # segments: first/last row (positions in `rows`)
    first = np.r_[0, np.nonzero(np.diff(seg))[0] + 1] if len(rows) else np.zeros(0, dtype=np.int64)
    last = np.r_[first[1:] - 1, len(rows) - 1] if len(first) else first
    g0 = np.ceil(t[first] / interval_s) * interval_s
    g1 = np.floor(t[last] / interval_s) * interval_s
    counts = np.where(g1 >= g0, np.floor((g1 - g0) / interval_s + 1e-9).astype(np.int64) + 1, 0)
    good = counts >= max(1, min_points)
    first, last, g0, counts = first[good], last[good], g0[good], counts[good]

    # grid times, segment by segment
    total = int(counts.sum())
    gseg = np.repeat(np.arange(len(first)), counts)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    g = g0[gseg] + k * interval_s

    # bracket each grid time exactly: merge (segment, time) of samples and grid points with one lexsort;
    # samples sort before grid points at equal time, so `before` counts samples with time <= g
    pseg = seg[first][gseg] if total else np.zeros(0, dtype=seg.dtype)
    keys_seg = np.r_[seg, pseg]
    keys_t = np.r_[t, g]
    kind = np.r_[np.zeros(len(t), dtype=np.int8), np.ones(total, dtype=np.int8)]
    order = np.lexsort((kind, keys_t, keys_seg))
    is_grid = order >= len(t)
    grid_pos = np.nonzero(is_grid)[0]  # merged positions of grid points, in grid order
    before = grid_pos - np.arange(total)  # number of samples before each grid point in merged order
    i = before - 1
    seg_last = last[gseg]
    i = np.minimum(i, seg_last)  # g == t[last] lands on the last sample
    j = np.minimum(i + 1, seg_last)
    i = np.where(i == seg_last, np.maximum(j - 1, first[gseg]), i)
    ti, tj = t[i], t[j]
    span = tj - ti
    w = np.where(span > 0, (g - ti) / np.where(span > 0, span, 1.0), 0.0)

    ri, rj = rows[i], rows[j]
    codes = user_codes(src)
    # new trajectory ids: rank of the segment within its user
    seg_user = codes[rows[first]]
    new_user = np.ones(len(first), dtype=bool)
    new_user[1:] = seg_user[1:] != seg_user[:-1]
    seg_no = np.arange(len(first))
    traj_of_seg = seg_no - np.maximum.accumulate(np.where(new_user, seg_no, 0))
    out: dict[str, np.ndarray] = {"traj": traj_of_seg[gseg].astype(np.int32), "t": g}
    for col in _NUMERIC:
        if has_column(src, col):
            v = column(src, col, float)
            out[col] = v[ri] + w * (v[rj] - v[ri])
    attrs = dict(traces.attrs)
    about = {"interval_s": float(interval_s), "max_gap_s": float(max_gap_s),
             "region": None if reg is None else reg.name}
    if isinstance(src, TraceColumns):  # as `make_traces` makes the table below: sorted, its attrs
        res = TraceColumns(codes[ri], src.users, out, {
            **attrs, "crs": attrs.get("crs"), "source": str(attrs.get("source", "")),
            "metric_frame": attrs.get("metric_frame"),
            "read_report": attrs.get("read_report") or empty_read_report(), "resample": about})
        order = sort_order(res.codes, res.data["traj"], g)
        return res if order is None else res.take(order)
    import pandas as pd

    from edgeroam.datasets.traces import make_traces

    table: dict[str, Any] = {"user": pd.Categorical.from_codes(codes[ri], dtype=src["user"].dtype), **out}
    if "mode" in src:
        pick = np.where(w <= 0.5, ri, rj)
        table["mode"] = pd.Categorical(src["mode"].iloc[pick].to_numpy(), dtype=src["mode"].dtype)
    res = make_traces(
        pd.DataFrame(table),
        crs=attrs.get("crs"),
        source=attrs.get("source", ""),
        metric_frame=attrs.get("metric_frame"),
        read_report=attrs.get("read_report"),
    )
    res.attrs = {**attrs, **res.attrs}
    res.attrs["resample"] = about
    return res
