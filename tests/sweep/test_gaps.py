"""edgeroam.sweep.gaps: the counting helpers of issue 25's gap sections, the backhaul figures of a run, and
the two scenario options they measure (unlimited backhaul, whole-model plan) on the demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgeroam.sweep.gaps import _spread, backhaul_peaks, returns_within, server_changes
from edgeroam.sweep.reproduce import PAPERS, QUICK_SKIP, SECTIONS

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"


def _rows(servers, x, handover, user=0, traj=0):
    n = len(servers)
    return pd.DataFrame({"row": np.arange(n), "user_code": user, "tick": np.arange(n), "traj": traj,
                         "x": np.asarray(x, float), "y": 0.0, "server": servers, "handover": handover})


def test_returns_within_counts_only_changes_back_to_a_recent_server():
    r = _rows([1, 2, 1, 3, 4, 1], [0] * 6, [False, True, True, True, True, True])
    assert returns_within(r, 1).tolist() == [False, False, True, False, False, False]
    assert returns_within(r, 2).tolist() == [False, False, True, False, False, True]
    other = pd.concat([_rows([1, 2], [0, 0], [False, True]), _rows([1], [0], [False], user=1)])
    other = other.assign(tick=[0, 1, 2]).reset_index(drop=True)
    assert not returns_within(other, 3).any()  # another user's server is not a return


def test_server_changes_with_hysteresis():
    sites = np.array([[0.0, 0.0], [86.6, 0.0], [np.nan, np.nan]])
    r = _rows([0, 1, 0, 1, 1], [0, 45, 40, 50, 100], [False, True, True, True, False])
    assert server_changes(r, sites, 0.0) == 3
    assert server_changes(r, sites, 60.0) == 1  # stays on server 0 until 100 m from it
    assert server_changes(r, sites, 200.0) == 0
    broken = r.assign(traj=[0, 0, 1, 1, 1])  # a new trajectory is a join, not a change
    assert server_changes(broken, sites, 60.0) == 1


def test_spread_keeps_the_bytes_and_splits_by_overlap():
    start, end = np.array([5.0, 25.0, 40.0]), np.array([15.0, 25.0, 70.0])
    rec, k, b = _spread(start, end, np.array([10.0, 4.0, 30.0]), 10.0)
    got = pd.DataFrame({"rec": rec, "k": k, "b": b}).groupby(["rec", "k"])["b"].sum()
    assert got.to_dict() == {(0, 0): 5.0, (0, 1): 5.0, (1, 2): 4.0, (2, 4): 10.0, (2, 5): 10.0, (2, 6): 10.0}


def test_backhaul_peaks_of_a_hand_made_run(tmp_path):
    # server 1 sends 3 MB to 2 over a relay 3 (per link: 1 up, 3 down+up, 2 down) and 1 MB to 4, in interval 0
    pd.DataFrame({"interval": [0, 0, 0, 0, 1], "start": 0.0, "server": [1, 2, 3, 4, 5],
                  "up_bytes": [4e6, 0.0, 3e6, 0.0, 0.0], "down_bytes": [0.0, 3e6, 3e6, 1e6, 2e5]}
                 ).to_parquet(tmp_path / "backhaul.parquet")
    pd.DataFrame({"kind": ["migrate", "migrate", "upload"], "client": [7, 8, 7], "src": [1, 1, -1],
                  "dst": [2, 4, 1], "start": [0.0, 1.0, 0.0], "end": [2.0, 3.0, 5.0],
                  "bytes": [3e6, 1e6, 9e6], "layers": 1, "hops": [2, 1, 0], "complete": True}
                 ).to_parquet(tmp_path / "transfers.parquet")
    pd.DataFrame({"tick": [0, 0, 0, 1], "server": [1, 1, -1, 1]}).to_parquet(tmp_path / "predictions.parquet")
    pk = backhaul_peaks(tmp_path, 10.0, 10)
    assert pk["peak_up"] == pytest.approx(4e6 * 8 / 10 / 1e6)
    assert pk["peak_up_origin"] == pytest.approx(4e6 * 8 / 10 / 1e6)  # relay 3 sends 3 MB, originates none
    assert pk["peak_down"] == pytest.approx(3e6 * 8 / 10 / 1e6)
    assert pk["clients"] == 2 and pk["transfers"] == 2 and pk["crowd"] == 2 and pk["under_100"] == 1.0


def test_the_gap_sections_are_full_runs_of_perdnn():
    for name in ("fig9-models", "fig9-models-geolife", "gaps-backhaul", "gaps-changes", "gaps-throughput",
                 "gaps-kaist50", "gaps-geolife"):
        assert name in SECTIONS and name in PAPERS["perdnn"] and name in QUICK_SKIP


def test_unlimited_backhaul_carries_the_demand_and_whole_model_moves_every_layer(tmp_path):
    from edgeroam.emulator.prepare import prepare
    from edgeroam.emulator.run import run_prepared
    from edgeroam.scenario import load_scenario

    capped = run_prepared(prepare(load_scenario(DEMO)), "perdnn")
    free = run_prepared(prepare(load_scenario(DEMO, ["topology.backhaul.unlimited=true"])), "perdnn")
    mig = free.tables["transfers"].query("kind == 'migrate'")
    # a chunk takes no time; only the links' delay (2 ms a hop) is left
    assert len(mig) and ((mig["end"] - mig["start"]) <= mig["hops"] * 0.002 + 1e-6).all()
    slow = capped.tables["transfers"].query("kind == 'migrate' and bytes > 0")
    assert (slow["end"] - slow["start"]).max() > 0.1
    assert free.summary["backhaul"]["peak_up_mbps"] >= capped.summary["backhaul"]["peak_up_mbps"]
    sc = load_scenario(DEMO, ["dnn.server_layers=all", 'dnn.model="inception"', "run.duration_s=600"])
    whole = run_prepared(prepare(sc), "perdnn")
    plan = whole.summary["plan"]
    assert plan["server_layers"] == plan["layers"] and plan["plan_bytes"] > 120e6  # the best plan: 41 MB
    assert whole.tables["handovers"].eval("held_bytes <= plan_bytes").all()
    assert (whole.tables["handovers"]["plan_bytes"] == plan["plan_bytes"]).all()


def test_leftover_hits_counts_hits_on_a_server_left_within_the_ttl(tmp_path):
    from edgeroam.sweep.gaps import _leftover_hits

    # one user: servers 1, 2, 1, 3, 3, 3, 3, 3, 3, 1 over ticks 0..9; changes at rows 1, 2, 3 and 9
    servers = [1, 2, 1, 3, 3, 3, 3, 3, 3, 1]
    pd.DataFrame({"user": pd.Categorical(["u"] * 10), "tick": np.arange(10), "server": servers}
                 ).to_parquet(tmp_path / "predictions.parquet")
    pd.DataFrame({"row": [0, 1, 2, 3, 9], "handover": [False, True, True, True, True],
                  "kind": ["miss", "miss", "hit", "hit", "hit"]}).to_parquet(tmp_path / "handovers.parquet")
    assert _leftover_hits(tmp_path, 5) == 1  # row 2 returns to 1 after one tick; row 9 after 7 ticks
    assert _leftover_hits(tmp_path, 7) == 2
