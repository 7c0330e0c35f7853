"""Processor sharing for server compute: k jobs in progress each advance at capacity / k.

A job is an amount of work in seconds at full capacity (a query's server-side execution time from the
profile). With k jobs in progress each is served at ``capacity / k``, recomputed at every arrival and
departure, so load on a server lengthens every query on it. The implementation keeps a *virtual time*
``V`` (service attained by any job present since V started), which grows at ``capacity / k``; a job arriving
at ``V = v`` with work ``w`` leaves when ``V = v + w``. A heap on those finish marks gives O(log k) per event
and exact completion times.

What it leaves to others: which layers run where and for how long (planning and profiles), the network.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from edgeroam.emulator.sim.engine import NORMAL, Engine, Event
from edgeroam.errors import RunError

__all__ = ["JobRecord", "PSServer"]

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A finished job: when it came and left, and its work at full capacity (seconds)."""

    job: int
    start: float
    end: float
    work_s: float
    tag: Any = None


class PSServer:
    """A processor-sharing server in an :class:`~edgeroam.emulator.sim.engine.Engine`.

    Parameters
    ----------
    engine : Engine
    capacity : float
        Work seconds served per second of simulated time, shared equally by the jobs in progress.
    name : str, optional
        Shown in errors.

    Examples
    --------
    >>> from edgeroam.emulator.sim.engine import Engine
    >>> eng = Engine()
    >>> srv = PSServer(eng)
    >>> a, b = srv.run(1.0), srv.run(1.0)   # two 1-s jobs together: both end at t = 2
    >>> eng.run()
    >>> a.value.end, b.value.end
    (2.0, 2.0)
    """

    def __init__(self, engine: Engine, capacity: float = 1.0, name: str | None = None):
        if not (capacity > 0 and math.isfinite(capacity)):
            raise RunError(f"server {name!r}: capacity must be finite and > 0, got {capacity!r}")
        self.engine = engine
        self.capacity = float(capacity)
        self.name = name
        self._virtual = 0.0
        self._last = engine.now
        self._heap: list[tuple[float, int, Event, float, float, Any]] = []
        self._counter = 0
        self._timer: Event | None = None
        self.busy_s = 0.0
        self.completed = 0

    @property
    def jobs(self) -> int:
        """Number of jobs in progress (the load)."""
        return len(self._heap)

    def run(self, work_s: float, tag: Any = None) -> Event:
        """Start a job of `work_s` seconds of full-capacity work now; the event succeeds with a JobRecord."""
        if not (work_s >= 0 and math.isfinite(work_s)):
            raise RunError(f"server {self.name!r}: job work must be finite and >= 0 s, got {work_s!r} "
                           f"(t={self.engine.now!r} s)")
        ev = Event(self.engine, name=f"job {self._counter} on {self.name}")
        job = self._counter
        self._counter += 1
        if work_s == 0:
            ev.succeed(JobRecord(job, self.engine.now, self.engine.now, 0.0, tag))
            return ev
        self._advance()
        work = float(work_s)
        heapq.heappush(self._heap, (self._virtual + work, job, ev, self.engine.now, work, tag))
        self._rearm()
        return ev

    def cancel(self, job: Event) -> JobRecord:
        """Withdraw a job in progress now (e.g. its client left); its event never fires.

        Returns a :class:`JobRecord` whose ``work_s`` is the work done up to now.
        """
        pos = next((i for i, entry in enumerate(self._heap) if entry[2] is job), None)
        if pos is None:
            raise RunError(f"server {self.name!r}: cannot cancel {job!r}: not in progress "
                           f"(t={self.engine.now!r} s)")
        finish, jid, _ev, start, work, tag = self._heap[pos]
        self._advance()
        done = work - max(finish - self._virtual, 0.0)
        self._heap.pop(pos)
        heapq.heapify(self._heap)
        job.cancel()
        self._rearm()
        return JobRecord(jid, start, self.engine.now, done, tag)

    def remaining_s(self) -> list[float]:
        """Remaining full-capacity work of each job in progress, in finishing order."""
        self._advance()
        return [f - self._virtual for f, *_ in sorted(self._heap, key=lambda h: (h[0], h[1]))]

    def _advance(self) -> None:
        now = self.engine.now
        dt = now - self._last
        if dt > 0 and self._heap:
            self._virtual += dt * self.capacity / len(self._heap)
            self.busy_s += dt
        self._last = now

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._heap:
            return
        k = len(self._heap)
        dt = max(self._heap[0][0] - self._virtual, 0.0) * k / self.capacity
        self._timer = self.engine.schedule(dt, self._complete, priority=NORMAL, name=f"server {self.name}")

    def _complete(self) -> None:
        self._timer = None
        self._advance()
        tol = _EPS * max(1.0, abs(self._virtual))
        done = []
        while self._heap and self._heap[0][0] <= self._virtual + tol:
            done.append(heapq.heappop(self._heap))
        if not done:  # float residue: the head is the one the timer was set for
            done.append(heapq.heappop(self._heap))
        now = self.engine.now
        for _finish, job, ev, start, work, tag in done:
            self.completed += 1
            ev.succeed(JobRecord(job, start, now, work, tag))
        self._rearm()
