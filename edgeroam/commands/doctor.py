"""`edgeroam doctor [--json]`: what this machine can emulate, probed for real (edgeroam.emulator.net.doctor).
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the top-level `doctor` command to `app`."""

    @app.command("doctor")
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print the probes as JSON."),
        ovs: bool = typer.Option(
            True, "--ovs/--no-ovs", help="Probe Open vSwitch (starts its daemons for a moment if down)."),
    ) -> None:
        """Probe namespaces, veth, bridges, htb, netem, OVS, os-ken, mnexec and torch; say what the net
        backend will and won't emulate here. Exit status 1 when no network can be built."""
        from edgeroam.emulator.net.doctor import diagnose

        report = diagnose(ovs=ovs)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            con = Console()
            t = Table(title="edgeroam doctor: what this machine can emulate")
            for col in ("feature", "usable", "seen", "for the net backend"):
                t.add_column(col, overflow="fold")
            for f in report.features:
                t.add_row(f.name, "[green]yes[/]" if f.ok else "[red]no[/]", f.detail, f.consequence)
            con.print(t)
            con.print("[bold]emulated:[/]")
            for line in report.emulated:
                con.print(f"  + {line}", highlight=False)
            con.print("[bold]not emulated:[/]")
            for line in report.not_emulated:
                con.print(f"  - {line}", highlight=False)
        if not report.ok("veth") or not report.ok("netns"):
            raise typer.Exit(1)
