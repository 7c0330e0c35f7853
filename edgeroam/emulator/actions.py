"""The actions a policy returns and a backend executes (DESIGN.md section 3): plain data.

``SetPlan(client, server, layers)`` makes the plan whose server-side layers are `layers` (named, in upload
order: highest efficiency first) the one the client uses on `server` from now on; the client uploads the
ones the server lacks. ``Migrate(client, src, dst, layers, relay=False)`` sends the named layers of `client`
from server `src` to `dst` in the given order; with ``relay`` it is also a standing order until the next batch
of actions: listed layers that land at `src` later are forwarded to `dst` as they land. ``Drop(client,
server)`` deletes what `server` holds of `client` (IONN's from-scratch rule). ``SetCloud(client, server,
cut)`` sends the tail of the client's queries on edge `server`, layers from `cut` on, to that server's cloud
(S3's three-way split; only where the tiers give servers slots and a cloud). Actions are small frozen records
of ints, strings and bools: :func:`action_to_dict` / :func:`action_from_dict` carry them through JSON, across
a process or a network. ``Migrates`` is many Migrates as columns (client, src, dst and a plan index per row):
what a policy returns for thousands of users a tick, which a backend may carry out as arrays, or expand
(:func:`expand_actions`) into the Migrates it stands for. Policies build them, backends (``sim``, ``net``)
carry them out; nothing here moves bytes.

What it leaves to others: what a plan is (``edgeroam.emulator.planning``), deciding (``policies``), executing
(the backends).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np

from edgeroam.errors import PlanningError

__all__ = ["Action", "Drop", "Migrate", "Migrates", "SetCloud", "SetPlan", "action_from_dict",
           "action_to_dict", "expand_actions", "plain_migrate", "sort_actions"]


def _as_int(value: Any, what: str, action: str) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise PlanningError(f"{action}: {what} must be an integer id, got {value!r}") from None
    if out != value or isinstance(value, bool):
        raise PlanningError(f"{action}: {what} must be an integer id, got {value!r}")
    return out


@lru_cache(maxsize=4096)
def _layers_problem(layers: tuple[Any, ...]) -> str | None:
    """What is wrong with a layer tuple, or None. Cached: a policy sends the same few plans hundreds of
    thousands of times, and hashing a tuple of names is much cheaper than checking each name again."""
    if not all(isinstance(name, str) and name for name in layers):
        return f"layers must be non-empty layer names, got {layers!r}"
    if len(set(layers)) != len(layers):
        dup = sorted({n for n in layers if layers.count(n) > 1})
        return f"layer(s) listed twice: {', '.join(dup)}"
    return None


def _plain_layers(value: Any) -> bool:
    """Whether `value` is already a valid tuple of layer names (False: let `_as_layers` look closer)."""
    if type(value) is not tuple:  # noqa: E721 - a tuple subclass goes the slow way
        return False
    try:
        return _layers_problem(value) is None
    except TypeError:  # an unhashable item
        return False


def _as_layers(value: Any, label: str) -> tuple[str, ...]:
    layers = (value,) if isinstance(value, str) else tuple(value)
    try:
        problem = _layers_problem(layers)
    except TypeError:  # an unhashable item: not a name, and the uncached check says so
        problem = _layers_problem.__wrapped__(layers)
    if problem is not None:
        raise PlanningError(f"{label}: {problem}")
    return layers


@dataclass(frozen=True, slots=True)
class SetPlan:
    """Use the plan whose server-side layers are `layers` for `client` on `server` from now on.

    Parameters
    ----------
    client : int
        The user id.
    server : int
        The edge server the client is attached to (the one that runs the server-side layers).
    layers : sequence of str
        The plan's server-side layers by name, in upload order (efficiency order); the client uploads those
        the server lacks, in this order. Empty: everything runs on the client.
    """

    client: int
    server: int
    layers: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _as_int(self.client, "client", "SetPlan"))
        object.__setattr__(self, "server", _as_int(self.server, "server", f"SetPlan(client={self.client})"))
        if self.layers is None:
            raise PlanningError(f"SetPlan(client={self.client}, server={self.server}): layers is None")
        object.__setattr__(self, "layers", _as_layers(self.layers, f"SetPlan(client={self.client})"))


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
    relay : bool
        Also a standing order until the next batch of actions: every listed layer that lands at `src` later
        (from the client's upload or another migration) is forwarded to `dst` as soon as it lands.
    """

    client: int
    src: int
    dst: int
    layers: tuple[str, ...]
    relay: bool = False

    def __post_init__(self) -> None:
        if (type(self.client) is int and type(self.src) is int and type(self.dst) is int  # noqa: E721
                and type(self.relay) is bool and self.src != self.dst and _plain_layers(self.layers)):
            return  # already plain and valid (a policy makes hundreds of thousands per run): nothing to do
        object.__setattr__(self, "client", _as_int(self.client, "client", "Migrate"))
        label = f"Migrate(client={self.client})"
        object.__setattr__(self, "src", _as_int(self.src, "src", label))
        object.__setattr__(self, "dst", _as_int(self.dst, "dst", label))
        if self.src == self.dst:
            raise PlanningError(f"{label}: src and dst are the same server {self.src}")
        object.__setattr__(self, "layers", _as_layers(self.layers, label))
        if not isinstance(self.relay, bool):
            raise PlanningError(f"{label}: relay must be true or false, got {self.relay!r}")


def plain_migrate(client: int, src: int, dst: int, layers: tuple[str, ...], relay: bool = False) -> Migrate:
    """``Migrate(client, src, dst, layers, relay)`` without its checks, for a caller whose values are already
    plain and valid: int ids with ``src != dst``, a tuple of layer names a planner made, a bool.
    `TargetPolicy` makes ~400,000 Migrates a Geolife pass: 0.35 us each this way, 0.75-1.0 us checked."""
    m = _new(Migrate)
    _set(m, "client", client)
    _set(m, "src", src)
    _set(m, "dst", dst)
    _set(m, "layers", layers)
    _set(m, "relay", relay)
    return m


_new, _set = object.__new__, object.__setattr__


@dataclass(frozen=True, slots=True)
class Drop:
    """Delete every layer `server` holds of `client` (and stop what is on its way there)."""

    client: int
    server: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _as_int(self.client, "client", "Drop"))
        object.__setattr__(self, "server", _as_int(self.server, "server", f"Drop(client={self.client})"))


@dataclass(frozen=True, slots=True)
class SetCloud:
    """Run layers `cut` and after (topological order) of `client`'s queries on edge `server` on its cloud
    server from now on; ``cut`` = the number of layers: no cloud part. The cloud holds the whole model."""

    client: int
    server: int
    cut: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _as_int(self.client, "client", "SetCloud"))
        label = f"SetCloud(client={self.client})"
        object.__setattr__(self, "server", _as_int(self.server, "server", label))
        object.__setattr__(self, "cut", _as_int(self.cut, "cut", label))
        if self.cut < 0:
            raise PlanningError(f"{label}: cut must be >= 0, got {self.cut}")


@dataclass(frozen=True, eq=False, slots=True)
class Migrates:
    """Many Migrates as columns, in order: row ``i`` is ``Migrate(client[i], src[i], dst[i], layers[plan[i]],
    relay)``, or a TTL refresh ``Migrate(client[i], src[i], dst[i], ())`` where ``plan[i]`` is -1 (never a
    standing order).

    What a policy returns for thousands of users a tick (most rows refreshes): a backend may carry the rows
    out as arrays (the sim refreshes the TTLs in one go) instead of one object each; `expand_actions`, and so
    `sort_actions`, turns a batch into the Migrates it stands for, which is what a backend that takes one
    action at a time (``net``) sends on.

    Parameters
    ----------
    client, src, dst : array-like of int
        One row per Migrate (src != dst).
    layers : sequence of sequence of str
        The plans the rows send, by `plan`.
    plan : array-like of int
        Each row's index into `layers`; -1: no layers (a refresh).
    relay : bool
        Whether the rows with layers are standing orders as well (`Migrate`'s ``relay``).
    """

    client: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    layers: tuple[tuple[str, ...], ...]
    plan: np.ndarray
    relay: bool = False

    def __post_init__(self) -> None:
        cols = {}
        for name in ("client", "src", "dst", "plan"):
            col = np.asarray(getattr(self, name))
            if col.ndim != 1 or (len(col) and col.dtype.kind not in "iu"):
                raise PlanningError(f"Migrates: {name} must be a 1-D array of integer ids")
            cols[name] = col.astype(np.int64, copy=False)
        n = len(cols["client"])
        if any(len(col) != n for col in cols.values()):
            raise PlanningError("Migrates: client, src, dst and plan differ in length")
        layers = tuple(_as_layers(x, f"Migrates plan {j}") for j, x in enumerate(self.layers))
        if n and (cols["plan"].min() < -1 or cols["plan"].max() >= len(layers)):
            raise PlanningError(f"Migrates: plan indices must be -1 or below {len(layers)}")
        same = np.flatnonzero(cols["src"] == cols["dst"])
        if len(same):
            i = int(same[0])
            raise PlanningError(f"Migrate(client={int(cols['client'][i])}): src and dst are the same server "
                                f"{int(cols['src'][i])}")
        if not isinstance(self.relay, bool):
            raise PlanningError(f"Migrates: relay must be true or false, got {self.relay!r}")
        for name, col in cols.items():
            object.__setattr__(self, name, col)
        object.__setattr__(self, "layers", layers)

    def __len__(self) -> int:
        return len(self.client)

    def __iter__(self) -> Iterator[Migrate]:
        layers, relay = self.layers, self.relay  # checked by the batch: its rows are plain and valid
        for c, s, d, p in zip(self.client.tolist(), self.src.tolist(), self.dst.tolist(), self.plan.tolist(),
                              strict=True):
            yield plain_migrate(c, s, d, layers[p], relay) if p >= 0 else plain_migrate(c, s, d, ())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Migrates):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment] - mutable arrays inside


Action: TypeAlias = SetPlan | Migrate | Drop | SetCloud


def expand_actions(actions: Iterable[Action | Migrates]) -> list[Action]:
    """`actions` with every `Migrates` batch replaced by its Migrates, in place and in order.

    Examples
    --------
    >>> import numpy as np
    >>> expand_actions([Drop(1, 2), Migrates(np.array([3]), np.array([1]), np.array([2]), [("fc",)],
    ...                                        np.array([0]))])
    [Drop(client=1, server=2), Migrate(client=3, src=1, dst=2, layers=('fc',), relay=False)]
    """
    out: list[Action] = []
    for a in actions:
        if type(a) is Migrates:  # noqa: E721 - exactly a batch
            out.extend(a)
        else:
            out.append(a)
    return out

_KINDS: dict[str, type] = {"SetPlan": SetPlan, "Migrate": Migrate, "Drop": Drop, "SetCloud": SetCloud}


def action_to_dict(action: Action) -> dict[str, Any]:
    """A JSON-ready dict of `action`: ``{"action": "Migrate", "client": 3, ...}`` (layers as a list).

    Examples
    --------
    >>> action_to_dict(Migrate(3, 1, 2, ("conv1",), relay=True))
    {'action': 'Migrate', 'client': 3, 'src': 1, 'dst': 2, 'layers': ['conv1'], 'relay': True}
    """
    kind = type(action).__name__
    if _KINDS.get(kind) is not type(action):
        raise PlanningError(f"not an action: {action!r}")
    out: dict[str, Any] = {"action": kind}
    for name in action.__dataclass_fields__:
        value = getattr(action, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def action_from_dict(data: Mapping[str, Any]) -> Action:
    """The action of an :func:`action_to_dict` dict (validated like a new action).

    Examples
    --------
    >>> action_from_dict({"action": "Drop", "client": 3, "server": 9})
    Drop(client=3, server=9)
    """
    fields = dict(data)
    kind = fields.pop("action", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise PlanningError(f"unknown action {kind!r}; choose one of {', '.join(_KINDS)}")
    unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
    if unknown:
        raise PlanningError(f"{kind}: unknown field(s) {', '.join(unknown)}")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise PlanningError(f"{kind}: {exc}") from None


def sort_actions(actions: Iterable[Action | Migrates]) -> list[Action]:
    """A deterministic order: by client, SetPlan, then Migrate (by src, dst), then Drop, then SetCloud
    (`Migrates` batches expanded first, `expand_actions`).

    Policies may return actions in any order; a backend that executes them in this order gives the same run
    for the same decisions.
    """

    def key(a: Action) -> tuple[int, int, int, int]:
        if isinstance(a, Migrate):  # the most common, first
            return (a.client, 1, a.src, a.dst)
        if isinstance(a, SetPlan):
            return (a.client, 0, a.server, 0)
        if isinstance(a, Drop):
            return (a.client, 2, a.server, 0)
        if isinstance(a, SetCloud):
            return (a.client, 3, a.server, 0)
        raise PlanningError(f"not an action: {a!r}")

    return sorted(expand_actions(actions), key=key)
