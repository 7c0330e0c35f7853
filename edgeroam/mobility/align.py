"""Time alignment of a Traces table for the replay: keep absolute time, fold every day onto one, or start
every trajectory at 0.

Geolife spans 2007–2012, so replayed on absolute time its users rarely overlap (about one active test user
per 20 s tick in the PerDNN box). Two opt-in alignments make them concurrent:

``"absolute"``
    The table is returned as it is (the default; every existing result is unchanged).
``"day"``
    Each trajectory is shifted by a whole number of days so that it starts on one reference day, keeping its
    time of day: ``t' = t − (d − d_ref)·86400`` with ``d = floor((t_start − day_start_s) / 86400)`` the day of
    the trajectory's *first* sample and ``d_ref`` the smallest such day of the table. The day is taken per
    trajectory, not per sample, so a trajectory that crosses the day boundary stays continuous (it runs past
    the end of the reference day). ``day_start_s`` moves the boundary (Geolife times are UTC: UTC midnight is
    08:00 in Beijing, the morning rush; ``day_start_s = 20 · 3600`` cuts at 04:00 Beijing time). The client
    is the user-day: ``"<user>@<YYYY-MM-DD>"`` (the UTC date of ``d·86400 + day_start_s``); one user's
    trajectories of one day never overlap, trajectories of one user on different days now may.
``"start"``
    Each trajectory starts at ``t = 0`` (as the KAIST files do): ``t' = t − t_start``. The client is the
    user-trajectory: ``"<user>#<traj>"``.

After ``"day"`` or ``"start"`` one real user can be several clients at the same time, so the split into
train and test users must be made on the real users *before* the renaming; `align_traces` returns the
client → real user map and `clients_of` turns a list of real users into their clients. Resampled tables keep
their tick grid under ``"day"`` (86400 s is a multiple of every usual interval); under ``"start"`` every
trajectory starts on tick 0. The alignment itself is a few vectorised group operations; it does not resample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError

__all__ = ["DAY_S", "TIME_ALIGNS", "TimeAlign", "align_traces", "clients_of"]

TimeAlign = Literal["absolute", "day", "start"]
#: the accepted alignments
TIME_ALIGNS: tuple[str, ...] = ("absolute", "day", "start")
#: seconds in a day
DAY_S = 86400.0


def align_traces(
    traces: pd.DataFrame, mode: TimeAlign = "absolute", *, day_start_s: float = 0.0
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Shift the times of a Traces table and rename its users to the aligned clients.

    Parameters
    ----------
    traces : DataFrame
        A Traces table (``user``, ``traj``, ``t`` and any other columns, which are kept).
    mode : {"absolute", "day", "start"}
        See the module docstring.
    day_start_s : float
        ``"day"`` only: the day boundary, in seconds after UTC midnight (0 <= day_start_s < 86400).

    Returns
    -------
    (table, owner)
        The aligned table, sorted by (user, traj, t) with ``user`` categorical, its attrs kept, and the map
        client → real user. For ``"absolute"`` the table is `traces` itself (not a copy) and the map is the
        identity.

    Examples
    --------
    >>> tr = pd.DataFrame({"user": ["a", "a"], "traj": [0, 1], "t": [86400.0 * 3 + 60, 86400.0 * 5 + 10],
    ...                    "x": [0.0, 1.0], "y": [0.0, 0.0]})
    >>> out, owner = align_traces(tr, "day")
    >>> out["user"].tolist(), out["t"].tolist()
    (['a@1970-01-04', 'a@1970-01-06'], [259260.0, 259210.0])
    >>> owner["a@1970-01-06"]
    'a'
    """
    if mode not in TIME_ALIGNS:
        raise DatasetError(f"time alignment must be one of {', '.join(TIME_ALIGNS)}, got {mode!r}")
    if not 0.0 <= float(day_start_s) < DAY_S:
        raise DatasetError(f"day_start_s must be in [0, 86400), got {day_start_s}")
    missing = [c for c in ("user", "traj", "t") if c not in traces.columns]
    if missing:
        raise DatasetError(f"time alignment needs the columns {', '.join(missing)}")
    if mode == "absolute":
        return traces, {str(u): str(u) for u in pd.unique(traces["user"].astype(str))}
    user = traces["user"].astype(str).to_numpy()
    traj = traces["traj"].to_numpy()
    t = traces["t"].to_numpy(dtype=np.float64)
    # one code per (user, traj) and the first time of each
    key = pd.MultiIndex.from_arrays([user, traj])
    code, uniq = pd.factorize(key)
    t_start = np.full(len(uniq), np.inf)
    np.minimum.at(t_start, code, t)
    if mode == "day":
        day = np.floor((t_start - day_start_s) / DAY_S)
        shift = (day - (day.min() if len(day) else 0.0)) * DAY_S
        dates = pd.to_datetime(day * DAY_S + day_start_s, unit="s", utc=True).strftime("%Y-%m-%d")
        names = np.char.add(np.char.add(uniq.get_level_values(0).to_numpy().astype(str), "@"),
                            np.asarray(dates, dtype=str))
    else:
        shift = t_start
        names = np.char.add(np.char.add(uniq.get_level_values(0).to_numpy().astype(str), "#"),
                            uniq.get_level_values(1).to_numpy().astype(str))
    out = traces.copy()
    out["t"] = t - shift[code]
    client = names[code]
    out["user"] = pd.Categorical(client, categories=np.unique(names))
    out = out.sort_values(["user", "traj", "t"], kind="stable").reset_index(drop=True)
    out.attrs = dict(traces.attrs)
    owner = dict(zip(names.tolist(), uniq.get_level_values(0).astype(str).tolist(), strict=True))
    return out, owner


def clients_of(owner: Mapping[str, str], users: Iterable[str]) -> list[str]:
    """The sorted clients (keys of `owner`) whose real user is in `users`.

    Examples
    --------
    >>> clients_of({"a@d1": "a", "a@d2": "a", "b@d1": "b"}, ["a"])
    ['a@d1', 'a@d2']
    """
    wanted = {str(u) for u in users}
    return sorted(c for c, u in owner.items() if u in wanted)
