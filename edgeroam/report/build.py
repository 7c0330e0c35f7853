"""`make_report`: the report of one or several run directories written into one folder.

Writes ``summary.md`` (the runs' table, Fig. 9 and Fig. 10 tables), ``summary.csv`` and ``report.json`` (the
same rows, machine-readable) and the figures ``fig9.png``, ``backhaul.png``, ``fig10.png``,
``traffic_map.png`` and ``latency.png``, all at once (``output.ReportStage``): a failed report leaves the
previous one as it was, and a damaged run directory is refused before anything is drawn. Reading runs and
computing tables is ``tables.py``; drawing is ``figures.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from edgeroam.report.fidelity import fidelity_lines, fidelity_table
from edgeroam.report.output import ReportStage
from edgeroam.report.tables import (
    backhaul_sources,
    fig9_table,
    fig10_table,
    load_runs,
    summary_table,
    to_markdown,
)

__all__ = ["Report", "make_report"]

_STORAGE_MD_COLUMNS = ["run", "policy", "hit_ratio", "migrated_gb", "storage_copies_mean",
                       "storage_copies_peak", "storage_gb_mean", "storage_gb_peak", "storage_gb_hours"]

_SUMMARY_MD_COLUMNS = ["run", "policy", "predictor", "model", "radius_m", "hit_ratio", "partial_hits",
                       "misses", "executed_queries", "peak_up_mbps", "peak_down_mbps"]


@dataclass
class Report:
    """What :func:`make_report` wrote: the output folder, the runs, the tables and the figure paths."""

    out: Path
    runs: list[Path]
    summary: pd.DataFrame
    fig9: pd.DataFrame
    fig10: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: Path | None = None
    #: net runs: backhaul measured beside the model (`tables.backhaul_sources`); empty for sim runs
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: net runs: the fidelity verdict per run (`fidelity.fidelity_table`); empty for sim runs
    fidelity: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, NaN as None."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                    for r in json.loads(df.to_json(orient="records"))]

        return {
            "out": str(self.out),
            "runs": [str(p) for p in self.runs],
            "summary": records(self.summary),
            "fig9": records(self.fig9),
            "fig10": records(self.fig10),
            "fidelity": records(self.fidelity),
            "unfaithful": [r["run"] for r in records(self.fidelity) if not r["faithful"]],
            "figures": {k: str(v) for k, v in self.figures.items()},
            "markdown": None if self.markdown is None else str(self.markdown),
        }


def make_report(
    run_dirs: Iterable[str | Path],
    out: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    max_map_panels: int = 6,
    root: str | Path | None = None,
) -> Report:
    """Read run directories and write their tables and figures into `out`.

    Parameters
    ----------
    run_dirs : paths
        Run directories, or folders holding run directories.
    out : path
        Output folder (created).
    progress : callable, optional
        Called with the name of each step.
    max_map_panels : int
        At most this many runs get a panel in the traffic map.
    root : path, optional
        Where the runs' traces are (the traffic map rebuilds their servers); default: each run's own.

    Raises
    ------
    RunError
        A path that is not a (complete) run directory, or a run missing a table.
    """
    from edgeroam.report import figures as fg

    say = progress or (lambda _m: None)
    runs = load_runs(run_dirs)
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    say("tables")
    summary = summary_table(runs)
    f9 = fig9_table(runs)
    f10 = fig10_table(runs)
    report = Report(dest, [r.path for r in runs], summary, f9, f10, sources=backhaul_sources(runs))
    report.fidelity = fidelity_table(runs)  # net runs: did the emulation stay faithful
    drawers = [
        ("fig9", lambda: fg.fig9_figure(runs)),
        ("backhaul", lambda: fg.backhaul_figure(runs)),
        ("fig10", lambda: fg.fig10_figure(runs)),
        ("traffic_map", lambda: fg.traffic_map_figure(runs, max_panels=max_map_panels, root=root)),
        ("latency", lambda: fg.latency_figure(runs)),
    ]
    with ReportStage(dest) as stage:  # all files or none: the previous report stays whole on a failure
        for name, draw in drawers:
            say(f"figure {name}")
            fig = draw()
            if fig is not None:
                fg.save_figure(fig, stage.path / f"{name}.png")
                report.figures[name] = dest / f"{name}.png"
        say("summary.md")
        summary.to_csv(stage.path / "summary.csv", index=False)
        report.markdown = dest / "summary.md"
        (stage.path / "summary.md").write_text(_markdown(report), encoding="utf-8")
        stage.index = report.to_dict()  # report.json, with the size and SHA-256 of every other file
    return report


def _fidelity_markdown(rep: Report) -> list[str]:
    if rep.fidelity.empty:
        return []
    lines = [f"- **{x}**\n" if x.startswith("NOT FAITHFUL") else f"- {x}\n"
             for x in fidelity_lines(rep.fidelity)]
    return ["\n## Fidelity of emulated runs\n\n", "A net run is faithful when every judged interval of a "
            "transfer carried at least the threshold of its bottleneck link's shaped rate and the CPU never "
            "ran out (fidelity.parquet of the run).\n\n", *lines, "\n", to_markdown(rep.fidelity)]


def _markdown(rep: Report) -> str:
    parts = ["# edgeroam report\n", "Runs:\n"]
    parts += [f"- `{p}`\n" for p in rep.runs]
    parts += ["\n## Runs\n\n", "hit ratio = hits / (hits + misses) at server changes; executed queries = "
              "queries finished in the interval right after each server change; peaks = largest per-interval "
              "backhaul traffic of any server.\n\n", to_markdown(rep.summary, _SUMMARY_MD_COLUMNS)]
    parts += _fidelity_markdown(rep)
    parts += ["\n## Fig. 9: hit ratio and executed queries\n\n",
              to_markdown(rep.fig9, ["scenario", "model", "radius_m", "policy", "predictor", "hit_ratio",
                                     "executed_queries", "gain_vs_ionn"])]
    if len(rep.fig10):
        parts += ["\n## Fig. 10: fractional migration\n\n", to_markdown(rep.fig10)]
    parts += ["\n## Storage held on all servers\n\n", "model copies = (client, server) pairs holding any "
              "layer; mean over the replay (time-weighted) and peak; GB of layers held; GB·hours = the "
              "integral over the replay (— where the backend keeps no holdings log).\n\n",
              to_markdown(rep.summary, _STORAGE_MD_COLUMNS)]
    if len(rep.sources):
        parts += ["\n## Backhaul: switch counters (measured, wire bytes) and the model of the same "
                  "migrations\n\n", to_markdown(rep.sources)]
    if rep.figures:
        parts += ["\n## Figures\n\n"]
        parts += [f"![{k}]({v.name})\n" for k, v in rep.figures.items()]
    return "".join(parts)
