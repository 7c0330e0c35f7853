"""`edgeroam clean`: remove what a killed net run left, only by edgeroam's prefix and recorded PIDs."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the top-level `clean` command to `app`."""

    @app.command("clean")
    def clean_cmd(
        prefix: str = typer.Option("er", "--prefix", help="Name prefix of the run(s) to clean (er, er<xy>)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
        force: bool = typer.Option(False, "--force", help="Also clean a prefix whose run is still alive."),
    ) -> None:
        """Remove leftover host namespaces (their shells), processes, interfaces, bridges and OVS bridges of
        edgeroam's net runs. Never Mininet's global cleanup: nothing is matched by a broad name."""
        from edgeroam.emulator.net.build import NetParams
        from edgeroam.emulator.net.clean import clean, leftovers

        NetParams(prefix=prefix)  # validates the prefix (TopologyError, one red line)
        con = Console()
        left = leftovers(prefix) if dry_run else clean(prefix, force=force)
        if left.live and not force:
            con.print(f"[yellow]run(s) {left.live} with prefix {prefix!r} still alive: left alone "
                      "(--force to clean anyway)[/]")
        verb = "would remove" if dry_run or (left.live and not force) else "removed"
        con.print(f"{verb}: {len(left.processes)} processes, {len(left.interfaces)} interfaces, "
                  f"{len(left.ovs_bridges)} OVS bridges, {len(left.records)} run records", highlight=False)
        for pid, what in left.processes:
            con.print(f"  process {pid}: {what}", highlight=False)
        for name in left.interfaces + left.ovs_bridges:
            con.print(f"  interface {name}", highlight=False)
