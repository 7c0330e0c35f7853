"""Benchmark of edgeroam.topology and edgeroam.mobility: point -> cell and the whole replay of both datasets.

Targets (issue 3): assigning 10 million points to cells in under 2 s; replaying all KAIST test users in under
5 s. Prints one table, ours beside the target, measured in this run.
Run: ``.venv/bin/python benchmarks/topology.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeroam.mobility.replay import Replay  # noqa: E402
from edgeroam.scenario import load_scenario  # noqa: E402
from edgeroam.topology.hexgrid import HexGrid  # noqa: E402
from edgeroam.world import load_world  # noqa: E402


def _best(fn, *args, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def _replay(world) -> tuple[float, float, int, int, int]:
    """Seconds to build the replay, seconds to iterate every tick, ticks, user-ticks, handovers."""
    t0 = time.perf_counter()
    rep = Replay(
        world.test_traces,
        world.topology.grid,
        world.topology.servers,
        interval_s=world.scenario.dataset.interval_s,
        history=world.scenario.predictor.history,
    )
    t1 = time.perf_counter()
    ticks = users = handovers = 0
    for tick in rep:
        ticks += 1
        users += len(tick)
        handovers += int(tick.handover.sum())
    return t1 - t0, time.perf_counter() - t1, ticks, users, handovers


def main() -> int:
    console = Console()
    table = Table(title="edgeroam topology / mobility benchmark")
    for col in ("measure", "size", "ours", "target"):
        table.add_column(col, justify="left" if col in ("measure", "size") else "right")
    grid = HexGrid(50.0)
    rng = np.random.default_rng(0)
    n = 10_000_000
    x = rng.uniform(-4000, 4000, n)
    y = rng.uniform(-3000, 3000, n)
    t = _best(grid.cell_of, x, y)
    table.add_row("point -> cell (random)", f"{n:,} points", f"{t:.2f} s ({n / t / 1e6:.1f} M/s)", "< 2 s")
    t = _best(grid.cells_within, x[:1_000_000], y[:1_000_000], 100.0, repeat=1)
    table.add_row("cells within 100 m", "1,000,000 points", f"{t:.2f} s", "—")

    from edgeroam.datasets.load import load_dataset

    geo = load_dataset("geolife", region="perdnn-geolife")
    gx, gy = geo["x"].to_numpy(), geo["y"].to_numpy()
    t = _best(grid.cell_of, gx, gy)
    cells = len(np.unique(grid.cell_ids_of(gx, gy)))
    size = f"{len(gx):,} points, {cells:,} cells"
    table.add_row("point -> cell (Geolife in box)", size, f"{t * 1e3:.0f} ms", "—")
    for name, target in (("perdnn-kaist", "< 5 s"), ("perdnn-geolife", "—")):
        world = load_world(load_scenario(REPO / "scenarios" / f"{name}.toml"))
        build, run, ticks, users, handovers = _replay(world)
        table.add_row(
            f"replay {name} test users",
            f"{len(world.test_users)} users, {ticks:,} ticks, {users:,} user-ticks, {handovers:,} handovers",
            f"{build + run:.2f} s ({ticks / run:,.0f} ticks/s; build {build:.2f} s)",
            target,
        )
    console.print(table)
    console.print(
        "ticks are non-empty replay steps (t = 30 s KAIST, 20 s Geolife); each yields positions, "
        "cells, servers, handovers and the last 5 positions of every active user."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
