"""The discrete-event kernel of the `sim` backend: an event queue in virtual time, and generator processes.

A heap of ``(time, priority, counter, event)``; the monotonic counter keeps simultaneous events of one
priority in FIFO order, so a run never depends on ``id()``, hashing or set iteration. Processes are generator
functions that take the engine and yield events (a timeout, a transfer, a job, another process); the engine
resumes them when the event is processed. A process that raises, or a failed event nobody waits for, stops
the run with a :class:`~edgeroam.errors.RunError` naming the process, the simulated time and the client.

What it leaves to others: capacity sharing (``fluid.py`` for bytes over links, ``compute.py`` for server
time), and everything about users, layers and policies (``backend.py``).

Examples
--------
>>> eng = Engine()
>>> def hello(eng, out):
...     yield eng.timeout(1.5)
...     out.append(eng.now)
>>> out = []
>>> _ = eng.process(hello(eng, out), name="hello")
>>> eng.run()
>>> out
[1.5]
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections.abc import Callable, Generator, Iterable
from typing import Any

from edgeroam.errors import RunError

__all__ = [
    "LATE",
    "NORMAL",
    "URGENT",
    "Condition",
    "Engine",
    "Event",
    "Interrupt",
    "Process",
    "ProcessGenerator",
    "Timeout",
]

URGENT = 0
"""Priority of process starts and interrupts: before anything else at the same time."""
NORMAL = 1
"""Priority of ordinary events (timeouts, completions)."""
LATE = 2
"""Priority of bookkeeping that must see every other event of the same instant (rate recomputation)."""

_PENDING = object()

ProcessGenerator = Generator["Event", Any, Any]


class Interrupt(Exception):  # noqa: N818 - the SimPy name, a signal rather than an error
    """Thrown into a process by :meth:`Process.interrupt`; ``cause`` says why."""

    def __init__(self, cause: Any = None):
        super().__init__(cause)
        self.cause = cause


class Event:
    """Something that happens at one instant of virtual time.

    An event is *pending* until :meth:`succeed` or :meth:`fail` *triggers* it (schedules it), then *processed*
    when the engine pops it and runs its callbacks. A process waiting on it is one such callback.

    Parameters
    ----------
    engine : Engine
        The engine the event belongs to.
    name : str, optional
        Shown in error messages.
    """

    __slots__ = ("callbacks", "engine", "name", "_value", "_ok", "_defused", "_cancelled", "_scheduled")

    def __init__(self, engine: Engine, name: str | None = None):
        self.engine = engine
        self.name = name
        self.callbacks: list[Callable[[Event], None]] | None = []
        self._value: Any = _PENDING
        self._ok = True
        self._defused = False
        self._cancelled = False
        self._scheduled = False

    def __repr__(self) -> str:
        state = "processed" if self.processed else ("triggered" if self.triggered else "pending")
        return f"<{type(self).__name__} {self.name or ''} {state}>".replace("  ", " ")

    @property
    def triggered(self) -> bool:
        """True once the event has a value (it is scheduled or processed)."""
        return self._value is not _PENDING

    @property
    def processed(self) -> bool:
        """True once the engine ran the event's callbacks."""
        return self.callbacks is None and not self._cancelled

    @property
    def ok(self) -> bool:
        """True unless the event failed."""
        return self._ok

    @property
    def value(self) -> Any:
        """The value the event succeeded with (or the exception it failed with)."""
        if self._value is _PENDING:
            raise RunError(f"value of {self!r} is not yet available at t={self.engine.now!r} s")
        return self._value

    def defuse(self) -> None:
        """Mark a failed event as handled: once processed, it no longer stops the run with its exception."""
        self._defused = True

    def succeed(self, value: Any = None, priority: int = NORMAL, delay: float = 0.0) -> Event:
        """Trigger the event with `value`, processed `delay` seconds from now (a transfer's path delay: one
        event instead of a timer that then triggers it); waiting processes resume in FIFO order."""
        if self.triggered:
            raise RunError(f"{self!r} was already triggered (t={self.engine.now!r} s)")
        self._ok = True
        self._value = value
        self.engine._push(delay, priority, self)
        return self

    def fail(self, exc: BaseException, priority: int = NORMAL) -> Event:
        """Trigger the event now as failed: `exc` is thrown into every process waiting for it."""
        if not isinstance(exc, BaseException):
            raise RunError(f"{self!r}.fail() needs an exception, got {exc!r}")
        if self.triggered:
            raise RunError(f"{self!r} was already triggered (t={self.engine.now!r} s)")
        self._ok = False
        self._value = exc
        self.engine._push(0.0, priority, self)
        return self

    def cancel(self) -> None:
        """Withdraw a scheduled event that is not processed yet; its callbacks never run."""
        if self.processed:
            raise RunError(f"cannot cancel {self!r}: already processed (t={self.engine.now!r} s)")
        self._cancelled = True
        self.callbacks = None

    @property
    def cancelled(self) -> bool:
        """True after :meth:`cancel`."""
        return self._cancelled


class Timeout(Event):
    """An event that succeeds `delay` seconds after its creation."""

    __slots__ = ("delay",)

    def __init__(self, engine: Engine, delay: float, value: Any = None, name: str | None = None):
        if not (delay >= 0.0 and math.isfinite(delay)):
            raise RunError(f"timeout delay must be finite and >= 0, got {delay!r} (t={engine.now!r} s)")
        super().__init__(engine, name)
        self.delay = float(delay)
        self._value = value
        engine._push(self.delay, NORMAL, self)


class Process(Event):
    """A generator driven by the engine; as an event it succeeds with the generator's return value.

    Parameters
    ----------
    engine : Engine
    generator : generator
        Yields :class:`Event` objects of the same engine.
    name : str, optional
        Defaults to the generator function's name; shown in errors with `client`.
    client : int, optional
        The client (user) the process works for, shown in errors.
    """

    __slots__ = ("_generator", "_target", "client")

    def __init__(self, engine: Engine, generator: ProcessGenerator, name: str | None = None,
                 client: Any = None):
        if not hasattr(generator, "send") or not hasattr(generator, "throw"):
            raise RunError(f"process {name or generator!r} needs a generator, got {type(generator).__name__}")
        super().__init__(engine, name or getattr(generator, "__name__", "process"))
        self._generator = generator
        self.client = client
        start = Event(engine, name=f"start {self.name}")
        start._value = None
        start.callbacks.append(self._resume)
        self._target: Event | None = start
        engine._push(0.0, URGENT, start)

    def __repr__(self) -> str:
        who = "" if self.client is None else f" client={self.client!r}"
        return f"<Process {self.name}{who}>"

    @property
    def is_alive(self) -> bool:
        """True until the generator returns."""
        return not self.triggered

    @property
    def target(self) -> Event | None:
        """The event the process is waiting for."""
        return self._target

    def interrupt(self, cause: Any = None) -> None:
        """Throw :class:`Interrupt` (with `cause`) into the process now, before other events."""
        if not self.is_alive:
            raise RunError(f"cannot interrupt {self!r}: it has finished (t={self.engine.now!r} s)")
        if self is self.engine.active_process:
            raise RunError(f"{self!r} cannot interrupt itself (t={self.engine.now!r} s)")
        signal = Event(self.engine, name=f"interrupt {self.name}")
        signal._ok = False
        signal._value = Interrupt(cause)
        signal._defused = True
        signal.callbacks.append(self._interrupted)
        self.engine._push(0.0, URGENT, signal)

    def _interrupted(self, signal: Event) -> None:
        if not self.is_alive:  # finished between the interrupt call and its delivery
            return
        target = self._target
        if target is not None and target.callbacks is not None:
            with contextlib.suppress(ValueError):
                target.callbacks.remove(self._resume)
        self._resume(signal)

    def _resume(self, event: Event) -> None:
        engine = self.engine
        engine.active_process = self
        try:
            while True:
                try:
                    if event._ok:
                        nxt = self._generator.send(event._value)
                    else:
                        event._defused = True
                        exc = event._value
                        nxt = self._generator.throw(type(exc), exc, exc.__traceback__)
                except StopIteration as stop:
                    self._target = None
                    self.succeed(stop.value, priority=URGENT)
                    return
                except Exception as exc:
                    self._target = None
                    raise engine._run_error(self, exc) from exc
                if not isinstance(nxt, Event):
                    err = TypeError(f"yielded {nxt!r}, not an Event")
                    self._generator.close()
                    raise engine._run_error(self, err)
                if nxt.engine is not engine:
                    err = TypeError(f"yielded {nxt!r} of another engine")
                    self._generator.close()
                    raise engine._run_error(self, err)
                if nxt.callbacks is not None:  # pending or scheduled: wait for it
                    nxt.callbacks.append(self._resume)
                    self._target = nxt
                    return
                if nxt._cancelled:
                    err = TypeError(f"yielded {nxt!r}, which was cancelled")
                    self._generator.close()
                    raise engine._run_error(self, err)
                event = nxt  # already processed: resume at once with its value
        finally:
            engine.active_process = None


class Condition(Event):
    """Succeeds when `evaluate(done, total)` holds over `events`; the value maps each done event to its value.

    Fails as soon as one of the events fails. Use :meth:`Engine.all_of` and :meth:`Engine.any_of`.
    """

    __slots__ = ("_events", "_done", "_evaluate")

    def __init__(self, engine: Engine, events: Iterable[Event], evaluate: Callable[[int, int], bool],
                 name: str | None = None):
        super().__init__(engine, name)
        self._events = list(events)
        self._done: list[Event] = []
        self._evaluate = evaluate
        for ev in self._events:
            if ev.engine is not engine:
                raise RunError(f"condition {name!r} mixes events of two engines")
        if not self._events or evaluate(0, len(self._events)):
            self.succeed({})
            return
        for ev in self._events:
            if ev.processed:
                self._check(ev)
            else:
                ev.callbacks.append(self._check)

    def _check(self, ev: Event) -> None:
        if self.triggered:
            return
        if not ev._ok:
            ev._defused = True
            self.fail(ev._value)
            return
        self._done.append(ev)
        if self._evaluate(len(self._done), len(self._events)):
            done = set(map(id, self._done))
            self.succeed({e: e._value for e in self._events if id(e) in done})


class _Call(Event):
    """A callback `Engine.call` scheduled: processing the event calls `fn` (`_run_call`)."""

    __slots__ = ("fn",)


def _run_call(event: _Call) -> None:
    """Call a `_Call`'s function; an exception stops the run naming the callback (as `Engine.schedule`)."""
    try:
        event.fn()
    except Exception as exc:
        raise event.engine._run_error(None, exc, what=f"callback {event.name!r}") from exc


class Engine:
    """Virtual time and the event queue.

    Parameters
    ----------
    start : float
        The initial value of :attr:`now` (seconds).

    Notes
    -----
    :meth:`run` processes events strictly before `until` and then sets :attr:`now` to `until`, like SimPy;
    events at exactly `until` are processed by the next call. So stepping a run interval by interval with
    ``run(until=t0 + k * dt)`` sees each instant exactly once.
    """

    def __init__(self, start: float = 0.0):
        self._now = float(start)
        self._queue: list[tuple[float, int, int, Event]] = []
        self._counter = 0
        self.active_process: Process | None = None
        self.processed_events = 0

    @property
    def now(self) -> float:
        """The current simulated time in seconds."""
        return self._now

    def clear(self) -> None:
        """Drop every scheduled event unprocessed (a run that is over lets go of what it left queued)."""
        self._queue.clear()

    def _push(self, delay: float, priority: int, event: Event) -> None:
        if event._scheduled:
            raise RunError(f"{event!r} is already scheduled (t={self._now!r} s)")
        event._scheduled = True
        self._counter += 1
        heapq.heappush(self._queue, (self._now + delay, priority, self._counter, event))

    def _run_error(self, proc: Process | None, exc: BaseException, what: str | None = None) -> RunError:
        what = what or (repr(proc) if proc is not None else "callback")
        client = getattr(proc, "client", None)
        who = f"process {proc.name!r}" if proc is not None else what
        if client is not None:
            who += f" (client {client!r})"
        err = RunError(f"{who} failed at t={self._now!r} s: {type(exc).__name__}: {exc}")
        err.process = proc.name if proc is not None else what
        err.time = self._now
        err.client = client
        return err

    # -- creating events ------------------------------------------------------------------------------------
    def event(self, name: str | None = None) -> Event:
        """A new pending event, triggered later by :meth:`Event.succeed` or :meth:`Event.fail`."""
        return Event(self, name)

    def timeout(self, delay: float, value: Any = None, name: str | None = None) -> Timeout:
        """An event that succeeds with `value` after `delay` seconds."""
        return Timeout(self, delay, value, name)

    def process(self, generator: ProcessGenerator, name: str | None = None, client: Any = None) -> Process:
        """Start `generator` as a process now (before ordinary events of this instant)."""
        return Process(self, generator, name=name, client=client)

    def all_of(self, events: Iterable[Event], name: str | None = None) -> Condition:
        """An event that succeeds when every one of `events` has succeeded."""
        return Condition(self, events, lambda done, total: done == total, name)

    def any_of(self, events: Iterable[Event], name: str | None = None) -> Condition:
        """An event that succeeds when at least one of `events` has succeeded."""
        return Condition(self, events, lambda done, total: done >= 1, name)

    def schedule(self, delay: float, target: Event | Callable[[], Any], priority: int = NORMAL,
                 name: str | None = None) -> Event:
        """Run `target` after `delay` seconds: call it, or succeed it if it is a pending event.

        Returns the scheduled event; :meth:`Event.cancel` withdraws it. A callback that raises stops the run
        with a :class:`~edgeroam.errors.RunError` naming it and the time.
        """
        if not (delay >= 0.0 and math.isfinite(delay)):
            raise RunError(f"schedule delay must be finite and >= 0, got {delay!r} (t={self._now!r} s)")
        if isinstance(target, Event):
            if target.engine is not self:
                raise RunError(f"cannot schedule {target!r} of another engine")
            if target.triggered:
                raise RunError(f"{target!r} was already triggered (t={self._now!r} s)")
            target._value = None
            target._ok = True
            self._push(float(delay), priority, target)
            return target
        if not callable(target):
            raise RunError(f"schedule needs an Event or a callable, got {target!r}")
        label = name or getattr(target, "__qualname__", None) or repr(target)
        ev = Event(self, name=label)
        ev._value = None

        def _call(_ev: Event, fn: Callable[[], Any] = target) -> None:
            try:
                fn()
            except Exception as exc:
                raise self._run_error(None, exc, what=f"callback {label!r}") from exc

        ev.callbacks.append(_call)
        self._push(float(delay), priority, ev)
        return ev

    def call(self, delay: float, fn: Callable[[], Any], priority: int, name: str) -> Event:
        """`schedule` of the callable `fn` by the engine's own parts (the fluid network's recomputations and
        timers, ~140,000 a Geolife pass), which pass a float `delay` known to be finite and >= 0: the same
        event, queued in the same place, without the checks or a closure per call."""
        ev = _Call(self, name)
        ev.fn = fn
        ev._value = None
        ev.callbacks.append(_run_call)
        ev._scheduled = True
        self._counter += 1
        heapq.heappush(self._queue, (self._now + delay, priority, self._counter, ev))
        return ev

    # -- running --------------------------------------------------------------------------------------------
    def peek(self) -> float:
        """The time of the next scheduled event, or ``inf`` when the queue is empty."""
        while self._queue and self._queue[0][3]._cancelled:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else math.inf

    def step(self) -> None:
        """Process the next event (skipping cancelled ones)."""
        while True:
            if not self._queue:
                raise RunError(f"step() on an empty queue (t={self._now!r} s)")
            when, _prio, _count, event = heapq.heappop(self._queue)
            if not event._cancelled:
                break
        self._now = when
        callbacks, event.callbacks = event.callbacks, None
        self.processed_events += 1
        for cb in callbacks:
            cb(event)
        if not event._ok and not event._defused:
            self._failed(event)

    def _failed(self, event: Event) -> None:
        """Stop the run: `event` failed and nobody handled its exception."""
        exc = event._value
        proc = event if isinstance(event, Process) else None
        raise self._run_error(proc, exc, what=f"event {event.name!r}") from exc

    def run(self, until: float | Event | None = None) -> Any:
        """Process events until the queue is empty, simulated time `until`, or the event `until` is processed.

        Returns the value of `until` when it is an event. Raises :class:`~edgeroam.errors.RunError` when a
        process or callback fails.
        """
        if until is None:
            while self.peek() < math.inf:
                self.step()
            return None
        if isinstance(until, Event):
            if until.engine is not self:
                raise RunError(f"run(until={until!r}) of another engine")
            while not until.processed:
                if self.peek() == math.inf:
                    raise RunError(f"no more events before {until!r} (t={self._now!r} s)")
                self.step()
            if not until.ok:
                raise RunError(f"{until!r} failed at t={self._now!r} s: {until.value!r}")
            return until.value
        until = float(until)
        if until < self._now:
            raise RunError(f"run(until={until!r}) is before now (t={self._now!r} s)")
        # `peek` and `step` inlined (the same order and skips): a sim pass processes ~10^5-10^6 events here
        queue, pop = self._queue, heapq.heappop
        while queue:
            when, _prio, _count, event = queue[0]
            if event._cancelled:
                pop(queue)
                continue
            if when >= until:
                break
            pop(queue)
            self._now = when
            callbacks, event.callbacks = event.callbacks, None
            self.processed_events += 1
            for cb in callbacks:
                cb(event)
            if not event._ok and not event._defused:
                self._failed(event)
        self._now = until
        return None
