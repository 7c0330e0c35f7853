"""The master loop: turns replay ticks into policy decisions and backend actions; shared by the backends.

`Master` drives a backend through the Backend contract (`edgeroam.emulator.backend`): it starts it, then
for every tick of a `Prepared` scenario advances it to the tick's time with the users' moves (handovers,
joins, departures), builds the policy's `MasterView` (what a real master knows: predictions, loads, what the
servers report they hold) and hands the policy's actions to the backend; at the end it closes the backend,
turns the events into tables and summarises them (metrics). It never looks inside a backend.

What it leaves to others: what a policy decides (policies), how bytes move and how queries run (backends),
the metrics and their tables (metrics), writing the run directory (run.py).
"""

from __future__ import annotations

import gc
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam._memory import HEAP_LARGE_BLOCKS, map_large_blocks, release_free_memory
from edgeroam.emulator.backend import Arrival, Events, Moves, Setup, make_backend, run_options
from edgeroam.emulator.metrics import (
    arrival_table,
    everywhere_holdings,
    prediction_table,
    query_table,
    storage_summary,
    summarize,
)
from edgeroam.emulator.policies.base import MasterView

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.backend import Backend
    from edgeroam.emulator.prepare import Prepared

__all__ = ["Master", "PassResult", "run_pass"]


@dataclass(eq=False)
class PassResult:
    """Tables and summary of one pass (one policy over the whole replay)."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    timing: dict[str, float]
    emulated: dict[str, Any] | None = None


class Master:
    """Steps the ticks of a `Prepared` scenario with one policy on a backend.

    Parameters
    ----------
    prep : Prepared
    policy : Policy
        Fitted here (`Policy.fit`); its holding rule and `everywhere` go to the backend's setup.
    backend : Backend, optional
        Not started yet; default: a new one of the scenario's ``run.backend``.
    crowded : iterable of int
        Crowded servers (fractional migration).
    fraction_bytes : float
        Byte budget of migrations that touch a crowded server.
    """

    def __init__(self, prep: Prepared, policy: Any, *, backend: Backend | None = None, crowded=(),
                 fraction_bytes: float = math.inf) -> None:
        sc = prep.scenario
        self.prep = prep
        self.policy = policy
        self.backend = backend if backend is not None else make_backend(sc.run.backend,
                                                                          **run_options(sc.run))
        self.crowded = frozenset(int(s) for s in crowded)
        self.fraction_bytes = float(fraction_bytes)
        self.interval = float(sc.dataset.interval_s)
        policy.fit(prep)
        self.setup = Setup(
            topology=prep.world.topology, planner=prep.planner, interval_s=self.interval,
            query_gap_s=sc.dnn.query_gap_s, up_bps=sc.topology.access.up_mbps * 1e6,
            ttl_intervals=policy.ttl_intervals, server_plans=policy.server_plans,
            everywhere=bool(policy.everywhere), visits=self.visits(),
        )

    def visits(self) -> dict[int, tuple[int, ...]]:
        """The servers each client attaches to over the replay, in first-visit order."""
        codes = np.concatenate([tk.user_code for tk in self.prep.ticks]) if self.prep.ticks else np.zeros(0)
        servers = np.concatenate([tk.server for tk in self.prep.ticks]) if self.prep.ticks else np.zeros(0)
        keep = servers >= 0
        key = codes[keep].astype(np.int64) * (1 << 32) + servers[keep].astype(np.int64)
        pairs = pd.unique(pd.Series(key))
        out: dict[int, list[int]] = {}
        for p in pairs.tolist():
            out.setdefault(p >> 32, []).append(p & 0xFFFFFFFF)
        return {c: tuple(s) for c, s in sorted(out.items())}

    def run(self, callback: Callable[[int, int], None] | None = None) -> PassResult:
        """Step every tick; `callback(done, total)` reports progress."""
        prep, pl, be = self.prep, self.prep.planner, self.backend
        t_start = time.perf_counter()
        be.start(self.setup)
        events = Events()
        holds_rows = getattr(be, "holds_rows", None)  # many pairs at once, where the backend answers so
        t0 = prep.ticks[0].time
        total = len(prep.ticks)
        for j, tk in enumerate(prep.ticks):
            now = tk.time - t0
            base = int(prep.offsets[j])
            moves = self.moves(tk, base)
            events.extend(be.advance(now, moves))
            cloud = be.cloud_bps()  # on tier slots: the edge-cloud rate and the waits, as measured so far
            tiered = {} if cloud is None else {"cloud_bps": cloud, "queue_wait": be.queue_wait}
            load = Counter(moves.attached.values())  # one row per client and tick: the active users' servers
            view = MasterView(
                tick_index=tk.index, interval_s=self.interval, first_row=base,
                predicted=prep.predicted[base: base + len(tk)], load=lambda s, _l=load: int(_l.get(s, 0)),
                holds=be.holds, held_by=be.held_by, planner=pl, holds_rows=holds_rows,
                crowded=self.crowded, fraction_bytes=self.fraction_bytes, **tiered,
            )
            be.apply(self.policy.decide(view, tk))
            if callback is not None and (j % 256 == 0 or j == total - 1):
                callback(j + 1, total)
        closing = be.close()
        events.extend(closing.events)
        wall = time.perf_counter() - t_start
        storage = self.storage(closing.holdings)
        closing.holdings = None  # the log goes before the tables are made (a pass peaks in memory at its end)
        queries = query_table(events.queries)
        arrivals = arrival_table(events.arrivals, queries, prep, pl, everywhere=bool(self.policy.everywhere))
        del events  # its tuples (~20 MB at 10,000 users) go before the predictions table and the summary
        closing.events = Events()
        tables = {"handovers": arrivals, "queries": queries, "transfers": closing.transfers,
                  "backhaul": closing.backhaul, "predictions": prediction_table(prep)}
        summary = summarize(prep, self.policy.name, tables, interval_s=self.interval,
                            crowded=sorted(self.crowded), fraction_bytes=self.fraction_bytes)
        summary["memory"] = closing.memory
        summary["storage"] = storage
        tables |= closing.tables  # measured by this backend only (net: fidelity), after the summary
        rows = len(prep.predicted)
        timing = {"pass_s": wall, "user_steps": rows, "user_steps_per_s": rows / wall if wall > 0 else None}
        return PassResult(summary, tables, timing, closing.emulated)

    def storage(self, holdings: pd.DataFrame | None) -> dict[str, float] | None:
        """Storage held across all servers over the replay (one interval per tick) from the backend's
        holdings log; the optimal bound holds every active client's model everywhere; None where the
        backend keeps no log."""
        if holdings is None and self.policy.everywhere:
            n_edge = int((self.prep.world.topology.servers["tier"] == "edge").sum())
            holdings = everywhere_holdings(self.prep, n_edge)
        if holdings is None:
            return None
        ticks = self.prep.ticks
        times = np.array([tk.time - ticks[0].time for tk in ticks]) if ticks else np.zeros(0)
        return storage_summary(holdings, times, self.interval)

    def moves(self, tk: Any, base: int) -> Moves:
        """The users' moves at tick `tk` (rows from `base`): who is where, who arrived, who leaves."""
        n = len(tk)
        if n <= 4:  # a few users (most Geolife ticks): plain Python beats a dozen array operations
            codes, servers = tk.user_code.tolist(), tk.server.tolist()
            prev, ho, jo = tk.prev_server.tolist(), tk.handover.tolist(), tk.joined.tolist()
            nxt = self.prep.next_server[base: base + n].tolist()
            return Moves(
                tk.index, {c: s for c, s in zip(codes, servers, strict=True) if s >= 0},
                tuple(Arrival(base + i, codes[i], prev[i], servers[i], ho[i])
                      for i in range(n) if servers[i] >= 0 and (ho[i] or jo[i])),
                tuple(codes[i] for i in range(n) if nxt[i] < 0),
            )
        active = tk.server >= 0
        codes = tk.user_code.tolist()
        servers = tk.server.tolist()
        attached = {c: s for c, s, a in zip(codes, servers, active.tolist(), strict=True) if a}
        # users not seen at the next tick: the replay (the world's script) says they leave
        gone = (self.prep.next_server[base: base + len(tk)] < 0).nonzero()[0]
        arrived = ((tk.handover | tk.joined) & active).nonzero()[0]
        return Moves(
            tk.index, attached,
            tuple(Arrival(base + i, codes[i], int(tk.prev_server[i]), servers[i], bool(tk.handover[i]))
                  for i in arrived.tolist()),
            tuple(codes[i] for i in gone.tolist()),
        )


def run_pass(
    prep: Prepared, policy: Any, *, callback: Callable[[int, int], None] | None = None, **kwargs: Any
) -> PassResult:
    """One pass of `policy` over a prepared scenario (`kwargs`, e.g. ``backend``, go to `Master`)."""
    master = Master(prep, policy, **kwargs)
    release_free_memory()
    # The objects alive before the pass (world, topology graph, predictions, the fitted policy) leave the
    # cyclic collector's reach while it runs, and it runs less often: a pass allocates about a million
    # short-lived actions and events, nearly none in reference cycles, and with the default thresholds the
    # collector's scans took a third of the CPU of a 10,000-user pass. A sim pass (virtual time, one thread)
    # runs without the collector at all: at the end of the 10,000-user pass 22 objects were cyclic garbage,
    # and the scans at these thresholds still took 1.0 s of its 12 s CPU; a net pass runs in real time
    # beside threads and sockets, so there it keeps running. Large blocks get their own mappings during the
    # pass and come from the heap again after it (`map_large_blocks`). This changes when memory is reclaimed,
    # never a result.
    map_large_blocks()
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    if master.backend.name == "sim":
        gc.disable()
    try:
        return master.run(callback)
    finally:
        map_large_blocks(HEAP_LARGE_BLOCKS)
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()
        gc.unfreeze()
