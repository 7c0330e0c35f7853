"""The sim backend on hand-computed cases: which layers travel together in a chunk, IONN's fresh start."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.actions import Migrate, SetPlan
from edgeroam.emulator.run import run_prepared
from edgeroam.errors import RunError

MB = 1_000_000


def test_a_chunk_ends_with_the_layer_that_passes_a_multiple_of_chunk_bytes(make_backend):
    # layers a, b, c of 1, 1, 2 MB over 1 MB/s; chunks of about 1.5 MB. The client arrives at 0.5 s, before
    # any layer is complete, so the whole order goes on in chunks: the running total 1, 2, 4 MB passes 1.5 MB
    # at b and 3 MB at c, so the chunks are [a, b] (2 MB, lands at 0.5 + 2 = 2.5 s) and [c] (lands at 4.5 s)
    b = make_backend(chunk_bytes=1.5 * MB)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])
    b.advance(0.5)
    b.settle(7, 1)
    assert b.holds(7, 1) is None or not b.holds(7, 1).any()
    b.watch(7, 1)
    b.advance(10.0)
    landed = [(t, idx.tolist()) for t, idx in b.unwatch(7, 1)]
    assert landed == [(pytest.approx(2.5), [0, 1]), (pytest.approx(4.5), [2])]
    tr = b.transfers()
    assert tr["bytes"].tolist() == [0.5 * MB, 2 * MB, 2 * MB]
    assert tr["complete"].tolist() == [False, True, True]
    assert b.holds(7, 1).tolist() == [True, True, True]


def test_ionn_starts_from_scratch_even_at_a_server_it_left_one_tick_ago(scripted):
    # s0, s0, s1, s1, s0, s0: IONN uploads the whole plan at s0, again at s1, and again back at s0 (its layers
    # were dropped when the client moved on, though the TTL of 5 intervals would have kept them)
    prep = scripted({"a": (0, 0, 1, 1, 0, 0)}, policy="ionn")
    res = run_prepared(prep, "ionn")
    ho = res.tables["handovers"]
    assert list(zip(ho["server"], ho["handover"], ho["kind"], strict=True)) == [
        (0, False, "miss"), (1, True, "miss"), (0, True, "miss")]
    assert ho["held_bytes"].tolist() == [0, 0, 0]
    s = res.summary
    assert (s["hits"], s["partial_hits"], s["misses"]) == (0, 0, 2)
    plan_bytes = prep.planner.entry(1).bytes
    assert s["backhaul"]["uploaded_bytes"] == pytest.approx(3 * plan_bytes)
    assert s["backhaul"]["migrated_bytes"] == 0


def test_backhaul_bytes_are_spread_over_intervals_and_relays(make_backend):
    # interval 10 s, 1 MB/s links s0 - s1 - s2. At 8 s s0 sends a, b, c (4 MB) to s2 over s1: 8..12 s, so
    # intervals 0 and 1 get 2 MB each, as uplink of s0 and s1 and downlink of s1 and s2. At 38 s s1 sends c
    # (2 MB) to s0: 38..40 s, all in interval 3 (it ends on the edge).
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    assert b.backhaul().empty and list(b.backhaul().columns) == [
        "interval", "start", "server", "up_bytes", "down_bytes"]
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 1, np.array([False, False, True]))
    b.advance(8.0)
    b.execute([Migrate(7, 0, 2, ("a", "b", "c"))])
    b.advance(38.0)
    b.execute([Migrate(8, 1, 0, ("c",))])
    b.advance(60.0)
    bh = b.backhaul(t0=100.0)
    got = list(bh.itertuples(index=False, name=None))
    assert got == [
        (0, 100.0, 0, 2 * MB, 0.0), (0, 100.0, 1, 2 * MB, 2 * MB), (0, 100.0, 2, 0.0, 2 * MB),
        (1, 110.0, 0, 2 * MB, 0.0), (1, 110.0, 1, 2 * MB, 2 * MB), (1, 110.0, 2, 0.0, 2 * MB),
        (3, 130.0, 0, 0.0, 2 * MB), (3, 130.0, 1, 2 * MB, 0.0),
    ]
    assert bh["interval"].dtype == np.int64 and bh["server"].dtype == np.int64


def test_memory_counts_held_plans_per_tick_until_they_expire(make_backend):
    # TTL 2 intervals: layers granted at tick 0 expire after tick 2 (dropped when tick 3 begins)
    b = make_backend()
    b.begin_tick(0, 0.0, {})  # nothing held yet
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 1, np.array([True, False, False]))
    for k in (1, 2):
        b.begin_tick(k, 10.0 * k, {})
        assert b.holds(7, 0) is not None and b.held_by(8) == frozenset({1})
    b.begin_tick(3, 30.0, {})
    assert b.holds(7, 0) is None and b.held_by(7) == frozenset() and b.held_by(8) == frozenset()
    b.begin_tick(4, 40.0, {})
    # held per tick: 0, 2, 2, 0, 0 -> mean 0.8; peak 2 (one per server)
    assert b.memory() == {"mean_held": 0.8, "peak_held": 2.0, "peak_held_per_server": 1.0, "evictions": 0.0}


def test_layers_in_flight_are_not_sent_twice_and_unknown_layers_are_refused(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(7, 2, np.ones(3, bool))
    # s0 and s2 both send a and c to s1 in the same tick: the second finds them on their way and sends none
    b.execute([Migrate(7, 0, 1, ("a", "c")), Migrate(7, 2, 1, ("a", "c"))])
    b.advance(10.0)
    tr = b.transfers()
    assert list(zip(tr["src"], tr["dst"], tr["bytes"], tr["layers"], strict=True)) == [(0, 1, 3 * MB, 2)]
    assert b.holds(7, 1).tolist() == [True, False, True]
    # a later order for what s1 already holds sends nothing either
    b.execute([Migrate(7, 0, 1, ("a", "b"))])
    b.advance(20.0)
    assert b.transfers()["bytes"].tolist() == [3 * MB, MB]
    with pytest.raises(RunError, match="unknown layer 'zz' in an action"):
        b.execute([Migrate(7, 0, 1, ("a", "zz"))])
    assert b.unwatch(7, 1) == []  # never watched: no arrivals


def test_a_cancelled_upload_records_what_went_out(make_backend):
    # Wi-Fi 1 MB/s: c (2 MB) uploads to s1 from 0 s; the client moves on at 0.5 s: 0.5 MB went out, no layer
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.execute([SetPlan(3, 1, ("c",))])
    b.advance(0.5)
    b.execute([SetPlan(3, 2, ())])
    b.advance(10.0)
    tr = b.transfers()
    assert list(tr.itertuples(index=False, name=None)) == [
        ("upload", 3, -1, 1, 0.0, 0.5, pytest.approx(0.5 * MB), 0, 0, False)]
    assert b.holds(3, 1) is None or not b.holds(3, 1).any()
    # the cancelled layer is no longer pending: a new upload to s1 sends it again, whole
    b.execute([SetPlan(3, 1, ("c",))])
    b.advance(20.0)
    assert b.transfers()["bytes"].tolist()[1:] == [2 * MB] and b.holds(3, 1).tolist() == [False, False, True]


def test_backhaul_of_short_chunks_in_short_intervals(make_backend):
    # intervals of 0.5 s. At 0.25 s s0 sends c (2 MB, 0.25..2.25 s) to s1 at 1 MB/s: 0.25, 0.5, 0.5, 0.5,
    # 0.25 MB in intervals 0..4. At 5.25 s s1 sends a (1 MB: a chunk of one second, still spread over the
    # intervals it overlaps) to s2: 0.25, 0.5, 0.25 MB in intervals 10, 11, 12. Starts count from 0.
    b = make_backend(interval_s=0.5)
    b.begin_tick(0, 0.0, {})
    empty = b.backhaul()
    assert [str(t) for t in empty.dtypes] == ["int64", "float64", "int64", "float64", "float64"]
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 1, np.ones(3, bool))
    b.advance(0.25)
    b.execute([Migrate(7, 0, 1, ("c",))])
    b.advance(5.25)
    b.execute([Migrate(8, 1, 2, ("a",))])
    b.advance(20.0)
    bh = b.backhaul()
    q = MB / 4
    assert list(bh.itertuples(index=False, name=None)) == [
        (0, 0.0, 0, q, 0.0), (0, 0.0, 1, 0.0, q), (1, 0.5, 0, 2 * q, 0.0), (1, 0.5, 1, 0.0, 2 * q),
        (2, 1.0, 0, 2 * q, 0.0), (2, 1.0, 1, 0.0, 2 * q), (3, 1.5, 0, 2 * q, 0.0), (3, 1.5, 1, 0.0, 2 * q),
        (4, 2.0, 0, q, 0.0), (4, 2.0, 1, 0.0, q),
        (10, 5.0, 1, q, 0.0), (10, 5.0, 2, 0.0, q), (11, 5.5, 1, 2 * q, 0.0), (11, 5.5, 2, 0.0, 2 * q),
        (12, 6.0, 1, q, 0.0), (12, 6.0, 2, 0.0, q),
    ]


def test_backhaul_counts_a_one_byte_layer_and_no_empty_one():
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    b = SimBackend(G, [0, 1], [1, 0, MB], ["one", "zero", "big"], interval_s=10.0, ttl_intervals=2,
                   up_bps=8e6, chunk_bytes=MB)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.advance(0.5)
    b.execute([Migrate(7, 0, 1, ("zero",))])  # a layer of no bytes: it lands, nothing crosses the backhaul
    b.advance(1.0)
    assert b.backhaul().empty and b.holds(7, 1).tolist() == [False, True, False]
    assert list(b.transfers().itertuples(index=False, name=None)) == [
        ("migrate", 7, 0, 1, 0.5, 0.5, 0.0, 1, 1, True)]
    b.execute([Migrate(7, 0, 1, ("one",))])
    b.advance(2.0)
    rows = list(b.backhaul().itertuples(index=False, name=None))
    assert rows == [(0, 0.0, 0, 1.0, 0.0), (0, 0.0, 1, 0.0, 1.0)]


def test_a_fresh_backend_counts_nothing_and_everywhere_holds_a_boolean_mask(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    assert b.memory() == {"mean_held": 0.0, "peak_held": 0.0, "peak_held_per_server": 0.0, "evictions": 0.0}
    assert b.actions_done == 0
    b.execute([SetPlan(3, 1, ()), Migrate(3, 1, 2, ())])
    assert b.actions_done == 2
    every = make_backend(everywhere=True)
    mask = every.holds(3, 1)
    assert mask.dtype == bool and mask.tolist() == [True, True, True]
    assert (~mask).tolist() == [False, False, False]


def test_layers_granted_before_the_first_tick_live_ttl_intervals_from_tick_0(make_backend):
    # a warm start: TTL 2 intervals counted from tick 0, so the layers are dropped when tick 3 begins
    b = make_backend()
    b.grant(7, 0, np.ones(3, bool))
    for k in range(3):
        b.begin_tick(k, 10.0 * k, {})
        assert b.holds(7, 0) is not None
    b.begin_tick(3, 30.0, {})
    assert b.holds(7, 0) is None


def test_the_default_chunk_is_8_mb():
    # re-chunking after a settle: layers of 4, 4, 4 MB make chunks [0, 1] (8 MB, a whole chunk) and [2]
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    b = SimBackend(G, [0, 1], [4 * MB, 4 * MB, 4 * MB], ["a", "b", "c"], interval_s=10.0, ttl_intervals=2,
                   up_bps=8e6)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])
    b.advance(0.5)
    b.settle(7, 1)
    b.advance(100.0)
    assert b.transfers()["layers"].tolist() == [0, 2, 1]


def test_refreshes_of_a_batch_renew_only_the_pairs_held(make_backend):
    b = make_backend()  # TTL 2 intervals
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.ones(3, bool))
    b.begin_tick(1, 10.0, {})
    b.execute([Migrate(7, 0, 1, ()), Migrate(8, 0, 2, ())])  # 7 on s1 lives to tick 3; s2 holds nothing of 8
    assert b.actions_done == 2 and b.holds(8, 2) is None
    b.begin_tick(3, 30.0, {})
    assert b.holds(7, 1) is not None
    b.begin_tick(4, 40.0, {})
    assert b.holds(7, 1) is None
