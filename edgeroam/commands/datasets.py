"""`edgeroam datasets …`: summarise a dataset (info) and, from `datasets_fetch`, download one (fetch).

A thin shell: parse, call `edgeroam.datasets.describe_dataset` / `plot_traces`, render with rich.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from edgeroam.commands import datasets_fetch

if TYPE_CHECKING:  # rich is imported where something is drawn: `info --json` in a pipe draws nothing
    from rich.console import Console

__all__ = ["app", "render_info", "speed_note"]

app = typer.Typer(
    help="Mobility traces: summarise (info) and download (fetch) datasets.", no_args_is_help=True
)
datasets_fetch.register(app)


class Kind(StrEnum):
    """Datasets `info` knows."""

    geolife = "geolife"
    kaist = "kaist"
    synthetic = "synthetic"
    table = "table"
    gpx = "gpx"
    sumo = "sumo"


def _f(v: Any, fmt: str = ".3f", unit: str = "") -> str:
    return "—" if v is None else f"{v:{fmt}}{unit}"


def speed_note(info: dict) -> str:
    """One line comparing our mean speed with PerDNN's (the numbers behind it are all in `info`)."""
    ref = info.get("perdnn_mean_speed_mps")
    sr = info.get("speed_in_region") or info["speed"]
    where = "in region" if info.get("speed_in_region") else "overall"
    parts = [
        f"ours {where}: {_f(sr['mean_speed_mps'], '.2f')} m/s time-weighted, "
        f"{_f(sr['user_mean_speed_mps'], '.2f')} m/s mean of per-user means, "
        f"{_f(sr['moving_speed_mps'], '.2f')} m/s while moving "
        f"({_f(sr['stationary_share'], '.0%')} of the time still)"
    ]
    rs = info.get("speed_resampled_in_region")
    if rs:
        parts.append(f"{_f(rs['mean_speed_mps'], '.2f')} m/s after resampling at {rs['interval_s']:g} s")
    if ref is None:
        return "; ".join(parts) + "."
    return f"PerDNN reports ~{ref:g} m/s (method not stated); " + "; ".join(parts) + "."


def _span(info: dict) -> str:
    s = info["span_s"]
    dur = f"{s / 86400:.1f} days" if s >= 86400 else f"{s / 3600:.2f} h"
    if info.get("time_is_absolute"):
        return f"{info['t_start']} → {info['t_end']} UTC ({dur})"
    return f"{info['t_start']:g} → {info['t_end']:g} s, relative ({dur})"


def render_info(info: dict, console: Console) -> None:
    """Print `describe_dataset`'s dict as a rich table plus the speed definition and the note."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"dataset {info.get('dataset') or info.get('kind')}", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row("source", escape(str(info.get("source", ""))))
    table.add_row("users", f"{info['users']:,}")
    table.add_row("trajectories", f"{info['trajectories']:,}")
    table.add_row("points", f"{info['points']:,}")
    reg = info.get("region")
    if reg:
        b = reg["bounds"]
        size = f" ({reg['width_m']:g} m × {reg['height_m']:g} m)" if "width_m" in reg else ""
        table.add_row(
            "region",
            escape(f"{reg['name']} [{reg['frame']}]") + f" {b[0]:g}…{b[2]:g} × {b[1]:g}…{b[3]:g}{size}",
        )
        if reg.get("note"):
            table.add_row("region rule", escape(reg["note"]))
        share = info["points_in_region"] / info["points"] if info["points"] else 0.0
        table.add_row(
            "points in region", f"{info['points_in_region']:,} ({share:.1%}), {info['users_in_region']} users"
        )
    table.add_row("time span", _span(info) if info["points"] else "—")
    table.add_row("median sampling interval", _f(info["median_interval_s"], "g", " s"))
    table.add_row("mean speed (all)", _f(info["mean_speed_mps"], ".3f", " m/s"))
    if reg:
        table.add_row("mean speed (in region)", _f(info["mean_speed_region_mps"], ".3f", " m/s"))
        sr = info["speed_in_region"]
        table.add_row("  mean of per-user means", _f(sr["user_mean_speed_mps"], ".3f", " m/s"))
        table.add_row(
            "  while moving / still share",
            f"{_f(sr['moving_speed_mps'])} m/s / {_f(sr['stationary_share'], '.1%')}",
        )
        rs = info.get("speed_resampled_in_region")
        if rs:
            table.add_row(f"  resampled at {rs['interval_s']:g} s", _f(rs["mean_speed_mps"], ".3f", " m/s"))
    if info.get("perdnn_mean_speed_mps") is not None:
        table.add_row("PerDNN mean speed", f"~{info['perdnn_mean_speed_mps']:g} m/s (§IV.B.3)")
    console.print(table)
    console.print(f"[dim]mean speed = {escape(info['speed_definition'])}[/]", soft_wrap=True)
    console.print(f"note: {escape(info.get('note') or speed_note(info))}", soft_wrap=True, highlight=False)


def _progress_shows() -> bool:
    """Whether a transient progress bar on stderr can show anything. rich draws one on a terminal (or where
    ``TTY_COMPATIBLE``, ``FORCE_COLOR`` or Jupyter say so) and prints nothing of a transient one elsewhere;
    there no bar is made, and rich is not imported (~20 ms of a cold ``datasets info`` in a pipe, and its
    refresh thread's renders). In doubt, a bar."""
    if "ipykernel" in sys.modules or any(k in os.environ for k in ("TTY_COMPATIBLE", "FORCE_COLOR")):
        return True
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return True


def _lean_numpy() -> None:
    """Before numpy's first import (a user's own setting wins): no BLAS thread pool. OpenBLAS's threads
    spin on the other core for a while after they start, taking it from the reader's workers, and this
    command does no linear algebra: a cold Geolife ``datasets info`` ~0.2 s of CPU and ~0.07 s of wall
    less on 2 cores (6 alternating pairs)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@app.command("info")
def info(
    kind: Kind = typer.Argument(
        ..., help="Dataset: geolife, kaist or synthetic; or your own: table (CSV/Parquet/GeoParquet), gpx, "
        "sumo (FCD output, or a .sumocfg to run)."
    ),
    root: Path | None = typer.Option(
        None,
        "--root",
        help="Folder (or Geolife zip) with the data; default $EDGEROAM_DATA or ../shared/traces. "
        "Required for table, gpx and sumo: their file or folder.",
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="table: role=column pairs, e.g. 'user=taxi_id,t=time,lat=lat,lon=lon' "
        "(roles user, t, lat, lon, x, y, traj, mode); default user, t, lat, lon."
    ),
    crs: str | None = typer.Option(
        None, "--crs", help="table: the CRS of the x/y columns (e.g. EPSG:32650)."
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="table, gpx: IANA time zone of times without an offset (default UTC)."
    ),
    max_gap: float | None = typer.Option(
        None, "--max-gap", help="table without a traj column: a gap longer than this (s) starts a trajectory."
    ),
    per_track: bool = typer.Option(False, "--per-track", help="gpx: one user per track, not per file."),
    coords: str | None = typer.Option(
        None, "--coords", help="sumo: auto (default), xy (network metres) or lonlat (--fcd-output.geo)."
    ),
    region: str | None = typer.Option(
        None,
        "--region",
        help="Region preset (perdnn-geolife, perdnn-kaist, synthetic), 'lonlat:minlon,minlat,maxlon,maxlat' "
        "or 'metric:minx,miny,maxx,maxy'; default: the dataset's PerDNN region.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print machine-readable JSON to stdout instead of a table."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write a map of the trajectories to this file."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Read the source files, bypassing the Parquet cache."
    ),
    lenient: bool = typer.Option(False, "--lenient", help="Skip malformed lines (and report how many)."),
) -> None:
    """Users, trajectories, points, points in the region, time span, sampling interval and mean speeds."""
    _lean_numpy()
    from edgeroam.datasets.load import describe_dataset

    given = {"columns": columns, "crs": crs, "timezone": timezone, "max_gap_s": max_gap,
             "user_per": "track" if per_track else None, "coords": coords}
    reader = {k: v for k, v in given.items() if v is not None}

    enabled = gc.isenabled()
    gc.disable()  # the imports and the read make few cycles but many objects: no collection walks them
    try:
        with contextlib.ExitStack() as stack:
            step = None
            if _progress_shows():
                from edgeroam._progress import progress_bar

                bar = stack.enter_context(progress_bar(transient=True))
                task = bar.add_task(f"reading {kind.value}", total=4)

                def step(name: str, done: int, total: int) -> None:
                    bar.update(task, description=name, completed=done, total=total)

            summary, traces, reg = describe_dataset(
                kind.value, root, region=region or "default", cache=not no_cache, lenient=lenient,
                progress=step, reader=reader, traces_needed=plot is not None,
            )
    finally:
        # what they made goes to the oldest generation unwalked (the first collection after re-enabling
        # would walk every object made meanwhile: 30 ms after a cold Geolife read); a later full one sees it
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
    if summary["read"]["bad_lines_skipped"]:
        summary["bad_lines_skipped"] = summary["read"]["bad_lines_skipped"]
    if plot is not None:
        from edgeroam.datasets.plot import plot_traces

        summary["plot"] = str(plot_traces(traces, plot, reg))
    summary["note"] = speed_note(summary)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    from rich.console import Console
    from rich.markup import escape

    out = Console()
    render_info(summary, out)
    if summary.get("bad_lines_skipped"):
        out.print(f"[yellow]lenient: skipped {summary['bad_lines_skipped']:,} bad lines[/]")
    read = summary["read"]
    for f in read["skipped_files"]:
        out.print(f"[yellow]lenient: skipped file {escape(f['file'])} ({escape(f['reason'])})[/]",
                  soft_wrap=True)
    if read["times_backwards"]:
        out.print(f"[yellow]re-sorted {read['files_resorted']:,} file(s) where time goes backwards "
                  f"({read['times_backwards']:,} times); --json lists them[/]")
    if plot is not None:
        out.print(f"map written to {summary['plot']}")
