"""The world of a scenario: its traces (region, resampling), the user split and the topology.

`load_world(scenario)` composes edgeroam.datasets (load, region, resample, split), edgeroam.mobility (time
alignment) and edgeroam.topology (grid, servers, backhaul) into a `World`, what every later stage (predictors,
the emulator, reports) starts from. `build_report` is the one call behind ``edgeroam topology build``: load
the world, summarise it, write the map and the layers (rendering is the CLI's job).

What it leaves to others: reading traces (datasets), cells, servers and links (topology).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.errors import DatasetError
from edgeroam.scenario import Scenario
from edgeroam.topology.build import Topology, build_topology, topology_summary
from edgeroam.topology.export import export_topology, plot_topology

__all__ = ["World", "build_report", "default_out_dir", "load_world", "raw_visited_cells"]


@dataclass(frozen=True)
class World:
    """A scenario with its (resampled, in-region) traces, user split and topology."""

    scenario: Scenario
    traces: pd.DataFrame
    train_users: list[str]
    test_users: list[str]
    topology: Topology
    region: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def test_traces(self) -> pd.DataFrame:
        """Rows of the test users (the ones the replay clock steps over)."""
        return self.traces[self.traces["user"].astype(str).isin(self.test_users)]



def load_world(scenario: Scenario, *, cache: bool = True) -> World:
    """Load a scenario's traces (region, resampling), split the users and build its topology.

    With ``dataset.time_align`` other than ``"absolute"`` the traces are then aligned
    (edgeroam.mobility.align): the users are split first, by real user, and the split lists become the
    aligned client ids; ``world.extra["real_user"]`` maps each client to its real user.
    """
    from edgeroam.datasets.load import load_dataset, resolve_region
    from edgeroam.datasets.split import split_users

    d = scenario.dataset
    synthetic = d.synthetic.model_dump() if d.kind == "synthetic" else None
    if synthetic is not None:
        synthetic["area_m"] = tuple(synthetic["area_m"])
    traces = load_dataset(
        d.kind,
        d.root,
        region=d.region,
        interval_s=d.interval_s,
        max_gap_s=d.max_gap_s,
        cache=cache,
        synthetic=synthetic,
        reader=d.reader_options(),
    )
    if len(traces) == 0:
        raise DatasetError(f"{scenario.name}: no trace points left after the region and resampling")
    users = sorted(traces["user"].astype(str).unique())
    if d.split.test_users is None:
        train, test = [], users
    else:
        train, test = split_users(users, test_users=d.split.test_users, seed=d.split.seed)
    region = resolve_region(d.kind, d.region, traces) if d.region else None
    extra: dict[str, Any] = {}
    if d.time_align != "absolute":
        # split by the real user above, then rename to the aligned clients (no real user in both sets)
        from edgeroam.mobility.align import align_traces, clients_of

        traces, owner = align_traces(traces, d.time_align, day_start_s=d.day_start_h * 3600.0)
        train, test = clients_of(owner, train), clients_of(owner, test)
        extra["real_user"] = owner
    if scenario.run.window is not None:  # the slice a net run emulates (edgeroam.mobility.slicing)
        from edgeroam.mobility.slicing import apply_window
        from edgeroam.topology.build import scenario_grid

        grid = scenario_grid(scenario)
        traces, test, extra["window"] = apply_window(traces, test, scenario.run.window, grid)
    topo = build_topology(scenario, traces, test_users=test, region=region, cache=cache)
    return World(scenario, traces, train, test, topo, region, extra)


def default_out_dir(scenario: Scenario) -> Path:
    """``runs/topology-<name>/`` under the scenario's run.out folder."""
    return Path(scenario.run.out) / f"topology-{scenario.name}"


def raw_visited_cells(world: World, *, cache: bool = True) -> int | None:
    """Cells visited by the raw (not resampled) in-region points; None for synthetic data or no resampling."""
    from edgeroam.datasets.load import load_dataset

    d = world.scenario.dataset
    if d.kind == "synthetic" or d.interval_s is None:
        return None
    raw = load_dataset(d.kind, d.root, region=d.region, cache=cache, reader=d.reader_options())
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
                f"{summary['servers']['edge']:,} edge servers, R = {world.topology.grid.radius:g} m",
            )
        )
    summary["files"] = files
    say("done", 5, 5)
    return world, summary
