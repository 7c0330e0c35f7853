"""Issue 25's honest sections: the choice rule at equal bytes and storage, Fig. 1, the AlexNet variants."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.sweep import honest


def _row(label, hits, misses, nbytes, gbh):
    return {"label": label, "kind": "perdnn", "params": {}, "hits": hits, "partial": 0, "misses": misses,
            "changes": hits + misses, "migrated_bytes": nbytes, "queries": 0, "gb_hours": gbh,
            "copy_hours": 1.0, "copies_peak": 1, "bytes_mean": 1e9, "bytes_peak": 2e9, "peak_per_server": 1,
            "plan_bytes": 1}


def test_the_rule_needs_both_bytes_and_storage_within_perdnns():
    rows = [_row("perdnn", 50, 50, 100.0, 10.0),
            _row("more hits, more storage", 90, 10, 90.0, 11.0),
            _row("more hits, more bytes", 85, 15, 101.0, 9.0),
            _row("within both", 70, 30, 100.0, 10.0),
            _row("within both, fewer hits", 60, 40, 50.0, 5.0)]
    assert honest.choose(rows)["label"] == "within both"
    t = honest._table(rows, "within both")
    assert t["goal"].tolist() == ["no", "no", "no", "no", "no"]  # 70 % is not above 70 %
    assert t["bytes_vs_perdnn_pct"].tolist() == [100, 90, 101, 100, 50]
    assert t["storage_vs_perdnn_pct"].tolist() == [100, 110, 90, 100, 50]
    assert t["policy"].iat[3] == "within both (chosen)"
    # MB per hit, and the budget: perdnn's 100 bytes over hits on 70 % of its 100 changes
    rows[0]["migrated_bytes"], rows[0]["plan_bytes"] = 7e7, 5e5
    t = honest._table(rows, None)
    assert t["mb_per_hit"].iat[0] == 1.4
    assert t.attrs["info"] == {"mb_per_hit_at_perdnn_bytes_and_70_pct": 1.0,
                               "plans_per_hit_at_perdnn_bytes_and_70_pct": 2.0}
    rows[3]["hits"], rows[3]["misses"] = 71, 29
    assert honest._table(rows, None)["goal"].iat[3] == "yes"


def test_fig1_soars_at_the_21st_query_and_falls_again():
    tl = honest.fig1_timeline()
    assert len(tl) == 40 and tl["query"].tolist() == list(range(1, 41))
    assert (tl["server"].iloc[:20] == 0).all() and (tl["server"].iloc[20:] == 1).all()
    lat = tl["latency_s"].to_numpy()
    # the 1st query runs on the client alone; so does the 21st, at a server holding nothing yet
    assert lat[20] == lat[0] == lat.max() and lat[19] < lat[0]
    assert np.all(np.diff(lat[:20]) <= 0) and np.all(np.diff(lat[20:]) <= 0)


def test_only_the_ungrouped_alexnet_is_far_from_07_gmacs():
    t = honest.alexnet_variants()
    ungrouped, towers, tv = t.itertuples()
    assert ungrouped.params_m == pytest.approx(62.38, abs=0.01)  # EosDNN Table V's layers
    assert ungrouped.gmacs == pytest.approx(1.136, abs=0.01)
    assert towers.gmacs < 0.75 and tv.gmacs < 0.75 and ungrouped.gmacs_over_paper > 1.5


def test_t3_row_scores_moves_and_errors_on_their_own_windows():
    res = {f"{k}_{m}": np.array([True, False, True, True]) for k in honest.T3_KINDS for m in ("top1", "top2")}
    res.update({f"{k}_err": np.array([1.0, 2.0, 3.0, 10.0]) for k in honest.T3_KINDS})
    r = honest._t3_row(res, np.array([True, True, False, False]), np.array([False, False, True, True]))
    assert r["svr_top1"] == 50.0 and r["velocity_top2"] == 50.0 and r["stay_mae_m"] == 6.5


def test_a_cached_pass_is_remade_when_the_code_changed(tmp_path, monkeypatch):
    ctx = type("Ctx", (), {"out": tmp_path})()
    made = []

    def make():
        made.append(1)
        return {"hits": len(made)}

    monkeypatch.setattr(honest, "code_digest", lambda: "a" * 12)
    assert honest._cached(ctx, "k", make) == {"hits": 1}
    assert honest._cached(ctx, "k", make) == {"hits": 1} and len(made) == 1  # the same code: read back
    monkeypatch.setattr(honest, "code_digest", lambda: "b" * 12)
    assert honest._cached(ctx, "k", make) == {"hits": 2}  # other code: made again and stored
    assert honest._cached(ctx, "k", make) == {"hits": 2} and len(made) == 2
