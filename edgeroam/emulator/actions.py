"""The actions a policy returns and a backend executes (DESIGN.md section 3).

``SetPlan(client, server, plan)`` makes `plan` the partitioning the client uses on `server` from now on;
``Migrate(client, src, dst, layers)`` sends the named server-side layers of `client` from server `src` to
server `dst` in the given order (efficiency order: the first layers are worth the most). Actions are small
frozen records; policies build them, backends (``sim``, ``net``) carry them out. Nothing here moves bytes.

What it leaves to others: what a plan is (``edgeroam.emulator.planning``), deciding (``policies``), executing
(the backends).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # the planning package is imported only for type checkers: actions stay dependency-free
    from edgeroam.emulator.planning import Plan  # noqa: F401

__all__ = ["Action", "Migrate", "SetPlan", "sort_actions"]


def _as_int(value: Any, what: str, action: str) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise PlanningError(f"{action}: {what} must be an integer id, got {value!r}") from None
    if out != value:
        raise PlanningError(f"{action}: {what} must be an integer id, got {value!r}")
    return out


@dataclass(frozen=True, slots=True)
class SetPlan:
    """Use `plan` for `client` on `server` from now on.

    Parameters
    ----------
    client : int
        The user id.
    server : int
        The edge server the client is attached to (the one that runs the server-side layers).
    plan : Plan
        The partitioning plan (``edgeroam.emulator.planning.Plan``): where each layer runs.
    """

    client: int
    server: int
    plan: Plan

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _as_int(self.client, "client", "SetPlan"))
        object.__setattr__(self, "server", _as_int(self.server, "server", f"SetPlan(client={self.client})"))
        if self.plan is None:
            raise PlanningError(f"SetPlan(client={self.client}, server={self.server}): plan is None")


@dataclass(frozen=True, slots=True)
class Migrate:
    """Send `layers` of `client` from server `src` to server `dst`, in order.

    Parameters
    ----------
    client : int
        The user whose layers move.
    src, dst : int
        Sending and receiving edge servers (different).
    layers : sequence of str
        Layer names (``LayerGraph`` node names), highest efficiency first; no repeats. A backend sends only
        the layers `src` holds and `dst` lacks, and refreshes the TTL of those `dst` already has.
    """

    client: int
    src: int
    dst: int
    layers: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _as_int(self.client, "client", "Migrate"))
        label = f"Migrate(client={self.client})"
        object.__setattr__(self, "src", _as_int(self.src, "src", label))
        object.__setattr__(self, "dst", _as_int(self.dst, "dst", label))
        if self.src == self.dst:
            raise PlanningError(f"{label}: src and dst are the same server {self.src}")
        layers = (self.layers,) if isinstance(self.layers, str) else tuple(self.layers)
        if not all(isinstance(name, str) and name for name in layers):
            raise PlanningError(f"{label}: layers must be non-empty layer names, got {layers!r}")
        if len(set(layers)) != len(layers):
            dup = sorted({n for n in layers if layers.count(n) > 1})
            raise PlanningError(f"{label}: layer(s) listed twice: {', '.join(dup)}")
        object.__setattr__(self, "layers", layers)


Action: TypeAlias = SetPlan | Migrate


def sort_actions(actions: Iterable[Action]) -> list[Action]:
    """A deterministic execution order: by client, SetPlan before Migrate, then src and dst; else stable.

    Policies may return actions in any order; a backend that executes them in this order gives the same run
    for the same decisions.
    """

    def key(a: Action) -> tuple[int, int, int, int]:
        if isinstance(a, SetPlan):
            return (a.client, 0, a.server, 0)
        if isinstance(a, Migrate):
            return (a.client, 1, a.src, a.dst)
        raise PlanningError(f"not an action: {a!r}")

    return sorted(actions, key=key)
