"""`edgeroam map RUN_DIR`: backhaul traffic of one run on the hex grid as GeoPackage, PNG and folium HTML."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the top-level `map` command to `app`."""

    @app.command("map")
    def traffic_map(
        run_dir: Path = typer.Argument(..., help="A run directory (edgeroam run, sweep or reproduce)."),
        out: Path = typer.Option(
            None, "--out", help="Folder for traffic.gpkg, traffic.png and traffic.html "
            "(default: <run's parent>/maps/<run name>)."),
        root: Path = typer.Option(None, "--root", help="Folder (or Geolife zip) with the run's traces (the "
                                  "topology is rebuilt from them; default: the run's dataset.root)."),
        as_json: bool = typer.Option(False, "--json", help="Print the paths and layer sizes as JSON."),
    ) -> None:
        """Per-cell and per-link backhaul traffic of a run: a GeoPackage (layers cells and links, in the run's
        CRS), a PNG and an interactive HTML map (folium; the cells and links are switchable layers)."""
        from edgeroam.report.maps import export_traffic_maps

        dest = out if out is not None else run_dir.parent / "maps" / run_dir.resolve().name
        info = export_traffic_maps(run_dir, dest, root=root)
        if as_json:
            typer.echo(json.dumps(info, indent=2))
            return
        con = Console()
        con.print(f"{info['run']}: {info['cells_with_traffic']} of {info['cells']} cells and "
                  f"{info['links_with_traffic']} links carried {info['backhaul_bytes'] / 1e9:.2f} GB "
                  f"(link-bytes); busiest link peak {info['peak_link_mbps']:.1f} Mbit/s "
                  f"({100 * info['peak_link_share']:.0f} % of its capacity)", highlight=False)
        for note in info["notes"]:
            con.print(f"note: {note}", highlight=False)
        for key in ("gpkg", "png", "html"):
            con.print(f"{key:5s} {info[key]}", highlight=False)
