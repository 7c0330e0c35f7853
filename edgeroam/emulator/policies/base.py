"""What a policy sees and what it must do: the read-only `MasterView` and the `Policy` protocol.

Every interval the master builds one `MasterView` (positions are in the `Tick`; the view adds the predicted
and true next positions, the servers near each, the load per server, what each server holds and the
planner) and asks the policy for actions (DESIGN.md §3). A policy is pure: no I/O, clock, randomness or
mutation of the view; the backend carries out the actions. The shared part of every policy, one `SetPlan`
per user that has just arrived at a server (the current plan with the current load), lives here as
`current_plans`.

What it leaves to others: making plans (`edgeroam.emulator.master.Planner`), executing actions (the backends).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from edgeroam.emulator.actions import Action, Migrate, SetPlan

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.planning.planner import PlanEntry, Planner
    from edgeroam.mobility.replay import Tick

__all__ = ["MasterView", "Policy", "current_plans", "migrate_to"]


@dataclass(frozen=True, eq=False)
class MasterView:
    """A read-only view of the world at one tick, indexed like the `Tick` (position i = the i-th user).

    Attributes
    ----------
    tick_index : int
        The tick number k.
    interval_s : float
        The interval t.
    radius_m : float
        r: migrate to the servers whose site lies within r of the predicted point.
    predicted : ndarray [N, 2]
        Predicted position of each user one interval ahead (metres).
    actual_next : ndarray [N, 2]
        The true position one interval ahead (NaN where the user is not seen then); oracle policies only.
    near_predicted, near_actual : callable(i) -> ndarray[int64]
        Edge servers within r of the predicted / true next point of user i, nearest first.
    load : callable(server) -> int
        Clients attached to a server at this tick (at least 1 for planning).
    holds : callable(client, server) -> ndarray[bool] | None
        Layers a server holds for a client (None: nothing).
    held_by : callable(client) -> frozenset[int]
        The servers that hold any layer of a client (a Migrate with no layers to one of them only refreshes
        its TTL).
    planner : Planner
        Plans, upload orders and latencies per load level (memoised).
    crowded : frozenset[int]
        Servers treated as crowded (fractional migration); empty otherwise.
    fraction_bytes : float
        Byte budget of a migration from or to a crowded server.
    """

    tick_index: int
    interval_s: float
    radius_m: float
    predicted: np.ndarray
    actual_next: np.ndarray
    near_predicted: Callable[[int], np.ndarray]
    near_actual: Callable[[int], np.ndarray]
    load: Callable[[int], int]
    holds: Callable[[int, int], np.ndarray | None]
    planner: Planner
    held_by: Callable[[int], frozenset[int]] = field(default=lambda _client: frozenset())
    crowded: frozenset[int] = field(default_factory=frozenset)
    fraction_bytes: float = float("inf")

    def future_plan(self, server: int) -> PlanEntry:
        """The future plan of `server` with its current load (+1 for the client who is coming)."""
        return self.planner.entry(self.load(server) + 1)

    def current_plan(self, server: int) -> PlanEntry:
        """The current plan of `server` with its current load (the client is counted in it)."""
        return self.planner.entry(self.load(server))


@runtime_checkable
class Policy(Protocol):
    """A migration policy: `decide(view, tick) -> list[Action]`, pure.

    Attributes
    ----------
    name : str
        Registry name (scenario ``policy.kind``).
    everywhere : bool
        Every server holds every layer of every client from the start (the `optimal` bound); the backend
        then moves no layer at all.
    """

    name: str
    everywhere: bool

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """Actions for this tick."""
        ...


def current_plans(view: MasterView, tick: Tick) -> list[Action]:
    """One `SetPlan` per user that handed over or joined at this tick: the current plan with the current load.

    The plan's server-side layers that the server does not hold yet are uploaded by the client, in the plan's
    efficiency order (the backend skips what is already there).
    """
    out: list[Action] = []
    arrived = np.flatnonzero((tick.handover | tick.joined) & (tick.server >= 0))
    for i in arrived.tolist():
        server = int(tick.server[i])
        out.append(SetPlan(int(tick.user_code[i]), server, view.current_plan(server).layers))
    return out


def migrate_to(
    view: MasterView, tick: Tick, near: Callable[[int], np.ndarray], *, fractional: bool = False,
    top_k: int | None = None, relay: bool = False,
) -> list[Action]:
    """PerDNN's proactive migration: from each user's current server to every server in ``near(i)``.

    The layers are the server-side layers of the destination's future plan, highest efficiency first; with
    `fractional`, a migration from or to a crowded server carries only the prefix within the byte budget.
    When the source holds none of the layers the destination lacks, the `Migrate` lists no layer: it only
    refreshes the destination's TTL (what PerDNN does when a server "tries to send" layers already there).
    With `top_k`, only the first k servers of ``near(i)`` (the nearest to the point; the current server
    counts) are targets. With `relay` every `Migrate` lists the whole order, whatever the source holds now:
    a relaying backend forwards the layers that land at the source later.
    """
    out: list[Action] = []
    crowded = view.crowded
    for i in np.flatnonzero(tick.server >= 0).tolist():
        src = int(tick.server[i])
        client = int(tick.user_code[i])
        targets = near(i) if top_k is None else near(i)[:top_k]
        for dst in targets.tolist():
            if dst == src:
                continue
            entry = view.future_plan(dst)
            if fractional and (src in crowded or dst in crowded):
                entry = view.planner.fraction(entry.load, view.fraction_bytes)
            if not entry.layers:
                continue
            if relay:
                out.append(Migrate(client, src, dst, entry.layers, relay=True))
                continue
            have = view.holds(client, src)
            if have is None:
                out.append(Migrate(client, src, dst, ()))
                continue
            lack = view.holds(client, dst)
            useful = have[entry.index] if lack is None else (have[entry.index] & ~lack[entry.index])
            out.append(Migrate(client, src, dst, entry.layers if useful.any() else ()))
    return out

