"""Summary statistics of a Traces table: counts, time span, sampling interval and mean speed.

Mean speed (the definition used everywhere in edgeroam): over every pair of consecutive samples of the same
trajectory that are more than 0 s and at most ``max_gap_s`` (default 120 s) apart, the total distance divided
by the total time. Stationary periods count (they are part of a user's time); longer gaps do not. Distance is
Euclidean in x, y where both samples are projected, else great-circle (haversine) from lat/lon. "In region"
uses only the pairs whose two samples are both inside the region. Also given: the moving-only speed (steps of
at least 0.2 m/s), the stationary share of time, and the mean over users of each user's own mean speed
(``user_mean_speed_mps``). PerDNN's reported values (≈ 0.5 m/s KAIST, ≈ 3.9 m/s Geolife; TARGETS.md P-D4)
are given beside ours.
Loading and plotting are left to `load` and `plot`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.datasets._columns import TraceColumns, column, user_codes, user_count
from edgeroam.datasets.regions import Region, get_region, region_mask

if TYPE_CHECKING:  # pandas is imported where a DataFrame is made: a `TraceColumns` table needs none
    import pandas as pd

__all__ = ["PERDNN_MEAN_SPEED", "SPEED_MAX_GAP_S", "STATIONARY_MPS", "dataset_info", "step_table"]

#: PerDNN §IV.B's mean user speed (m/s), TARGETS.md P-D4.
PERDNN_MEAN_SPEED: dict[str, float] = {"kaist": 0.5, "geolife": 3.9}
#: Consecutive samples further apart than this are a gap, not a step, for speeds.
SPEED_MAX_GAP_S = 120.0
#: A step slower than this counts as stationary (GPS jitter of a standing user).
STATIONARY_MPS = 0.2
_EARTH_R = 6_371_008.8
_ABSOLUTE_T = 1e8  # t above this (1973) is read as seconds since the epoch; below, as relative seconds


def step_table(traces: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of consecutive samples in a trajectory: row index of the first sample, dt, distance.

    Returns
    -------
    DataFrame with columns ``i`` (first sample's position), ``dt`` (s), ``dist`` (m).
    """
    import pandas as pd

    same, dt, dist = _steps(traces)
    return pd.DataFrame({"i": np.flatnonzero(same), "dt": dt, "dist": dist}, copy=False)


_CHUNK = 1 << 18
"""Rows per chunk of the step loops: their temporaries stay a few MB on a table of millions of rows."""
_SMALL_CHUNK = 1 << 15
"""Rows per chunk where two threads take the chunks (each thread's temporaries stay in its own heap)."""


def _steps(traces: pd.DataFrame | TraceColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`step_table` as arrays: ``same`` (row k and k + 1 are one trajectory's; step k is kept where True),
    dt and dist of the kept steps (``v[k + 1] - v[k]``)."""
    same, dt = _step_times(traces)
    return same, dt, _step_distances(traces, same, len(dt))


def _step_times(
    traces: pd.DataFrame | TraceColumns, spare: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``same`` (see `_steps`) and the kept steps' dt, chunk by chunk on two threads (numpy lets go of the
    GIL): each chunk's flags and their count first, then its dt written into its own slice of the final
    array (the same values as one pass gives); that array is the front of `spare` when it is long enough."""
    n = len(traces)
    if n < 2:
        return np.zeros(max(n - 1, 0), bool), np.zeros(0)
    u = user_codes(traces)
    tr = column(traces, "traj")
    t = column(traces, "t", float)
    same = np.empty(n - 1, dtype=bool)
    starts = range(0, n - 1, _SMALL_CHUNK)
    kept = [0] * len(starts)

    def flags(j: int) -> None:
        a = starts[j]
        b = min(a + _SMALL_CHUNK, n - 1)
        m = same[a:b]
        np.equal(u[a + 1 : b + 1], u[a:b], out=m)
        m &= tr[a + 1 : b + 1] == tr[a:b]
        kept[j] = int(np.count_nonzero(m))

    def times(j: int) -> None:
        a, w = starts[j], ends[j - 1] if j else 0
        b = min(a + _SMALL_CHUNK, n - 1)
        dt[w : ends[j]] = (t[a + 1 : b + 1] - t[a:b])[same[a:b]]

    if len(starts) == 1:
        flags(0)
        ends = kept
        dt = _buffer(kept[0], spare)
        times(0)
        return same, dt
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(flags, range(len(starts))))
        ends = np.cumsum(kept).tolist()
        dt = _buffer(ends[-1], spare)
        list(pool.map(times, range(len(starts))))
    return same, dt


def _buffer(n: int, spare: np.ndarray | None) -> np.ndarray:
    """`n` float64 values: the front of `spare` when it holds that many, else a new array."""
    return spare[:n] if spare is not None and len(spare) >= n else np.empty(n)


def _step_distances(
    traces: pd.DataFrame | TraceColumns, same: np.ndarray, kept: int, spare: np.ndarray | None = None
) -> np.ndarray:
    """The kept steps' distances: Euclidean in x, y chunk by chunk, great-circle from lat/lon where x or y
    is missing; written into the front of `spare` when it is long enough."""
    dist = _buffer(kept, spare)
    if kept == 0:
        return dist
    x, y = (column(traces, c, float) for c in ("x", "y"))
    starts = range(0, len(same), _SMALL_CHUNK)
    # where each chunk's steps go in `dist`, then the chunks on two threads (numpy lets go of the GIL; each
    # writes its own slice, every distance as one np.hypot gives it); small chunks: two threads' temporaries
    ends = np.cumsum([np.count_nonzero(same[a : a + _SMALL_CHUNK]) for a in starts]).tolist()

    def chunk(j: int) -> None:
        a, w = starts[j], ends[j - 1] if j else 0
        b = min(a + _SMALL_CHUNK, len(same))
        m = same[a:b]
        dx = (x[a + 1 : b + 1] - x[a:b])[m]
        np.hypot(dx, (y[a + 1 : b + 1] - y[a:b])[m], out=dist[w : ends[j]])

    if len(starts) > 1:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(chunk, range(len(starts))))
    else:
        chunk(0)
    bad = ~np.isfinite(dist)
    if bad.any():
        i = np.flatnonzero(same)
        lat = np.radians(column(traces, "lat", float))
        lon = np.radians(column(traces, "lon", float))
        a, b = i[bad], i[bad] + 1
        h = (
            np.sin((lat[b] - lat[a]) / 2) ** 2
            + np.cos(lat[a]) * np.cos(lat[b]) * np.sin((lon[b] - lon[a]) / 2) ** 2
        )
        dist[bad] = 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return dist


def _compact(mask: np.ndarray, *arrays: np.ndarray) -> int:
    """Move the elements of `arrays` where `mask` holds to their front, in order and in place (chunk by
    chunk: writing never overtakes reading); return how many there are. Large: the first array on a second
    thread, the others on this one (each array is moved on its own; numpy lets go of the GIL)."""
    if len(mask) <= _CHUNK or len(arrays) < 2:
        return _compact_each(mask, arrays)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_compact_each, mask, arrays[:1])
        _compact_each(mask, arrays[1:])
        return first.result()


def _compact_each(mask: np.ndarray, arrays: tuple[np.ndarray, ...]) -> int:
    """`_compact` on one thread."""
    w = 0
    for a in range(0, len(mask), _CHUNK):
        m = mask[a : a + _CHUNK]
        k = int(np.count_nonzero(m))
        for arr in arrays:
            arr[w : w + k] = arr[a : a + _CHUNK][m]
        w += k
    return w


def _speed(dt: np.ndarray, dist: np.ndarray, users: np.ndarray) -> dict[str, float | int | None]:
    """Mean speed (distance / time), moving-only speed, stationary share, and the mean of per-user means
    over the given steps (dt > 0; `users`: each step's user code). Overwrites `dt` and `dist`."""
    distance = float(dist.sum())  # finite exactly when every distance is (they are >= 0 or NaN)
    if not np.isfinite(distance):
        ok = np.isfinite(dist)
        dt, dist, users = dt[ok], dist[ok], users[ok]
        distance = float(dist.sum())
    total_t = float(dt.sum())
    if total_t <= 0:
        return {
            "mean_speed_mps": None,
            "moving_speed_mps": None,
            "stationary_share": None,
            "user_mean_speed_mps": None,
            "steps": 0,
            "hours": 0.0,
        }
    ut, ud = _user_sums(users, dt, dist)
    has = ut > 0
    moving = np.empty(len(dt), dtype=bool)
    for a in range(0, len(dt), _CHUNK):  # speed v = dist / dt, chunk by chunk
        part = slice(a, a + _CHUNK)
        np.greater_equal(dist[part] / dt[part], STATIONARY_MPS, out=moving[part])
    steps = len(dt)
    k = _compact(moving, dt, dist)  # the moving steps, in order, at the front
    mt = float(dt[:k].sum())
    return {
        "mean_speed_mps": distance / total_t,
        "moving_speed_mps": float(dist[:k].sum()) / mt if mt > 0 else None,
        "stationary_share": 1.0 - mt / total_t,
        "user_mean_speed_mps": float(np.mean(ud[has] / ut[has])),
        "steps": steps,
        "hours": total_t / 3600.0,
    }


def _user_sums(users: np.ndarray, dt: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user sums of `dt` and `dist`, as one `np.bincount` over all steps gives them. When the steps are
    sorted by user (a Traces table's are), each user's run of steps is added one by one from zero by
    `np.cumsum` (`_run_sum`: the same additions in the same order, so the same sums), without bincount's
    int64 copy of every step's user (Geolife: 28 ms instead of 34-50), dt's and dist's on two threads."""
    size = int(users.max()) + 1
    n = len(users)
    if n <= _CHUNK or not _nondecreasing(users):
        return (np.bincount(users, weights=dt, minlength=size),
                np.bincount(users, weights=dist, minlength=size))
    cuts = np.flatnonzero(users[1:] != users[:-1]) + 1
    runs = list(zip(users[np.r_[0, cuts]].tolist(), np.r_[0, cuts].tolist(), np.r_[cuts, n].tolist(),
                    strict=True))

    def sums(w: np.ndarray) -> np.ndarray:
        out, buf = np.zeros(size), np.empty(_CHUNK)
        for u, a, b in runs:
            out[u] = _run_sum(w, a, b, buf)
        return out

    with ThreadPoolExecutor(2) as pool:  # dt's and dist's on a core each (numpy lets go of the GIL)
        ut, ud = pool.map(sums, (dt, dist))
    return ut, ud


def _run_sum(w: np.ndarray, a: int, b: int, buf: np.ndarray) -> float:
    """``w[a:b]`` added one by one from zero, as `np.bincount` adds one user's weights: cumulative sums
    chunk by chunk through `buf`, each later chunk's first value given the running total first. From zero
    or from the first value, the additions give the same numbers but for the sign of a zero (bincount's
    sum is never -0.0, from +0.0): ``+ 0.0`` at the end makes them the same."""
    e = min(a + len(buf), b)
    total = float(np.cumsum(w[a:e], out=buf[: e - a])[-1])
    for s in range(e, b, len(buf)):
        e = min(s + len(buf), b)
        part = buf[: e - s]
        part[:] = w[s:e]
        part[0] += total
        total = float(np.cumsum(part, out=part)[-1])
    return total + 0.0


def _nondecreasing(v: np.ndarray) -> bool:
    """True when `v` never decreases (checked chunk by chunk: no temporary of its length)."""
    for a in range(0, len(v) - 1, _CHUNK):
        b = min(a + _CHUNK, len(v) - 1)
        if not bool((v[a + 1 : b + 1] >= v[a:b]).all()):
            return False
    return True


def _count_users(codes: np.ndarray, categories: int, breaks: np.ndarray | None = None) -> int:
    """How many categories occur among `codes` (a categorical's codes; -1, missing, is not counted): one plus
    the changes when they never decrease and none is missing (a Traces table's), else by counting each.
    `breaks` (`_breaks`), when given, are the only rows whose next row may have another user."""
    if len(codes) and codes[0] >= 0:
        if breaks is None:
            if _nondecreasing(codes):
                return 1 + int(np.count_nonzero(codes[1:] != codes[:-1]))
        else:
            u0, u1 = codes[breaks], codes[breaks + 1]
            if bool((u1 >= u0).all()):
                return 1 + int(np.count_nonzero(u1 != u0))
    return int(np.count_nonzero(np.bincount(codes[codes >= 0], minlength=categories)))


def _count_trajectories(codes: np.ndarray, traj: np.ndarray, breaks: np.ndarray | None = None) -> int:
    """How many (user, traj) pairs occur among rows with a user: one plus the breaks when the rows are sorted
    by user, traj (a Traces table), else the distinct pairs. `breaks` (`_breaks`), when given, are the only
    rows whose next row may be another pair's: the order is checked there alone."""
    if len(codes) == 0:
        return 0
    if codes[0] >= 0:
        at, nxt = (slice(None, -1), slice(1, None)) if breaks is None else (breaks, breaks + 1)
        u0, u1, t0, t1 = codes[at], codes[nxt], traj[at], traj[nxt]
        if ((u1 > u0) | ((u1 == u0) & (t1 >= t0))).all():
            return 1 + int(np.count_nonzero((u1 != u0) | (t1 != t0)))
    has = codes >= 0
    pairs = np.stack([codes[has].astype(np.int64), traj[has].astype(np.int64)])
    return int(np.unique(pairs, axis=1).shape[1])


def _breaks(same: np.ndarray) -> np.ndarray:
    """The rows k whose next row is not of the same (user, traj) (`same` as `_step_times` gives it)."""
    return np.flatnonzero(~same)


def _median(v: np.ndarray) -> float:
    """``float(np.median(v))`` without sorting a copy of `v`: the middle values found among the few between
    two bounds taken from a sample (the rows below, between and above them counted), or equal to a bound
    that the middle positions both fall on; np.median itself when the bounds miss them or `v` has NaN."""
    n = len(v)
    k1, k2 = (n - 1) // 2, n // 2  # the middle positions in sorted order (one when n is odd)
    sample = np.sort(v[:: max(1, n // 4096)])
    lo, hi = (float(sample[int(q * (len(sample) - 1))]) for q in (0.45, 0.55))
    below = int(np.count_nonzero(v < lo))
    at_lo = int(np.count_nonzero(v <= lo))
    upto = int(np.count_nonzero(v <= hi))
    if upto + int(np.count_nonzero(v > hi)) == n and below <= k1 and k2 < upto:
        if k2 < at_lo:  # both middle values are lo
            return float(np.median(np.array([lo, lo])))
        band = v[(v >= lo) & (v <= hi)]  # the rows from lo to hi, in order (the middle ones among them)
        return float(np.median(np.partition(band, (k1 - below, k2 - below))[k1 - below : k2 - below + 1]))
    return float(np.median(v))


def _when(t: float) -> str | float:
    if t >= _ABSOLUTE_T:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return float(t)


def dataset_info(
    traces: pd.DataFrame | TraceColumns,
    region: Region | str | None = None,
    *,
    kind: str | None = None,
    max_gap_s: float = SPEED_MAX_GAP_S,
    inside: np.ndarray | None = None,
    spare: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Summarise `traces` (and the part inside `region`) as a JSON-ready dict.

    Parameters
    ----------
    traces : DataFrame or TraceColumns
        A Traces table.
    region : Region or str, optional
        Region for "points in region" and "mean speed in region".
    kind : str, optional
        "kaist" or "geolife" to add PerDNN's mean speed beside ours.
    max_gap_s : float
        Longest pause between consecutive samples that still counts as a step for the mean speed.
    inside : bool array, optional
        The rows inside `region` when the caller knows them (`region_mask`; e.g. it let go of lat/lon).
    spare : two float64 arrays, optional
        Memory the caller no longer needs (e.g. the lat/lon it let go of): the steps' times and distances
        are written there when they fit, not into new arrays (overwritten).

    Returns
    -------
    dict
        ``users``, ``trajectories``, ``points``, ``points_in_region``, ``region`` (its description),
        ``t_start``, ``t_end`` (UTC text, or seconds for relative times), ``span_s``,
        ``median_interval_s``, ``speed`` and ``speed_in_region`` (mean, moving-only, stationary share,
        steps, hours), ``mean_speed_mps``, ``mean_speed_region_mps``, ``perdnn_mean_speed_mps``,
        ``speed_definition``.
    """
    codes = user_codes(traces)
    ncat = user_count(traces)
    # the steps' times first, the counts at the rows where a trajectory ends, the median of dt next, then
    # every step's distance once (the region's steps take theirs from it: each is the one value its pair of
    # rows gives)
    same, dt = _step_times(traces, None if spare is None else spare[0])
    breaks = _breaks(same)
    users = _count_users(codes, ncat, breaks)
    trajectories = _count_trajectories(codes, column(traces, "traj"), breaks)
    del breaks
    median = _median(dt) if len(dt) else None
    use = dt > 0
    use &= dt <= max_gap_s
    step_users = codes[:-1][same]
    t = column(traces, "t", float)
    dist = _step_distances(traces, same, len(dt), None if spare is None else spare[1])
    in_region: dict[str, Any] = {}
    with ThreadPoolExecutor(1) as pool:
        if region is not None:  # its steps copied out and summarised on a second thread, while all the steps
            reg = get_region(region)  # are moved in place and summarised here
            mask = region_mask(traces, reg) if inside is None else np.asarray(inside, dtype=bool)
            in_steps = use
            if len(same):
                in_steps = (mask[:-1] & mask[1:])[same]
                in_steps &= use
            steps = (dt[in_steps], dist[in_steps], step_users[in_steps])
            del in_steps

            def summarise_region() -> dict[str, Any]:
                return {
                    "region": reg.to_dict(),
                    "points_in_region": int(mask.sum()),
                    "users_in_region": _count_users(codes[mask], ncat),
                    "speed_in_region": _speed(*steps),
                }

            region_part = pool.submit(summarise_region)
        del same
        kept = _compact(use, dt, dist, step_users)
        del use
        speed = _speed(dt[:kept], dist[:kept], step_users[:kept])
        t_min, t_max = (float(t.min()), float(t.max())) if len(t) else (0.0, 0.0)  # each one pass
        if region is not None:
            in_region = region_part.result()
    info: dict = {
        "source": traces.attrs.get("source", ""),
        "kind": kind,
        "users": users,
        "trajectories": trajectories,
        "points": int(len(traces)),
        "t_start": _when(t_min) if len(t) else None,
        "t_end": _when(t_max) if len(t) else None,
        "span_s": t_max - t_min if len(t) else 0.0,
        "time_is_absolute": bool(len(t) and t_min >= _ABSOLUTE_T),
        "median_interval_s": median,
        "speed": speed,
    }
    info["mean_speed_mps"] = info["speed"]["mean_speed_mps"]
    if region is not None:
        info.update(in_region)
        info["mean_speed_region_mps"] = info["speed_in_region"]["mean_speed_mps"]
    else:
        info["region"] = None
        info["points_in_region"] = None
        info["mean_speed_region_mps"] = None
    info["perdnn_mean_speed_mps"] = PERDNN_MEAN_SPEED.get(kind or "")
    info["speed_definition"] = (
        f"total distance / total time over consecutive samples of a trajectory 0 < dt <= {max_gap_s:g} s "
        f"apart (pauses included; 'moving' = steps >= {STATIONARY_MPS:g} m/s); in region: both samples inside"
    )
    return info
