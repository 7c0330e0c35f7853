"""The Backend contract (DESIGN.md §3): what the master drives, the same for `sim` and `net`.

A backend is started once with a `Setup` (the topology, the model's layers, the planner and the holding rule),
then the master alternates, tick by tick:

- ``advance(until, moves)``: run the backend's clock to `until` (layers in flight land, holdings expire), then
  let the users' `Moves` of that tick take effect (handovers, joins, departures); returns the `Events` that
  became final (arrivals at a server with what it held then, query runs that ended);
- ``apply(actions)``: carry out the policy's actions (plain data, `edgeroam.emulator.actions`) now; the list
  may hold `Migrates` batches (many Migrates as columns), which a backend carries out as arrays or expands
  (`sort_actions` does);

and ends with ``close()``, which returns the last events and the run's tables (transfers, backhaul) and
memory figures. Between calls the master may ask ``holds(client, server)`` and ``held_by(client)``: what a
master learns from the edge servers' reports, the only backend state a policy's view exposes. A backend may
also answer ``holds_rows(clients, servers)``, `holds` of many pairs as one bool matrix (``sim`` does: a policy
asks about ~50,000 pairs a tick at 10,000 users); the view asks pair by pair where it does not. Where servers
compute on tier slots (``topology.tiers.compute = "slots"``) it also asks, each tick, ``cloud_bps()`` (the
edge-cloud rate a query's tail reaches a cloud at: configured, or measured) and ``queue_wait(server)`` (the
slot waits the server's queries last met, edge and cloud): S3's Scheduling with Queuing reads them
(`MasterView.cloud_bps`, `MasterView.queue_wait`). Every backend writes the same tables; metrics are computed
from them alone.

Backends are found by name in `BACKENDS` (scenario ``run.backend``); the registry holds import paths, so
neither this module nor the master imports a backend.

What it leaves to others: the loop (master), executing (``sim/``, ``net/``), metrics (metrics).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from edgeroam.errors import RunError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from edgeroam.emulator.actions import Action, Migrates
    from edgeroam.emulator.planning.planner import Planner
    from edgeroam.scenario import RunConfig
    from edgeroam.topology.build import Topology

__all__ = ["BACKENDS", "RUN_OPTIONS", "Arrival", "Backend", "Closing", "Events", "Moves", "Setup",
           "make_backend", "run_options"]


@dataclass(frozen=True)
class Setup:
    """What a backend needs to start.

    Attributes
    ----------
    topology : Topology
        Cells, servers and the backhaul graph.
    planner : Planner
        The model's layers (names, bytes), plans and query latencies per load level.
    interval_s : float
        The interval t (accounting bins, TTL unit, query windows).
    query_gap_s : float
        Think time between a client's queries.
    up_bps : float
        Wi-Fi uplink of a cell.
    ttl_intervals : int
        Lifetime of received layers in intervals, refreshed on use (0: no expiry).
    server_plans : int or None
        Per-server cap on held client plans, the least recently used evicted first (None: no cap).
    everywhere : bool
        Every server holds every layer of every client (the optimal bound): nothing moves.
    visits : dict[int, tuple[int, ...]] or None
        The servers each client will attach to, in first-visit order (``net`` pre-makes a link to each one's
        cell); None: not given.
    """

    topology: Topology
    planner: Planner
    interval_s: float
    query_gap_s: float
    up_bps: float
    ttl_intervals: int = 5
    server_plans: int | None = None
    everywhere: bool = False
    visits: dict[int, tuple[int, ...]] | None = None


@dataclass(frozen=True)
class Arrival:
    """A user who arrives at a server at this tick (handover, or the first server of a trajectory).

    `row` is the master's id of the user step (echoed in the events); `prev` is -1 for a join.
    """

    row: int
    client: int
    prev: int
    server: int
    handover: bool


@dataclass(frozen=True)
class Moves:
    """The users' moves at one tick (plain data).

    Attributes
    ----------
    tick : int
        Tick index k.
    attached : dict[int, int]
        Every active client and its server now.
    arrivals : tuple of Arrival
        Clients that arrived at their server at this tick.
    leaving : tuple of int
        Clients not seen at the next tick: they leave one interval from now.
    """

    tick: int
    attached: dict[int, int]
    arrivals: tuple[Arrival, ...] = ()
    leaving: tuple[int, ...] = ()


@dataclass
class Events:
    """Events that became final: `arrivals` as ``(row, client, prev, server, t, load, handover, held)`` with
    `held` the bool mask of the layers the server held on arrival (or the mask's bytes), and query runs as
    ``(row, client, server, start, latency_s, queries)`` (`edgeroam.emulator.metrics.query_table`)."""

    arrivals: list[tuple] = field(default_factory=list)
    queries: list[tuple] = field(default_factory=list)

    def extend(self, other: Events) -> None:
        """Append `other`'s events."""
        self.arrivals.extend(other.arrivals)
        self.queries.extend(other.queries)


@dataclass
class Closing:
    """What `Backend.close` returns: the last events, the ``transfers`` and ``backhaul`` tables, the
    server memory figures (None for the optimal bound) and, for an emulating backend, what it emulated and
    how (``emulated.json`` of the run directory; None for ``sim``). ``holdings`` is the log of what the
    servers hold over time (`SimBackend.holdings` columns), from which the master computes the storage held
    (`edgeroam.emulator.metrics.storage_summary`); None where a backend does not record it. ``tables`` are
    more tables of the run directory that only this backend measures (``net``: ``fidelity``)."""

    events: Events
    transfers: pd.DataFrame
    backhaul: pd.DataFrame
    memory: dict[str, float] | None
    emulated: dict[str, Any] | None = None
    holdings: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """The contract of a backend (see the module docstring)."""

    name: str

    def start(self, setup: Setup) -> None:
        """Build the network and the servers' state."""
        ...

    def advance(self, until: float, moves: Moves | None = None) -> Events:
        """Run to `until` (seconds from the first tick), then apply `moves`; the events that became final."""
        ...

    def apply(self, actions: list[Action | Migrates]) -> None:
        """Carry out `actions` now (they replace the standing relay orders of the previous batch); a
        `Migrates` batch stands for its Migrates, in its place."""
        ...

    def holds(self, client: int, server: int) -> np.ndarray | None:
        """Layers `server` holds for `client` now (bool mask; None: nothing)."""
        ...

    def held_by(self, client: int) -> frozenset[int]:
        """Servers holding any layer of `client` now."""
        ...

    def cloud_bps(self) -> float | None:
        """Where servers compute on tier slots: the edge-cloud rate (bit/s) a query's tail reaches a cloud at
        now (0: no cloud); None without tier slots (no three-way split)."""
        ...

    def queue_wait(self, server: int) -> tuple[float, float]:
        """Mean seconds (edge, cloud) the queries of `server` last waited for a slot (zeros before any
        and without tier slots)."""
        ...

    def close(self) -> Closing:
        """Finish the run (open query windows end) and return its tables; tear everything down."""
        ...


#: backend name (scenario ``run.backend``) -> ``module:Class``
BACKENDS: dict[str, str] = {"sim": "edgeroam.emulator.sim.driver:Sim",
                                   "net": "edgeroam.emulator.net.backend:Net"}


def make_backend(name: str, **options: Any) -> Backend:
    """A new backend of `name` (options go to its constructor).

    Examples
    --------
    >>> make_backend("sim").name
    'sim'
    """
    if name not in BACKENDS:
        raise RunError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    target = BACKENDS[name]
    module, _, cls = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:  # a missing optional dependency, or a broken install
        raise RunError(f"the {name!r} backend ({target}) cannot be loaded: {exc}") from None
    return factory(**options)


#: the scenario's ``[run]`` keys each backend takes as constructor options (`run_options`)
RUN_OPTIONS: dict[str, tuple[str, ...]] = {"sim": (), "net": ("speed", "switch", "ovs_realtime")}


def run_options(run: RunConfig) -> dict[str, Any]:
    """Constructor options of a scenario's backend from its ``[run]`` table (``net``: speed, switch,
    ovs_realtime).

    Examples
    --------
    >>> from edgeroam.scenario import RunConfig
    >>> run_options(RunConfig(backend="net", switch="ovs"))
    {'speed': 1.0, 'switch': 'ovs', 'ovs_realtime': False}
    """
    return {key: getattr(run, key) for key in RUN_OPTIONS.get(run.backend, ())}
