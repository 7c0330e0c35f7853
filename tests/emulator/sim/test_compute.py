"""Processor sharing: hand-computed completion times under changing load."""

from __future__ import annotations

import pytest

from edgeroam.emulator.sim.compute import PSServer
from edgeroam.emulator.sim.engine import Engine
from edgeroam.errors import RunError


def _job(eng, srv, work, at, ends, tag):
    def proc(eng):
        if at > 0:
            yield eng.timeout(at)
        rec = yield srv.run(work, tag=tag)
        ends[tag] = (rec.start, rec.end)

    eng.process(proc(eng))


def test_a_job_arriving_midway_slows_the_first():
    # Capacity 1. A (2 s of work) alone over [0, 1): 1 s done, 1 s left. B (0.5 s) arrives at t = 1: each
    # runs at 1/2, so B ends at 1 + 0.5 / 0.5 = 2.0 s, when A has 1 - 0.5 = 0.5 s left; alone again, A ends
    # at 2.5 s.
    eng = Engine()
    srv = PSServer(eng, capacity=1.0, name="edge-3")
    ends: dict = {}
    _job(eng, srv, 2.0, 0.0, ends, "A")
    _job(eng, srv, 0.5, 1.0, ends, "B")
    eng.run(until=1.5)
    assert srv.jobs == 2
    assert srv.remaining_s() == pytest.approx([0.25, 0.75])
    eng.run()
    assert ends["B"] == (pytest.approx(1.0), pytest.approx(2.0, abs=1e-9))
    assert ends["A"][1] == pytest.approx(2.5, abs=1e-9)
    assert srv.busy_s == pytest.approx(2.5) and srv.completed == 2


def test_three_jobs_on_a_faster_server():
    # Capacity 2, jobs of 1, 2, 3 s at t = 0: each at 2/3. Job 1 ends at 1 / (2/3) = 1.5 s; the others
    # have 1 s done. Two left at 1 each: job 2 (1 s left) ends at 2.5 s; job 3 (1 s left) alone at 2: ends
    # at 3.0 s.
    eng = Engine()
    srv = PSServer(eng, capacity=2.0)
    ends: dict = {}
    for w in (1.0, 2.0, 3.0):
        _job(eng, srv, w, 0.0, ends, w)
    eng.run()
    assert ends[1.0][1] == pytest.approx(1.5, abs=1e-9)
    assert ends[2.0][1] == pytest.approx(2.5, abs=1e-9)
    assert ends[3.0][1] == pytest.approx(3.0, abs=1e-9)


def test_equal_jobs_end_together_in_arrival_order_and_zero_work_is_instant():
    eng = Engine()
    srv = PSServer(eng)
    order = []

    def proc(eng, tag, work):
        rec = yield srv.run(work, tag=tag)
        order.append((rec.tag, rec.end))

    for tag in "abc":
        eng.process(proc(eng, tag, 1.0))
    eng.process(proc(eng, "zero", 0.0))
    eng.run()
    assert order == [("zero", 0.0), ("a", 3.0), ("b", 3.0), ("c", 3.0)]


def test_queries_in_a_loop_see_the_load():
    # A client runs 0.1-s queries back to back (0.5 s gap) while a 10-s batch job occupies the server: each
    # query shares the server with the batch job, so it takes 0.2 s. Queries start at 0, 0.7, 1.4, ...
    eng = Engine()
    srv = PSServer(eng)
    srv.run(10.0)
    lat = []

    def client(eng):
        for _ in range(3):
            rec = yield srv.run(0.1)
            lat.append(rec.end - rec.start)
            yield eng.timeout(0.5)

    eng.process(client(eng), client=1)
    eng.run()
    assert lat == [pytest.approx(0.2, abs=1e-12)] * 3


def test_bad_work_and_capacity():
    eng = Engine()
    with pytest.raises(RunError, match="capacity"):
        PSServer(eng, capacity=0.0)
    with pytest.raises(RunError, match="work"):
        PSServer(eng, name="s").run(-1.0)


def test_cancel_withdraws_a_job():
    # Two 2-s jobs share capacity 1; at t = 1 each has 0.5 s done. Cancelling B leaves A 1.5 s alone:
    # A ends at 2.5 s.
    eng = Engine()
    srv = PSServer(eng)
    a, b = srv.run(2.0), srv.run(2.0)
    eng.run(until=1.0)
    rec = srv.cancel(b)
    assert rec.work_s == pytest.approx(0.5)
    eng.run()
    assert a.value.end == pytest.approx(2.5, abs=1e-9) and b.cancelled and not b.processed
    with pytest.raises(RunError, match="not in progress"):
        srv.cancel(b)
