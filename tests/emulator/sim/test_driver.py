"""The sim driver behind the Backend contract: its setup, arrivals with their load and holdings, windows."""

from __future__ import annotations

import numpy as np

from edgeroam.emulator.backend import Arrival, Moves
from edgeroam.emulator.master import Master
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.sim.driver import Sim


def _started(scripted, **policy) -> tuple[Sim, object]:
    prep = scripted({"a": (0, 0, 1, 1), "b": (0, 0, 1, 1)})
    sim = Sim()
    setup = Master(prep, make_policy("perdnn", **policy), backend=sim).setup
    sim.start(setup)
    return sim, prep


def test_the_core_gets_the_setup_and_the_default_chunk(scripted):
    sim, prep = _started(scripted, server_plans=3, ttl_intervals=4)
    core = sim.core
    assert (core.server_plans, core.ttl, core.everywhere, core.chunk_bytes) == (3, 4, False, 8e6)
    assert core.interval_s == 30.0 and core.n_layers == prep.planner.n_layers
    plain, _ = _started(scripted)
    assert Sim(chunk_bytes=1e6).chunk_bytes == 1e6 and plain.core.server_plans is None


def test_arrivals_carry_the_load_and_what_the_server_held_and_open_a_query_window(scripted):
    sim, prep = _started(scripted)
    n = prep.planner.n_layers
    sim.core.grant(0, 1, np.ones(n, bool))  # client 0 finds its whole model on server 1
    moves = Moves(0, {0: 1, 1: 1}, (Arrival(0, 0, -1, 1, False), Arrival(1, 1, -1, 1, False)), ())
    events = sim.advance(0.0, moves)
    masks = [np.frombuffer(held, bool) for *_, held in events.arrivals]  # the masks' bytes, n layers each
    got = [(r, c, p, s, t, k, h) for r, c, p, s, t, k, h, _ in events.arrivals]
    assert got == [(0, 0, -1, 1, 0.0, 2, False), (1, 1, -1, 1, 0.0, 2, False)]
    assert [len(m) for m in masks] == [n, n] and masks[0].all() and not masks[1].any()
    assert sim.holds(0, 1).all() and sim.holds(1, 1) is None and sim.held_by(0) == frozenset({1})
    # the windows close one interval later with the queries of both clients at load 2
    late = sim.advance(30.0, Moves(1, {0: 1, 1: 1}, (), (1,)))
    assert sorted({q[1] for q in late.queries}) == [0, 1] and all(q[3] == 0.0 for q in late.queries)
    sim.apply([])
    closing = sim.close()
    assert closing.memory is not None and closing.holdings is not None
