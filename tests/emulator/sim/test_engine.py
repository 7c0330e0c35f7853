"""The event kernel: FIFO ties, priorities, `until`, conditions, interrupts, failures that name who."""

from __future__ import annotations

import pytest

from edgeroam.emulator.sim.engine import LATE, URGENT, Engine, Interrupt
from edgeroam.errors import RunError


def test_timeouts_at_the_same_time_resume_in_creation_order():
    eng = Engine()
    order = []

    def proc(eng, tag, delay):
        yield eng.timeout(delay)
        order.append((eng.now, tag))

    for tag in ["a", "b", "c", "d"]:
        eng.process(proc(eng, tag, 1.0))
    eng.process(proc(eng, "early", 0.5))
    eng.run()
    assert order == [(0.5, "early"), (1.0, "a"), (1.0, "b"), (1.0, "c"), (1.0, "d")]


def test_schedule_callbacks_fifo_within_priority_and_priority_before_fifo():
    eng = Engine()
    seen = []
    eng.schedule(2.0, lambda: seen.append("late"), priority=LATE)
    for i in range(5):
        eng.schedule(2.0, lambda i=i: seen.append(i))
    eng.schedule(2.0, lambda: seen.append("urgent"), priority=URGENT)
    eng.schedule(1.0, lambda: seen.append("first"))
    eng.run()
    assert seen == ["first", "urgent", 0, 1, 2, 3, 4, "late"]
    assert eng.now == 2.0


def test_schedule_triggers_a_pending_event_and_cancel_withdraws():
    eng = Engine()
    ev = eng.event("go")
    got = []

    def waiter(eng):
        value = yield ev
        got.append((eng.now, value))

    eng.process(waiter(eng))
    eng.schedule(3.0, ev)
    dropped = eng.schedule(1.0, lambda: got.append("never"))
    dropped.cancel()
    eng.run()
    assert got == [(3.0, None)]


def test_run_until_is_exclusive_and_sets_now():
    eng = Engine()
    seen = []
    for t in (1.0, 2.0, 3.0):
        eng.schedule(t, lambda t=t: seen.append(t))
    eng.run(until=2.0)
    assert seen == [1.0] and eng.now == 2.0
    eng.run(until=2.5)
    assert seen == [1.0, 2.0] and eng.now == 2.5
    eng.run()
    assert seen == [1.0, 2.0, 3.0] and eng.now == 3.0
    with pytest.raises(RunError, match="before now"):
        eng.run(until=1.0)


def test_process_return_value_and_waiting_on_a_process():
    eng = Engine()

    def child(eng):
        yield eng.timeout(2.0)
        return 42

    def parent(eng):
        value = yield eng.process(child(eng))
        return (eng.now, value)

    p = eng.process(parent(eng))
    assert eng.run(until=p) == (2.0, 42)


def test_yielding_an_already_processed_event_resumes_at_once():
    eng = Engine()
    t = eng.timeout(1.0, value="x")

    def late(eng):
        yield eng.timeout(5.0)
        value = yield t
        return (eng.now, value)

    p = eng.process(late(eng))
    eng.run()
    assert p.value == (5.0, "x")


def test_all_of_and_any_of():
    eng = Engine()
    a, b = eng.timeout(1.0, "a"), eng.timeout(3.0, "b")

    def proc(eng):
        first = yield eng.any_of([a, b])
        t_any = eng.now
        both = yield eng.all_of([a, b])
        return t_any, list(first.values()), eng.now, list(both.values())

    p = eng.process(proc(eng))
    eng.run()
    assert p.value == (1.0, ["a"], 3.0, ["a", "b"])


def test_interrupt_is_thrown_into_the_process_and_detaches_it():
    eng = Engine()
    log = []

    def sleeper(eng):
        try:
            yield eng.timeout(10.0)
            log.append("woke")
        except Interrupt as irq:
            log.append((eng.now, irq.cause))
        yield eng.timeout(1.0)
        log.append(eng.now)

    p = eng.process(sleeper(eng), name="sleeper")
    eng.schedule(2.0, lambda: p.interrupt("handover"))
    eng.run()
    assert log == [(2.0, "handover"), 3.0]
    assert eng.now == 10.0  # the abandoned timeout still fires, harmlessly


def test_a_failing_process_stops_the_run_naming_process_time_and_client():
    eng = Engine()

    def query_loop(eng):
        yield eng.timeout(2.5)
        raise ValueError("layer conv3 missing")

    def other(eng):
        yield eng.timeout(100.0)

    eng.process(query_loop(eng), name="queries", client=17)
    eng.process(other(eng))
    with pytest.raises(RunError) as info:
        eng.run()
    msg = str(info.value)
    assert "'queries'" in msg and "client 17" in msg and "t=2.5" in msg and "layer conv3 missing" in msg
    assert info.value.process == "queries" and info.value.time == 2.5 and info.value.client == 17
    assert isinstance(info.value.__cause__, ValueError)
    assert eng.now == 2.5


def test_yielding_a_non_event_is_an_error_naming_the_process():
    eng = Engine()

    def bad(eng):
        yield 3.0

    eng.process(bad(eng), name="bad-yield")
    with pytest.raises(RunError, match=r"process 'bad-yield' failed at t=0.0 s: TypeError: yielded 3.0"):
        eng.run()


def test_a_failed_event_nobody_waits_for_stops_the_run():
    eng = Engine()
    ev = eng.event("lost")
    eng.schedule(1.0, lambda: ev.fail(OSError("link down")))
    with pytest.raises(RunError, match="link down"):
        eng.run()


def test_a_failed_event_is_thrown_into_its_waiter_which_may_handle_it():
    eng = Engine()
    ev = eng.event("transfer")

    def waiter(eng):
        try:
            yield ev
        except OSError as exc:
            return f"handled {exc} at {eng.now}"

    p = eng.process(waiter(eng))
    eng.schedule(1.0, lambda: ev.fail(OSError("reset")))
    eng.run()
    assert p.value == "handled reset at 1.0"


def test_a_failing_callback_is_named():
    eng = Engine()

    def expire_layers():
        raise KeyError("client 3")

    eng.schedule(4.0, expire_layers)
    with pytest.raises(RunError, match=r"callback '.*expire_layers' failed at t=4.0 s"):
        eng.run()


def test_bad_delays_and_double_triggers_are_errors():
    eng = Engine()
    with pytest.raises(RunError, match="delay"):
        eng.timeout(-1.0)
    with pytest.raises(RunError, match="delay"):
        eng.schedule(float("nan"), lambda: None)
    ev = eng.event()
    ev.succeed(1)
    with pytest.raises(RunError, match="already triggered"):
        ev.succeed(2)


def test_two_engines_are_independent():
    e1, e2 = Engine(), Engine(start=100.0)
    e1.timeout(5.0)
    e1.run()
    assert e1.now == 5.0 and e2.now == 100.0

    def cross(eng, other):
        yield other.timeout(1.0)

    e2.process(cross(e2, e1), name="cross")
    with pytest.raises(RunError, match="another engine"):
        e2.run()


def test_docstring_examples_run():
    import doctest

    from edgeroam.emulator.sim import compute, engine, fluid

    for module in (engine, fluid, compute):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_an_event_succeeds_for_later_with_a_delay():
    eng = Engine()
    ev, seen = eng.event("later"), []
    ev.callbacks.append(lambda e: seen.append((eng.now, e.value)))
    ev.succeed("v", delay=2.5)  # triggered now, processed 2.5 s from now
    assert ev.triggered and not ev.processed
    eng.run(until=2.0)
    assert seen == []
    eng.run()
    assert seen == [(2.5, "v")] and ev.processed


def test_call_queues_a_callback_exactly_where_schedule_would():
    # the same times, priorities and FIFO ties as schedule, interleaved; cancel withdraws; a failure names it
    def run(use_call: bool) -> list:
        eng, log = Engine(), []
        for k, (delay, prio) in enumerate([(1.0, LATE), (0.5, URGENT), (1.0, URGENT), (1.0, LATE), (0.0, 1)]):
            def fn(k=k):
                log.append((eng.now, k))

            if use_call and k % 2:
                eng.call(delay, fn, prio, f"cb {k}")
            else:
                eng.schedule(delay, fn, priority=prio, name=f"cb {k}")
        eng.call(0.7, lambda: log.append("never"), 1, "gone").cancel()
        eng.run()
        return log

    assert run(True) == run(False) == [(0.0, 4), (0.5, 1), (1.0, 2), (1.0, 0), (1.0, 3)]
    eng = Engine()
    eng.call(2.0, lambda: 1 / 0, 1, "fluid completion")
    with pytest.raises(RunError, match=r"callback 'fluid completion' failed at t=2.0 s: ZeroDivisionError"):
        eng.run()
