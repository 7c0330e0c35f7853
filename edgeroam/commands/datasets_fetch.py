"""`edgeroam datasets fetch geolife|kaist`: download Geolife, or explain how to get the KAIST traces.

A thin shell over `edgeroam.datasets.fetch`; `register(app)` adds the command to the `datasets` typer app.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

__all__ = ["FetchKind", "fetch", "register"]


class FetchKind(StrEnum):
    """Datasets `fetch` knows."""

    geolife = "geolife"
    kaist = "kaist"


def fetch(
    kind: FetchKind = typer.Argument(..., help="geolife: download the official zip; kaist: how to get it."),
    dest: Path = typer.Option(
        Path("data"), "--dest", help="Folder to put the dataset in (created if missing).", show_default=True
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="Download from this https/http/file URL instead of Microsoft's (needs --sha256; geolife only).",
    ),
    sha256: str | None = typer.Option(
        None,
        "--sha256",
        help="Expected SHA-256 of the zip (required with --url); a mismatch removes the download.",
    ),
    max_mb: int = typer.Option(2048, "--max-mb", min=1, help="Largest download accepted, in MiB."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a download progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON to stdout."),
) -> None:
    """Download the Geolife zip (with a checksum check), or print how to get the KAIST traces."""
    from rich.console import Console
    from rich.markup import escape

    from edgeroam.datasets.fetch import OFFICIAL_URL, fetch_geolife, kaist_instructions, sha256_of

    out = Console()
    if kind is FetchKind.kaist:
        text = kaist_instructions(dest)
        if as_json:
            typer.echo(json.dumps({"kind": "kaist", "downloaded": False, "instructions": text}, indent=2))
        else:
            out.print(escape(text))
        return
    path = fetch_geolife(
        dest,
        url=url or OFFICIAL_URL,
        sha256=sha256,
        progress=progress and not as_json,
        max_bytes=max_mb << 20,
    )
    digest = sha256_of(path)
    info = {"kind": "geolife", "path": str(path), "bytes": path.stat().st_size, "sha256": digest}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    out.print(f"[green]Geolife zip ready:[/] {escape(str(path))} ({info['bytes']:,} bytes)")
    out.print(f"sha256 {digest}")
    out.print(f"Use it: edgeroam datasets info geolife --root {escape(str(path))}")


def register(app: typer.Typer) -> None:
    """Add the `fetch` command to the `datasets` typer app."""
    app.command("fetch")(fetch)
