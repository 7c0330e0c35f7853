"""`edgeroam sweep SWEEP.toml`: a base scenario × a parameter grid × seeds on a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

# the columns shown for each run when present in the gathered table
_SHOW = ("hit_ratio", "executed_queries", "backhaul.migrated_bytes", "backhaul.peak_up_mbps")


def register(app: typer.Typer) -> None:
    """Add the top-level `sweep` command to `app`."""

    @app.command("sweep")
    def sweep(
        sweep_file: Path = typer.Argument(
            ...,
            help="Sweep TOML: scenario, set, seeds and a \\[grid] of "
            "key.path = \\[values] (edgeroam/sweep/grid.py).",
        ),
        scheduler: str = typer.Option(
            None,
            "--scheduler",
            help="Dask scheduler address (tcp://host:8786); "
            "default: a LocalCluster on this machine. Workers need this code and "
            "the same file system.",
        ),
        workers: int = typer.Option(2, "--workers", help="LocalCluster worker processes (1 thread each)."),
        out: Path = typer.Option(
            None,
            "--out",
            help="Sweep folder (default: runs/sweeps/<name>): runs/, errors/ and sweep.parquet.",
        ),
        store: Path = typer.Option(
            None,
            "--store",
            help="Folder of run directories shared by sweeps (e.g. runs/store): runs are written there and "
            "linked from the sweep's runs/; a run of the same scenario already complete there is reused.",
        ),
        no_progress: bool = typer.Option(False, "--no-progress", help="Do not show the progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print what ran as JSON on stdout."),
    ) -> None:
        """Run every point of the grid not already complete (a restart skips finished runs; a failed run
        keeps its error and never stops the others); gather one Parquet table. Exit 1 if any run failed."""
        from edgeroam.sweep import load_sweep, run_sweep

        sw = load_sweep(sweep_file)
        res = run_sweep(
            sw,
            out,
            scheduler=scheduler,
            workers=workers,
            progress=not no_progress and not as_json,
            store=store,
        )
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "table": str(res.path),
                        "executed": res.executed,
                        "skipped": res.skipped,
                        "reused": res.reused,
                        "failed": res.failed,
                        "wall_s": res.wall_s,
                    },
                    indent=2,
                )
            )
        else:
            con = Console()
            params = [c for c in sw.grid] + (["seed"] if sw.seeds else [])
            shown = [c for c in _SHOW if c in res.table.columns]
            t = Table(
                title=f"sweep {sw.name}: {len(res.executed)} ran, {len(res.skipped)} skipped, "
                f"{len(res.reused)} reused, {len(res.failed)} failed in {res.wall_s:.1f} s"
            )
            for c in ["run", *params, "status", *shown]:
                t.add_column(c, justify="left" if c in ("run", "status") else "right", overflow="fold")
            for _, r in res.table.iterrows():
                cells = [str(r["run_id"]), *(str(r[c]) for c in params), str(r["status"])]
                cells += ["—" if r.get(c) is None or r.get(c) != r.get(c) else f"{r[c]:.4g}" for c in shown]
                t.add_row(*cells)
            con.print(t)
            for rid in res.failed:
                err = res.table.loc[res.table["run_id"] == rid, "error"].iat[0]
                con.print(f"[red]failed[/] {rid}: {str(err).splitlines()[0]}", highlight=False)
            con.print(f"table: {res.path}")
        if res.failed:
            raise typer.Exit(1)
