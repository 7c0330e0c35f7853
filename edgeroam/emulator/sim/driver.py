"""`Sim`: the `sim` backend behind the Backend contract (edgeroam.emulator.backend).

It runs a `SimBackend` (layers as fluid flows in virtual time) and does what only a simulation has to: it
settles the migrations in flight when a client arrives (the layers delivered so far land), and it counts the
queries analytically instead of sending them. In the interval after an arrival the client runs closed-loop
queries whose latency is that of the exact placement restricted to the layers the server holds when each
query starts, as the layers arrive (``closed_loop_queries``); server compute is shared by processor sharing in
its mean-field form (`Planner.slowdown`). An event per query would cost about a million events on the full
traces.

What it leaves to others: moving bytes (backend.py), the loop (master), metrics (metrics).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeroam.emulator.backend import Closing, Events, Moves, Setup
from edgeroam.emulator.planning.query import closed_loop_queries
from edgeroam.emulator.sim.backend import SimBackend
from edgeroam.emulator.sim.slotqueries import CloudTails, close_windows
from edgeroam.topology.tiers import slot_tiers

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.actions import Action, Migrates

__all__ = ["Sim"]


@dataclass(eq=False, slots=True)
class _Window:
    """The query window of one arrival: `client` at `server` from `t0` to `t1` with `load` clients."""

    row: int
    client: int
    server: int
    t0: float
    t1: float
    load: int
    held: np.ndarray


class Sim:
    """The `sim` backend (contract: `edgeroam.emulator.backend.Backend`).

    Parameters
    ----------
    chunk_bytes : float
        Chunk size of the transfers (layers land one chunk at a time).
    """

    name = "sim"

    def __init__(self, chunk_bytes: float = 8e6) -> None:
        self.chunk_bytes = float(chunk_bytes)
        self._core: SimBackend | None = None
        self._windows: list[_Window] = []
        self._masks: dict[bytes, bytes] = {}
        self.tails: CloudTails | None = None

    @property
    def core(self) -> SimBackend:
        """The running `SimBackend` (after `start`)."""
        if self._core is None:
            from edgeroam.errors import RunError

            raise RunError("the sim backend is not started")
        return self._core

    def start(self, setup: Setup) -> None:
        """A fresh `SimBackend` on the setup's backhaul and edge servers."""
        topo, pl = setup.topology, setup.planner
        edge = topo.servers.loc[topo.servers["tier"] == "edge", "server"].to_numpy(np.int64)
        self.setup = setup
        self._core = SimBackend(
            topo.backhaul, edge, pl.weight_bytes, pl.names, interval_s=setup.interval_s,
            ttl_intervals=setup.ttl_intervals, server_plans=setup.server_plans, up_bps=setup.up_bps,
            everywhere=setup.everywhere, chunk_bytes=self.chunk_bytes,
        )
        # the core's own methods in place of `holds` and `holds_rows`: a policy asks about a million times
        # in a 10,000-user pass
        self.holds = self._core.holds
        self.holds_rows = self._core.holds_rows
        self._windows = []
        self._masks: dict[bytes, bytes] = {}  # the arrivals' held masks, each distinct one once
        self._slots = slot_tiers(topo.backhaul)  # tier slots instead of processor sharing (slotqueries.py)
        self.tails = None if self._slots is None else CloudTails.of(setup, self._slots)

    def advance(self, until: float, moves: Moves | None = None) -> Events:
        """Run to `until`, expire holdings, count the queries of the windows that ended, apply `moves`."""
        be, out = self.core, Events()
        if moves is None:
            be.advance(until)
            return out
        be.begin_tick(moves.tick, until, moves.attached)
        if self._windows:
            self._windows = self._close(self._windows, until, out)
        interval = self.setup.interval_s
        for c in moves.leaving:  # its upload stops one interval from now
            be.engine.schedule(interval, lambda c=c: be.depart(c), name="depart")
        load = Counter(moves.attached.values())
        n_layers = self.setup.planner.n_layers
        masks = self._masks
        for a in moves.arrivals:
            k = int(load.get(a.server, 1))
            be.settle(a.client, a.server)
            held = be.holds(a.client, a.server)
            held = np.zeros(n_layers, bool) if held is None else held.copy()
            # the event keeps the mask as its bytes (kept to the end of the pass: half an array's memory), one
            # object per distinct mask (most arrivals find nothing or the whole model: ~10 MB less at 10k)
            mask = held.tobytes()
            mask = masks.setdefault(mask, mask)
            out.arrivals.append((a.row, a.client, a.prev, a.server, until, k, a.handover, mask))
            be.watch(a.client, a.server)
            self._windows.append(_Window(a.row, a.client, a.server, until, until + interval, k, held))
        return out

    def apply(self, actions: list[Action | Migrates]) -> None:
        """Carry out `actions` now (`Migrates` batches as arrays where they only refresh)."""
        self.core.execute(actions if self.tails is None else self.tails.take(actions))

    def holds(self, client: int, server: int) -> np.ndarray | None:
        """Layers `server` holds for `client` now (None: nothing)."""
        return self.core.holds(client, server)

    def holds_rows(self, clients: np.ndarray, servers: np.ndarray) -> np.ndarray:
        """`holds` of many pairs at once: a bool matrix [N, layers] (`SimBackend.holds_rows`)."""
        return self.core.holds_rows(clients, servers)

    def held_by(self, client: int) -> frozenset[int]:
        """Servers holding any layer of `client` now."""
        return self.core.held_by(client)

    def cloud_bps(self) -> float | None:
        """On tier slots the tier spec's edge-cloud rate (0: no cloud); None otherwise."""
        return None if self.tails is None else self.tails.edge_cloud_bps

    def queue_wait(self, server: int) -> tuple[float, float]:
        """The mean (edge, cloud) slot waits of `server`'s queries in its last closed window."""
        return (0.0, 0.0) if self.tails is None else self.tails.wait(server)

    def close(self) -> Closing:
        """Run until the last query window ends, count its queries, return the tables; the core then lets go
        of the pass's state (`SimBackend.release`)."""
        be, out = self.core, Events()
        end = max([w.t1 for w in self._windows], default=be.now)
        be.advance(end)
        self._windows = self._close(self._windows, math.inf, out)
        memory = None if self.setup.everywhere else be.memory()
        be.release(records=False, log=False)  # the pass's state goes before the tables, the logs after
        # times relative to the first tick, like the queries; the backhaul table first (its temporaries are
        # the largest: they meet fewer tables that way, not even the holdings frame), the records and routes
        # gone before the holdings frame is made
        backhaul = be.backhaul()
        transfers = be.transfers()
        be.release(log=False)
        holdings = None if self.setup.everywhere else be.holdings()
        closing = Closing(out, transfers, backhaul, memory, holdings=holdings)
        be.release()
        self._masks = {}
        return closing

    def _close(self, windows: list[_Window], now: float, out: Events) -> list[_Window]:
        """Count the queries of every window that ended by `now` into `out`; return the open ones."""
        if self._slots is not None:
            return close_windows(self, windows, now, out)
        pl, be = self.setup.planner, self.core
        keep = []
        gap = self.setup.query_gap_s
        for w in windows:
            if w.t1 > now + 1e-9:
                keep.append(w)
                continue
            arrivals = be.unwatch(w.client, w.server)
            held = w.held.copy()
            steps = [(w.t0, pl.latency(w.load, held))]
            for t, idx in arrivals:
                if t >= w.t1:
                    break
                held[idx] = True
                steps.append((t, pl.latency(w.load, held)))
            for seg in closed_loop_queries(w.t0, w.t1, steps, gap):
                out.queries.append((w.row, w.client, w.server, *seg))
        return keep
