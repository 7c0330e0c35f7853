"""`reproduce` section ``fig9-align``: fig9.md's time-alignment table (Geolife, Inception, r = 100).

The replay keeps absolute time by default; ``dataset.time_align = "day"`` folds every trajectory onto one
day (``day_start_h`` moves where a day is cut) and ``"start"`` starts every trajectory at t = 0. Each
alignment is replayed through the sweep machinery (runs shared with the other sections through the store)
and read back from its run directory: how many test clients are active at once, the hit ratio and the
executed queries, and the backhaul peaks with the clients behind them (`edgeroam.sweep.gaps.backhaul_peaks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["ALIGNMENTS", "align_metrics", "fig9_align"]

#: (label, scenario overrides, policies replayed); the first is the default (absolute time)
ALIGNMENTS: list[tuple[str, list[str], list[str]]] = [
    ("absolute", [], ["perdnn", "ionn", "optimal"]),
    ("day", ['dataset.time_align="day"'], ["perdnn", "ionn", "optimal"]),
    ("day, cut 04:00 Beijing", ['dataset.time_align="day"', "dataset.day_start_h=20"], ["perdnn"]),
    ("start", ['dataset.time_align="start"'], ["perdnn"]),
]
#: TARGETS items the row of the paper quotes (P-F9d hit ratio, P-B1/B2 peaks, P-B3 clients, P-B4 share)
PAPER = {"hit_pct": 70.0, "peak_up_mbps": 667.0, "up_clients": 18, "peak_down_mbps": 359.0}


def align_metrics(run_dir: str | Path, interval_s: float, n_servers: int) -> dict[str, Any]:
    """What the table reads from one run directory: active test clients per tick (mean over the ticks with
    a client, max), the most clients on one server at one tick, the peak uplink / downlink server of one
    interval (Mbit/s) with the distinct clients of the migrations from (to) it overlapping that interval and
    the distinct target servers, and the share of edge servers whose peaks stay under 100 Mbit/s."""
    from edgeroam.sweep.gaps import backhaul_peaks

    run_dir = Path(run_dir)
    pk = backhaul_peaks(run_dir, interval_s, n_servers)
    per_tick = pd.read_parquet(run_dir / "predictions.parquet", columns=["tick"]).groupby("tick").size()
    bh = pd.read_parquet(run_dir / "backhaul.parquet")
    tr = pd.read_parquet(run_dir / "transfers.parquet")
    mig = tr[(tr["kind"] == "migrate") & (tr["bytes"] > 0)]

    def at(side: str, col: str) -> pd.DataFrame:
        if len(bh) == 0:
            return mig.iloc[:0]
        i = int(bh[col].to_numpy().argmax())
        server, k = int(bh["server"].iat[i]), int(bh["interval"].iat[i])
        m = (
            (mig[side].to_numpy() == server)
            & (mig["start"].to_numpy() < (k + 1) * interval_s)
            & (mig["end"].to_numpy() >= k * interval_s)
        )
        return mig[m]

    up, down = at("src", "up_bytes"), at("dst", "down_bytes")
    return {
        "active_mean": round(float(per_tick.mean()), 1) if len(per_tick) else 0.0,
        "active_max": int(per_tick.max()) if len(per_tick) else 0,
        "crowd": int(pk["crowd"]),
        "peak_up_mbps": round(pk["peak_up"], 1),
        "up_clients": int(up["client"].nunique()),
        "up_targets": int(up["dst"].nunique()),
        "peak_down_mbps": round(pk["peak_down"], 1),
        "down_clients": int(down["client"].nunique()),
        "under_100_pct": round(100 * pk["under_100"], 1),
    }


def fig9_align(ctx: Context) -> Section:
    """fig9.md's time alignment: Geolife (Inception, r = 100) replayed in absolute time, folded onto one day
    (cut at 00:00 and at 04:00 Beijing) and with every trajectory starting at t = 0."""
    sec = Section(
        "fig9-align",
        "Time alignment of the Geolife replay (Inception, r = 100)",
        'edgeroam run perdnn-geolife --policy P --set dataset.time_align={absolute,day,start} '
        "[--set dataset.day_start_h=20]",
    )
    rows = []
    for label, sets, policies in ALIGNMENTS:
        name = "fig9-align-" + "-".join(s.split("=")[-1].strip('"') for s in sets) if sets else "fig9-align"
        t = ctx.sweep(name, {"scenario": "perdnn-geolife", "set": ['dnn.model="inception"', *sets],
                             "grid": {"policy.kind": policies}})
        by = t.set_index("policy.kind")
        r = by.loc["perdnn"]
        q = {p: int(by.loc[p, "executed_queries"]) if p in by.index else None
             for p in ("ionn", "perdnn", "optimal")}
        rows.append({"alignment": label, "hit_pct": round(100 * float(r["hit_ratio"]), 1),
                     **{f"queries_{p}": n for p, n in q.items()},
                     **align_metrics(r["run_dir"], float(r["interval_s"]), int(r["servers"]))})
    paper = {c: PAPER.get(c) for c in rows[0]}
    # object columns keep whole numbers whole beside the missing cells (–)
    sec.tables["fig9-align"] = pd.DataFrame([*rows, {**paper, "alignment": "paper"}], dtype=object)
    day = next(r for r in rows if r["alignment"] == "day")
    sec.items.append(Item("P-F9d", "Geolife hit ratio at r = 100, trajectories folded onto one day",
                          PAPER["hit_pct"], day["hit_pct"], "%", "dataset.time_align = day"))
    sec.items.append(Item("P-B1", "Geolife peak uplink, folded onto one day (Inception, r = 100)",
                          PAPER["peak_up_mbps"], day["peak_up_mbps"], "Mbit/s"))
    return sec
