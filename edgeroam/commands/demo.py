"""`edgeroam demo`: the main job on the embedded default (no downloads).

For now: `datasets info synthetic` plus a map of the synthetic traces and the summary as JSON in the output
folder; later issues grow it into a full emulation run.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the top-level `demo` command to `app`."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for the figure and the summary."),
        users: int = typer.Option(20, "--users", help="Synthetic walkers."),
        seed: int = typer.Option(0, "--seed", help="Seed of the synthetic traces."),
    ) -> None:
        """Run the embedded default: summarise synthetic Levy-walk traces and draw their map into --out."""
        from edgeroam.commands.datasets import render_info
        from edgeroam.datasets import describe_dataset, plot_traces

        console = Console()
        summary, traces, reg = describe_dataset("synthetic", synthetic={"users": users, "seed": seed})
        render_info(summary, console)
        out.mkdir(parents=True, exist_ok=True)
        fig = plot_traces(traces, out / "synthetic_traces.png", reg, clip_to_region=True)
        info_path = out / "datasets_info.json"
        info_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        console.print(f"map written to {fig}")
        console.print(f"summary written to {info_path}")
