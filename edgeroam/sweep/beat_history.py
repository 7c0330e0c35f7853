"""`reproduce` section ``beat-history``: the earlier attempts of beat-the-paper.md (issue 6), regenerated.

Issue 6's helpers each chose a policy variant on bytes alone and typed their tables from scratch scripts.
This section replays every variant those tables named that the current code still has, with the passes of
`edgeroam.sweep.honest.beat_rows` (one `prepare` per dataset or fold, one `run_pass` per variant, cached
under ``<out>/honest/``), so the storage each holds sits beside its hits and bytes:

- ``beat-history-kaist``, ``beat-history-geolife``: the KAIST and Geolife test users (Inception, r = 100,
  linear SVR), TTL 5 unless the holding column says otherwise;
- ``beat-history-folds``: the 3 validation folds of the Geolife train users that chose ``perdnn-rank`` and
  the LRU holding rule;
- ``beat-cascade``: every Geolife server change under perdnn and the oracle split by what came before it
  (the miss cascade), read from the runs' ``handovers`` and ``predictions`` tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.sweep.reproduce import Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.honest import Candidate
    from edgeroam.sweep.reproduce import Context

__all__ = ["FOLDS", "GEOLIFE", "KAIST", "cascade", "history_table"]

LRU2 = {"ttl_intervals": 0, "server_plans": 2}
#: KAIST test users: choosing k, the selective targets and longer TTLs, the probability and classifier rules
KAIST: list[Candidate] = [
    ("perdnn", "perdnn", {}),
    ("perdnn TTL 10", "perdnn", {"ttl_intervals": 10}),
    ("perdnn-top3", "perdnn-top3", {}),
    ("perdnn-forward", "perdnn-forward", {}),
    ("perdnn-forward-top2", "perdnn-forward-top2", {}),
    ("perdnn-forward-top2 TTL 10", "perdnn-forward-top2", {"ttl_intervals": 10}),
    ("perdnn-forward-top2 TTL 20", "perdnn-forward-top2", {"ttl_intervals": 20}),
    ("perdnn-forward-top3", "perdnn-forward-top3", {}),
    ("perdnn-forward-top3 TTL 10", "perdnn-forward-top3", {"ttl_intervals": 10}),
    ("perdnn-forward-top3 TTL 20", "perdnn-forward-top3", {"ttl_intervals": 20}),
    ("perdnn-forward-top4", "perdnn-forward-top4", {}),
    ("oracle forward top2 (true next point)", "oracle", {"relay": True, "targets": 2}),
    ("perdnn-gated", "perdnn-gated", {}),
    ("perdnn-gated-top1", "perdnn-gated-top1", {}),
    ("perdnn-gated-top2", "perdnn-gated-top2", {}),
    ("perdnn-speed (1, 2, 1.5 m/s)", "perdnn-speed", {}),
    ("perdnn-prob τ=0.03", "perdnn-prob", {"tau": 0.03}),
    ("perdnn-prob τ=0.05", "perdnn-prob", {}),
    ("perdnn-prob τ=0.1", "perdnn-prob", {"tau": 0.1}),
    ("perdnn-rank τ=0.05 keep 300 m", "perdnn-rank", {"tau": 0.05}),
    ("perdnn-rank τ=0.11 keep 300 m", "perdnn-rank", {}),
    ("perdnn-rank τ=0.11 no keep", "perdnn-rank", {"keep_m": 0.0}),
]
#: Geolife test users: every row the earlier test-user tables had
GEOLIFE: list[Candidate] = [
    ("perdnn", "perdnn", {}),
    ("oracle", "oracle", {}),
    ("perdnn TTL 20", "perdnn", {"ttl_intervals": 20}),
    ("perdnn-top3", "perdnn-top3", {}),
    ("perdnn-forward", "perdnn-forward", {}),
    ("perdnn-forward-top2", "perdnn-forward-top2", {}),
    ("perdnn-forward-top3", "perdnn-forward-top3", {}),
    ("perdnn-forward-top3 TTL 20", "perdnn-forward-top3", {"ttl_intervals": 20}),
    ("perdnn-forward-top4", "perdnn-forward-top4", {}),
    ("oracle forward top2 (true next point)", "oracle", {"relay": True, "targets": 2}),
    ("perdnn-speed (1, 2, 1.5 m/s) TTL 20", "perdnn-speed", {"ttl_intervals": 20}),
    ("perdnn-prob τ=0.05", "perdnn-prob", {}),
    ("perdnn-prob τ=0.1", "perdnn-prob", {"tau": 0.1}),
    ("perdnn-rank τ=0.11 keep 300 m", "perdnn-rank", {}),
    ("perdnn-rank τ=0.12 keep 300 m", "perdnn-rank", {"tau": 0.12}),
    ("perdnn-rank τ=0.15 keep 300 m", "perdnn-rank", {"tau": 0.15}),
    ("perdnn-rank τ=0.11 no keep", "perdnn-rank", {"keep_m": 0.0}),
]
#: the 3 validation folds of the Geolife train users: the perdnn-rank and LRU choices
FOLDS: list[Candidate] = [
    ("perdnn", "perdnn", {}),
    ("perdnn-forward", "perdnn-forward", {}),
    ("perdnn-prob τ=0.05", "perdnn-prob", {}),
    ("perdnn-prob τ=0.1", "perdnn-prob", {"tau": 0.1}),
    ("perdnn-rank τ=0.1 keep 300 m", "perdnn-rank", {"tau": 0.1}),
    ("perdnn-rank τ=0.11 keep 300 m", "perdnn-rank", {}),
    ("perdnn-rank τ=0.15 keep 300 m", "perdnn-rank", {"tau": 0.15}),
    ("perdnn-rank τ=0.1 no keep", "perdnn-rank", {"tau": 0.1, "keep_m": 0.0}),
    ("perdnn no expiry", "perdnn", {"ttl_intervals": 0}),
    ("perdnn LRU C=2", "perdnn", LRU2),
    ("perdnn-forward LRU C=2", "perdnn-forward", LRU2),
    ("perdnn-rank τ=0.05 LRU C=2", "perdnn-rank", {"tau": 0.05, **LRU2}),
    ("perdnn-rank τ=0.11 LRU C=2", "perdnn-rank", LRU2),
    ("perdnn-rank τ=0.15 no expiry", "perdnn-rank", {"tau": 0.15, "ttl_intervals": 0}),
]


def history_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Hit ratio, bytes and storage of each `beat_rows` row beside the first row's (perdnn, TTL 5).

    ``plans_per_change``: migrated bytes in plans (the plan's server side) per server change; ``mb_per_hit``:
    migrated MB per hit; GB·hours: layers held on all servers over the replay."""
    ref = rows[0]
    out = []
    for r in rows:
        p = r["params"]
        holding = ("LRU, C = " + str(p["server_plans"]) if p.get("server_plans") else "no expiry") \
            if p.get("ttl_intervals") == 0 else f"TTL {p.get('ttl_intervals', 5)}"
        out.append({
            "policy": r["label"], "holding": holding,
            "hit_pct": round(100.0 * r["hits"] / max(r["hits"] + r["misses"], 1), 1),
            "hits": int(r["hits"]), "partial": int(r["partial"]), "misses": int(r["misses"]),
            "executed_queries": int(r["queries"]),
            "migrated_gb": round(r["migrated_bytes"] / 1e9, 1),
            "bytes_vs_perdnn_pct": round(100 * r["migrated_bytes"] / ref["migrated_bytes"]),
            "plans_per_change": round(r["migrated_bytes"] / r["plan_bytes"] / max(r["changes"], 1), 2),
            "mb_per_hit": round(r["migrated_bytes"] / 1e6 / max(r["hits"], 1)),
            "gb_hours": round(r["gb_hours"], 1),
            "storage_vs_perdnn_pct": round(100 * r["gb_hours"] / ref["gb_hours"]),
            "peak_per_server": int(r["peak_per_server"]),
        })
    return pd.DataFrame(out)


def cascade(run_dir: str | Path, interval_s: float) -> pd.DataFrame:
    """Every server change of one run by what came before it: hits, partial hits and misses.

    A change is a ``handovers`` row with ``handover`` true (a client's first attachment is not one). "After
    a miss / hit / partial hit": the same client changed server one interval earlier with that outcome;
    "after the first attachment": it attached one interval earlier; "after no change": neither. "Covered":
    the prediction made one interval before the change put the new server within r
    (``predictions.covered``); "after a change" there means a server change one interval earlier."""
    run_dir = Path(run_dir)
    h = pd.read_parquet(run_dir / "handovers.parquet", columns=["user", "t", "handover", "kind"])
    pr = pd.read_parquet(run_dir / "predictions.parquet", columns=["user", "t", "covered"])
    h["user"], pr["user"] = h["user"].astype(str), pr["user"].astype(str)
    ch = h[h["handover"].to_numpy()].copy()
    prev = h.assign(t=h["t"] + interval_s, prev=np.where(h["handover"], h["kind"].astype(str), "join"))
    prev = prev[["user", "t", "prev"]].drop_duplicates(["user", "t"], keep="last")
    ch = ch.merge(prev, on=["user", "t"], how="left")
    cov = pr.assign(t=pr["t"] + interval_s).drop_duplicates(["user", "t"], keep="last")
    ch = ch.merge(cov, on=["user", "t"], how="left")
    after = ch["prev"].astype(object).fillna("none").astype(str)
    covered = ch["covered"].eq(True).to_numpy()
    changed = after.isin(["hit", "partial", "miss"]).to_numpy()
    splits = [
        ("after the first attachment", (after == "join").to_numpy()),
        ("after a miss", (after == "miss").to_numpy()),
        ("after a hit", (after == "hit").to_numpy()),
        ("after a partial hit", (after == "partial").to_numpy()),
        ("after no change", (after == "none").to_numpy()),
        ("covered, after a change", covered & changed),
        ("covered, after no change", covered & ~changed),
        ("not covered", ~covered),
        ("all changes", np.ones(len(ch), dtype=bool)),
    ]
    kind = ch["kind"].astype(str).to_numpy()
    return pd.DataFrame([{"split": name, "changes": int(m.sum()),
                          **{k: int((m & (kind == k)).sum()) for k in ("hit", "partial", "miss")}}
                         for name, m in splits])


def beat_history(ctx: Context) -> Section:
    """beat-the-paper.md's history (issue 6's variants), regenerated with the storage each holds."""
    from edgeroam.sweep.honest import beat_rows

    sec = Section("beat-history", "beat-the-paper's earlier variants (issue 6), regenerated",
                  "edgeroam reproduce perdnn --only beat-history --docs")
    sec.tables["beat-history-kaist"] = history_table(beat_rows(ctx, "kaist", KAIST, 0))
    sec.tables["beat-history-geolife"] = history_table(beat_rows(ctx, "geolife", GEOLIFE, 0))
    sec.tables["beat-history-folds"] = history_table(beat_rows(ctx, "geolife", FOLDS, 3))
    runs = ctx.sweep("beat-cascade", {"scenario": "perdnn-geolife", "set": ['dnn.model="inception"'],
                                      "grid": {"policy.kind": ["perdnn", "oracle"]}})
    parts = []
    for r in runs.to_dict("records"):
        c = cascade(r["run_dir"], float(r["interval_s"]))
        c.insert(0, "policy", r["policy.kind"])
        parts.append(c)
    sec.tables["beat-cascade"] = pd.concat(parts, ignore_index=True)
    return sec
