"""table3.md's generated tables beyond Table III: mode labels of windows, the predictor cost measurement,
and the recorded cost block's shape (its timings are never pinned)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edgeroam.sweep.docs import RECORD
from edgeroam.sweep.predict_docs import COST_KINDS, MODE_VARIANTS, mode_labels, predictor_costs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


def test_a_window_takes_the_label_whose_interval_holds_its_last_position():
    meta = pd.DataFrame({"user": pd.Categorical(["1", "1", "1", "2", "2"]),
                         "t": [5.0, 15.0, 30.0, 15.0, 100.0]})
    labels = pd.DataFrame({"user": pd.Categorical(["1", "1", "2"]), "start": [0.0, 20.0, 10.0],
                           "end": [10.0, 40.0, 20.0], "mode": pd.Categorical(["walk", "bus", "car"])})
    got = mode_labels(meta, labels)
    assert list(got) == ["walk", "unlabelled", "bus", "car", "unlabelled"]
    assert list(mode_labels(meta, labels.iloc[:0])) == ["unlabelled"] * 5


def test_the_mode_variants_take_the_mode_aware_svr_apart():
    kinds = [(k, tuple(sorted(p))) for _, k, p in MODE_VARIANTS]
    assert kinds == [("svr", ()), ("svr-mode", ("heading_frame",)), ("svr-mode", ("speed_edges",)),
                     ("svr-mode", ())]


def test_predictor_costs_time_every_kind_on_a_scenario():
    rows = predictor_costs("demo", ["svr", "stay"])
    assert [r["predictor"] for r in rows] == ["svr", "stay"]
    for r in rows:
        assert r["dataset"] == "synthetic" and r["train_windows"] > 0 and r["tick_users"] >= 1
        assert r["fit_s"] >= 0 and np.isfinite(r["pred_per_s"]) and r["pred_per_s"] > 0
        assert r["tick_us_per_user"] > 0 and r["us_per_user_at_100"] > 0


def test_the_cost_block_is_a_timing_measurement_with_its_machine_and_load():
    rec = json.loads((DOCS / RECORD).read_text())["table3-cost"]
    assert not rec["quick"] and {"machine", "loadavg_at_start", "lstm_torch_threads"} <= set(rec["info"])
    pairs = [(r[0], r[1]) for r in rec["rows"]]
    assert pairs == [(d, k) for d in ("kaist", "geolife") for k in COST_KINDS]
    assert rec["columns"][:2] == ["dataset", "predictor"] and "fit_s" in rec["columns"]


def test_unseen_cells_count_the_moves_markov_cannot_know():
    from types import SimpleNamespace

    from edgeroam.sweep.predict_docs import unseen_cells

    train = pd.DataFrame({"cell": [1, 2, 3], "next_cell": [2, 3, 4]})
    # 4 moves: to 5 (unseen, from 1), to 4 (seen as a target), to 6 from 9 (both unseen), to 2 from 4
    # (4 ends no training window); one futile window is left out
    test = pd.DataFrame({"cell": [1, 3, 9, 4, 2], "next_cell": [5, 4, 6, 2, 2],
                         "futile": [False, False, False, False, True]})
    data = SimpleNamespace(train=SimpleNamespace(meta=train), test=SimpleNamespace(meta=test))
    got = unseen_cells(data)
    assert got == {"train_windows": 3, "moves": 4, "to_unseen_cell_pct": 50.0, "no_markov_context_pct": 50.0}
