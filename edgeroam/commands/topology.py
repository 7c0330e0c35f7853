"""`edgeroam topology …`: build a scenario's cells, servers and backhaul; print them; write map and layers.

A thin shell over `edgeroam.world.build_report`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeroam.commands._options import ROOT_HELP, SCENARIO_HELP, root_override

__all__ = ["app", "render_summary"]

app = typer.Typer(help="Hex cells, edge servers and backhaul of a scenario.", no_args_is_help=True)

_SET_HELP = (
    "Override a scenario value, e.g. --set topology.radius_m=100 (repeatable; value is a TOML scalar)."
)
_ROOT = typer.Option(None, "--root", help=ROOT_HELP)


@contextmanager
def _bar() -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress bar on stderr; yields the `progress` callback of `build_report` that drives it."""
    from edgeroam._progress import progress_bar

    with progress_bar(transient=True) as bar:
        task = bar.add_task("topology", total=None)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=name, completed=done, total=total)

        yield step


def _f(v: Any, fmt: str = ".1f") -> str:
    return "—" if v is None or (isinstance(v, float) and v != v) else f"{v:{fmt}}"


def render_summary(s: dict, console: Console) -> None:
    """Print `topology_summary`'s dict as rich tables."""
    t = Table(title=f"topology of {s['scenario']} ({s['dataset']})", show_header=False)
    t.add_column("item", style="bold")
    t.add_column("value")
    g = s["grid"]
    t.add_row("grid", f"hex R = {g['radius_m']:g} m, {g['orientation']}, origin {g['origin']}")
    t.add_row("region", str(s["region"]))
    t.add_row("interval", f"{_f(s['interval_s'], 'g')} s")
    u = s["users"]
    t.add_row("users", f"{u['all']} ({u['train']} train, {u['test']} test)")
    c = s["cells"]
    cells = f"{c['visited_all_users']:,} visited by all users, {c['visited_test_users']:,} by test users"
    if "visited_raw_in_region" in c:
        cells += f", {c['visited_raw_in_region']:,} by the raw (not resampled) points"
    t.add_row("cells", cells)
    sv = s["servers"]
    t.add_row(
        "edge servers",
        f"[bold]{sv['edge']:,}[/] (rule: {sv['rule']}, users: {sv['of']})"
        + (f", {sv['cloud']} cloud" if sv["cloud"] else ""),
    )
    if "perdnn" in s:
        p = s["perdnn"]
        lo, hi = p["servers_implied"]
        verdict = "[green]within[/]" if p["within"] else "[yellow]outside[/]"
        t.add_row(
            "PerDNN implied",
            f"{lo:,}–{hi:,} servers: ours {sv['edge']:,} is {verdict}, "
            f"{p['ratio_to_mid']:.2f}× the middle",
        )
    b = s["backhaul"]
    nodes = ", ".join(f"{v} {k}" for k, v in b["nodes"].items())
    t.add_row(
        "backhaul",
        f"{b['shape']}: {nodes}; {b['links']:,} links "
        f"({', '.join(f'{v} {k}' for k, v in b['links_by_class'].items())})",
    )
    if b["shape"] == "mesh":
        t.add_row(
            "bridging",
            f"{b['components_before_bridging']} components joined by {b['bridges']} relay "
            f"chains ({b['relays']} relay cells); connected: {b['connected']}",
        )
    a = b["access"]
    t.add_row("Wi-Fi access", f"{a['down_bps'] / 1e6:g} Mbps down / {a['up_bps'] / 1e6:g} Mbps up")
    console.print(t)
    pt = Table(title="shortest paths between edge servers")
    for col in ("metric", "pairs", "mean", "median", "p95", "max"):
        pt.add_column(col, justify="right" if col != "metric" else "left")
    for name, key, scale, fmt in (("hops", "hops", 1.0, ".1f"), ("delay (ms)", "delay_s", 1e3, ".2f")):
        st = s["paths"][key]
        pairs = f"{st['pairs']:,}" + (f" ({st['sources']} sampled sources)" if st.get("sources") else "")
        pt.add_row(
            name,
            pairs,
            *(
                _f(st[k] * scale if st[k] is not None else None, fmt)
                for k in ("mean", "median", "p95", "max")
            ),
        )
    console.print(pt)
    files = s.get("files") or {}
    if "layers" in files:
        lay = files["layers"]
        console.print(f"layers ({lay['format']}): {escape(', '.join(lay['paths']))}")
        for note in lay["notes"]:
            console.print(f"[yellow]note:[/] {escape(note)}")
    if "map" in files:
        console.print(f"map: {escape(files['map'])}")


@app.command()
def build(
    scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the map figure (PNG) here."),
    out: Path | None = typer.Option(None, "--out", help="Output folder \\[default: runs/topology-<name>/]."),
    set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    root: Path | None = _ROOT,
    no_export: bool = typer.Option(False, "--no-export", help="Do not write the GeoPackage nor the map."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Re-read the traces instead of the Parquet cache."
    ),
) -> None:
    """Build the hex grid, edge servers and backhaul of SCENARIO; print counts and path statistics."""
    from edgeroam.scenario import load_scenario
    from edgeroam.world import build_report

    sc = load_scenario(scenario, root_override(root) + list(set_))
    with _bar() as step:
        _, summary = build_report(
            sc,
            out_dir=out,
            plot=plot,
            export=not no_export,
            figure=not no_export or plot is not None,
            cache=not no_cache,
            progress=step,
        )
    if json_out:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        render_summary(summary, Console())


@app.command()
def show(
    scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
    out: Path | None = typer.Option(None, "--out",
                                    help="PNG path \\[default: runs/topology-<name>/map.png]."),
    set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    root: Path | None = _ROOT,
) -> None:
    """Draw the map of SCENARIO: trajectories of the test users over the hex cells, servers marked."""
    from edgeroam.scenario import load_scenario
    from edgeroam.world import build_report, default_out_dir

    sc = load_scenario(scenario, root_override(root) + list(set_))
    target = out or default_out_dir(sc) / "map.png"
    with _bar() as step:
        _, summary = build_report(sc, plot=target, export=False, compare_raw=False, progress=step)
    Console().print(f"map: {escape(summary['files']['map'])} ({summary['servers']['edge']:,} edge servers)")
