"""SlotServer: slots run jobs at once, the rest wait FIFO, a full queue blocks its senders in order."""

from __future__ import annotations

import pytest

from edgeroam.emulator.sim.engine import Engine
from edgeroam.emulator.sim.slots import SlotServer
from edgeroam.errors import RunError


def test_two_slots_fifo():
    eng = Engine()
    srv = SlotServer(eng, slots=2)
    jobs = [srv.run(w, tag=i) for i, w in enumerate([3.0, 1.0, 1.0, 1.0])]
    eng.run()
    assert [(j.value.start, j.value.end) for j in jobs] == [(0.0, 3.0), (0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert srv.busy == 0 and srv.busy_s == 6.0


def test_bounded_queue_blocks_in_order_and_signals_entry():
    eng = Engine()
    srv = SlotServer(eng, slots=1, capacity=2)
    entered = [eng.event() for _ in range(5)]
    jobs = [srv.run(1.0, tag=i, entered=entered[i]) for i in range(5)]
    assert (srv.waiting, srv.blocked) == (2, 2)
    eng.run()
    rec = [j.value for j in jobs]
    assert [r.start for r in rec] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [r.blocked_s for r in rec] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert [e.value for e in entered] == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_bad_slots_and_work_are_errors():
    eng = Engine()
    with pytest.raises(RunError, match="slots"):
        SlotServer(eng, slots=0)
    with pytest.raises(RunError, match="capacity"):
        SlotServer(eng, capacity=0)
    with pytest.raises(RunError, match="finite"):
        SlotServer(eng).run(float("nan"))


def test_a_held_slot_stays_busy_until_its_hold_triggers():
    # one slot: job 0 works 1 s but holds its slot until its output enters a next queue at 3 s; job 1 waits
    eng = Engine()
    srv = SlotServer(eng, slots=1)
    hold = eng.event()
    jobs = [srv.run(1.0, hold=hold), srv.run(1.0)]
    eng.schedule(3.0, lambda: hold.succeed(3.0))
    eng.run()
    assert (jobs[0].value.end, jobs[1].value.start, jobs[1].value.end) == (1.0, 3.0, 4.0)
    assert srv.busy == 0
