"""`edgeroam report RUN_DIR...`: figures and summary tables of one or several run directories side by side."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register", "render_report"]


def _pct(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f} %"


def render_report(report, console: Console) -> None:
    """The runs of a report as a rich table, then where the figures and the Markdown summary are."""
    t = Table(title="runs (hit = hits / (hits + misses); queries after server changes; peaks in Mbit/s)")
    df = report.summary
    # model and r go in the run label when they differ between runs; shown once in the title otherwise
    if len(df):
        t.caption = f"model {df['model'].iloc[0]}, r = {df['radius_m'].iloc[0]:g} m" if (
            df["model"].nunique() == 1 and df["radius_m"].nunique() == 1) else None
    t.add_column("run", no_wrap=True)
    for col in ("hit", "part.", "miss", "queries", "peak up", "peak down"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in df.itertuples(index=False):
        t.add_row(r.run, _pct(r.hit_ratio), str(r.partial_hits), str(r.misses), f"{r.executed_queries:,}",
                  f"{r.peak_up_mbps:.1f}", f"{r.peak_down_mbps:.1f}")
    console.print(t)
    if len(report.fidelity):  # net runs: an unfaithful emulation is said loudly, before anything else
        from edgeroam.report.fidelity import fidelity_lines

        for line in fidelity_lines(report.fidelity):
            console.print(line, style="bold red" if line.startswith("NOT FAITHFUL") else "green",
                          markup=False, highlight=False)
    if len(report.fig10):
        f = Table(title="fractional migration (Fig. 10)")
        for col in ("model", "crowded", "budget MB", "peak up Mbit/s", "reduction", "query loss"):
            f.add_column(col)
        for r in report.fig10.itertuples(index=False):
            budget = "—" if r.fraction_mb is None or math.isnan(r.fraction_mb) else f"{r.fraction_mb:.1f}"
            f.add_row(r.model, str(r.crowded_servers), budget,
                      f"{r.whole_peak_up_mbps:.1f} → {r.fractional_peak_up_mbps:.1f}", _pct(r.peak_reduction),
                      _pct(r.query_loss))
        console.print(f)
    for name, path in report.figures.items():
        console.print(f"{name:12s} {path}")
    console.print(f"summary      {report.markdown}")


def register(app: typer.Typer) -> None:
    """Add the top-level `report` command to `app`."""

    @app.command("report")
    def report(
        run_dirs: list[Path] = typer.Argument(
            ..., help="Run directories (or folders holding run directories) to report side by side."),
        out: Path = typer.Option(
            None, "--out", help="Folder for figures and tables (default: <first run's parent>/report)."),
        max_map_panels: int = typer.Option(6, "--max-map-panels", help="Runs drawn in the traffic map."),
        root: Path = typer.Option(None, "--root", help="Folder (or Geolife zip) with the runs' traces (the "
                                  "traffic map rebuilds their servers; default: the runs' dataset.root)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report's tables and paths as JSON."),
    ) -> None:
        """Draw PerDNN Fig. 9/10, backhaul CDF, traffic map and latency timeline; write summary.md."""
        from edgeroam.report import expand_run_dirs, make_report

        dirs = expand_run_dirs(run_dirs)
        dest = out if out is not None else dirs[0].parent / "report"
        rep = make_report(dirs, dest, max_map_panels=max_map_panels, root=root)
        if as_json:
            typer.echo(json.dumps(rep.to_dict(), indent=2, sort_keys=True))
            return
        render_report(rep, Console())
