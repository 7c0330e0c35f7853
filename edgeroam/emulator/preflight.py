"""Checks made before a run starts: ``policy.radius_m`` against the region, and the memory the run needs
against the memory the machine has.

Why: the cost of a run grows with r². Every replay step looks at the hex disk of cells within r of its
predicted and its true next position (``HexGrid.cells_within``: about 3k² cells, k = (r + R) / 1.5R, each
candidate held in ~10 temporary 8-byte arrays), and keeps the edge servers among them. Without a bound,
``--set policy.radius_m=1e9`` asked for petabytes and the machine killed the run after minutes, with no
message. Two checks, both cheap (no disk is built):

1. r must not exceed the diagonal of the box holding every edge server and every test point: beyond it every
   server is within r of every point, so a larger r changes nothing but the cost.
2. `estimate_memory` adds the candidate temporaries (per chunk of points), the CSR lists of near servers
   (predicted and true, an upper bound of min(servers, disk) per step) and a fixed margin for the predictor
   and the tables to the process's current memory; `available_memory` reads ``MemAvailable`` and the cgroup
   limit. A run that would not fit is refused, naming the largest r that would.

Building the world is left to ``topology.build``, running to ``run`` and ``master``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeroam.errors import RunError, ScenarioError

__all__ = ["MemoryEstimate", "available_memory", "check_run", "estimate_memory", "useful_radius_m"]

#: bytes per candidate cell in ``HexGrid.cells_within`` (q, r, x, y, distance, id, sort order, two sorted
#: copies and the keep mask: ten arrays of 8 bytes, plus slack for numpy's temporaries)
CANDIDATE_BYTES = 96
#: points per chunk of ``HexGrid.cells_within`` (its default)
CHUNK_POINTS = 32_768
#: bytes per (step, near server) pair: cell id, distance and server id of both CSR lists (predicted, true)
PAIR_BYTES = 2 * 24
#: predictor fit, planner and result tables on top of the traces (measured: about 320 MB on KAIST)
MARGIN_BYTES = 512 * 2**20
_GB = 1e9


def _disk_cells(radius_m: float, cell_radius_m: float) -> int:
    """Cells in the hex disk ``cells_within`` scans for a radius (3k² + 3k + 1)."""
    k = math.floor((radius_m + cell_radius_m) / (1.5 * cell_radius_m))
    return 3 * k * k + 3 * k + 1


@dataclass(frozen=True)
class MemoryEstimate:
    """What a run is expected to need, in bytes, and from what."""

    steps: int
    disk_cells: int
    servers: int
    now_bytes: int
    candidates_bytes: int
    near_bytes: int
    margin_bytes: int

    @property
    def total_bytes(self) -> int:
        """Current memory plus everything the run adds."""
        return self.now_bytes + self.extra_bytes

    @property
    def extra_bytes(self) -> int:
        """What the run adds to the process's current memory."""
        return self.candidates_bytes + self.near_bytes + self.margin_bytes


def estimate_memory(steps: int, servers: int, radius_m: float, cell_radius_m: float,
                    now_bytes: int = 0) -> MemoryEstimate:
    """Estimate the memory of a run of `steps` replay steps over `servers` edge servers at `radius_m`.

    Examples
    --------
    >>> est = estimate_memory(43_629, 352, 1000.0, 50.0)
    >>> est.disk_cells, round(est.candidates_bytes / 1e9, 2)
    (631, 1.98)
    """
    disk = _disk_cells(radius_m, cell_radius_m)
    chunk = min(int(steps), CHUNK_POINTS)
    return MemoryEstimate(
        steps=int(steps), disk_cells=disk, servers=int(servers), now_bytes=int(now_bytes),
        candidates_bytes=chunk * disk * CANDIDATE_BYTES,
        near_bytes=int(steps) * min(int(servers), disk) * PAIR_BYTES,
        margin_bytes=MARGIN_BYTES,
    )


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable``, lowered to the cgroup's free room when a
    cgroup limit is set; None where neither can be read (not Linux)."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        avail = None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            room = max(limit - usage, 0)
            avail = room if avail is None else min(avail, room)
            break
    return avail


def _rss_bytes() -> int:
    """This process's resident memory (0 where /proc is missing)."""
    kb = None
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                kb = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        kb = None
    return 0 if kb is None else kb * 1024


def useful_radius_m(xy: np.ndarray) -> float:
    """The diagonal of the box around `xy` (edge servers and test points): beyond it, every server is within
    r of every point."""
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    span = pts.max(axis=0) - pts.min(axis=0)
    return float(math.hypot(span[0], span[1]))


def _largest_fitting_radius(steps: int, servers: int, cell_radius_m: float, room: int, upper: float) -> float:
    """The largest r (to 1 m, at most `upper`) whose estimate adds no more than `room` bytes; 0 if none."""
    lo, hi = 0.0, float(upper)
    if estimate_memory(steps, servers, hi, cell_radius_m).extra_bytes <= room:
        return hi
    if estimate_memory(steps, servers, lo, cell_radius_m).extra_bytes > room:
        return 0.0
    while hi - lo > 1.0:
        mid = (lo + hi) / 2
        if estimate_memory(steps, servers, mid, cell_radius_m).extra_bytes <= room:
            lo = mid
        else:
            hi = mid
    return math.floor(lo)


def check_run(scenario, world, *, available: int | None = None) -> MemoryEstimate:
    """Refuse a run whose ``policy.radius_m`` lies beyond the region or whose memory would not fit.

    Parameters
    ----------
    scenario : Scenario
    world : World
        The loaded world (traces, test users, topology).
    available : int, optional
        Bytes that may still be allocated; default `available_memory`.

    Returns
    -------
    MemoryEstimate
        The estimate the decision was made on.

    Raises
    ------
    ScenarioError
        ``policy.radius_m`` larger than the region's diagonal (names the key and the largest useful value).
    RunError
        The estimate exceeds the available memory (names ``policy.radius_m``, both sizes and an r that fits).
    """
    where = f"scenario {scenario.name!r}"
    r = float(scenario.policy.radius_m)
    if not math.isfinite(r):
        raise ScenarioError(where, "policy.radius_m", f"must be a finite number of metres, got {r}")
    servers = world.topology.servers
    edge = servers[servers["tier"] == "edge"]
    test = world.test_traces
    steps = len(test)
    if scenario.run.duration_s is not None and steps and scenario.dataset.interval_s:
        per_tick = test.groupby("t", observed=True).size()
        t = per_tick.index.to_numpy(dtype=np.float64)
        steps = int(per_tick[t - t.min() < scenario.run.duration_s].sum())
    xy = np.concatenate([edge[["x", "y"]].to_numpy(np.float64), test[["x", "y"]].to_numpy(np.float64)])
    diag = useful_radius_m(xy)
    cell_r = float(scenario.topology.radius_m)
    limit = math.ceil(diag + cell_r)
    if r > limit:
        raise ScenarioError(
            where, "policy.radius_m",
            f"{r:g} m is beyond the region: every edge server is within {limit:,} m of every test point "
            f"(the diagonal of their box), so a larger r changes nothing but the cost; use at most {limit}")
    est = estimate_memory(steps, len(edge), r, cell_r, now_bytes=_rss_bytes())
    room = available_memory() if available is None else available
    if room is not None and est.extra_bytes > room:
        fits = _largest_fitting_radius(steps, len(edge), cell_r, room, r)
        hint = (f"policy.radius_m = {fits:g} would fit" if fits > 0
                else "even r = 0 would not: free memory or shorten run.duration_s")
        raise RunError(
            f"{where}: policy.radius_m = {r:g} m needs about {est.extra_bytes / _GB:.1f} GB more memory "
            f"({steps:,} replay steps × {est.disk_cells:,} cells within r + {cell_r:g} m, {len(edge):,} edge "
            f"servers), but only {room / _GB:.1f} GB is available; {hint}")
    return est
