"""The sim backend: hand-computed transfer times, TTL, settling in-flight migrations, shared Wi-Fi."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.actions import Drop, Migrate, Migrates, SetPlan

MB = 1_000_000


def plan(where):
    """The server-side layers of a plan over the layers a, b, c (in index order)."""
    return tuple(n for n, on in zip("abc", where, strict=True) if on)


def test_migration_over_two_hops_is_one_flow(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 2, ("c", "a"))])
    b.advance(9.0)
    assert b.holds(7, 2).tolist() == [True, False, True]
    tr = b.transfers()
    assert tr["end"].tolist() == [3.0] and tr["hops"].tolist() == [2]
    bh = b.backhaul()
    # s0 sends, s1 relays, s2 receives 3 MB in interval 0
    bh = bh.set_index("server")
    assert bh["up_bytes"].to_dict() == {0: 3 * MB, 1: 3 * MB, 2: 0.0}
    assert bh["down_bytes"].to_dict() == {0: 0.0, 1: 3 * MB, 2: 3 * MB}


def test_only_missing_layers_move_and_ttl_refreshes(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(7, 1, np.array([True, False, False]))
    b.execute([Migrate(7, 0, 1, ("a", "b"))])
    b.advance(10.0)
    assert b.transfers()["bytes"].tolist() == [MB]  # only "b"
    # tick 2: s1's layers (last refreshed at tick 0, TTL 2) are still there; a refresh at tick 2 keeps them
    b.begin_tick(2, 20.0, {})
    b.execute([Migrate(7, 0, 1, ())])
    b.begin_tick(4, 40.0, {})
    assert b.holds(7, 1) is not None
    b.begin_tick(5, 50.0, {})
    assert b.holds(7, 1) is None and b.holds(7, 0) is None


def test_settle_lands_the_delivered_prefix(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])  # 4 MB at 1 MB/s
    b.advance(2.5)
    b.settle(7, 1)
    assert b.holds(7, 1).tolist() == [True, True, False]
    b.watch(7, 1)
    b.advance(10.0)
    arrivals = b.unwatch(7, 1)
    assert [(t, i.tolist()) for t, i in arrivals] == [(pytest.approx(4.5), [2])]


def test_uploads_share_the_cell_uplink_and_cancel_on_move(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {1: 0, 2: 0})
    b.execute([SetPlan(1, 0, plan([True, False, False])), SetPlan(2, 0, plan([True, False, False]))])
    b.advance(5.0)
    # two 1 MB uploads at 1 MB/s shared: both end at 2 s
    assert b.transfers()["end"].tolist() == [2.0, 2.0]
    b.execute([SetPlan(3, 1, plan([False, False, True]))])  # 2 MB
    b.advance(6.0)
    b.execute([SetPlan(3, 2, plan([False, False, True]))])  # moves on: the upload to s1 stops
    tr = b.transfers()
    last = tr.iloc[2]
    assert (last["dst"], bool(last["complete"]), last["bytes"]) == (1, False, pytest.approx(MB))


def test_everywhere_and_any_pair_is_routed(make_backend):
    b = make_backend(everywhere=True)
    assert b.holds(1, 2).all()
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.ones(3, bool))
    assert b.net.links == []  # links join the fluid network when a path first carries bytes
    b.execute([Migrate(7, 1, 2, ("a",)), Migrate(7, 1, 0, ("b",))])
    b.advance(5.0)
    assert b.holds(7, 2).tolist() == [True, False, False] and b.holds(7, 0).tolist() == [False, True, False]
    assert sorted(b.net.links) == [("s1", "s0"), ("s1", "s2")]


def test_drop_forgets_a_clients_layers_on_one_server(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(7, 1, np.ones(3, bool))
    b.execute([Drop(7, 0)])
    assert b.holds(7, 0) is None and b.held_by(7) == frozenset({1})


def test_ttl_zero_never_expires_and_memory_counts_holdings(make_backend):
    b = make_backend(ttl_intervals=0)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 0, np.ones(3, bool))
    b.begin_tick(1000, 10_000.0, {})
    assert b.holds(7, 0) is not None and b.held_by(7) == frozenset({0})
    mem = b.memory()
    assert mem["peak_held"] == 2.0 and mem["peak_held_per_server"] == 2.0 and mem["evictions"] == 0.0


def test_server_plans_evicts_the_least_recently_used_client_but_not_an_attached_one(make_backend):
    b = make_backend(ttl_intervals=0, server_plans=2)
    b.begin_tick(0, 0.0, {9: 1})  # client 9 is attached to s1
    for c in (9, 7, 8):
        b.grant(c, 1, np.ones(3, bool))
    # three clients, room for two: 7 is the least recently used one not attached (9 is attached)
    assert b.holds(7, 1) is None and b.holds(9, 1) is not None and b.holds(8, 1) is not None
    b.begin_tick(1, 10.0, {})
    b.grant(6, 0, np.ones(3, bool))
    b.execute([Migrate(8, 0, 1, ())])  # a refresh makes 8 the most recent on s1
    b.grant(5, 1, np.ones(3, bool))  # now 9 (not attached any more) is the least recent
    assert b.holds(9, 1) is None and b.holds(8, 1) is not None and b.holds(5, 1) is not None
    assert b.held_by(9) == frozenset() and b.memory()["evictions"] == 2.0
    assert b.memory()["peak_held_per_server"] == 2.0


def test_settle_during_the_path_delay_lets_the_chunk_land(make_backend):
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=1.0)  # 1 MB/s, then 1 s of path delay
    b = SimBackend(G, [0, 1], [MB, MB, 2 * MB], ["a", "b", "c"], interval_s=10.0, ttl_intervals=2,
                   up_bps=8e6, chunk_bytes=MB)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a",))])
    b.advance(1.5)  # the byte stream ended at 1 s; the chunk lands at 2 s
    b.settle(7, 1)  # the client arrives in between: nothing to cancel, no error
    assert b.holds(7, 1) is None
    b.advance(3.0)
    assert b.holds(7, 1).tolist() == [True, False, False]


def test_docstring_examples_run():
    import doctest

    from edgeroam.emulator.sim import backend

    result = doctest.testmod(backend)
    assert result.attempted > 0 and result.failed == 0


def test_holdings_log_gives_the_storage_held_over_time(make_backend):
    from edgeroam.emulator.metrics import storage_summary

    b = make_backend()  # TTL 2 intervals of 10 s
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))  # 4 MB on s0 from t = 0
    b.execute([Migrate(7, 0, 1, ("c", "a"))])  # 3 MB over one 1 MB/s hop: lands on s1 at t = 3
    for k in range(1, 4):  # both expire at tick 3 (last refreshed at tick 0)
        b.begin_tick(k, 10.0 * k, {})
    log = b.holdings()
    assert log[["t", "server", "bytes", "copies"]].values.tolist() == [
        [0.0, 0, 4 * MB, 1], [3.0, 1, 0, 1], [3.0, 1, 3 * MB, 0],
        [30.0, 0, -4 * MB, -1], [30.0, 1, -3 * MB, -1]]
    s = storage_summary(log, np.array([0.0, 10.0, 20.0, 30.0]), 10.0)
    # bytes: 4 MB for 3 s, 7 MB for 27 s, nothing for the last 10 s; copies: 1 for 3 s, 2 for 27 s
    assert s["bytes_peak"] == 7 * MB and s["copies_peak"] == 2.0
    assert s["bytes_mean"] == pytest.approx((4 * 3 + 7 * 27) * MB / 40)
    assert s["copies_mean"] == pytest.approx((1 * 3 + 2 * 27) / 40)
    assert s["gb_hours"] == pytest.approx((4 * 3 + 7 * 27) * MB / 1e9 / 3600)


def test_an_eviction_at_the_same_instant_is_no_storage_peak(make_backend):
    from edgeroam.emulator.metrics import storage_summary

    b = make_backend(ttl_intervals=0, server_plans=1)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.ones(3, bool))
    b.grant(8, 1, np.ones(3, bool))  # evicts 7 at once
    s = storage_summary(b.holdings(), np.array([0.0]), 10.0)
    assert (s["copies_peak"], s["bytes_peak"], s["copies_mean"]) == (1.0, 4 * MB, 1.0)


def test_storage_skips_the_gaps_between_active_ticks():
    import pandas as pd

    from edgeroam.emulator.metrics import storage_summary

    # ticks at 0, 10 and (after a gap of nobody active) 1000 s; 1 GB held from t = 5 to t = 1005
    log = pd.DataFrame({"t": [5.0, 1005.0], "bytes": [10**9, -(10**9)], "copies": [1, -1]})
    s = storage_summary(log, np.array([0.0, 10.0, 1000.0]), 10.0)
    # active time: 5 s of tick 0, all of tick 1, 5 s of tick 2 = 20 of 30 s
    assert s["horizon_s"] == 30.0 and s["copies_mean"] == pytest.approx(20 / 30)
    assert s["gb_hours"] == pytest.approx(20 / 3600)
    # a change inside a gap lands at the start of the next tick
    log = pd.DataFrame({"t": [500.0], "bytes": [10**9], "copies": [1]})
    assert storage_summary(log, np.array([0.0, 10.0, 1000.0]), 10.0)["copies_mean"] == pytest.approx(1 / 3)


def test_a_ttl_of_one_interval_expires_and_a_drop_before_the_expiry_is_fine(make_backend):
    b = make_backend(ttl_intervals=1)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 0, np.ones(3, bool))
    b.execute([Drop(8, 0), Drop(9, 2)])  # 9 holds nothing on s2: nothing to do
    b.begin_tick(1, 10.0, {})
    assert b.holds(7, 0) is not None
    b.begin_tick(2, 20.0, {})
    assert b.holds(7, 0) is None and b.holds(8, 0) is None
    assert b.memory()["mean_held"] == pytest.approx((0 + 1 + 0) / 3)  # counted as each tick begins


def test_dropped_clients_are_not_counted_as_evictions_later(make_backend):
    b = make_backend(ttl_intervals=0, server_plans=1)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Drop(7, 0)])
    b.grant(8, 0, np.ones(3, bool))
    b.grant(9, 0, np.ones(3, bool))  # room for one: 8 goes, once
    assert b.holds(8, 0) is None and b.holds(9, 0) is not None and b.memory()["evictions"] == 1.0


def test_grants_add_up_and_a_held_plan_is_not_uploaded_again(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.array([True, False, False]))
    b.grant(7, 1, np.array([False, False, True]))
    assert b.holds(7, 1).tolist() == [True, False, True]
    b.execute([SetPlan(7, 1, ("a", "c"))])
    b.advance(10.0)
    assert b.transfers().empty and b.memory()["mean_held"] == 0.0


def test_a_set_plan_lands_what_arrived_of_a_migration_and_sends_the_rest(make_backend):
    # s0 sends a, b, c (1, 1, 2 MB at 1 MB/s) to s1 from 0 s; at exactly 1.0 s (a has arrived) the client's
    # plan is set at s1: a lands then (a watcher sees it at 1.0 s) and b, c follow in 1-MB chunks: b at 2 s,
    # c at 4 s; the cancelled first transfer is recorded with what it carried
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])
    b.advance(1.0)
    b.watch(7, 1)
    b.execute([SetPlan(7, 1, ("a", "b", "c"))])
    assert b.holds(7, 1).tolist() == [True, False, False]
    b.advance(10.0)
    assert [(t, idx.tolist()) for t, idx in b.unwatch(7, 1)] == [
        (pytest.approx(1.0), [0]), (pytest.approx(2.0), [1]), (pytest.approx(4.0), [2])]
    tr = b.transfers()
    assert tr["kind"].tolist() == ["migrate"] * 3 and tr["complete"].tolist() == [False, True, True]
    assert tr["layers"].tolist() == [1, 1, 1] and tr["bytes"].tolist() == [pytest.approx(MB), MB, 2 * MB]


def test_a_settle_just_before_a_layer_is_whole_lands_nothing(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])
    b.advance(1.0 - 5e-7)  # half a byte of a still to come
    b.settle(7, 1)
    assert b.holds(7, 1) is None or not b.holds(7, 1).any()


def test_depart_cancels_the_upload_and_a_plan_of_empty_layers_lands_at_once():
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    b = SimBackend(G, [0, 1], [MB, 0, MB], ["a", "relu", "b"], interval_s=10.0, ttl_intervals=2, up_bps=8e6)
    b.begin_tick(0, 0.0, {3: 0})
    b.execute([SetPlan(3, 0, ("relu",))])  # nothing to send: it is there at once
    assert b.holds(3, 0).tolist() == [False, True, False] and b.transfers()["bytes"].tolist() == [0.0]
    b.execute([SetPlan(3, 0, ("a", "b"))])
    b.advance(0.5)
    b.depart(3)  # the client leaves: its upload stops with half of a sent
    b.advance(10.0)
    tr = b.transfers()
    assert tr["complete"].tolist() == [True, False] and tr["bytes"].tolist()[1] == pytest.approx(0.5 * MB)
    assert b.holds(3, 0).tolist() == [False, True, False]


def test_a_relay_forwards_what_lands_except_what_the_destination_holds(make_backend):
    # the client uploads a, b to s0 (Wi-Fi 1 MB/s: a lands at 1 s, b at 2 s); a standing relay order s0 -> s1
    # forwards them as they land, but s1 already holds a: only b goes on (2..3 s)
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 0})
    b.grant(7, 1, np.array([True, False, False]))
    b.execute([SetPlan(7, 0, ("a", "b")), Migrate(7, 0, 1, ("a", "b"), relay=True)])
    b.advance(10.0)
    tr = b.transfers()
    assert list(zip(tr["kind"], tr["src"], tr["dst"], tr["layers"], tr["end"], strict=True)) == [
        ("upload", -1, 0, 1, 1.0), ("upload", -1, 0, 1, 2.0), ("migrate", 0, 1, 1, 3.0)]
    assert b.holds(7, 1).tolist() == [True, True, False]


def test_layers_on_their_way_from_any_source_are_not_sent_again(make_backend):
    # b comes from s0; a and c from s2; then s2 is asked for b too: it is already on its way
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(7, 2, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("b",)), Migrate(7, 2, 1, ("a", "c")), Migrate(7, 2, 1, ("b",))])
    b.advance(10.0)
    tr = b.transfers()
    assert list(zip(tr["src"], tr["layers"], strict=True)) in ([(0, 1), (2, 2)], [(2, 2), (0, 1)])
    assert b.holds(7, 1).tolist() == [True, True, True]


def test_the_holdings_log_names_clients_and_bytes_gained(make_backend):
    b = make_backend()
    assert b.holdings().dtypes.astype(str).tolist() == ["float64", "int64", "int64", "int64", "int64"]
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.array([True, False, False]))
    b.grant(7, 1, np.array([True, False, True]))  # c is new: 2 MB gained, no new copy
    b.grant(7, 1, np.array([True, False, False]))  # nothing new: no row
    b.execute([Drop(7, 1)])
    rows = b.holdings().values.tolist()
    assert rows == [[0.0, 7, 1, MB, 1], [0.0, 7, 1, 2 * MB, 0], [0.0, 7, 1, -3 * MB, -1]]


def test_one_tick_of_memory_and_a_warm_start_over_the_cap(make_backend):
    b = make_backend(ttl_intervals=0, server_plans=1)
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 0, np.ones(3, bool))  # before the first tick: 7 is evicted, nobody is attached yet
    assert b.holds(7, 0) is None and b.holds(8, 0) is not None
    b.begin_tick(0, 0.0, {})
    assert b.memory()["mean_held"] == 1.0


def test_a_refresh_makes_a_client_the_most_recent(make_backend):
    b = make_backend(ttl_intervals=0, server_plans=2)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 1, np.ones(3, bool))
    b.grant(8, 1, np.ones(3, bool))
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ())])  # refreshes 7 on s1: 8 is now the least recently used
    b.grant(9, 1, np.ones(3, bool))
    assert b.holds(8, 1) is None and b.holds(7, 1) is not None and b.holds(9, 1) is not None


def test_a_set_plan_and_an_attached_client_refresh_the_ttl(make_backend):
    # TTL 1 interval: layers granted at tick 0 expire when tick 2 begins unless refreshed at tick 1
    for refresh in ("set_plan", "attached"):
        b = make_backend(ttl_intervals=1)
        b.begin_tick(0, 0.0, {})
        b.grant(7, 1, np.ones(3, bool))
        b.begin_tick(1, 10.0, {7: 1} if refresh == "attached" else {})
        if refresh == "set_plan":
            b.execute([SetPlan(7, 1, ())])
        b.begin_tick(2, 20.0, {})
        assert b.holds(7, 1) is not None, refresh
        b.begin_tick(3, 30.0, {})
        assert b.holds(7, 1) is None, refresh


def test_settling_again_resends_the_chunk_in_flight_and_keeps_the_rest(make_backend):
    # a, b, c (1, 1, 2 MB at 1 MB/s) from s0 to s1 at 0 s, chunks of 1.5 MB after a settle: [a, b] and [c].
    # Settle at 0.5 s: [a, b] from 0.5 s. Settle at 1 s (no layer whole yet): [a, b] again from 1 s, lands at
    # 3 s, then [c]. Settle at 3.5 s (half of c): c again from 3.5 s, lands at 5.5 s.
    b = make_backend(chunk_bytes=1.5 * MB)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 1, ("a", "b", "c"))])
    b.watch(7, 1)
    for t in (0.5, 1.0, 3.5):
        b.advance(t)
        b.settle(7, 1)
    b.advance(20.0)
    assert [(t, idx.tolist()) for t, idx in b.unwatch(7, 1)] == [
        (pytest.approx(3.0), [0, 1]), (pytest.approx(5.5), [2])]
    assert b.holds(7, 1).tolist() == [True, True, True]


def test_spread_chunks_splits_bytes_by_interval_overlap_over_every_link_of_the_path():
    from edgeroam.emulator.sim.backend import spread_chunks

    # chunk 0: 0.5-2.5 s over path 0 (links 0, 1); chunk 1: no duration at 3.2 s over path 1 (link 2)
    k, link, b = spread_chunks(np.array([0.5, 3.2]), np.array([2.5, 3.2]), np.array([400.0, 7.0]),
                               np.array([0, 1]), np.array([0, 2]), np.array([2, 1]), 1.0)
    assert k.tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert link.tolist() == [0, 1, 0, 1, 0, 1, 2]
    assert b.tolist() == [100.0, 100.0, 200.0, 200.0, 100.0, 100.0, 7.0]


@pytest.mark.parametrize("how", ["advance", "callback"])
def test_an_upload_chunk_whose_last_byte_is_in_lands_when_its_client_leaves_at_that_instant(how):
    # 1 MB chunks at 1 MB/s: "a" is fully up at 1 s. The client leaves at exactly 1 s, either after `advance`
    # stopped there (the chunk's end not yet processed) or from an event of the same instant that runs while
    # the chunk's completion is already triggered: "a" lands and is recorded complete; "b" is never sent.
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend
    from edgeroam.emulator.sim.engine import Timeout

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    b = SimBackend(G, [0, 1], [MB, 0, MB], ["a", "relu", "b"], interval_s=10.0, ttl_intervals=2, up_bps=8e6,
                   chunk_bytes=1e6)
    b.begin_tick(0, 0.0, {3: 0})
    b.execute([SetPlan(3, 0, ("a", "b"))])
    if how == "advance":
        b.advance(1.0)
        b.depart(3)
    else:
        Timeout(b.engine, 1.0).callbacks.append(lambda _e: b.depart(3))
    b.advance(10.0)
    tr = b.transfers()
    rows = list(zip(tr["end"], tr["bytes"], tr["layers"], tr["complete"], strict=True))
    assert rows == [(1.0, MB, 1, True)]
    assert b.holds(3, 0).tolist() == [True, False, False]


def test_transfer_rows_fed_back_as_records_give_the_same_tables(make_backend):
    # the net backend accounts its measured migrations this way (`_model_backhaul`): a fresh core records
    # them, routing the rows' pairs, each row as it is
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 0})
    b.grant(7, 0, np.ones(3, bool))
    b.grant(8, 2, np.ones(3, bool))
    b.execute([SetPlan(9, 1, ("a", "c")), Migrate(7, 0, 2, ("c", "a")), Migrate(8, 2, 1, ("b",)),
               Migrate(7, 0, 1, ("b",))])
    b.advance(25.0)
    tr = b.transfers()
    assert set(tr["kind"]) == {"upload", "migrate"} and tr["complete"].all()
    core = make_backend()
    core.record(tr)
    assert core.transfers().equals(tr) and core.backhaul().equals(b.backhaul())
    assert len(b.backhaul()) and make_backend().transfers().columns.tolist() == tr.columns.tolist()


def test_a_backhaul_edge_without_a_capacity_is_one_clear_error():
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend
    from edgeroam.errors import TopologyError

    G = nx.Graph()
    G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    G.add_edge("s1", "s2", delay_s=0.0)
    with pytest.raises(TopologyError, match=r"\('s1', 's2'\) has no 'capacity_bps'"):
        SimBackend(G, [0, 1, 2], [MB], ["a"], interval_s=10.0, ttl_intervals=2, up_bps=8e6)


@pytest.mark.parametrize("server_plans", [None, 1])
def test_a_migrates_batch_does_what_its_migrates_do(make_backend, server_plans):
    def run(batched: bool):
        b = make_backend(server_plans=server_plans)
        b.begin_tick(0, 0.0, {7: 0})
        for c in (7, 8):
            b.grant(c, 0, np.ones(3, bool))
        b.grant(8, 2, np.array([True, False, False]))
        batch = Migrates([7, 7, 8, 8], [0, 0, 0, 0], [1, 2, 2, 1], [("a", "b"), ("c",)], [0, -1, 0, 1])
        b.execute([SetPlan(9, 1, ("a",)), batch] if batched else [SetPlan(9, 1, ("a",)), *batch])
        b.begin_tick(1, 10.0, {7: 1})
        b.execute([Migrates([8], [0], [2], [()], [-1])] if batched else [Migrate(8, 0, 2, ())])
        b.begin_tick(3, 30.0, {})
        return b.transfers(), b.holdings(), [(c, s, b.holds(c, s)) for c in (7, 8, 9) for s in (0, 1, 2)]

    (t0, h0, held0), (t1, h1, held1) = run(False), run(True)
    assert t0.equals(t1) and h0.equals(h1) and len(t0) > 1
    assert [(c, s, None if m is None else m.tolist()) for c, s, m in held0] == \
        [(c, s, None if m is None else m.tolist()) for c, s, m in held1]
    assert held1[5][2] is not None  # s2 kept client 8's layers: the batch's refresh at tick 1


def test_backhaul_counts_servers_only_and_a_migration_over_a_router_once_at_each_end():
    import networkx as nx

    from edgeroam.emulator.sim.backend import SimBackend

    G = nx.Graph()
    G.add_edge("s0", "agg", capacity_bps=8e6, delay_s=0.0)  # 1 MB/s
    G.add_edge("agg", "s12", capacity_bps=8e6, delay_s=0.0)
    b = SimBackend(G, [0, 12], [MB, MB, 2 * MB], ["a", "b", "c"], interval_s=2.0, ttl_intervals=2, up_bps=8e6,
                   chunk_bytes=MB)
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.ones(3, bool))
    b.execute([Migrate(7, 0, 12, ("a", "c"))])  # 3 MB in 3 s: intervals 0 (2 MB) and 1 (1 MB)
    b.advance(10.0)
    bh = b.backhaul()
    assert bh.columns.tolist() == ["interval", "start", "server", "up_bytes", "down_bytes"]
    assert bh[["interval", "server"]].values.tolist() == [[0, 0], [0, 12], [1, 0], [1, 12]]
    assert bh["up_bytes"].tolist() == [2 * MB, 0.0, MB, 0.0]
    assert bh["down_bytes"].tolist() == [0.0, 2 * MB, 0.0, MB]
    assert bh["start"].tolist() == [0.0, 0.0, 2.0, 2.0]
    assert bh["interval"].dtype == bh["server"].dtype == np.int64


def test_the_chunking_of_a_layer_list_is_worked_out_once_and_the_memo_starts_over_when_full(make_backend,
                                                                                            monkeypatch):
    from edgeroam.emulator.sim import backend as sb

    def run(cap):
        monkeypatch.setattr(sb, "_CHUNKING_MEMO", cap)
        b = make_backend(chunk_bytes=1.5 * MB)
        b.begin_tick(0, 0.0, {})
        b.grant(9, 0, np.ones(3, bool))
        calls = []
        real = b._chunk_bounds
        b._chunk_bounds = lambda todo, chunked: calls.append((todo.tolist(), chunked)) or real(todo, chunked)
        full = plan([True, True, True])  # the same list for clients 1, 2 and 4; another for 3
        b.execute([SetPlan(1, 1, full), SetPlan(2, 1, full), SetPlan(3, 1, plan([False, True, True])),
                   SetPlan(4, 1, full), Migrate(9, 0, 2, ("a", "c"))])
        b.advance(20.0)
        return calls, len(b._chunking), b.transfers()

    calls, kept, tr = run(4096)
    assert calls == [([0, 1, 2], True), ([1, 2], True), ([0, 2], False)] and kept == 3
    # 1.5 MB chunks: [a, b] then [c] for each full upload, [b, c] at once (3 MB), one flow for the migration
    assert tr.groupby("client")["layers"].apply(list).to_dict() == {1: [2, 1], 2: [2, 1], 3: [2],
                                                                  4: [2, 1], 9: [2]}
    calls, kept, again = run(1)  # a memo of one list: client 4's is worked out again after client 3's
    assert [c for c, _ in calls] == [[0, 1, 2], [1, 2], [0, 1, 2], [0, 2]] and kept == 1
    assert again.equals(tr)


def test_holds_rows_is_holds_of_each_pair(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {})
    b.grant(7, 0, np.array([True, False, True]))
    b.grant(2**31 - 1, 2, np.array([False, True, False]))  # the largest client code a key holds
    clients, servers = np.array([7, 7, 2**31 - 1, 5]), np.array([0, 1, 2, 0])
    rows = b.holds_rows(clients, servers)
    each = [b.holds(int(c), int(s)) for c, s in zip(clients, servers, strict=True)]
    assert rows.tolist() == [[False] * 3 if h is None else h.tolist() for h in each]
    assert rows.shape == (4, 3) and not rows.flags.writeable
    small = b.holds_rows(np.array([7, 7], np.int32), np.array([0, 2], np.int32))  # codes as int32
    assert small.tolist() == [[True, False, True], [False, False, False]]
    assert make_backend(everywhere=True).holds_rows(clients, servers).all()
