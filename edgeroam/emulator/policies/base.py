"""What a policy sees and what it must do: the read-only `MasterView` and the `Policy` base (DESIGN.md §3).

A policy is a scikit-learn style estimator: its parameters are its ``__init__`` arguments, listed by
`Policy.get_params` and changed by `Policy.set_params` (the scenario's ``[policy]`` table and ``--set
policy.<name>=…`` set them, `edgeroam.emulator.policies.policy_from_scenario`); `fit(prepared)` makes its
one-off precomputation before the replay; `decide(view, tick)` returns the tick's actions. It is pure: no I/O,
clock, randomness or mutation of the view; the backend carries the actions out.

Every interval the master builds one `MasterView`: what a real master knows (the model's predictions, the
load per server, what each server reports it holds, the planner). The true future is not in it; it reaches a
policy only through the oracle predictor (`Prepared.predictions("oracle")`). The shared part of every policy,
one `SetPlan` per user that has just arrived at a server (the current plan with the current load), is
`current_plans`.

What it leaves to others: making plans (`edgeroam.emulator.planning.Planner`), executing actions (backends).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeroam.emulator.actions import Action, SetPlan
from edgeroam.errors import ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.planning.planner import PlanEntry, Planner
    from edgeroam.emulator.prepare import Prepared
    from edgeroam.mobility.replay import Tick

__all__ = ["MasterView", "Policy", "current_plans"]


@dataclass(frozen=True, eq=False)
class MasterView:
    """A read-only view of the world at one tick, indexed like the `Tick` (position i = the i-th user).

    Attributes
    ----------
    tick_index : int
        The tick number k.
    interval_s : float
        The interval t.
    first_row : int
        The replay row of the tick's first user (rows ``first_row + i``; what `fit` precomputations index).
    predicted : ndarray [N, 2]
        The scenario predictor's position of each user one interval ahead (metres).
    load : callable(server) -> int
        Clients attached to a server at this tick.
    holds : callable(client, server) -> ndarray[bool] | None
        Layers a server holds for a client (None: nothing).
    planner : Planner
        Plans, upload orders and latencies per load level (memoised).
    held_by : callable(client) -> frozenset[int]
        The servers that hold any layer of a client (a Migrate with no layers to one of them only refreshes
        its TTL).
    crowded : frozenset[int]
        Servers treated as crowded (fractional migration); empty otherwise.
    fraction_bytes : float
        Byte budget of a migration from or to a crowded server.
    cloud_bps : float or None
        Where servers compute on tier slots: the edge-cloud rate (bit/s) at which a query's tail can go to
        a cloud server (`SetCloud`), 0 if there is no cloud; None without slots.
    queue_wait : callable(server) -> (float, float)
        Mean seconds the server's queries last waited for a slot at the edge and at its cloud (measured on
        tier slots; zeros otherwise).
    holds_rows : callable(clients, servers) -> ndarray[bool] [N, layers], optional
        `holds` of many pairs at once, where the backend answers so (`holds_matrix` asks it).
    """

    tick_index: int
    interval_s: float
    first_row: int
    predicted: np.ndarray
    load: Callable[[int], int]
    holds: Callable[[int, int], np.ndarray | None]
    planner: Planner
    held_by: Callable[[int], frozenset[int]] = field(default=lambda _client: frozenset())
    crowded: frozenset[int] = field(default_factory=frozenset)
    fraction_bytes: float = float("inf")
    cloud_bps: float | None = None
    queue_wait: Callable[[int], tuple[float, float]] = field(default=lambda _server: (0.0, 0.0))
    holds_rows: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def holds_matrix(self, clients: np.ndarray, servers: np.ndarray) -> np.ndarray:
        """The layers each server holds for each client, pairs ``(clients[i], servers[i])``, as the rows of
        one read-only bool matrix [N, layers] (a row of False: nothing held): `holds_rows`, or `holds` pair
        by pair where the backend has no such call."""
        if self.holds_rows is not None:
            return self.holds_rows(clients, servers)
        n_layers = self.planner.n_layers
        none = bytes(n_layers)
        masks = map(self.holds, np.asarray(clients).tolist(), np.asarray(servers).tolist())
        joined = b"".join([none if h is None else h.tobytes() for h in masks])
        return np.frombuffer(joined, dtype=bool).reshape(-1, n_layers)

    def future_plan(self, server: int) -> PlanEntry:
        """The future plan of `server` with its current load (+1 for the client who is coming)."""
        return self.planner.entry(self.load(server) + 1)

    def current_plan(self, server: int) -> PlanEntry:
        """The current plan of `server` with its current load (the client is counted in it)."""
        return self.planner.entry(self.load(server))


class Policy:
    """Base of the policies: scikit-learn style parameters, `fit`, `decide`.

    Subclasses take every parameter as an ``__init__`` keyword with a default and store it under the same
    name. The master reads three of them when it starts the backend; a subclass may make them parameters.

    Attributes
    ----------
    name : str
        The name the policy was made under (scenario ``policy.kind``); reports use it.
    everywhere : bool
        The optimal bound: every server holds every layer of every client, nothing moves.
    ttl_intervals : int
        Received layers live this many intervals, refreshed on use (0: until evicted).
    server_plans : int or None
        Each server holds at most this many clients' layers, the least recently used evicted (None: no cap).
    """

    name: str = "policy"
    everywhere: bool = False
    ttl_intervals: int = 5
    server_plans: int | None = None

    @classmethod
    def param_names(cls) -> list[str]:
        """The parameters: the keyword arguments of ``__init__`` in order."""
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self) -> dict[str, Any]:
        """Every parameter and its value."""
        return {k: getattr(self, k) for k in self.param_names()}

    def set_params(self, **params: Any) -> Policy:
        """Change parameters (validated as in ``__init__``; a fitted policy must be fitted again); an unknown
        name is a ScenarioError."""
        known = self.param_names()
        for k in params:
            if k not in known:
                raise ScenarioError(None, f"policy.{k}", f"unknown parameter of policy {self.name!r}; "
                                    f"known: {', '.join(known)}")
        name = self.name
        self.__init__(**{**self.get_params(), **params})  # type: ignore[misc]
        self.name = name
        return self

    def fit(self, prepared: Prepared) -> Policy:
        """One-off precomputation from the prepared scenario (none by default)."""
        return self

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:  # pragma: no cover - abstract
        """Actions for this tick (many Migrates may come as one `Migrates` batch of columns)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def current_plans(view: MasterView, tick: Tick) -> list[Action]:
    """One `SetPlan` per user that handed over or joined at this tick: the current plan with the current load.

    The plan's server-side layers that the server does not hold yet are uploaded by the client, in the plan's
    efficiency order (the backend skips what is already there).
    """
    servers = tick.server.tolist()
    if len(servers) <= 4:  # a few users (most Geolife ticks): plain Python beats four array operations
        arrived = [i for i, (s, h, j) in enumerate(zip(servers, tick.handover.tolist(), tick.joined.tolist(),
                                                       strict=True)) if s >= 0 and (h or j)]
    else:
        arrived = ((tick.handover | tick.joined) & (tick.server >= 0)).nonzero()[0].tolist()
    codes = tick.user_code.tolist() if arrived else []
    return [SetPlan(codes[i], servers[i], view.current_plan(servers[i]).layers) for i in arrived]
