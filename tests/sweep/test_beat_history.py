"""beat-the-paper.md's history: the miss-cascade split of a run's server changes and the history table."""

from __future__ import annotations

import pandas as pd

from edgeroam.sweep.beat_history import FOLDS, GEOLIFE, KAIST, cascade, history_table


def test_cascade_splits_every_change_by_what_came_before(tmp_path):
    # user a: attaches at 0, changes at 20 (miss), 40 (miss after a miss), 100 (hit after no change);
    # user b: attaches at 0, changes at 20 (hit after the first attachment)
    pd.DataFrame({
        "user": ["a", "a", "a", "a", "b", "b"], "t": [0.0, 20.0, 40.0, 100.0, 0.0, 20.0],
        "handover": [False, True, True, True, False, True],
        "kind": ["miss", "miss", "miss", "hit", "miss", "hit"],
    }).to_parquet(tmp_path / "handovers.parquet")
    # predictions one interval before each change: covered for a@20 (made at 0), a@100 (made at 80), b@20
    pd.DataFrame({"user": ["a", "a", "a", "b"], "t": [0.0, 20.0, 80.0, 0.0],
                  "covered": [True, False, True, True]}).to_parquet(tmp_path / "predictions.parquet")
    t = cascade(tmp_path, 20.0).set_index("split")
    assert t.loc["all changes", ["changes", "hit", "partial", "miss"]].tolist() == [4, 2, 0, 2]
    assert t.loc["after the first attachment", ["changes", "hit", "miss"]].tolist() == [2, 1, 1]
    assert t.loc["after a miss", ["changes", "miss"]].tolist() == [1, 1]
    assert t.loc["after no change", ["changes", "hit"]].tolist() == [1, 1]
    assert t.loc["after a hit", "changes"] == 0
    assert t.loc["covered, after a change", "changes"] == 0
    assert t.loc["covered, after no change", ["changes", "hit", "miss"]].tolist() == [3, 2, 1]
    assert t.loc["not covered", ["changes", "miss"]].tolist() == [1, 1]


def test_history_table_reads_each_row_against_perdnn():
    base = {"partial": 0, "queries": 10, "changes": 10, "plan_bytes": 1e8, "peak_per_server": 2}
    rows = [
        {"label": "perdnn", "params": {}, "hits": 5, "misses": 5, "migrated_bytes": 1e9, "gb_hours": 10.0,
         **base},
        {"label": "x", "params": {"ttl_intervals": 0, "server_plans": 2}, "hits": 9, "misses": 1,
         "migrated_bytes": 5e8, "gb_hours": 300.0, **base},
        {"label": "y", "params": {"ttl_intervals": 0}, "hits": 8, "misses": 2, "migrated_bytes": 2e9,
         "gb_hours": 5.0, **base},
    ]
    t = history_table(rows).set_index("policy")
    assert t["holding"].tolist() == ["TTL 5", "LRU, C = 2", "no expiry"]
    cols = ["hit_pct", "bytes_vs_perdnn_pct", "storage_vs_perdnn_pct"]
    assert t.loc["x", cols].tolist() == [90.0, 50, 3000]
    assert t.loc["perdnn", "plans_per_change"] == 1.0 and t.loc["y", "mb_per_hit"] == 250


def test_every_list_starts_with_perdnn_at_ttl_5_and_names_each_row_once():
    for rows in (KAIST, GEOLIFE, FOLDS):
        assert rows[0] == ("perdnn", "perdnn", {})
        assert len({r[0] for r in rows}) == len(rows)
