"""`edgeroam reproduce {perdnn,eosdnn,s3,all}`: every TARGETS item edgeroam covers, ours beside the paper's
(edgeroam.sweep.reproduce), one report, and the generated tables of docs/reproductions/."""

from __future__ import annotations

import enum
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["register"]


class Paper(enum.StrEnum):
    perdnn = "perdnn"
    eosdnn = "eosdnn"
    s3 = "s3"
    all = "all"


def register(app: typer.Typer) -> None:
    """Add the top-level `reproduce` command to `app`."""
    from edgeroam.sweep.reproduce import SECTIONS  # the registry: the help lists what --only accepts

    @app.command("reproduce")
    def reproduce(
        paper: Paper = typer.Argument(..., help="Which paper's targets: perdnn, eosdnn, s3 or all."),
        quick: bool = typer.Option(
            False,
            "--quick",
            help="A reduced version that finishes in minutes (KAIST "
            "only, one model, no timing measurement); run in CI.",
        ),
        out: Path = typer.Option(
            Path("runs/reproduce"),
            "--out",
            help="Report folder: report.md, report.html, "
            "results.json, figures/, sweeps/ (runs are reused on a rerun).",
        ),
        only: list[str] = typer.Option(
            [],
            "--only",
            help=f"Run only these sections (repeatable): {', '.join(SECTIONS)}.",
        ),
        docs: bool = typer.Option(
            False,
            "--docs",
            help="Rewrite the generated tables in docs/reproductions/ "
            "and record them in docs/reproductions/generated.json.",
        ),
        docs_dir: Path = typer.Option(Path("docs/reproductions"), "--docs-dir", help="Where --docs writes."),
        scheduler: str = typer.Option(
            None, "--scheduler", help="Dask scheduler address (default: a LocalCluster)."
        ),
        workers: int = typer.Option(2, "--workers", help="LocalCluster worker processes."),
        no_progress: bool = typer.Option(False, "--no-progress", help="Do not show progress bars."),
    ) -> None:
        """Regenerate every reproduction with its exact setup (simulation runs through the sweep machinery);
        write one report with the paper's number, ours and the gap for each TARGETS id."""
        from edgeroam.sweep.docs import update_docs
        from edgeroam.sweep.reproduce import reproduce as run

        res = run(
            paper.value,
            out,
            quick=quick,
            workers=workers,
            scheduler=scheduler,
            progress=not no_progress,
            only=only or None,
        )
        con = Console()
        n = sum(len(s["items"]) for s in res["sections"].values())
        con.print(
            f"{n} TARGETS items in {len(res['sections'])} sections, {res['wall_s']:.0f} s "
            f"(commit {res['commit']})",
            highlight=False,
        )
        for name, s in res["sections"].items():
            con.print(f"  {name}: {len(s['items'])} items, {s['wall_s']:.0f} s", highlight=False)
        for p, text in res["not_covered"].items():
            con.print(f"  not covered ({p}): {text}", highlight=False)
        if docs:
            written = update_docs(res, docs_dir)
            con.print(
                f"docs: {len(written)} generated block(s) rewritten: {', '.join(written) or 'none'}",
                highlight=False,
            )
        con.print(f"report: {out / 'report.md'}, {out / 'report.html'}")
