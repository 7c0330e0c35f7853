"""Tables of one or several run directories: the summary row of each run, per-server backhaul peaks, the
per-cell traffic of the hex map, the query-latency timeline of one user, and Markdown rendering.

Everything here reads run directories (``edgeroam.emulator.rundir``) and returns pandas DataFrames; drawing is
left to ``figures.py`` and the command line to ``edgeroam.commands.report``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.rundir import RunDir, open_run_dir
from edgeroam.errors import RunError

__all__ = [
    "SUMMARY_COLUMNS",
    "ChangePick",
    "backhaul_peaks",
    "backhaul_sources",
    "cell_traffic",
    "expand_run_dirs",
    "fig9_table",
    "fig10_table",
    "latency_timeline",
    "load_runs",
    "pick_server_change",
    "representative_change",
    "run_grid",
    "run_labels",
    "run_servers",
    "summary_table",
    "to_markdown",
]

#: columns of :func:`summary_table`, in order
SUMMARY_COLUMNS = [
    "run", "scenario", "policy", "predictor", "model", "radius_m", "cold_starts", "hits", "partial_hits",
    "misses", "hit_ratio", "executed_queries", "peak_up_mbps", "peak_down_mbps", "migrated_gb", "uploaded_gb",
    "storage_copies_mean", "storage_copies_peak", "storage_gb_mean", "storage_gb_peak", "storage_gb_hours",
]

# fields that tell runs apart in labels, most telling first
_LABEL_FIELDS = ("scenario", "policy", "predictor", "model", "radius_m")
_POLICY_ORDER = {"ionn": 0, "perdnn": 1, "fractional": 2, "oracle": 3, "optimal": 4}


def expand_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories named by `paths`: a run directory itself, or a folder whose subfolders are run
    directories (taken in name order). Incomplete ``.partial`` folders inside a folder are skipped.

    Raises
    ------
    RunError
        A path that is neither, or no run directory at all.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if (p / "summary.json").is_file() or p.name.endswith(".partial"):
            out.append(p)
            continue
        if not p.is_dir():
            raise RunError(f"{p}: no such run directory")
        found = sorted(c for c in p.iterdir()
                       if c.is_dir() and not c.name.endswith(".partial") and (c / "summary.json").is_file())
        if not found:
            raise RunError(f"{p}: not a run directory and holds none (no summary.json)")
        out.extend(found)
    if not out:
        raise RunError("no run directories given")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def load_runs(paths: Iterable[str | Path], *, sort: bool = True) -> list[RunDir]:
    """Open every run directory named by `paths` (see :func:`expand_run_dirs`).

    With `sort`, runs are ordered by scenario, model, r and policy (ionn, perdnn, fractional, oracle,
    optimal, then others by name); the order is stable otherwise.
    """
    runs = [open_run_dir(p) for p in expand_run_dirs(paths)]
    if sort:
        def key(run: RunDir) -> tuple:
            s = run.summary
            return (str(s.get("scenario")), str(s.get("model")), -float(s.get("radius_m") or 0.0),
                    _sort_key(str(s.get("policy"))), str(s.get("policy")), str(s.get("predictor")))

        runs.sort(key=key)
    return runs


def _field(summary: dict[str, Any], key: str) -> Any:
    v = summary.get(key)
    return f"{v:g}" if isinstance(v, float) else v


def run_labels(runs: Sequence[RunDir]) -> list[str]:
    """A short label per run built from the fields that differ between the runs (e.g. ``perdnn r=100``).

    Runs equal in every field are told apart by their directory name.
    """
    summaries = [r.summary for r in runs]
    varying = [k for k in _LABEL_FIELDS if len({str(_field(s, k)) for s in summaries}) > 1]
    if not varying:
        varying = ["policy"]
    labels = []
    for s in summaries:
        parts = [f"r={_field(s, k)}" if k == "radius_m" else str(_field(s, k)) for k in varying]
        labels.append(" ".join(parts))
    if len(set(labels)) < len(labels):
        labels = [f"{lab} ({r.name})" for lab, r in zip(labels, runs, strict=True)]
    return labels


def summary_table(runs: Sequence[RunDir]) -> pd.DataFrame:
    """One row per run with :data:`SUMMARY_COLUMNS` (hit ratio as a fraction; traffic in Mbit/s and GB;
    storage held on all servers from ``summary["storage"]``, NaN for runs without it)."""
    rows = []
    for run, label in zip(runs, run_labels(runs), strict=True):
        s = run.summary
        bh = s.get("backhaul", {})
        st = s.get("storage") or {}
        try:
            rows.append({
                "run": label,
                "scenario": s["scenario"],
                "policy": s["policy"],
                "predictor": s["predictor"],
                "model": s["model"],
                "radius_m": float(s["radius_m"]),
                "cold_starts": int(s["cold_starts"]),
                "hits": int(s["hits"]),
                "partial_hits": int(s["partial_hits"]),
                "misses": int(s["misses"]),
                "hit_ratio": math.nan if s["hit_ratio"] is None else float(s["hit_ratio"]),
                "executed_queries": int(s["executed_queries"]),
                "peak_up_mbps": float(bh["peak_up_mbps"]),
                "peak_down_mbps": float(bh["peak_down_mbps"]),
                "migrated_gb": float(bh["migrated_bytes"]) / 1e9,
                "uploaded_gb": float(bh["uploaded_bytes"]) / 1e9,
                "storage_copies_mean": float(st.get("copies_mean", math.nan)),
                "storage_copies_peak": float(st.get("copies_peak", math.nan)),
                "storage_gb_mean": float(st.get("bytes_mean", math.nan)) / 1e9,
                "storage_gb_peak": float(st.get("bytes_peak", math.nan)) / 1e9,
                "storage_gb_hours": float(st.get("gb_hours", math.nan)),
            })
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"{run.path}/summary.json: missing or bad field {exc}") from exc
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _sort_key(policy: str) -> int:
    return _POLICY_ORDER.get(policy, len(_POLICY_ORDER))


def fig9_table(runs: Sequence[RunDir]) -> pd.DataFrame:
    """PerDNN Fig. 9 as a table: per scenario, model, r and policy, the hit ratio and executed queries, and
    the gain over the `ionn` run of the same scenario, model and r (``gain`` = queries / ionn queries - 1)."""
    df = summary_table(runs)
    df = df[["scenario", "model", "radius_m", "policy", "predictor", "cold_starts", "hits", "partial_hits",
             "misses", "hit_ratio", "executed_queries"]].copy()
    df["_order"] = df["policy"].map(_sort_key)
    df = df.sort_values(["scenario", "model", "radius_m", "_order", "predictor"], kind="stable")
    base = df[df["policy"] == "ionn"].groupby(["scenario", "model", "radius_m"])["executed_queries"].first()
    key = list(zip(df["scenario"], df["model"], df["radius_m"], strict=True))
    ionn = np.array([base.get(k, np.nan) for k in key], dtype=np.float64)
    df["gain_vs_ionn"] = df["executed_queries"] / ionn - 1.0
    return df.drop(columns="_order").reset_index(drop=True)


def fig10_table(runs: Sequence[RunDir]) -> pd.DataFrame:
    """PerDNN Fig. 10 as a table: for each `fractional` run, the peak backhaul uplink and the executed queries
    of its whole-model first pass (perdnn) and of the fractional pass, the reduction and the query loss."""
    rows = []
    for run in runs:
        s = run.summary
        if s.get("policy") != "fractional":
            continue
        fr = s.get("fractional") or {}
        before_up, before_q = fr.get("perdnn_peak_up_mbps"), fr.get("perdnn_executed_queries")
        after_up, after_q = s["backhaul"]["peak_up_mbps"], s["executed_queries"]
        budget = fr.get("fraction_bytes")
        rows.append({
            "scenario": s["scenario"], "model": s["model"], "radius_m": float(s["radius_m"]),
            "crowded_servers": len(fr.get("crowded") or []), "servers": s.get("servers"),
            "fraction_mb": None if budget is None else budget / 1e6,
            "plan_mb": s.get("plan", {}).get("plan_bytes", math.nan) / 1e6,
            "whole_peak_up_mbps": before_up, "fractional_peak_up_mbps": after_up,
            "peak_reduction": (1 - after_up / before_up) if before_up else math.nan,
            "whole_queries": before_q, "fractional_queries": after_q,
            "query_loss": (1 - after_q / before_q) if before_q else math.nan,
        })
    cols = ["scenario", "model", "radius_m", "crowded_servers", "servers", "fraction_mb", "plan_mb",
            "whole_peak_up_mbps", "fractional_peak_up_mbps", "peak_reduction", "whole_queries",
            "fractional_queries", "query_loss"]
    return pd.DataFrame(rows, columns=cols)


def backhaul_peaks(run: RunDir) -> pd.DataFrame:
    """Per edge server with backhaul traffic: peak uplink and downlink in Mbit/s over the run's intervals
    (``server``, ``peak_up_mbps``, ``peak_down_mbps``, ``total_up_gb``, ``total_down_gb``), sorted by peak
    uplink, largest first."""
    s = run.summary
    bh = run.table("backhaul")
    if "source" in bh:  # net: the switch counters (the model estimate beside them: `backhaul_sources`)
        bh = bh[bh["source"] == "measured"]
    cols = ["server", "peak_up_mbps", "peak_down_mbps", "total_up_gb", "total_down_gb"]
    if len(bh) == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.int64 if c == "server" else np.float64) for c in cols})
    to_mbps = 8.0 / float(s["interval_s"]) / 1e6
    g = bh.groupby("server")
    out = pd.DataFrame({
        "peak_up_mbps": g["up_bytes"].max() * to_mbps,
        "peak_down_mbps": g["down_bytes"].max() * to_mbps,
        "total_up_gb": g["up_bytes"].sum() / 1e9,
        "total_down_gb": g["down_bytes"].sum() / 1e9,
    }).reset_index()
    return out.sort_values(["peak_up_mbps", "server"], ascending=[False, True], kind="stable")[cols] \
        .reset_index(drop=True)


def backhaul_sources(runs: Sequence[RunDir]) -> pd.DataFrame:
    """For runs whose backhaul table carries a ``source`` (net: switch counters ``measured`` beside the sim's
    ``model`` of the same migrations), per run and source: total uplink GB and the largest per-interval
    uplink and downlink of any server (Mbit/s); empty when no run has one."""
    cols = ["run", "source", "total_up_gb", "peak_up_mbps", "peak_down_mbps"]
    rows = []
    for run, label in zip(runs, run_labels(runs), strict=True):
        bh = run.table("backhaul")
        if "source" not in bh or not len(bh):
            continue
        to_mbps = 8.0 / float(run.summary["interval_s"]) / 1e6
        for src, g in bh.groupby("source", sort=True):
            rows.append({"run": label, "source": src, "total_up_gb": g["up_bytes"].sum() / 1e9,
                         "peak_up_mbps": g["up_bytes"].max() * to_mbps,
                         "peak_down_mbps": g["down_bytes"].max() * to_mbps})
    return pd.DataFrame(rows, columns=cols)


def run_grid(run: RunDir):
    """The HexGrid of a run (scenario.toml: topology.radius_m, origin, orientation)."""
    from edgeroam.topology import HexGrid

    topo = run.scenario.get("topology", {})
    origin = topo.get("origin") or (0.0, 0.0)
    return HexGrid(float(topo.get("radius_m", 50.0)), tuple(origin), topo.get("orientation", "pointy"))


def run_servers(run: RunDir, root: str | Path | None = None) -> pd.DataFrame:
    """The edge servers of a run (``server``, ``q``, ``r``, ``x``, ``y``; ``attrs["crs"]`` the frame's CRS),
    rebuilt from its ``scenario.toml``
    (the traces are loaded again, from the dataset cache when there is one; `root` replaces the scenario's
    ``dataset.root``).

    Raises
    ------
    EdgeroamError
        The scenario's dataset cannot be loaded here (e.g. the traces are missing).
    """
    from edgeroam.scenario import scenario_from_dict
    from edgeroam.world import load_world

    sc = scenario_from_dict(run.scenario)
    if root is not None:
        sc.dataset.root = str(Path(root).expanduser().resolve())
    world = load_world(sc)
    servers = world.topology.servers
    servers = servers[servers["tier"] == "edge"]
    out = servers[["server", "q", "r", "x", "y"]].astype(
        {"server": np.int64, "q": np.int64, "r": np.int64}).reset_index(drop=True)
    out.attrs["crs"] = world.topology.crs
    return out


def cell_traffic(run: RunDir, servers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per edge server's cell: ``server``, ``q``, ``r`` (axial), ``x``, ``y`` (centre), ``user_steps``
    (test-user steps served), ``peak_up_mbps``, ``peak_down_mbps``, ``total_up_gb``, ``total_down_gb``,
    ``arrivals``.

    `servers` (from :func:`run_servers`) gives every server of the run. Without it, the cells are found from
    the positions of the user steps each server served (``predictions`` table) on the run's hex grid, so
    servers that only received migrations (never visited by a test user) are left out.
    """
    grid = run_grid(run)
    pr = run.table("predictions")
    pr = pr[pr["server"] >= 0]
    steps = pr.groupby("server").size()
    if servers is not None:
        cells = servers[["server", "q", "r"]].drop_duplicates("server").set_index("server").sort_index()
    else:
        q, r = grid.cell_of(pr["x"].to_numpy(), pr["y"].to_numpy())
        pos = pd.DataFrame({"server": pr["server"].to_numpy(), "q": q, "r": r})
        counts = pos.groupby(["server", "q", "r"]).size().rename("n").reset_index()
        counts = counts.sort_values(["server", "n", "q", "r"], ascending=[True, False, True, True],
                                    kind="stable")
        cells = counts.drop_duplicates("server").drop(columns="n").set_index("server")
    cells["user_steps"] = steps.reindex(cells.index).fillna(0).astype(np.int64)
    peaks = backhaul_peaks(run).set_index("server")
    out = cells.join(peaks, how="left").fillna(
        {"peak_up_mbps": 0.0, "peak_down_mbps": 0.0, "total_up_gb": 0.0, "total_down_gb": 0.0})
    traffic = ("peak_up_mbps", "peak_down_mbps", "total_up_gb", "total_down_gb")
    out = out.astype({c: np.float64 for c in traffic})
    ho = run.table("handovers")
    out["arrivals"] = ho.groupby("server").size().reindex(out.index).fillna(0).astype(np.int64)
    x, y = grid.center(out["q"].to_numpy(), out["r"].to_numpy())
    out.insert(2, "x", x)
    out.insert(3, "y", y)
    return out.reset_index()


@dataclass(frozen=True)
class ChangePick:
    """A server change shown in the latency timeline and why it was picked (see `representative_change`).

    ``outcomes`` holds each run's kind at the change (hit, partial, miss), in the order of the runs;
    ``share`` of the ``common`` changes that every run has end the same way.
    """

    row: int
    outcomes: tuple[str, ...]
    share: int
    common: int
    differing: bool = True

    def note(self, labels: Sequence[str]) -> str:
        """One sentence saying how the change was picked, with the runs' `labels`."""
        outcome = ", ".join(f"{lab} {kind}" for lab, kind in zip(labels, self.outcomes, strict=True))
        among = "where the runs differ" if self.differing and len(labels) > 1 else "of all"
        return (f"picked as the most common outcome {among} ({outcome}: {self.share:,} of "
                f"{self.common:,} server changes), the one closest to their median executed queries")


def representative_change(runs: Sequence[RunDir]) -> ChangePick | None:
    """A representative server change common to `runs`, one that shows how the runs differ: the most
    common combination of outcomes (hit, partial, miss per run) among the changes where the runs do not all
    end the same way (all changes when there is none such; ties: the combination seen first), and among
    those changes the one whose executed queries are closest (L1, per run) to their median; ties to the
    earliest. None when the runs share no change.

    The runs must share their replay (same scenario apart from the policy, r or model) for a row to mean the
    same user and time in each.
    """
    kinds, queries = [], []
    for run in runs:
        ho = run.table("handovers")
        ho = ho[ho["handover"]].set_index("row")
        kinds.append(ho["kind"].astype(str))
        queries.append(ho["queries"])
    common = kinds[0].index
    for k in kinds[1:]:
        common = common.intersection(k.index)
    common = common.sort_values()
    if len(common) == 0:
        return None
    k = np.stack([s.reindex(common).to_numpy(str) for s in kinds])  # runs x changes
    q = np.stack([s.reindex(common).to_numpy(np.float64) for s in queries])
    codes, _ = pd.factorize(pd.Series(["\x1f".join(col) for col in k.T]))
    differ = (k != k[:1]).any(axis=0)
    pool = codes[differ] if differ.any() else codes
    best = int(np.argmax(np.bincount(pool, minlength=codes.max() + 1)))
    members = np.flatnonzero(codes == best)
    sub = q[:, members]
    dist = np.abs(sub - np.median(sub, axis=1, keepdims=True)).sum(axis=0)
    pick = int(members[int(np.argmin(dist))])
    return ChangePick(int(common[pick]), tuple(str(v) for v in k[:, pick]), len(members), len(common),
                      bool(differ.any()))


def pick_server_change(runs: Sequence[RunDir]) -> int | None:
    """The replay row of `representative_change` (None when the runs have no change in common)."""
    pick = representative_change(runs)
    return None if pick is None else pick.row


def latency_timeline(run: RunDir, row: int, *, before_s: float | None = None,
                     after_s: float | None = None) -> pd.DataFrame:
    """Every query of the user of server change `row`, from `before_s` before it to `after_s` after it
    (default: two intervals each side): ``start``, ``end``, ``latency_s``, ``server``, ``since_change_s``
    (start minus the time of the change).

    Queries are run in the interval right after each arrival (the only ones the metrics keep), expanded from
    the run-length ``queries`` table: the k-th query of a run starts ``k * (latency + gap)`` after the first.
    """
    s = run.summary
    interval = float(s["interval_s"])
    before = 2 * interval if before_s is None else before_s
    after = 2 * interval if after_s is None else after_s
    gap = float(run.scenario.get("dnn", {}).get("query_gap_s", 0.5))
    ho = run.table("handovers")
    hit = ho[ho["row"] == row]
    if hit.empty:
        raise RunError(f"{run.path}: no server change at replay row {row}")
    client, t_change = int(hit["client"].iloc[0]), float(hit["t"].iloc[0])
    q = run.table("queries")
    q = q[(q["client"] == client) & (q["start"] >= t_change - before) & (q["start"] <= t_change + after)]
    rows = []
    for start, lat, n, server in zip(q["start"], q["latency_s"], q["queries"], q["server"], strict=True):
        k = np.arange(int(n))
        st = start + k * (lat + gap)
        rows.append(pd.DataFrame({"start": st, "end": st + lat, "latency_s": lat, "server": server}))
    cols = ["start", "end", "latency_s", "server", "since_change_s"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True).sort_values("start", kind="stable").reset_index(drop=True)
    out["since_change_s"] = out["start"] - t_change
    return out[cols]


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if column in ("hit_ratio", "gain_vs_ionn", "peak_reduction", "query_loss") and isinstance(value, float):
        return f"{100 * value:.1f} %"
    if column == "radius_m":
        return f"{float(value):g}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value)


def to_markdown(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table of `df` (ratios as percentages, numbers right-aligned, NaN as —)."""
    cols = list(columns) if columns is not None else list(df.columns)
    head = "| " + " | ".join(cols) + " |"
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    lines = [head, rule]
    for rec in df[cols].itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, c) for v, c in zip(rec, cols, strict=True)) + " |")
    return "\n".join(lines) + "\n"
