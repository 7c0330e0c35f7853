"""One call behind ``edgeroam topology build``: load the world, summarise it, write the map and the layers.

Composes build.py (world and summary) and export.py (GeoPackage/GeoJSON, figure); rendering is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeroam.scenario import Scenario
from edgeroam.topology.build import World, load_world, topology_summary
from edgeroam.topology.export import export_topology, plot_topology

__all__ = ["build_report", "default_out_dir", "raw_visited_cells"]


def default_out_dir(scenario: Scenario) -> Path:
    """``runs/topology-<name>/`` under the scenario's run.out folder."""
    return Path(scenario.run.out) / f"topology-{scenario.name}"


def raw_visited_cells(world: World, *, cache: bool = True) -> int | None:
    """Cells visited by the raw (not resampled) in-region points; None for synthetic data or no resampling."""
    from edgeroam.datasets.load import load_dataset

    d = world.scenario.dataset
    if d.kind == "synthetic" or d.interval_s is None:
        return None
    raw = load_dataset(d.kind, d.root, region=d.region, cache=cache)
    x, y = raw["x"].to_numpy(), raw["y"].to_numpy()
    ok = np.isfinite(x) & np.isfinite(y)
    return int(len(np.unique(world.topology.grid.cell_ids_of(x[ok], y[ok]))))


def build_report(
    scenario: Scenario,
    *,
    out_dir: str | Path | None = None,
    plot: str | Path | None = None,
    export: bool = True,
    figure: bool = True,
    cache: bool = True,
    compare_raw: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[World, dict[str, Any]]:
    """Build a scenario's topology, summarise it and write its files.

    Writes ``<out_dir>/topology.gpkg`` (or GeoJSON) when `export`, and the map to `plot` (default
    ``<out_dir>/map.png``) when `figure`. Returns the world and the summary dict with a ``files`` entry.
    `progress(step, done, total)` is called before each of the five steps and once at the end.
    """
    say = progress or (lambda _step, _done, _total: None)
    say("loading traces, building cells, servers and backhaul", 0, 5)
    world = load_world(scenario, cache=cache)
    say("cells of the raw points", 1, 5)
    raw = raw_visited_cells(world, cache=cache) if compare_raw else None
    say("path statistics", 2, 5)
    summary = topology_summary(world, raw_cells=raw)
    out = Path(out_dir) if out_dir is not None else default_out_dir(scenario)
    files: dict[str, Any] = {}
    say("layers", 3, 5)
    if export:
        files["layers"] = export_topology(world.topology, out)
    say("map", 4, 5)
    if figure or plot is not None:
        target = Path(plot) if plot is not None else out / "map.png"
        files["map"] = str(
            plot_topology(
                world.topology,
                target,
                traces=world.test_traces,
                title=f"{scenario.name}: "
                f"{summary['servers']['edge']} edge servers, R = {world.topology.grid.radius:g} m",
            )
        )
    summary["files"] = files
    say("done", 5, 5)
    return world, summary
