"""Fidelity of emulated runs in a report: which ``net`` runs stopped being faithful, and where.

A ``net`` run directory holds ``fidelity.parquet`` (`edgeroam.emulator.net.fidelity.FidelityMonitor.table`):
"link" rows judge the bottleneck link of a transfer in one interval (``flagged``: under the threshold of its
shaped rate), "cpu" rows give each interval's CPU idle share (``cpu_out``: the CPU ran out). `fidelity_table`
turns each such run into one row with its verdict, read from that table (a run without it, e.g. ``sim``, has
no row); `fidelity_lines` says in words what is wrong with each unfaithful run, for the report's text and
Markdown. Reading runs is ``tables.py``; the report itself ``build.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from edgeroam.emulator.rundir import RunDir
from edgeroam.errors import RunError
from edgeroam.report.tables import run_labels

__all__ = ["FIDELITY_REPORT_COLUMNS", "fidelity_lines", "fidelity_table"]

#: columns of :func:`fidelity_table`
FIDELITY_REPORT_COLUMNS = ["run", "dir", "faithful", "link_intervals", "flagged", "cpu_intervals", "cpu_out",
                           "worst_util", "worst_link", "min_cpu_idle", "threshold"]


def _threshold(run: RunDir) -> float:
    """The monitor's threshold from ``emulated.json`` (0.9 when it does not say)."""
    p = run.path / "emulated.json"
    if not p.is_file():
        return 0.9
    try:
        th = (json.loads(p.read_text(encoding="utf-8")).get("fidelity") or {}).get("threshold", 0.9)
        return float(th)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise RunError(f"{p}: cannot read the fidelity verdict: {exc}") from exc


def fidelity_table(runs: Sequence[RunDir]) -> pd.DataFrame:
    """One row per run that has ``fidelity.parquet``: its verdict (faithful when no link interval is flagged
    and the CPU never ran out), the counts behind it, the worst link interval and the least CPU idle share."""
    rows = []
    for run, label in zip(runs, run_labels(runs), strict=True):
        if "fidelity" not in run.tables:
            continue
        t = run.table("fidelity")
        missing = {"kind", "src", "dst", "util", "cpu_idle", "flagged", "cpu_out"} - set(t.columns)
        if missing:
            raise RunError(f"{run.path}/fidelity.parquet: missing columns {', '.join(sorted(missing))}")
        links, cpu = t[t["kind"] == "link"], t[t["kind"] == "cpu"]
        flagged, out = int(links["flagged"].sum()), int(cpu["cpu_out"].sum())
        worst = links.loc[links["util"].idxmin()] if len(links) else None
        rows.append({
            "run": label, "dir": run.name, "faithful": flagged == 0 and out == 0,
            "link_intervals": len(links), "flagged": flagged, "cpu_intervals": len(cpu), "cpu_out": out,
            "worst_util": math.nan if worst is None else float(worst["util"]),
            "worst_link": None if worst is None else f"{worst['src']}->{worst['dst']}",
            "min_cpu_idle": float(cpu["cpu_idle"].min()) if len(cpu) else math.nan,
            "threshold": _threshold(run),
        })
    return pd.DataFrame(rows, columns=FIDELITY_REPORT_COLUMNS)


def fidelity_lines(table: pd.DataFrame) -> list[str]:
    """A sentence per run of `table`: what made an unfaithful run unfaithful, or that a run was faithful."""
    lines = []
    for r in table.itertuples(index=False):
        if r.faithful:
            lines.append(f"{r.run}: faithful ({r.link_intervals} link intervals at >= {r.threshold:g} of the "
                         f"shaped rate, CPU never ran out in {r.cpu_intervals} intervals)")
            continue
        why = []
        if r.flagged:
            why.append(f"{r.flagged} of {r.link_intervals} link intervals below {r.threshold:g} of the "
                       f"shaped rate (worst {r.worst_util:.2f} on {r.worst_link})")
        if r.cpu_out:
            why.append(f"the CPU ran out in {r.cpu_out} of {r.cpu_intervals} intervals (least idle "
                       f"{r.min_cpu_idle:.0%})")
        lines.append(f"NOT FAITHFUL {r.run}: {'; '.join(why)}: its timings are not those of the emulated "
                     "network (fidelity.parquet)")
    return lines
