"""`edgeroam run SCENARIO`: run one scenario on its backend (``run.backend``) and write its run directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgeroam.commands._options import ROOT_HELP, SCENARIO_HELP, root_override
from edgeroam.errors import ScenarioError
from edgeroam.predictors import PREDICTORS
from edgeroam.scenario import resolve_scenario

__all__ = ["register", "render_summary"]


def render_summary(summary: dict, console: Console) -> None:
    """The headline metrics of a run as a rich table."""
    t = Table(title=f"{summary['scenario']} · {summary['policy']} · {summary['predictor']} · "
              f"{summary['model']} · r = {summary['radius_m']:g} m")
    t.add_column("metric")
    t.add_column("value", justify="right")

    def pct(v):
        return "—" if v is None else f"{100 * v:.1f} %"

    bh, pr = summary["backhaul"], summary["prediction"]
    rows = [
        ("user steps / cold starts", f"{summary['user_steps']} / {summary['cold_starts']}"),
        ("hits / partial / misses", f"{summary['hits']} / {summary['partial_hits']} / {summary['misses']}"),
        ("hit ratio (hits / (hits + misses))", pct(summary["hit_ratio"])),
        ("executed queries after cold starts", f"{summary['executed_queries']}"),
        ("migrated / uploaded (GB)", f"{bh['migrated_bytes'] / 1e9:.2f} / {bh['uploaded_bytes'] / 1e9:.2f}"),
        ("peak backhaul uplink (Mbit/s)", f"{bh['peak_up_mbps']:.1f}"),
        ("prediction MAE (m)", "—" if pr["mae_m"] is None else f"{pr['mae_m']:.1f}"),
        ("next server within r (non-futile)", pct(pr["covered_nonfutile"])),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add the top-level `run` command to `app`."""

    @app.command("run")
    def run(
        scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
        policy: str = typer.Option(
            None, "--policy",
            help="perdnn | fractional | ionn | optimal | oracle | perdnn-forward | perdnn-top<k> | "
                 "perdnn-forward-top<k> | perdnn-gated | perdnn-gated-top<k> | perdnn-speed | perdnn-prob | "
                 "perdnn-rank (docs/reproductions/beat-the-paper.md): names for parameters of the one policy "
                 "family, which --set policy.<param>=… sets too (e.g. policy.targets=3, policy.relay=true).",
        ),
        predictor: str = typer.Option(None, "--predictor", help=" | ".join(PREDICTORS) + "."),
        model: str = typer.Option(None, "--model", help="DNN zoo name (mobilenet | inception | resnet50 …)."),
        set_: list[str] = typer.Option([], "--set", help="Override a scenario key: key.path=value (repeat)."),
        root: Path = typer.Option(None, "--root", help=ROOT_HELP),
        out: Path = typer.Option(None, "--out", help="Parent folder of the run directory (default: runs)."),
        force: bool = typer.Option(False, "--force", help="Replace an earlier run of the same scenario in "
                                   "--out (files you added to it are kept)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="Do not show the progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    ) -> None:
        """Replay a scenario through the master and its backend; write runs/<name>-<hash>/."""
        from edgeroam.emulator.run import run_scenario
        from edgeroam.emulator.rundir import open_run_dir

        overrides = root_override(root) + list(set_)
        if policy:
            overrides.append(f'policy.kind="{policy}"')
        if predictor:
            overrides.append(f'predictor.kind="{predictor}"')
        if model:
            overrides.append(f'dnn.model="{model}"')
        try:
            path = run_scenario(scenario, out, progress=not no_progress and not as_json, overrides=overrides,
                                overwrite=force)
        except ScenarioError as exc:  # raised past loading (e.g. policy parameters): name the file too
            if exc.path is not None:
                raise
            raise ScenarioError(resolve_scenario(scenario), exc.key, exc.message) from None
        summary = open_run_dir(path).summary
        if as_json:
            typer.echo(json.dumps({"run_dir": str(path), **summary}, indent=2, sort_keys=True))
            return
        console = Console()
        render_summary(summary, console)
        console.print(f"run directory: {path}")
