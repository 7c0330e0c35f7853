"""The Backend contract: the master drives any backend through it; a recording fake stands in for sim here.

The fake keeps no layers (so every server change misses) and records every call. The master must start it
once, advance it tick by tick with the users' moves, hand it plain actions once per tick and close it; it
must never import the sim backend.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.actions import SetPlan, action_from_dict, action_to_dict
from edgeroam.emulator.backend import BACKENDS, Backend, Closing, Events, Moves, Setup, make_backend
from edgeroam.emulator.master import run_pass
from edgeroam.emulator.policies import make_policy
from edgeroam.errors import RunError


class RecordingBackend:
    """A backend that holds nothing and records what the master asks of it."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, setup: Setup) -> None:
        self.setup = setup
        self.calls.append(("start", setup))

    def advance(self, until: float, moves: Moves | None = None) -> Events:
        self.calls.append(("advance", until, moves))
        out = Events()
        for a in moves.arrivals if moves is not None else ():
            held = np.zeros(self.setup.planner.n_layers, bool)
            out.arrivals.append((a.row, a.client, a.prev, a.server, until, 1, a.handover, held))
        return out

    def apply(self, actions: list) -> None:
        self.calls.append(("apply", [json.dumps(action_to_dict(a)) for a in actions]))

    def holds(self, client: int, server: int) -> np.ndarray | None:
        return None

    def held_by(self, client: int) -> frozenset[int]:
        return frozenset()

    def cloud_bps(self) -> float | None:
        return None

    def queue_wait(self, server: int) -> tuple[float, float]:
        return (0.0, 0.0)

    def close(self) -> Closing:
        self.calls.append(("close",))
        transfers = pd.DataFrame({"kind": pd.Series(dtype=str), "bytes": pd.Series(dtype=float)})
        backhaul = pd.DataFrame({"interval": pd.Series(dtype=np.int64), "server": pd.Series(dtype=np.int64),
                                 "up_bytes": pd.Series(dtype=float), "down_bytes": pd.Series(dtype=float)})
        return Closing(Events(), transfers, backhaul, None)


def test_the_master_drives_a_recording_backend(scripted):
    prep = scripted({"a": (0, 0, 1, 1, 2, 2)})
    fake = RecordingBackend()
    assert isinstance(fake, Backend)
    res = run_pass(prep, make_policy("perdnn"), backend=fake)
    kinds = [c[0] for c in fake.calls]
    n = len(prep.ticks)
    assert kinds == ["start"] + ["advance", "apply"] * n + ["close"]
    advances = [c for c in fake.calls if c[0] == "advance"]
    assert [c[1] for c in advances] == [tk.time - prep.ticks[0].time for tk in prep.ticks]
    # the moves: one user, attached every tick, arriving at its first server and at each change
    moves = [c[2] for c in advances]
    assert [m.tick for m in moves] == [tk.index for tk in prep.ticks]
    assert [len(m.arrivals) for m in moves] == [1, 0, 1, 0, 1, 0]
    client = moves[0].arrivals[0].client
    assert moves[-1].leaving == (client,) and all(m.leaving == () for m in moves[:-1])
    assert [m.attached for m in moves] == [{client: int(tk.server[0])} for tk in prep.ticks]
    # every action crossed as JSON and comes back the same kind of plain record
    applied = [action_from_dict(json.loads(t)) for c in fake.calls if c[0] == "apply" for t in c[1]]
    assert sum(isinstance(a, SetPlan) for a in applied) == 3
    # nothing held: both server changes miss, and the tables come from the events alone
    s = res.summary
    assert (s["cold_starts"], s["hits"], s["misses"]) == (2, 0, 2)
    assert res.tables["handovers"]["kind"].tolist() == ["miss", "miss", "miss"]


def test_the_master_never_imports_sim():
    code = (
        "import sys\n"
        "from edgeroam.emulator import master, backend, metrics, prepare, policies  # noqa: F401\n"
        "print(sorted(m for m in sys.modules if m.startswith('edgeroam.emulator.sim')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_backends_are_found_by_name():
    assert make_backend("sim").name == "sim" and make_backend("net").name == "net"
    with pytest.raises(RunError, match="unknown backend 'warp'"):
        make_backend("warp")


def test_a_run_on_a_backend_that_cannot_load_fails_before_any_work(tmp_path, monkeypatch):
    from edgeroam.emulator.run import run_scenario

    monkeypatch.setitem(BACKENDS, "net", "edgeroam.emulator.nowhere:Net")  # e.g. a missing dependency
    from edgeroam.errors import ScenarioError
    from edgeroam.scenario import scenario_from_dict

    with pytest.raises(ScenarioError, match="run.backend: the 'net' backend .* cannot be loaded"):
        run_scenario(scenario_from_dict({"name": "n", "run": {"backend": "net"}}), tmp_path)
    assert not any(tmp_path.iterdir())


def test_run_options_of_each_backend_and_the_unknown_backend_message():
    from edgeroam.emulator.backend import run_options
    from edgeroam.scenario import RunConfig

    assert run_options(RunConfig(backend="net", speed=2.0, switch="ovs")) == {"speed": 2.0, "switch": "ovs",
                                                                              "ovs_realtime": False}
    assert run_options(RunConfig(backend="sim", speed=2.0)) == {}
    with pytest.raises(RunError) as err:
        make_backend("nope")
    assert str(err.value) == f"unknown backend 'nope'; choose one of {', '.join(BACKENDS)}"


def test_the_master_reports_progress_timing_and_the_setup(scripted):
    # two users: a on cells 0, 0, 1, 1, 2, 2 and b on 2, 2, 0 over the first three ticks: 6 ticks, 9 rows
    prep = scripted({"a": (0, 0, 1, 1, 2, 2), "b": (2, 2, 0)})
    fake = RecordingBackend()
    seen: list[tuple[int, int]] = []
    res = run_pass(prep, make_policy("perdnn", ttl_intervals=3, server_plans=4), backend=fake,
                   callback=lambda done, total: seen.append((done, total)))
    assert len(prep.ticks) == 6 and seen == [(1, 6), (6, 6)]  # the first tick, every 256th and the last
    rows = len(prep.predicted)
    assert rows == 9 and res.timing["user_steps"] == rows and res.timing["pass_s"] > 0
    assert res.timing["user_steps_per_s"] == pytest.approx(rows / res.timing["pass_s"])
    setup = fake.setup
    assert (setup.ttl_intervals, setup.server_plans, setup.everywhere) == (3, 4, False)
    assert setup.interval_s == 30.0 and setup.query_gap_s == prep.scenario.dnn.query_gap_s
    assert setup.up_bps == prep.scenario.topology.access.up_mbps * 1e6
    # the servers each client attaches to, in first-visit order, clients in order
    assert setup.visits == {0: (0, 1, 2), 1: (2, 0)}


def test_progress_is_reported_every_256_ticks(scripted):
    prep = scripted({"a": (0, 1) * 129})  # 258 ticks
    seen: list[tuple[int, int]] = []
    run_pass(prep, make_policy("perdnn"), backend=RecordingBackend(),
             callback=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 258), (257, 258), (258, 258)]


class ViewRecorder:
    """A policy that decides nothing and records what the master's view shows it each tick."""

    name = "view-recorder"
    everywhere = False
    ttl_intervals = 5
    server_plans = None

    def __init__(self) -> None:
        self.views: list[dict] = []

    def fit(self, prepared) -> ViewRecorder:
        return self

    def decide(self, view, tick) -> list:
        import gc

        self.views.append({"gc": gc.get_threshold(),
                           "tick": view.tick_index, "interval": view.interval_s, "first_row": view.first_row,
                           "predicted": view.predicted.copy(), "load": [view.load(s) for s in range(3)],
                           "crowded": view.crowded, "fraction_bytes": view.fraction_bytes})
        return []


def test_the_view_shows_each_tick_its_rows_loads_and_the_fractional_settings(scripted):
    # a and b both on server 0 at tick 0, then a on 1 and b on 0, then a on 2 and b on 1 (b leaves after)
    prep = scripted({"a": (0, 1, 2, 2), "b": (0, 0, 1)})
    rec = ViewRecorder()
    fake = RecordingBackend()
    import gc

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 5)
    try:
        run_pass(prep, rec, backend=fake, crowded=[np.int64(1)], fraction_bytes=5e6)
        # the collector runs less often during the pass (a million short-lived objects), as before after it
        assert {v["gc"] for v in rec.views} == {(50_000, 20, 10)} and gc.get_threshold() == (700, 10, 5)
    finally:
        gc.set_threshold(*before)
    # both users arrive at tick 0: rows 0 and 1
    first = next(c[2] for c in fake.calls if c[0] == "advance")
    assert [(a.row, a.client, a.server) for a in first.arrivals] == [(0, 0, 0), (1, 1, 0)]
    assert [v["tick"] for v in rec.views] == [tk.index for tk in prep.ticks] == [0, 1, 2, 3]
    assert [v["first_row"] for v in rec.views] == [0, 2, 4, 6]
    assert [v["load"] for v in rec.views] == [[2, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert all(v["interval"] == 30.0 and v["fraction_bytes"] == 5e6 for v in rec.views)
    assert all(v["crowded"] == frozenset({1}) and type(next(iter(v["crowded"]))) is int for v in rec.views)
    np.testing.assert_array_equal(np.concatenate([v["predicted"] for v in rec.views]), prep.predicted)


def test_the_master_counts_seconds_from_the_first_tick_and_makes_the_scenarios_backend(scripted):
    prep = scripted({"a": (0, 1, 1)})
    import dataclasses

    # the replay clock of real traces does not start at 0
    prep.ticks = [dataclasses.replace(tk, time=tk.time + 1000.0) for tk in prep.ticks]
    fake = RecordingBackend()
    run_pass(prep, make_policy("perdnn"), backend=fake)
    assert [c[1] for c in fake.calls if c[0] == "advance"] == [0.0, 30.0, 60.0]
    from edgeroam.emulator.master import Master

    run = prep.scenario.run.model_copy(update={"backend": "net", "speed": 2.0, "switch": "ovs"})
    prep.scenario = prep.scenario.model_copy(update={"run": run})
    backend = Master(prep, make_policy("perdnn")).backend
    assert (backend.name, backend.speed, backend.switch) == ("net", 2.0, "ovs")


def test_visits_of_a_replay_without_ticks_are_empty(scripted):
    from edgeroam.emulator.master import Master

    master = Master(scripted({"a": (0, 1, 1)}), make_policy("perdnn"), backend=RecordingBackend())
    assert master.visits() == {0: (0, 1)}
    master.prep.ticks = []
    assert master.visits() == {}


class ClosingBackend(RecordingBackend):
    """A recording backend that closes with memory figures, a holdings log, what it emulated and a table."""

    def __init__(self, held_from: float = 0.0) -> None:
        super().__init__()
        self.held_from = held_from

    def close(self) -> Closing:
        base = super().close()
        holdings = pd.DataFrame({"t": [self.held_from], "client": [0], "server": [0], "bytes": [1000],
                                 "copies": [1]})
        extra = {"fidelity": pd.DataFrame({"x": [1]})}
        return Closing(base.events, base.transfers, base.backhaul, {"peak_held": 1.0},
                       emulated={"switch": "x"}, holdings=holdings, tables=extra)


def test_the_pass_result_carries_what_the_backend_closed_with(scripted):
    prep = scripted({"a": (0, 0, 1, 1, 2, 2)})
    res = run_pass(prep, make_policy("optimal"), backend=ClosingBackend(), crowded=[2, 1])
    assert set(res.tables) == {"handovers", "queries", "transfers", "backhaul", "predictions", "fidelity"}
    s = res.summary
    assert (s["policy"], s["fractional"]["crowded"], s["memory"]) == ("optimal", [1, 2], {"peak_held": 1.0})
    # the optimal bound holds everything: every arrival is a hit though this backend reports nothing held
    assert set(res.tables["handovers"]["kind"]) == {"hit"}
    # the storage comes from the backend's log (one copy of 1000 B all along), not from the analytic bound
    assert (s["storage"]["copies_peak"], s["storage"]["bytes_peak"]) == (1.0, 1000.0)
    assert res.emulated == {"switch": "x"} and 0 < res.timing["pass_s"] < 600


def test_storage_counts_from_the_first_tick_of_a_clock_that_does_not_start_at_0(scripted):
    import dataclasses

    from edgeroam.emulator.master import Master

    prep = scripted({"a": (0, 0, 1, 1, 2, 2)})
    prep.ticks = [dataclasses.replace(tk, time=tk.time + 1000.0) for tk in prep.ticks]
    # 1000 B held from 45 s after the first tick: 135 of the 180 s of the replay
    res = run_pass(prep, make_policy("perdnn"), backend=ClosingBackend(held_from=45.0))
    assert res.summary["storage"]["bytes_mean"] == pytest.approx(750.0)
    master = Master(prep, make_policy("perdnn"), backend=RecordingBackend())
    master.prep.ticks = []
    holdings = pd.DataFrame({"t": [0.0], "client": [0], "server": [0], "bytes": [1000], "copies": [1]})
    assert master.storage(holdings)["horizon_s"] == 0.0


class TieredBackend(RecordingBackend):
    """A recording backend on tier slots whose measured edge-cloud rate and waits change every tick."""

    def cloud_bps(self) -> float | None:
        return 1e6 * sum(c[0] == "advance" for c in self.calls)

    def queue_wait(self, server: int) -> tuple[float, float]:
        return (0.5 * server, 0.25 * len(self.calls))


def test_the_view_gets_the_backends_cloud_rate_and_waits_each_tick(scripted):
    # the contract's cloud_bps / queue_wait, asked after every advance (a measuring backend's change)
    prep = scripted({"a": (0, 0, 1, 1)})
    fake, policy, seen = TieredBackend(), make_policy("perdnn"), []
    decide = policy.decide

    def watched(view, tick):
        seen.append((view.cloud_bps, view.queue_wait(2), len(fake.calls)))
        return decide(view, tick)

    policy.decide = watched
    run_pass(prep, policy, backend=fake)
    assert [s[0] for s in seen] == [1e6 * (k + 1) for k in range(len(prep.ticks))]
    assert all(w == (1.0, 0.25 * n) for _, w, n in seen)
    plain, seen = RecordingBackend(), []
    policy = make_policy("perdnn")
    policy.decide = lambda view, tick: seen.append((view.cloud_bps, view.queue_wait(2))) or []
    run_pass(prep, policy, backend=plain)
    assert seen and set(seen) == {(None, (0.0, 0.0))}
