"""`edgeroam planners`: every planner with S2's five-dimension classification and, on request, its cost."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

#: problem sizes measured with --measure: (label, model, users, servers)
SIZES = [("24 layers, 1 user, 2 servers", "alexnet", 1, 2),
         ("46 layers, 1 user, 2 servers", "vgg19", 1, 2),
         ("24 layers, 4 users, 11 servers", "alexnet", 4, 11)]


def planners(
    measure: bool = typer.Option(False, "--measure", help="Also time each planner (wall s, peak MiB) as "
                                 "layers, users and servers grow (swarm planners at --iterations)."),
    iterations: int = typer.Option(20, "--iterations", min=1, help="PSO-GA / GA / prePSO iterations when "
                                   "measuring."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON to stdout."),
) -> None:
    """List the planners of edgeroam.emulator.planning, classified as S2 (deployment, granularity,
    constraints, objectives, algorithm; performances optimised, self-adaptive, general, scalable)."""
    from rich.progress import Progress

    from edgeroam.emulator.planning.taxonomy import PLANNERS
    from edgeroam.emulator.planning.taxonomy import measure as measure_one

    rows = {name: c.as_dict() for name, c in PLANNERS.items()}
    if measure:
        with Progress(transient=True) as bar:
            task = bar.add_task("measuring", total=len(PLANNERS) * len(SIZES))
            for name in PLANNERS:
                rows[name]["measured"] = []
                for label, model, users, servers in SIZES:
                    m = measure_one(name, model=model, users=users, servers=servers, iterations=iterations)
                    rows[name]["measured"].append({"size": label, **m})
                    bar.advance(task)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title="planners (S2 classification)")
    for col in ("planner", "paper", "deployment", "granularity", "constraints", "objectives", "algorithm",
                "perf / adaptive / general / scalable"):
        t.add_column(col)
    if measure:
        for label, *_ in SIZES:
            t.add_column(f"{label}: s / MiB", justify="right")
    for name, r in rows.items():
        flags = " / ".join(["Y" if r[k] else "N" for k in ("adaptive", "general", "scalable")])
        cells = [name, str(r["paper"]), str(r["deployment"]), str(r["granularity"]), str(r["constraints"]),
                 str(r["objectives"]), str(r["algorithm"]), f"{r['performances']} / {flags}"]
        if measure:
            cells += [f"{m['seconds']:.3f} / {m['peak_mib']:.1f}" for m in r["measured"]]
        t.add_row(*cells)
    Console().print(t)


def register(app: typer.Typer) -> None:
    """Mount `planners` on the top-level app."""
    app.command("planners")(planners)
