"""Actions: validated frozen records of plain data, a JSON round trip, deterministic order."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edgeroam.emulator.actions import (
    Drop,
    Migrate,
    Migrates,
    SetCloud,
    SetPlan,
    action_from_dict,
    action_to_dict,
    expand_actions,
    sort_actions,
)
from edgeroam.errors import PlanningError


def test_migrate_normalises_and_validates():
    m = Migrate(np.int64(3), 1, 2, ["conv1", "conv2"])
    assert m.client == 3 and type(m.client) is int and m.layers == ("conv1", "conv2") and m.relay is False
    assert Migrate(3, 1, 2, "fc").layers == ("fc",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.dst = 5
    with pytest.raises(PlanningError, match="same server 4"):
        Migrate(3, 4, 4, ["conv1"])
    with pytest.raises(PlanningError, match="listed twice: conv1"):
        Migrate(3, 1, 2, ["conv1", "fc", "conv1"])
    with pytest.raises(PlanningError, match="integer id"):
        Migrate(3, 1.5, 2, ["conv1"])
    with pytest.raises(PlanningError, match="layer names"):
        Migrate(3, 1, 2, ["conv1", ""])
    with pytest.raises(PlanningError, match="relay must be true or false"):
        Migrate(3, 1, 2, ["conv1"], relay="yes")


def test_setplan_names_its_layers_and_drop_names_a_server():
    assert SetPlan(1, 2, ["a", "b"]).layers == ("a", "b")
    assert SetPlan(1, 2, ()).layers == ()
    with pytest.raises(PlanningError, match="layers is None"):
        SetPlan(1, 2, None)
    with pytest.raises(PlanningError, match="listed twice"):
        SetPlan(1, 2, ["a", "a"])
    assert Drop(np.int64(4), 5) == Drop(4, 5)
    with pytest.raises(PlanningError, match="integer id"):
        Drop(4, True)


def test_every_action_round_trips_through_json():
    acts = [SetPlan(1, 2, ("a", "b")), Migrate(1, 2, 3, ("b",), relay=True), Migrate(1, 2, 4, ()), Drop(1, 9)]
    text = json.dumps([action_to_dict(a) for a in acts])
    assert [action_from_dict(d) for d in json.loads(text)] == acts
    with pytest.raises(PlanningError, match="unknown action 'Teleport'"):
        action_from_dict({"action": "Teleport"})
    with pytest.raises(PlanningError, match="unknown field"):
        action_from_dict({"action": "Drop", "client": 1, "server": 2, "bytes": 3})
    with pytest.raises(PlanningError, match="Drop"):
        action_from_dict({"action": "Drop", "client": 1})
    with pytest.raises(PlanningError, match="not an action"):
        action_to_dict(object())


def test_sort_actions_is_deterministic():
    acts = [Migrate(2, 5, 6, ["a"]), Drop(1, 3), SetPlan(2, 5, ["a"]), Migrate(1, 3, 9, ["a"]),
            Migrate(1, 3, 4, ["b"])]
    out = sort_actions(acts)
    assert out == [acts[4], acts[3], acts[1], acts[2], acts[0]]
    with pytest.raises(PlanningError, match="not an action"):
        sort_actions([object()])


@pytest.mark.parametrize("bad", [[""], [["conv1"]], [None]])
def test_a_layer_that_is_not_a_name_is_refused_every_time(bad: list) -> None:
    # twice: the second call must not be answered from the validation cache
    for _ in range(2):
        with pytest.raises(PlanningError, match="non-empty layer names"):
            SetPlan(1, 2, bad)


def _message(make) -> str:
    with pytest.raises(PlanningError) as err:
        make()
    return str(err.value)


def test_every_refusal_is_one_line_naming_the_action_and_the_value():
    assert _message(lambda: Migrate(3, 4, 4, ["c"])) == "Migrate(client=3): src and dst are the same server 4"
    assert _message(lambda: Migrate("x", 1, 2, ["c"])) == "Migrate: client must be an integer id, got 'x'"
    assert _message(lambda: Migrate(3, 1.5, 2, ["c"])) == (
        "Migrate(client=3): src must be an integer id, got 1.5")
    assert _message(lambda: Migrate(3, 1, None, ["c"])) == (
        "Migrate(client=3): dst must be an integer id, got None")
    assert _message(lambda: Migrate(3, 1, 2, ["c"], relay=1)) == (
        "Migrate(client=3): relay must be true or false, got 1")
    assert _message(lambda: Migrate(3, 1, 2, ["b", "a", "b", "a"])) == (
        "Migrate(client=3): layer(s) listed twice: a, b")
    assert _message(lambda: SetPlan(1, 2, ["a", ""])) == (
        "SetPlan(client=1): layers must be non-empty layer names, got ('a', '')")
    assert _message(lambda: SetPlan(1, 2, [["a"]])) == (
        "SetPlan(client=1): layers must be non-empty layer names, got (['a'],)")
    assert _message(lambda: SetPlan(1, 2, None)) == "SetPlan(client=1, server=2): layers is None"
    assert _message(lambda: SetPlan(True, 2, ())) == "SetPlan: client must be an integer id, got True"
    assert _message(lambda: SetPlan(1, "s", ())) == "SetPlan(client=1): server must be an integer id, got 's'"
    assert _message(lambda: Drop(4, True)) == "Drop(client=4): server must be an integer id, got True"
    assert _message(lambda: Drop(None, 4)) == "Drop: client must be an integer id, got None"
    assert _message(lambda: action_from_dict({"action": "Teleport"})) == (
        "unknown action 'Teleport'; choose one of SetPlan, Migrate, Drop, SetCloud")
    assert _message(lambda: action_from_dict({"client": 1})) == (
        "unknown action None; choose one of SetPlan, Migrate, Drop, SetCloud")
    assert _message(lambda: action_from_dict({"action": 7})) == (
        "unknown action 7; choose one of SetPlan, Migrate, Drop, SetCloud")
    extra = {"action": "Drop", "client": 1, "server": 2, "z": 0, "b": 1}
    assert _message(lambda: action_from_dict(extra)) == "Drop: unknown field(s) b, z"
    assert _message(lambda: action_from_dict({"action": "Drop", "client": 1})).startswith("Drop: ")
    assert _message(lambda: action_to_dict("Drop")) == "not an action: 'Drop'"
    assert _message(lambda: sort_actions([Drop(1, 2), 5])) == "not an action: 5"


def test_plain_migrates_take_the_fast_path_and_odd_ones_are_normalised():
    m = Migrate(3, 1, 2, ("a", "b"), relay=True)
    assert (m.client, m.src, m.dst, m.layers, m.relay) == (3, 1, 2, ("a", "b"), True)
    for odd in (Migrate(np.int64(3), 1, 2, ("a", "b")), Migrate(3, np.int32(1), 2, ("a", "b")),
                Migrate(3, 1, np.int64(2), ("a", "b")), Migrate(3, 1, 2, ["a", "b"]), Migrate(3, 1, 2, "a")):
        assert all(type(v) is int for v in (odd.client, odd.src, odd.dst)) and type(odd.layers) is tuple
    # a tuple subclass or an unhashable item is looked at closely, not trusted
    with pytest.raises(PlanningError, match="non-empty layer names"):
        Migrate(3, 1, 2, (["a"],))


def test_sort_actions_orders_by_client_kind_and_servers():
    acts = [Drop(1, 7), Drop(1, 2), SetPlan(1, 9, ()), SetPlan(0, 3, ()), Migrate(1, 4, 1, ()),
            Migrate(1, 2, 8, ()), Migrate(1, 2, 5, ())]
    assert sort_actions(acts) == [acts[3], acts[2], acts[6], acts[5], acts[4], acts[1], acts[0]]
    assert sort_actions([]) == []


def test_tuples_of_layers_are_checked_as_closely_as_lists():
    # a plain tuple may take the fast path, but never past a check
    assert _message(lambda: Migrate(3, 1, 2, ("a", "a"))) == "Migrate(client=3): layer(s) listed twice: a"
    assert _message(lambda: Migrate(3, 1, 2, ("a", ""))) == (
        "Migrate(client=3): layers must be non-empty layer names, got ('a', '')")
    assert _message(lambda: Migrate(3, 4, 4, ("c",))) == (
        "Migrate(client=3): src and dst are the same server 4")
    assert _message(lambda: Migrate(3, 1, 2, ("c",), relay=1)) == (
        "Migrate(client=3): relay must be true or false, got 1")
    assert _message(lambda: action_from_dict({"action": ["Drop"]})) == (
        "unknown action ['Drop']; choose one of SetPlan, Migrate, Drop, SetCloud")


def test_action_dicts_hold_plain_lists():
    d = action_to_dict(SetPlan(1, 2, ("a", "b")))
    assert d == {"action": "SetPlan", "client": 1, "server": 2, "layers": ["a", "b"]}
    assert type(d["layers"]) is list


def test_set_cloud_round_trips_sorts_last_and_refuses_a_negative_cut():
    a = SetCloud(4, 2, 17)
    assert action_from_dict(json.loads(json.dumps(action_to_dict(a)))) == a
    assert action_to_dict(a) == {"action": "SetCloud", "client": 4, "server": 2, "cut": 17}
    assert sort_actions([a, Drop(4, 1), SetPlan(4, 2, ())]) == [SetPlan(4, 2, ()), Drop(4, 1), a]
    assert _message(lambda: SetCloud(4, 2, -1)) == "SetCloud(client=4): cut must be >= 0, got -1"


def test_migrates_is_many_migrates_as_columns():
    batch = Migrates(np.array([3, 3, 4]), np.array([1, 1, 2]), np.array([2, 5, 1]), [("a", "b"), ("c",)],
                     np.array([1, -1, 0]), relay=True)
    assert len(batch) == 3
    assert list(batch) == [Migrate(3, 1, 2, ("c",), relay=True), Migrate(3, 1, 5, ()),
                           Migrate(4, 2, 1, ("a", "b"), relay=True)]  # a refresh is never a standing order
    drop = Drop(9, 1)
    assert expand_actions([drop, batch, drop]) == [drop, *batch, drop]
    assert sort_actions([drop, batch]) == sort_actions([drop, *batch])
    assert batch == Migrates([3, 3, 4], [1, 1, 2], [2, 5, 1], [("a", "b"), ("c",)], [1, -1, 0], relay=True)
    assert batch != Migrates([3], [1], [2], [("c",)], [0])
    empty = Migrates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), [], np.zeros(0))
    assert list(empty) == []
    with pytest.raises(PlanningError, match="same server 2"):
        Migrates([3], [2], [2], [("a",)], [0])
    with pytest.raises(PlanningError, match="differ in length"):
        Migrates([3, 4], [1], [2], [("a",)], [0])
    with pytest.raises(PlanningError, match="-1 or below 1"):
        Migrates([3], [1], [2], [("a",)], [1])
    with pytest.raises(PlanningError, match="integer ids"):
        Migrates([3.5], [1], [2], [("a",)], [0])
    with pytest.raises(PlanningError, match="listed twice"):
        Migrates([3], [1], [2], [("a", "a")], [0])
    with pytest.raises(PlanningError, match="not an action"):
        action_to_dict(batch)  # one Migrate at a time goes through JSON (expand_actions first)


def test_plain_migrate_is_the_checked_migrate():
    from edgeroam.emulator.actions import plain_migrate

    for args in [(1, 2, 3, ("a", "b")), (4, 5, 6, ()), (7, 8, 9, ("c",), True)]:
        m = plain_migrate(*args)
        assert m == Migrate(*args) and type(m) is Migrate and hash(m) == hash(Migrate(*args))
        with pytest.raises(AttributeError):
            m.src = 0  # frozen as ever
