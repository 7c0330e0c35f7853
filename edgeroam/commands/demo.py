"""`edgeroam demo`: the main job on the embedded default (no downloads).

Summarises the synthetic Levy-walk traces and draws their map, then runs the demo scenario
(``scenarios/demo.toml``) with every policy on the `sim` backend and writes the report of those runs
(``<out>/runs/`` and ``<out>/report/``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["DEMO_POLICIES", "default_scenario", "register"]

#: the policies the demo compares, baseline first
DEMO_POLICIES = ("ionn", "perdnn", "oracle", "fractional", "optimal")


def default_scenario() -> Path:
    """``scenarios/demo.toml`` under the working directory, else the one beside the edgeroam package."""
    here = Path("scenarios/demo.toml")
    if here.is_file():
        return here
    import edgeroam

    return Path(edgeroam.__file__).resolve().parents[1] / "scenarios" / "demo.toml"


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
        from edgeroam.datasets import describe_dataset, plot_traces
        from edgeroam.emulator.prepare import prepare
        from edgeroam.emulator.run import run_scenario
        from edgeroam.report import make_report
        from edgeroam.scenario import load_scenario

        console = Console()
        path = scenario if scenario is not None else default_scenario()
        base = load_scenario(path)
        # summarise and map the walkers the runs replay (the scenario's synthetic traces)
        synthetic = {**base.dataset.synthetic.model_dump(), "area_m": tuple(base.dataset.synthetic.area_m)}
        synthetic.update({k: v for k, v in (("users", users), ("seed", seed)) if v is not None})
        summary, traces, reg = describe_dataset("synthetic", synthetic=synthetic)
        render_info(summary, console)
        out.mkdir(parents=True, exist_ok=True)
        fig = plot_traces(traces, out / "synthetic_traces.png", reg, clip_to_region=True)
        info_path = out / "datasets_info.json"
        info_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        console.print(f"map written to {fig}")
        console.print(f"summary written to {info_path}")

        runs = []
        with progress_bar() as bar:
            task = bar.add_task(f"{base.name}: preparing", total=len(policies))
            prep = prepare(base)
            for pol in policies:
                bar.update(task, description=f"{base.name}: {pol}")
                runs.append(run_scenario(base, out / "runs", progress=False,
                                         overrides=[f'policy.kind="{pol}"'], prepared=prep,
                                         overwrite=True))  # the demo's own runs; files you added stay
                bar.advance(task)
        report = make_report(runs, out / "report")
        render_report(report, console)
        console.print(f"report written to {report.out} (open {report.markdown})")
