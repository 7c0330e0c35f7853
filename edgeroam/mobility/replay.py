"""The replay clock: step every interval t over the users of a Traces table and say who is where.

Each `Tick` holds arrays over the users active at that time (DESIGN.md §3): position, serving cell and server,
whether the user handed over since the previous tick, and the last n positions for prediction. Users appear
and disappear with their trajectories. Everything is precomputed once from the (resampled) table with sorting
and searchsorted; iterating builds each tick by slicing, with no per-user Python loop. What to do on a tick is
the emulator's job (edgeroam.emulator.master); which users are replayed (the test split) is the caller's.

Time grid: tick k is at ``t0 + k·interval``; a sample belongs to the tick nearest its time (resampled tables
are already on such a grid, so this only absorbs float noise and trajectories resampled from their own start).
If two samples of one user fall on one tick, the last wins.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError
from edgeroam.topology.hexgrid import HexGrid
from edgeroam.topology.servers import server_of_cell

__all__ = ["Clock", "Replay", "Tick", "VirtualClock", "WallClock", "handover_counts"]


@dataclass(frozen=True)
class Tick:
    """The state of the active users at one tick; every array is ordered by user code.

    Attributes
    ----------
    index : int
        Tick number k (time = t0 + k·interval).
    time : float
        Tick time in the traces' time unit (seconds).
    user : ndarray[object]
        User names.
    user_code : ndarray[int64]
        Index of each user in `Replay.users`.
    traj : ndarray[int64]
        Trajectory id of each user's current sample.
    x, y : ndarray[float64]
        Positions in metres.
    cell : ndarray[int64]
        Packed id of the cell the user is in.
    server : ndarray[int64]
        Edge server of that cell (-1 if the cell has none).
    prev_server : ndarray[int64]
        Serving server at the previous tick (-1 if the user was not active then).
    handover : ndarray[bool]
        The user was active at the previous tick (same trajectory) and its server changed.
    joined : ndarray[bool]
        The user was not active at the previous tick (first tick of a trajectory or after a gap).
    history : ndarray[float64] [N, n, 2]
        The last n positions, oldest first, the current one last; where fewer than n ticks of the current run
        exist the oldest available position is repeated (see `history_len`).
    history_len : ndarray[int64]
        How many of the n history positions are real (1..n).
    """

    index: int
    time: float
    user: np.ndarray
    user_code: np.ndarray
    traj: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cell: np.ndarray
    server: np.ndarray
    prev_server: np.ndarray
    handover: np.ndarray
    joined: np.ndarray
    history: np.ndarray
    history_len: np.ndarray

    def __len__(self) -> int:
        return len(self.user_code)


#: The per-user arrays of a Tick (every field after index and time, in order).
_TICK_ARRAYS = ("user", "user_code", "traj", "x", "y", "cell", "server", "prev_server", "handover", "joined",
                "history", "history_len")


class Clock(Protocol):
    """What the replay needs of a clock: wait until a replay time (seconds from the first tick)."""

    def wait_until(self, t: float) -> None: ...


class VirtualClock:
    """Virtual time for the `sim` backend: never waits."""

    def wait_until(self, t: float) -> None:
        """Return at once."""


class WallClock:
    """Wall time × speed for the `net` backend: replay time t happens at start + t / speed."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._start: float | None = None

    def wait_until(self, t: float) -> None:
        """Sleep until replay time `t` (the first call starts the clock)."""
        now = _time.monotonic()
        if self._start is None:
            self._start = now - t / self.speed
        delay = self._start + t / self.speed - now
        if delay > 0:
            _time.sleep(delay)


class Replay:
    """Replay clock over a Traces table.

    Parameters
    ----------
    traces : DataFrame
        Traces (DESIGN.md §3) with finite x/y, ideally resampled at `interval_s`.
    grid : HexGrid
        The cell grid.
    servers : DataFrame, optional
        Servers table; without it every server is -1 and handovers are cell changes.
    interval_s : float
        Tick interval t.
    history : int
        n, the number of positions in `Tick.history`.
    users : sequence of str, optional
        Replay only these users (e.g. the test split).

    Examples
    --------
    >>> import pandas as pd
    >>> tr = pd.DataFrame({"user": ["a"] * 3, "traj": 0, "t": [0.0, 30.0, 60.0],
    ...                    "x": [0.0, 10.0, 200.0], "y": 0.0})
    >>> rep = Replay(tr, HexGrid(50.0), interval_s=30.0)
    >>> [int(t.handover.sum()) for t in rep]
    [0, 0, 1]
    """

    def __init__(
        self,
        traces: pd.DataFrame,
        grid: HexGrid,
        servers: pd.DataFrame | None = None,
        *,
        interval_s: float,
        history: int = 5,
        users=None,
    ) -> None:
        if interval_s <= 0:
            raise DatasetError(f"interval_s must be > 0, got {interval_s}")
        if history < 1:
            raise DatasetError(f"history must be >= 1, got {history}")
        self.grid = grid
        self.interval_s = float(interval_s)
        self.history = int(history)
        df = traces
        if users is not None:
            df = df[df["user"].astype(str).isin([str(u) for u in users])]
        x = df["x"].to_numpy(np.float64)
        y = df["y"].to_numpy(np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.all():
            df, x, y = df[ok], x[ok], y[ok]
        if len(df) == 0:
            raise DatasetError("nothing to replay: no rows with finite x/y for the selected users")
        names = df["user"].astype(str).to_numpy()
        self.users, code = np.unique(names, return_inverse=True)
        traj = df["traj"].to_numpy(np.int64)
        t = df["t"].to_numpy(np.float64)
        self.t0 = float(t.min())
        k = np.rint((t - self.t0) / self.interval_s).astype(np.int64)
        # sort by (user, k, traj order of the table) and keep the last sample per (user, k)
        order = np.lexsort((np.arange(len(k)), k, code))
        code, k, traj, x, y = code[order], k[order], traj[order], x[order], y[order]
        last = np.ones(len(k), dtype=bool)
        last[:-1] = (code[1:] != code[:-1]) | (k[1:] != k[:-1])
        code, k, traj, x, y = code[last], k[last], traj[last], x[last], y[last]
        cell = grid.cell_ids_of(x, y)
        server = server_of_cell(servers, cell) if servers is not None else np.full(len(cell), -1, np.int64)
        # runs: consecutive ticks of one user in one trajectory
        cont = np.zeros(len(k), dtype=bool)
        cont[1:] = (code[1:] == code[:-1]) & (k[1:] == k[:-1] + 1) & (traj[1:] == traj[:-1])
        run_start = np.where(~cont, np.arange(len(k)), 0)
        run_start = np.maximum.accumulate(run_start)
        prev_server = np.full(len(k), -1, dtype=np.int64)
        prev_server[1:] = np.where(cont[1:], server[:-1], -1)
        prev_cell = np.full(len(k), -1, dtype=np.int64)
        prev_cell[1:] = np.where(cont[1:], cell[:-1], -1)
        key = server if servers is not None else cell
        prev_key = prev_server if servers is not None else prev_cell
        self._handover = cont & (key != prev_key)
        self._joined = ~cont
        self._code, self._k, self._traj, self._x, self._y = code, k, traj, x, y
        self._cell, self._server, self._prev_server, self._run_start = cell, server, prev_server, run_start
        # tick order: by (k, user)
        self._order = np.lexsort((code, k))
        ks = k[self._order]
        self.n_ticks = int(k.max()) + 1
        #: tick numbers holding at least one user, ascending
        self.active_ticks = np.unique(ks)
        self._ks = ks

    # ------------------------------------------------------------------ iteration
    def __len__(self) -> int:
        """Number of non-empty ticks (what iteration yields)."""
        return len(self.active_ticks)

    @property
    def rows(self) -> int:
        """Number of (user, tick) samples replayed."""
        return len(self._k)

    def tick(self, k: int) -> Tick:
        """The tick number `k` (0 <= k < len(self)); a tick may hold no user."""
        if not 0 <= k < self.n_ticks:
            raise IndexError(f"tick {k} out of range 0..{self.n_ticks - 1}")
        lo, hi = np.searchsorted(self._ks, [k, k + 1])
        return self._rows(k, self._order[lo:hi])

    def _rows(self, k: int, idx: np.ndarray) -> Tick:
        """A Tick numbered `k` over the samples `idx` (in tick order; all ticks at once: `steps`)."""
        n = self.history
        steps = np.arange(n - 1, -1, -1)
        rs = self._run_start[idx]
        hidx = np.maximum(idx[:, None] - steps[None, :], rs[:, None])
        hist = np.stack([self._x[hidx], self._y[hidx]], axis=-1)
        code = self._code[idx]
        return Tick(
            index=k,
            time=self.t0 + k * self.interval_s,
            user=self.users[code].astype(object),
            user_code=code,
            traj=self._traj[idx],
            x=self._x[idx],
            y=self._y[idx],
            cell=self._cell[idx],
            server=self._server[idx],
            prev_server=self._prev_server[idx],
            handover=self._handover[idx],
            joined=self._joined[idx],
            history=hist,
            history_len=np.minimum(idx - rs + 1, n),
        )

    def steps(self) -> tuple[np.ndarray, Tick]:
        """Every replayed (user, tick) at once, in iteration order (by tick, then user): the tick number of
        each row and one Tick (``index`` -1, ``time`` NaN) whose arrays hold all the rows."""
        return self._ks, replace(self._rows(-1, self._order), time=float("nan"))

    def __iter__(self) -> Iterator[Tick]:
        """The non-empty ticks in time order."""
        return self.run()

    def run(self, clock: Clock | None = None, *, skip_empty: bool = True) -> Iterator[Tick]:
        """Iterate the ticks, waiting on `clock` (virtual by default); skip empty ticks if asked.

        The arrays of all ticks are built at once (`steps`) and each tick's are slices (views) of them:
        a replay of 10⁵ ticks of one or two users each costs no per-tick gathering.
        """
        clock = clock or VirtualClock()
        ticks = self.active_ticks if skip_empty else np.arange(self.n_ticks)
        _, every = self.steps()
        arrays = [getattr(every, f) for f in _TICK_ARRAYS]
        bounds = np.searchsorted(self._ks, np.concatenate([ticks, ticks[-1:] + 1])).tolist()
        for j, k in enumerate(ticks.tolist()):
            clock.wait_until(k * self.interval_s)
            rows = slice(bounds[j], bounds[j + 1])
            yield Tick(k, self.t0 + k * self.interval_s, *[a[rows] for a in arrays])

    # ------------------------------------------------------------------ whole-replay summaries
    def samples(self) -> pd.DataFrame:
        """Every replayed (user, tick): user, traj, tick, t, x, y, cell, server, handover, joined."""
        return pd.DataFrame(
            {
                "user": pd.Categorical.from_codes(self._code, self.users),
                "traj": self._traj,
                "tick": self._k,
                "t": self.t0 + self._k * self.interval_s,
                "x": self._x,
                "y": self._y,
                "cell": self._cell,
                "server": self._server,
                "handover": self._handover,
                "joined": self._joined,
            }
        )


def handover_counts(replay: Replay) -> pd.Series:
    """Number of handovers per user over the whole replay (index = user name)."""
    counts = np.bincount(replay._code[replay._handover], minlength=len(replay.users))
    return pd.Series(counts, index=pd.Index(replay.users, name="user"), name="handovers")
