"""`edgeroam demo`: the main job on the embedded default (no downloads); a shell over `run_demo`.

Summarises the synthetic Levy-walk traces and draws their map, then runs the demo scenario
(``scenarios/demo.toml``) with every policy and writes the report of those runs (``<out>/runs/`` and
``<out>/report/``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from edgeroam.demo import DEMO_POLICIES

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the top-level `demo` command to `app`."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for the figures, runs and report."),
        users: int = typer.Option(None, "--users",
                                  help="Synthetic walkers in the dataset summary (default: the scenario's)."),
        seed: int = typer.Option(None, "--seed",
                                 help="Seed of the synthetic walkers (default: the scenario's)."),
        scenario: Path = typer.Option(None, "--scenario", help="Scenario name or TOML file (default: demo)."),
        policies: list[str] = typer.Option(list(DEMO_POLICIES), "--policy",
                                           help="Policies to run (repeat; default: all five)."),
    ) -> None:
        """Summarise synthetic traces, run the demo scenario with every policy and write their report."""
        from edgeroam._progress import progress_bar
        from edgeroam.commands.datasets import render_info
        from edgeroam.commands.report import render_report
        from edgeroam.demo import run_demo

        console = Console()
        with progress_bar() as bar:
            task = bar.add_task("demo", total=len(policies))

            def step(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            result = run_demo(out, scenario=scenario, users=users, seed=seed, policies=policies,
                              progress=step)
        render_info(result.info, console)
        console.print(f"map written to {result.map_path}")
        console.print(f"summary written to {result.info_path}")
        render_report(result.report, console)
        console.print(f"report written to {result.report.out} (open {result.report.markdown})")
