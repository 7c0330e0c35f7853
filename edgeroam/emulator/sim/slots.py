"""Slots for compute on a tiered node: `slots` jobs at once, the rest wait FIFO, a bounded blocking queue.

A `SlotServer` is the node of the local-edge-cloud papers: EosDNN's parallel pools (client 1, edge 2, cloud 8)
and S3's cloud, whose task queue holds at most `capacity` tasks; a task that finds the queue full waits
outside it (its sender is blocked) and enters, in order, when a place frees. A job's event succeeds with a
`SlotRecord` of when it arrived, entered the queue, started and ended. Unlike `PSServer` (processor sharing,
PerDNN's GPU servers) a job runs at full speed once it holds a slot.

What it leaves to others: what runs where (emulator.sim.tasks, planning), the clock (engine).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from edgeroam.emulator.sim.engine import Engine, Event
from edgeroam.errors import RunError

__all__ = ["SlotRecord", "SlotServer"]


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """A finished job: arrival, entry into the queue (after any blocking), start and end times."""

    arrive: float
    enter: float
    start: float
    end: float
    tag: Any = None

    @property
    def wait_s(self) -> float:
        """Time from arrival to start (blocked + queued)."""
        return self.start - self.arrive

    @property
    def blocked_s(self) -> float:
        """Time spent outside a full queue."""
        return self.enter - self.arrive


class SlotServer:
    """`slots` parallel slots with a FIFO queue of at most `capacity` waiting jobs (None: unbounded).

    Examples
    --------
    >>> eng = Engine()
    >>> srv = SlotServer(eng, slots=1, capacity=1)
    >>> jobs = [srv.run(1.0, tag=i) for i in range(3)]   # one runs, one queues, one is blocked
    >>> eng.run()
    >>> [(j.value.start, j.value.blocked_s) for j in jobs]
    [(0.0, 0.0), (1.0, 0.0), (2.0, 1.0)]
    """

    def __init__(self, engine: Engine, slots: int = 1, capacity: int | None = None, name: str | None = None):
        if int(slots) != slots or slots < 1:
            raise RunError(f"node {name!r}: slots must be a whole number >= 1, got {slots!r}")
        if capacity is not None and (int(capacity) != capacity or capacity < 1):
            raise RunError(f"node {name!r}: queue capacity must be a whole number >= 1 or None, "
                           f"got {capacity!r}")
        self.engine, self.slots, self.capacity, self.name = engine, int(slots), capacity, name
        self.busy = 0
        self._queue: deque[tuple[Event, float, float, float, Any, Event | None]] = deque()
        self._blocked: deque[tuple[Event, float, float, Any, Event | None, Event | None]] = deque()
        self.busy_s = 0.0

    @property
    def waiting(self) -> int:
        """Jobs in the queue (not those blocked outside it)."""
        return len(self._queue)

    @property
    def blocked(self) -> int:
        """Jobs waiting outside a full queue."""
        return len(self._blocked)

    def run(self, work_s: float, tag: Any = None, entered: Event | None = None,
            hold: Event | None = None) -> Event:
        """Ask for a slot for `work_s` seconds now; the event succeeds with a `SlotRecord` when it ends.

        `entered`, if given, succeeds when the job is in the queue or running (at once unless blocked).
        `hold`, if given, keeps the slot after the work until `hold` is triggered: a job whose output must
        enter a next node's full queue blocks its slot (S3's edge in front of the cloud).
        """
        if not (work_s >= 0 and math.isfinite(work_s)):
            raise RunError(f"node {self.name!r}: job work must be finite and >= 0 s, got {work_s!r} "
                           f"(t={self.engine.now!r} s)")
        ev = Event(self.engine, name=f"job on {self.name}")
        now = self.engine.now
        if self.busy < self.slots:
            self._start(ev, now, now, float(work_s), tag, hold)
        elif self.capacity is None or len(self._queue) < self.capacity:
            self._queue.append((ev, now, now, float(work_s), tag, hold))
        else:
            self._blocked.append((ev, now, float(work_s), tag, entered, hold))
            return ev
        if entered is not None:
            entered.succeed(now)
        return ev

    def _start(self, ev: Event, arrive: float, enter: float, work: float, tag: Any,
               hold: Event | None) -> None:
        self.busy += 1
        start = self.engine.now
        self.busy_s += work
        rec = SlotRecord(arrive, enter, start, start + work, tag)
        self.engine.schedule(work, lambda: self._done(ev, rec, hold), name=f"slot on {self.name}")

    def _done(self, ev: Event, rec: SlotRecord, hold: Event | None) -> None:
        if hold is not None and not hold.triggered:
            hold.callbacks.append(lambda _e: self._free())  # type: ignore[union-attr]
        else:
            self._free()
        ev.succeed(rec)

    def _free(self) -> None:
        self.busy -= 1
        if self._queue:
            self._start(*self._queue.popleft())
        if self._blocked and (self.capacity is None or len(self._queue) < self.capacity):
            bev, arrive, work, tag, entered, hold = self._blocked.popleft()
            self._queue.append((bev, arrive, self.engine.now, work, tag, hold))
            if entered is not None:
                entered.succeed(self.engine.now)
