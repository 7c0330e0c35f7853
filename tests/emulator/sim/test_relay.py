"""The sim backend's relay (forward-on-arrival): a Migrate(relay=True) is a standing order until the next
actions."""

from __future__ import annotations

import numpy as np

from edgeroam.emulator.actions import Migrate, SetPlan

MB = 1_000_000


def full_plan():
    return ("a", "b", "c")


def test_relay_forwards_uploaded_layers_as_they_land(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 0})
    # the client starts uploading a, b, c (1 MB chunks at 1 MB/s: land at 1, 2, 4 s) and the master orders
    # s0 -> s1 at once, when s0 holds nothing yet
    b.execute([SetPlan(7, 0, full_plan()), Migrate(7, 0, 1, ("a", "b", "c"), relay=True)])
    b.advance(10.0)
    assert b.holds(7, 1).tolist() == [True, True, True]
    mig = b.transfers().query("kind == 'migrate'")
    # each layer leaves s0 the moment it lands there, over the 1 MB/s link
    assert mig["start"].tolist() == [1.0, 2.0, 4.0]
    assert mig["end"].tolist() == [2.0, 3.0, 6.0]
    assert mig["bytes"].sum() == 4 * MB


def test_without_relay_nothing_leaves_an_empty_source(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 0})
    b.execute([SetPlan(7, 0, full_plan()), Migrate(7, 0, 1, ("a", "b", "c"))])
    b.advance(10.0)
    assert b.holds(7, 1) is None
    assert (b.transfers()["kind"] == "migrate").sum() == 0


def test_relay_orders_end_with_the_next_actions_and_only_listed_layers_go(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 0})
    b.execute([SetPlan(7, 0, full_plan()), Migrate(7, 0, 2, ("a",), relay=True)])
    b.advance(1.5)  # "a" landed at s0 (1 s) and was forwarded; "b" is still on its way up
    b.execute([])  # next decision: no order any more
    b.advance(10.0)
    assert b.holds(7, 2).tolist() == [True, False, False]
    assert b.holds(7, 0).tolist() == [True, True, True]
    assert b.transfers().query("kind == 'migrate'")["bytes"].tolist() == [MB]


def test_relay_chains_a_migration_landing_at_the_source(make_backend):
    b = make_backend()
    b.begin_tick(0, 0.0, {7: 1})
    b.grant(7, 0, np.array([True, False, False]))
    # s0 sends "a" to s1 (the client's server now), which relays it on to s2 when it lands
    b.execute([Migrate(7, 0, 1, ("a",), relay=True), Migrate(7, 1, 2, ("a",), relay=True)])
    b.advance(10.0)
    assert b.holds(7, 2).tolist() == [True, False, False]
    mig = b.transfers().query("kind == 'migrate'")
    assert list(zip(mig["src"], mig["dst"], mig["start"], mig["end"], strict=True)) == [
        (0, 1, 0.0, 1.0), (1, 2, 1.0, 2.0)]
