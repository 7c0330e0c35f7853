"""Cross-validation of the two backends: the same scenario and seed run on ``sim`` and ``net``, compared.

`compare(sim_dir, net_dir)` reads two run directories and gives one row per measure (hit ratio, cold starts,
executed queries, median transfer times, backhaul bytes and peaks) with both values, the gap and, where the
issue sets one, the target and whether it was met. Transfers are compared whole: ``sim`` logs a migration or
upload chunk by chunk, ``net`` logs it once, so chunks of one sender that follow each other are joined
(`transfer_spans`). Backhaul bytes: ``sim`` counts layer bytes on every link of a path; ``net``'s switch
counters count wire bytes (every TCP segment carries 66 bytes of headers, ACKs are 66 bytes), so the payload
they carried is the counter minus 66 bytes a packet (`agents.wire.SEGMENT_HEADER`); the sim's model of the
net run's own migrations (``source = "model"``) is shown beside them.

`query_gap(sim_dir, net_dir)` explains a gap in executed queries window by window: where each ``net`` query
waited (behind an upload of layers on the same connection and uplink, or not), when the first query of each
window started, and the mean query period in each backend.

What it leaves to others: running the scenarios (``edgeroam run``), writing the document (docs/validation.py).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.net.agents.wire import SEGMENT_HEADER
from edgeroam.errors import RunError

__all__ = ["TARGETS", "compare", "query_gap", "read_run", "transfer_spans"]

#: the issue's targets: hit ratio within 5 points, median transfer time within 10 %, backhaul bytes within 2 %
TARGETS = {"hit_ratio": 0.05, "transfer_s": 0.10, "bytes": 0.02}


@dataclass
class Run:
    """One run directory's summary, tables and (net) emulation record."""

    path: Path
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    emulated: dict[str, Any] | None


def read_run(path: str | Path) -> Run:
    """Read a run directory (summary.json, the four tables, emulated.json when present)."""
    p = Path(path)
    if not (p / "summary.json").exists():
        raise RunError(f"{p}: not a run directory (no summary.json)")
    tables = {
        n: pd.read_parquet(p / f"{n}.parquet") for n in ("handovers", "queries", "transfers", "backhaul")
    }
    em = p / "emulated.json"
    return Run(
        p,
        json.loads((p / "summary.json").read_text()),
        tables,
        json.loads(em.read_text()) if em.exists() else None,
    )


def transfer_spans(transfers: pd.DataFrame, gap_s: float = 1e-6) -> pd.DataFrame:
    """Whole transfers from chunk rows: rows of one (kind, client, src, dst) whose start follows the previous
    end within `gap_s` are one transfer; columns kind, client, src, dst, start, end, bytes, seconds."""
    if not len(transfers):
        return pd.DataFrame(columns=["kind", "client", "src", "dst", "start", "end", "bytes", "seconds"])
    t = transfers[transfers["bytes"] > 0].sort_values(
        ["kind", "client", "src", "dst", "start"], kind="stable"
    )
    key = t[["kind", "client", "src", "dst"]]
    same = (key == key.shift()).all(axis=1).to_numpy()
    follows = t["start"].to_numpy() <= t["end"].shift().to_numpy() + gap_s
    span = np.cumsum(~(same & follows))
    out = t.groupby(span).agg(
        kind=("kind", "first"),
        client=("client", "first"),
        src=("src", "first"),
        dst=("dst", "first"),
        start=("start", "min"),
        end=("end", "max"),
        bytes=("bytes", "sum"),
    )
    out["seconds"] = out["end"] - out["start"]
    return out.reset_index(drop=True)


def _measured(bh: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured rows, model rows) of a net backhaul table; a sim table is all model."""
    if "source" not in bh:
        return bh.iloc[:0], bh
    return bh[bh["source"] == "measured"], bh[bh["source"] == "model"]


def _peak_mbps(bh: pd.DataFrame, col: str, interval_s: float) -> float:
    return float(bh[col].max() * 8 / interval_s / 1e6) if len(bh) else 0.0


def compare(sim_dir: str | Path, net_dir: str | Path) -> pd.DataFrame:
    """One row per measure: measure, sim, net, gap (net - sim; relative for bytes and times), target, met."""
    sim, net = read_run(sim_dir), read_run(net_dir)
    ss, ns = sim.summary, net.summary
    if ss["seed"] != ns["seed"] or ss["scenario"] != ns["scenario"]:
        raise RunError(f"{sim.path} and {net.path} are not the same scenario and seed")
    iv = float(ss["interval_s"])
    rows: list[dict[str, Any]] = []

    def add(measure: str, a: float | None, b: float | None, kind: str = "count", target: float | None = None):
        gap = None
        if a is not None and b is not None:
            gap = (b / a - 1 if a else (0.0 if b == a else float("inf"))) if kind == "rel" else b - a
        met = None if target is None or gap is None else bool(abs(gap) <= target + 1e-12)
        rows.append(
            {
                "measure": measure,
                "sim": a,
                "net": b,
                "gap": gap,
                "gap_kind": kind,
                "target": target,
                "met": met,
            }
        )

    add("hit ratio", ss["hit_ratio"], ns["hit_ratio"], "abs", TARGETS["hit_ratio"])
    add("hit ratio with partial hits", ss["hit_ratio_with_partial"], ns["hit_ratio_with_partial"], "abs")
    for k in ("cold_starts", "hits", "partial_hits", "misses"):
        add(k.replace("_", " "), ss[k], ns[k])
    add("executed queries", ss["executed_queries"], ns["executed_queries"], "rel")
    st, nt = transfer_spans(sim.tables["transfers"]), transfer_spans(net.tables["transfers"])
    for kind in ("migrate", "upload"):
        a, b = st[st["kind"] == kind], nt[nt["kind"] == kind]
        add(f"{kind}s (whole transfers)", len(a), len(b))
        add(
            f"median {kind} time (s)",
            float(a["seconds"].median()) if len(a) else None,
            float(b["seconds"].median()) if len(b) else None,
            "rel",
            TARGETS["transfer_s"],
        )
    add(
        "migrated bytes (layers)",
        ss["backhaul"]["migrated_bytes"],
        ns["backhaul"]["migrated_bytes"],
        "rel",
        TARGETS["bytes"],
    )
    add(
        "uploaded bytes (layers)",
        ss["backhaul"]["uploaded_bytes"],
        ns["backhaul"]["uploaded_bytes"],
        "rel",
        TARGETS["bytes"],
    )
    sbh = sim.tables["backhaul"]
    meas, model = _measured(net.tables["backhaul"])
    wire = float(meas["up_bytes"].sum())
    payload = wire - SEGMENT_HEADER * float(meas["up_packets"].sum()) if len(meas) else None
    add(
        "backhaul bytes sent, all links (sim: model)",
        float(sbh["up_bytes"].sum()),
        payload,
        "rel",
        TARGETS["bytes"],
    )
    add("  net: switch counters, wire bytes", float(sbh["up_bytes"].sum()), wire, "rel")
    add(
        "  net: sim's model of net's own migrations",
        float(sbh["up_bytes"].sum()),
        float(model["up_bytes"].sum()),
        "rel",
    )
    add(
        "peak uplink of a server (Mbit/s)",
        ss["backhaul"]["peak_up_mbps"],
        ns["backhaul"]["peak_up_mbps"],
        "rel",
    )
    add(
        "  net: model peak uplink (Mbit/s)",
        ss["backhaul"]["peak_up_mbps"],
        _peak_mbps(model, "up_bytes", iv),
        "rel",
    )
    add(
        "peak downlink of a server (Mbit/s)",
        ss["backhaul"]["peak_down_mbps"],
        ns["backhaul"]["peak_down_mbps"],
        "rel",
    )
    return pd.DataFrame(rows)


def query_gap(sim_dir: str | Path, net_dir: str | Path) -> pd.DataFrame:
    """Per window (arrival row): queries in sim and net, whether the client was uploading layers in it, when
    net's first query started (s after the arrival), net's queries that overlapped an upload of that client,
    and the mean query period (latency + think time) of each backend."""
    sim, net = read_run(sim_dir), read_run(net_dir)
    arr = net.tables["handovers"][["row", "client", "server", "t", "handover", "kind"]]
    sq, nq = sim.tables["queries"], net.tables["queries"]
    gap = float(tomllib.loads((sim.path / "scenario.toml").read_text())["dnn"]["query_gap_s"])
    up = transfer_spans(net.tables["transfers"])
    up = up[up["kind"] == "upload"]
    rows = []
    for a in arr.itertuples(index=False):
        s = sq[sq["row"] == a.row]
        n = nq[nq["row"] == a.row]
        u = up[(up["client"] == a.client) & (up["dst"] == a.server)]
        ends = n["start"].to_numpy() + n["latency_s"].to_numpy()
        during = np.zeros(len(n), bool)
        for x in u.itertuples(index=False):
            during |= (n["start"].to_numpy() < x.end) & (ends > x.start)
        sq_n = int(s["queries"].sum())
        rows.append(
            {
                "row": a.row,
                "client": a.client,
                "server": a.server,
                "t": a.t,
                "handover": a.handover,
                "kind": a.kind,
                "sim_queries": sq_n,
                "net_queries": int(n["queries"].sum()),
                "uploading": bool(
                    len(u)
                    and ((u["start"] < a.t + float(net.summary["interval_s"])) & (u["end"] > a.t)).any()
                ),
                "net_first_s": float(n["start"].min() - a.t) if len(n) else None,
                "net_during_upload": int(during.sum()),
                "net_latency_during_upload_s": float(n["latency_s"][during].mean()) if during.any() else None,
                "sim_period_s": float(((s["latency_s"] + gap) * s["queries"]).sum() / sq_n) if sq_n else None,
                "net_period_s": float(np.diff(n["start"].to_numpy()).mean()) if len(n) > 1 else None,
            }
        )
        r = rows[-1]
        # what net would run at its own measured period over sim's window, and the queries its late start cost
        ok = bool(r["sim_period_s"] and r["net_period_s"])
        r["net_at_own_period"] = sq_n * r["sim_period_s"] / r["net_period_s"] if ok else None
        r["late_start_loss"] = (
            r["net_first_s"] / r["net_period_s"] if ok and r["net_first_s"] is not None else None
        )
    return pd.DataFrame(rows)
