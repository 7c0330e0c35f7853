"""`edgeroam dnn plan`: partition a zoo model between two device presets, order its upload, run queries."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

_MODEL_HELP = "Zoo model (mobilenet_v1, inception_21k, resnet50, ...; aliases mobilenet, inception, resnet)."


def plan(
    model: str = typer.Argument(..., help=_MODEL_HELP),
    client: str = typer.Option("odroid-xu4", "--client", help="Device preset of the client."),
    server: str = typer.Option("titan-xp", "--server", help="Device preset of the edge server."),
    up: float = typer.Option(35.0, "--up", help="Client->server bandwidth, Mbit/s."),
    down: float = typer.Option(50.0, "--down", help="Server->client bandwidth, Mbit/s."),
    order: str = typer.Option(
        "efficiency", "--order", help="Upload order: efficiency, ionn, recursive, direct."
    ),
    budget_mb: float | None = typer.Option(
        None,
        "--budget-mb",
        help="Hold the highest-efficiency prefix within this many MB (10^6 B) at the start.",
    ),
    gap: float = typer.Option(0.5, "--gap", help="Seconds between a query's end and the next query."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON to stdout."),
) -> None:
    """Where each layer of MODEL runs, the upload order of its server-side layers, and queries meanwhile."""
    from edgeroam.emulator.planning.summary import plan_summary

    d = plan_summary(model, client, server, up, down, order, budget_mb, gap)
    if as_json:
        typer.echo(json.dumps(d, indent=2, default=float))
        return
    con = Console()
    p = d["plan"]
    t = Table(title=f"{d['model']}: {d['client']} -> {d['server']}, up {up:g} / down {down:g} Mbit/s")
    t.add_column("plan")
    t.add_column("value", justify="right")
    t.add_row("solver", p["method"])
    t.add_row("layers on server / client", f"{p['server_layers']} / {p['client_layers']}")
    t.add_row("server-side weights (MB)", f"{p['server_mb']:.1f} of {d['model_mb']:.1f}")
    t.add_row("latency (s)", f"{p['latency_s']:.4f}")
    t.add_row(
        "  client / server / transfer (s)",
        f"{p['client_s']:.4f} / {p['server_s']:.4f} / {p['transfer_s']:.4f}",
    )
    t.add_row("client only (s)", f"{p['client_only_s']:.4f}")
    t.add_row(
        "client-side layers", ", ".join(p["client_side"][:8]) + (" ..." if len(p["client_side"]) > 8 else "")
    )
    t.add_row("load + plan / order (ms)", f"{p['plan_ms']:.1f} / {d['order']['order_ms']:.1f}")
    con.print(t)
    o = d["order"]
    t = Table(title=f"upload order: {o['method']} ({o['groups']} groups)")
    for col in ("group", "layers", "n", "MB", "cum. MB", "eff. (ms/MB)", "latency after (s)"):
        t.add_column(col, justify="right")
    for r in o["table"]:
        t.add_row(
            str(r["group"]),
            r["layers"],
            str(r["n_layers"]),
            f"{r['mb']:.2f}",
            f"{r['cumulative_mb']:.2f}",
            f"{r['efficiency_ms_per_mb']:.2f}",
            f"{r['latency_after_s']:.4f}",
        )
    con.print(t)
    tl = d["timeline"]
    held = "" if o["held_at_start_mb"] is None else f", {o['held_at_start_mb']:.1f} MB held at start"
    con.print(
        f"queries (gap {gap:g} s{held}): upload {tl['upload_s']:.2f} s, "
        f"{tl['executed_during_upload']} executed during it; first query {tl['first_latency_s']:.3f} s, then "
        + ", ".join(f"{r['latency_s']:.3f}" for r in tl["rows"][1:12])
        + (" ..." if len(tl["rows"]) > 12 else "")
    )


def register(app: typer.Typer) -> None:
    """Add the `plan` command to the `dnn` app."""
    app.command("plan")(plan)
