"""The `sim` backend: carries out a policy's actions in virtual time (layers as fluid flows, TTLs, windows).

State: for every (client, server) the layers the server holds (bool mask over the model's layers) and when
they expire (tick index + TTL, refreshed while the client is attached and whenever another server tries to
send the same client's layers); the layers in flight. Effects of the actions (DESIGN.md §3):

- ``SetPlan(client, server, layers)``: the client now offloads to `server`; it cancels its previous upload and
  uploads the listed layers the server lacks, in the listed (efficiency) order, over the cell's
  Wi-Fi uplink (one link per server, shared equally by the uploads of the cell: a `PSServer` per cell, which
  is the max-min fair share of a single link at a fraction of the cost of the whole fluid network);
- ``Migrate(client, src, dst, layers)``: `src` sends the listed layers it holds and `dst` neither holds nor
  receives, in the given order, over the backhaul shortest path (hops); it refreshes `dst`'s TTL. With
  ``relay=True`` (e.g. ``perdnn-forward``) a Migrate is also a standing order until the next batch of
  actions: every listed layer that lands at `src` later (from the client's upload or from another
  migration) is forwarded to `dst` as soon as it lands;
- ``Drop(client, server)``: `server` forgets the client's layers (IONN starts from scratch at every server).

Backhaul bytes move as max-min fair fluid flows (`FluidNetwork`) over the links of the shortest paths the run
has used so far: a pair's path joins the network the first time a migration takes it, so any pair of servers
can be routed and a large mesh costs only the links in use. A migration is one flow (a flow start or end
costs a recomputation of every rate, so fewer flows is what makes the full traces fast); when its client
arrives at the destination while it is in flight (`settle`), the flow is stopped, the layers fully delivered
so far (a prefix of the order) land, and the rest goes on in chunks of about `chunk_bytes`, so the queries
right after the arrival see the layers land one chunk at a time. Uploads are sent in such chunks from the
start. A chunk's layers are usable once it has fully arrived.
Backhaul bytes per server and interval are accounted from the chunk records (a chunk's bytes spread evenly
over its transfer time; chunks are short next to an interval), which avoids a dense per-interval array over
every link. With ``everywhere`` (the optimal bound) every server holds every layer and nothing moves.

What it leaves to others: deciding (policies), the master's contract (`Sim` in driver.py: moves, query
windows), metrics (metrics).
"""

from __future__ import annotations

import math
import re
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from itertools import compress, repeat
from operator import lt, ne
from sys import intern
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam._memory import trim_heap
from edgeroam.emulator.actions import Action, Drop, Migrate, Migrates, SetPlan, plain_migrate, sort_actions
from edgeroam.emulator.sim.compute import PSServer
from edgeroam.emulator.sim.engine import Engine, Event
from edgeroam.emulator.sim.fluid import FluidNetwork, backhaul_links
from edgeroam.errors import RunError
from edgeroam.topology.backhaul import route, server_node

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["TRANSFER_COLUMNS", "SimBackend"]

#: columns of the transfers table (one row per chunk)
TRANSFER_COLUMNS = ["kind", "client", "src", "dst", "start", "end", "bytes", "layers", "hops", "complete"]

Key = int
"""A (client, server) pair as one integer, ``client << 32 | server`` (`_key`): cheaper to hash, compare and
keep than a tuple, and in the same order."""
_LOW = 0xFFFFFFFF
_SERVER_NODE = re.compile(r"^s\d+$")
"""A backhaul node that is an edge server: ``s<id>``."""
UPLOAD, MIGRATE = 0, 1
"""A transfer's kind: its index in `_Records.KINDS`."""
_CHUNKING_MEMO = 4096
"""Layer lists whose chunking `SimBackend._sender` keeps (the memo starts over when full)."""
_NAMES_MEMO = 4096
"""Layer-name tuples `SimBackend._indices` knows by their object (the memo starts over when full)."""


def _key(client: int, server: int) -> Key:
    """The `Key` of a (client, server) pair (servers are ids >= 0)."""
    return client << 32 | server


def _interned(node: Any) -> Any:
    """The interpreter's one copy of a str node name (other names as they are)."""
    return intern(node) if type(node) is str else node  # noqa: E721 - a str subclass is left alone


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for each count c, concatenated (the position of each row within its group)."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def spread_chunks(start: np.ndarray, end: np.ndarray, nbytes: np.ndarray, path: np.ndarray,
                  first: np.ndarray, n_links: np.ndarray, interval_s: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each chunk's bytes went: over the intervals of `interval_s` that its `start`–`end` overlaps (in
    proportion to the overlap; a chunk of no duration counts in its start's interval) and over every link of
    its `path` (links ``first[path] ...`` of a flattened link list, ``n_links[path]`` of them).

    Returns ``(interval, link, bytes)``, one entry per (chunk, interval, link of its path), in that order;
    the sim's backhaul table and `edgeroam map` both count traffic this way.
    """
    w = float(interval_s)
    k0 = np.floor(start / w).astype(np.int64)
    k1 = np.maximum(k0, np.ceil(end / w).astype(np.int64) - 1)
    per = k1 - k0 + 1
    rec = np.repeat(np.arange(len(start)), per)
    k = k0[rec] + _ranks(per)
    kf = k.astype(np.float64)
    dur = end[rec] - start[rec]
    overlap = np.minimum(end[rec], (kf + 1) * w) - np.maximum(start[rec], kf * w)
    share = np.ones(len(rec))
    np.divide(overlap, dur, out=share, where=dur > 0)
    keep = share > 0
    rec, k, share = rec[keep], k[keep], share[keep]
    pid = path[rec]
    nl = n_links[pid]
    row = np.repeat(np.arange(len(rec)), nl)
    link = first[pid][row] + _ranks(nl)
    return k[row], link, (nbytes[rec] * share)[row]


class _Records:
    """The transfer records, one per chunk (`TRANSFER_COLUMNS`), in column buffers rather than a tuple per
    chunk: a 10,000-user pass records a few hundred thousand chunks, and the tables read them as columns."""

    KINDS = ("upload", "migrate")

    def __init__(self) -> None:
        self.ints = array("q")  # kind code, client, src, dst, layers, hops, complete per record
        self.floats = array("d")  # start, end, bytes per record
        self._columns: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.floats) // 3

    def add(self, kind: int, client: int, src: int, dst: int, start: float, end: float, nbytes: float,
            layers: int, hops: int, complete: bool) -> None:
        """Record a chunk (`kind`: an index into `KINDS`)."""
        self.ints.extend((kind, client, src, dst, layers, hops, complete))
        self.floats.extend((start, end, nbytes))
        self._columns = None

    def append(self, rec: tuple) -> None:
        """Record a chunk given as a `TRANSFER_COLUMNS` row (the net backend's measured transfers)."""
        kind, client, src, dst, start, end, nbytes, layers, hops, complete = rec
        self.add(self.KINDS.index(kind), int(client), int(src), int(dst), float(start), float(end),
                 float(nbytes), int(layers), int(hops), bool(complete))

    def columns(self) -> dict[str, np.ndarray]:
        """Every column as an array (``kind`` as its code); read-only views, made once for the tables."""
        if self._columns is not None:
            return self._columns
        i = np.array(self.ints, dtype=np.int64).reshape(-1, 7)
        f = np.array(self.floats, dtype=np.float64).reshape(-1, 3)
        i.flags.writeable = f.flags.writeable = False
        self._columns = {"kind": i[:, 0], "client": i[:, 1], "src": i[:, 2], "dst": i[:, 3], "start": f[:, 0],
                "end": f[:, 1], "bytes": f[:, 2], "layers": i[:, 4], "hops": i[:, 5],
                "complete": i[:, 6].astype(bool)}
        return self._columns


@dataclass(eq=False, slots=True)
class _Sender:
    """One transfer: chunks of layer indices sent one after the other over one path."""

    kind: int  # an index into `_Records.KINDS`
    client: int
    src: int
    dst: int
    path: tuple
    delay_s: float
    chunks: list[np.ndarray]
    sizes: list[int]
    pos: int = 0
    current: Event | None = None
    cancelled: bool = False


class SimBackend:
    """Executes actions on a fluid network in an `Engine` (virtual seconds from the first tick).

    Parameters
    ----------
    backhaul : networkx.Graph
        The topology's backhaul (server nodes ``s<id>``, edges with ``capacity_bps`` and ``delay_s``).
    servers : array-like of int
        Edge server ids (each gets a Wi-Fi uplink ``("up", id)``).
    weight_bytes : array-like of int
        Bytes of each layer.
    layer_names : sequence of str
        Layer names (what `SetPlan` and `Migrate` list).
    interval_s : float
        The interval t (accounting bins and TTL unit).
    ttl_intervals : int
        Lifetime of received layers, in intervals, refreshed on every use (0: they never expire).
    server_plans : int, optional
        Each server holds the layers of at most this many clients: beyond it the least recently used
        client's layers (one not attached to that server now) are evicted. None: no cap.
    up_bps : float
        Wi-Fi uplink of a cell (client -> server).
    everywhere : bool
        Every server holds every layer (optimal bound).
    chunk_bytes : float
        Target size of a chunk of a transfer.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.Graph()
    >>> G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)
    >>> b = SimBackend(G, [0, 1], [1_000_000, 1_000_000], ["a", "b"], interval_s=10.0, ttl_intervals=5,
    ...                up_bps=8e6, chunk_bytes=1e6)
    >>> b.begin_tick(0, 0.0, {})
    >>> b.grant(7, 0, np.array([True, True]))
    >>> b.execute([Migrate(7, 0, 1, ("a", "b"))])
    >>> b.advance(10.0)
    >>> b.holds(7, 1).tolist(), b.transfers()["end"].tolist()
    ([True, True], [2.0])
    """

    def __init__(
        self,
        backhaul: nx.Graph,
        servers: Any,
        weight_bytes: Any,
        layer_names: Any,
        *,
        interval_s: float,
        ttl_intervals: int,
        server_plans: int | None = None,
        up_bps: float,
        everywhere: bool = False,
        chunk_bytes: float = 8e6,
    ) -> None:
        self.engine = Engine(0.0)
        self._orders: dict[Key, list[tuple[int, np.ndarray]]] = {}
        self.graph = backhaul
        self.interval_s = float(interval_s)
        self.ttl = int(ttl_intervals)
        self.server_plans = None if server_plans is None else int(server_plans)
        self._recent: dict[int, OrderedDict[int, None]] = {}
        self._attached: set[Key] = set()
        self.evictions = 0
        self.everywhere = bool(everywhere)
        self.chunk_bytes = float(chunk_bytes)
        self.weight_bytes = np.asarray(weight_bytes, dtype=np.int64)
        self.n_layers = len(self.weight_bytes)
        self._name_index = {str(n): i for i, n in enumerate(layer_names)}
        self._names_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._names_by_id: dict[int, tuple[tuple[str, ...], np.ndarray]] = {}  # `_indices`
        self._chunking: dict[tuple[bytes, bool], tuple[tuple[int, ...], tuple[int, ...]]] = {}  # `_sender`
        self._full = np.ones(self.n_layers, dtype=bool)
        self._none = np.zeros(self.n_layers, dtype=bool)  # `holds_rows`' row of a pair holding nothing
        self.up_bps = float(up_bps)
        self._wifi: dict[int, PSServer] = {}
        # by the (src, dst) pair as a `Key`: (links, delay), or a neighbour's delay alone (`_path`)
        self._paths: dict[int, tuple[tuple, float] | float] = {}
        self._nodes: dict[int, str] = {}  # server id -> its node name (`_node`)
        self._adj = backhaul._adj  # the graph's own dicts (what `backhaul.adj` views, at less cost a lookup)
        if any("capacity_bps" not in d for _u, _v, d in backhaul.edges(data=True)):
            backhaul_links(backhaul)  # its TopologyError names the first such edge
        self.net = FluidNetwork(self.engine, {})
        self._held: dict[Key, np.ndarray] = {}
        # client -> the servers holding its layers: a list (a client's few servers; a set is three times the
        # memory for 10,000 clients), each server once (`_add` and `_drop` keep it so)
        self._by_client: dict[int, list[int]] = {}
        self._mem_sum = 0
        self._mem_ticks = 0
        self._mem_peak = 0
        self._per_server: dict[int, int] = {}
        self._per_server_peak = 0
        # the holdings log (`holdings`) in flat columns, not a list of tuples (a 10,000-user pass logs
        # hundreds of thousands of changes): times; the pair's key and the bytes; copies (-1, 0, +1)
        self._hold_t = array("d")
        self._hold_v = array("q")
        self._hold_c = array("b")
        self._pending: dict[Key, np.ndarray] = {}
        self._expire: dict[Key, int] = {}
        # expiry tick -> keys refreshed to it (stale ones skipped), 8 bytes each (hundreds of thousands)
        self._expiring: dict[int, array] = {}
        self._uploads: dict[int, _Sender] = {}
        self._inflight: dict[Key, list[_Sender]] = {}
        self._watch: dict[Key, list[tuple[float, np.ndarray]]] = {}
        self._records = _Records()
        self._k = 0
        self.actions_done = 0

    # -- clock ----------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Virtual seconds since the first tick."""
        return self.engine.now

    def advance(self, t: float) -> None:
        """Run the fluid network up to virtual time `t` (layers arriving meanwhile land)."""
        if t > self.engine.now:
            self.engine.run(until=t)

    def begin_tick(self, k: int, t: float, attached: dict[int, int]) -> None:
        """Start tick `k` at time `t`: advance, expire holdings past their TTL, refresh the attached ones.

        `attached` maps each active client to its current server.
        """
        self.advance(t)
        self._k = k
        keys = [client << 32 | server for client, server in attached.items()]
        self._attached = set(keys)
        expire = self._expire
        if self.server_plans is None and self.ttl > 0:  # `_refresh` of each key (no LRU order to keep)
            exp = k + self.ttl
            new = list(compress(keys, map(ne, map(expire.get, keys), repeat(exp))))  # C-level loops
            if new:
                expire.update(dict.fromkeys(new, exp))
                self._expiring.setdefault(exp, array("q")).extend(new)
        else:
            for key in keys:
                self._refresh(key)
        for exp in sorted(e for e in self._expiring if e < k):  # in (tick, client, server) order
            # the bucket's keys sorted without repeats (np.unique; a few keys, as on most ticks of a sparse
            # replay: in plain Python), their expiry looked up in one C-level map (most were refreshed since)
            got = self._expiring.pop(exp)
            bucket = sorted(set(got)) if len(got) <= 64 else np.unique(np.frombuffer(got, np.int64)).tolist()
            for key in list(compress(bucket, map(lt, map(expire.get, bucket, repeat(k)), repeat(k)))):
                del expire[key]
                self._drop(key)
        self._mem_sum += len(self._held)
        self._mem_ticks += 1
        self._mem_peak = max(self._mem_peak, len(self._held))

    # -- state queries --------------------------------------------------------------------------------------
    def held_by(self, client: int) -> frozenset[int]:
        """Servers that hold at least one layer of `client` now."""
        return frozenset(self._by_client.get(client, ()))

    def memory(self) -> dict[str, float]:
        """Server memory in client plans held ((client, server) pairs holding any layer): mean over ticks,
        peak, the peak on one server (bounded by `server_plans` when set) and the LRU evictions."""
        return {"mean_held": self._mem_sum / max(self._mem_ticks, 1), "peak_held": float(self._mem_peak),
                "peak_held_per_server": float(self._per_server_peak), "evictions": float(self.evictions)}

    def holdings(self) -> pd.DataFrame:
        """Every change of what the servers hold, in time order: ``t`` (virtual s), ``client``, ``server``,
        ``bytes`` (layer bytes gained, negative when dropped) and ``copies`` (+1 when a (client, server) pair
        starts holding layers, -1 when it stops). The cumulative sums are the storage held over time
        (`edgeroam.emulator.metrics.storage_summary`)."""
        v = np.frombuffer(self._hold_v, np.int64).reshape(-1, 2)  # views: the frame's one copy is all
        return pd.DataFrame({"t": np.frombuffer(self._hold_t, np.float64), "client": v[:, 0] >> 32,
                             "server": v[:, 0] & _LOW, "bytes": v[:, 1],
                             "copies": np.frombuffer(self._hold_c, np.int8).astype(np.int64)}, copy=True)

    def _log_hold(self, key: Key, nbytes: int, copies: int) -> None:
        self._hold_t.append(self.engine.now)
        self._hold_v.extend((key, nbytes))
        self._hold_c.append(copies)

    def _add(self, key: Key, mask: np.ndarray, nbytes: int | None = None) -> np.ndarray:
        """`key` starts holding `mask` (`nbytes` of layers: the mask's, when not given)."""
        self._held[key] = mask
        client, server = key >> 32, key & _LOW
        self._log_hold(key, int(self.weight_bytes.dot(mask)) if nbytes is None else nbytes, 1)
        self._by_client.setdefault(client, []).append(server)
        n = self._per_server[server] = self._per_server.get(server, 0) + 1
        if self.server_plans is not None:
            self._touch(key)
            if n > self.server_plans:
                self._evict(key)
        self._per_server_peak = max(self._per_server_peak, self._per_server[server])  # after evictions
        return mask

    def _touch(self, key: Key) -> None:
        """Mark `key` the most recently used on its server (the LRU order)."""
        client, server = key >> 32, key & _LOW
        rec = self._recent.setdefault(server, OrderedDict())
        rec[client] = None
        rec.move_to_end(client)

    def _evict(self, keep: Key) -> None:
        """Drop the least recently used clients of `keep`'s server, down to `server_plans` (never `keep`
        itself nor a client attached there now)."""
        server = keep & _LOW
        rec = self._recent[server]
        for client in list(rec):
            if self._per_server[server] <= self.server_plans:
                break
            key = client << 32 | server
            if key == keep or key in self._attached:
                continue
            self._drop(key)
            self.evictions += 1

    def _drop(self, key: Key) -> None:
        mask = self._held.pop(key, None)
        if mask is None:
            return
        client, server = key >> 32, key & _LOW
        # the mask's bytes: an integer dot product, the same sum as weight_bytes[mask].sum() in one numpy call
        self._log_hold(key, -int(self.weight_bytes.dot(mask)), -1)
        self._by_client[client].remove(server)
        self._per_server[server] -= 1
        self._expire.pop(key, None)
        rec = self._recent.get(server)
        if rec is not None:
            rec.pop(client, None)

    def holds(self, client: int, server: int) -> np.ndarray | None:
        """Layers `server` holds for `client` now (None: nothing); do not mutate."""
        if self.everywhere:
            return self._full
        return self._held.get(client << 32 | server)

    def holds_rows(self, clients: np.ndarray, servers: np.ndarray) -> np.ndarray:
        """`holds` of many (client, server) pairs as the rows of one read-only bool matrix [N, layers]
        (a row of False: nothing held): a policy asks about ~50,000 pairs a tick at 10,000 users, here in
        C-level loops (one dict lookup and one copy of the mask's bytes per pair) instead of a call each."""
        n = len(clients)
        if self.everywhere:
            return np.ones((n, self.n_layers), dtype=bool)
        keys = (np.asarray(clients, np.int64) << 32 | np.asarray(servers, np.int64)).tolist()
        joined = b"".join(map(np.ndarray.tobytes, map(self._held.get, keys, repeat(self._none))))
        return np.frombuffer(joined, dtype=bool).reshape(n, self.n_layers)

    def grant(self, client: int, server: int, mask: np.ndarray) -> None:
        """Put layers on a server directly (tests, warm starts)."""
        key = _key(client, server)
        cur = self._held.get(key)
        if cur is None:
            self._add(key, mask.copy())
        else:
            gained = int(self.weight_bytes[mask & ~cur].sum())
            if gained:
                self._log_hold(key, gained, 0)
            self._held[key] = cur | mask
        self._refresh(key)

    def watch(self, client: int, server: int) -> None:
        """Record the arrivals of `client`'s layers at `server` from now on (a query window)."""
        self._watch[_key(client, server)] = []

    def unwatch(self, client: int, server: int) -> list[tuple[float, np.ndarray]]:
        """Stop recording; the (time, layer indices) arrivals since `watch`."""
        return self._watch.pop(_key(client, server), [])

    def depart(self, client: int) -> None:
        """The client left (its trajectory ended): cancel its upload."""
        self._cancel_upload(client)

    # -- actions --------------------------------------------------------------------------------------------
    def execute(self, actions: list[Action | Migrates]) -> None:
        """Carry out `actions` now, in `sort_actions` order; they replace the standing relay orders. The
        refreshes of `Migrates` batches are carried out as arrays (`_refresh_only`)."""
        self._orders = {}
        if self.server_plans is None:
            actions = self._refresh_only(actions)
        for a in sort_actions(actions):
            self.actions_done += 1
            if isinstance(a, SetPlan):
                self._set_plan(a)
            elif isinstance(a, Migrate):
                self._migrate(a)
            elif isinstance(a, Drop):
                self._drop(_key(a.client, a.server))
            else:  # sort_actions rejects non-actions: a SetCloud, which only the tier slots carry out
                raise RunError(f"{a!r}: a query's cloud part needs topology.tiers with compute = \"slots\" "
                               "(the sim's slot windows take SetCloud; without them there is no cloud)")

    def _refresh_only(self, actions: list[Action | Migrates]) -> list[Action]:
        """Carry out the Migrates with no layers (most of a tick's actions) at once; the other actions.

        Such a Migrate only refreshes the TTL of what `dst` holds of the client, to the same tick for all of
        them, so without a per-server LRU order (`server_plans`) where it falls among the tick's actions
        does not matter: a pair that starts holding later in the batch is refreshed when it does, and a
        Drop of the client comes after its Migrates in `sort_actions` order anyway.
        """
        rest: list[Action] = []
        keys: list[Key] = []
        for a in actions:
            if type(a) is Migrates:  # noqa: E721 - a batch: its refreshes as one array, its sends as Migrates
                refresh = a.plan < 0
                keys.extend((a.client[refresh] << 32 | a.dst[refresh]).tolist())
                if not refresh.all():
                    send = ~refresh
                    layers, relay = a.layers, a.relay
                    rest.extend(plain_migrate(c, s, d, layers[p], relay) for c, s, d, p in zip(
                        a.client[send].tolist(), a.src[send].tolist(), a.dst[send].tolist(),
                        a.plan[send].tolist(), strict=True))
            elif type(a) is Migrate and not a.layers:  # noqa: E721 - exactly a Migrate
                keys.append(a.client << 32 | a.dst)
            else:
                rest.append(a)
        self.actions_done += len(keys)
        if self.everywhere or self.ttl <= 0:
            return rest
        exp = self._k + self.ttl
        held, expire = self._held, self._expire
        if len(keys) <= 8:  # a few (most ticks of a sparse replay): plain Python beats building a set
            new = [key for key in dict.fromkeys(keys) if key in held and expire.get(key) != exp]
        else:
            both = list(held.keys() & keys)  # (the order of `new` matters not)
            new = list(compress(both, map(ne, map(expire.get, both), repeat(exp))))
        if new:
            expire.update(dict.fromkeys(new, exp))
            self._expiring.setdefault(exp, array("q")).extend(new)
        return rest

    def _indices(self, names: tuple[str, ...]) -> np.ndarray:
        # a policy hands over the same few plan tuples (hundreds of names each) again and again: found by the
        # object first (its entry keeps it alive, so its id stays its own), by its names (a hash of every
        # name) only when the object is new
        hit = self._names_by_id.get(id(names))
        if hit is not None and hit[0] is names:
            return hit[1]
        idx = self._names_cache.get(names)
        if idx is None:
            try:
                idx = np.array([self._name_index[n] for n in names], dtype=np.int64)
            except KeyError as exc:
                raise RunError(f"unknown layer {exc.args[0]!r} in an action") from None
            self._names_cache[names] = idx
        if len(self._names_by_id) >= _NAMES_MEMO:
            self._names_by_id.clear()
        self._names_by_id[id(names)] = (names, idx)
        return idx

    def settle(self, client: int, server: int) -> None:
        """The client arrives at `server`: land the delivered prefix of migrations in flight, chunk the rest.

        Idempotent; called by the master before it looks at what the server holds.
        """
        key = _key(client, server)
        for snd in self._inflight.pop(key, []):
            if snd.cancelled or snd.current is None or snd.current.triggered:
                continue
            if not self.net.in_progress(snd.current):
                continue  # every byte is out, only the path delay is left: it lands by itself
            rec = self.net.cancel(snd.current)
            snd.cancelled, snd.current = True, None
            idx = snd.chunks[snd.pos]
            cum = np.cumsum(self.weight_bytes[idx])
            n_full = int(np.searchsorted(cum, rec.nbytes + 1e-6, side="right"))
            if n_full:
                self._land(key, idx[:n_full], rec.start, rec.end)
            self._records.add(snd.kind, client, snd.src, snd.dst, rec.start, rec.end, rec.nbytes, n_full,
                              len(snd.path), False)
            rest = np.concatenate([idx[n_full:], *snd.chunks[snd.pos + 1:]]).astype(np.int64)
            pend = self._pending.get(key)
            if pend is not None:
                pend[rest] = False
            if len(rest):
                self._sender(snd.kind, client, snd.src, snd.dst, rest, (snd.path, snd.delay_s), chunked=True)
            else:
                self._unpend(key)

    def _set_plan(self, a: SetPlan) -> None:
        self._cancel_upload(a.client)
        if self.everywhere:
            return
        self.settle(a.client, a.server)
        key = _key(a.client, a.server)
        self._refresh(key)
        todo = self._missing(key, self._indices(a.layers))
        if len(todo):
            snd = self._sender(UPLOAD, a.client, -1, a.server, todo, ((), 0.0), chunked=True)
            self._uploads[a.client] = snd

    def _migrate(self, a: Migrate) -> None:
        if self.everywhere:
            return
        dst_key = _key(a.client, a.dst)
        if dst_key in self._held:
            self._refresh(dst_key)
        if not a.layers:  # a refresh only (most of a tick's Migrates): nothing to send or relay
            return
        idx = self._indices(a.layers)
        if a.relay and len(idx):
            self._orders.setdefault(_key(a.client, a.src), []).append((a.dst, idx))
        src = self._held.get(_key(a.client, a.src))
        if src is None:
            return
        idx = idx[src[idx]]
        todo = self._missing(dst_key, idx)
        if len(todo):
            self._sender(MIGRATE, a.client, a.src, a.dst, todo, self._path(a.src, a.dst))

    def _missing(self, key: Key, order: np.ndarray) -> np.ndarray:
        held = self._held.get(key)
        pend = self._pending.get(key)
        if held is None:
            return order.copy() if pend is None else order[~pend[order]]
        if pend is None:
            return order[~held[order]]
        return order[~(held[order] | pend[order])]

    # -- transfers ------------------------------------------------------------------------------------------
    def _node(self, server: int) -> str:
        """The backhaul node name of edge server `server` (`server_node`), interned and kept."""
        name = self._nodes.get(server)
        if name is None:
            name = self._nodes[server] = intern(server_node(server))
        return name

    def _path(self, src: int, dst: int) -> tuple[tuple, float]:
        """The links and delay of the shortest path `src` -> `dst`; its links join the fluid network."""
        key = _key(src, dst)
        hit = self._paths.get(key)
        if hit is None:
            # node names interned: one string per server, not two new ones per pair (a 10,000-user pass routes
            # ~64,000 pairs, most of them neighbours)
            u, v = self._node(src), self._node(dst)
            nbrs = self._adj.get(u) if u != v else None
            data = None if nbrs is None else nbrs.get(v)
            if data is not None:  # neighbours: the one-hop path, what `route` gives them without a search
                hit = ((u, v),), float(data["delay_s"])
                self._paths[key] = hit[1]  # only its delay kept: the link is the pair (~10 MB less at 10k)
            else:
                links, delay = route(self.graph, src, dst)
                hit = self._paths[key] = tuple((_interned(a), _interned(b)) for a, b in links), delay
            # a path's links join with their edge's capacity, both directions alike (`backhaul_links`), looked
            # up as they come into use rather than a map of every link of a large mesh
            adj = self._adj
            self.net.add_links({lnk: float(adj[lnk[0]][lnk[1]]["capacity_bps"]) for lnk in hit[0]})
            return hit
        if type(hit) is float:  # noqa: E721 - a neighbour's delay (`_links`): its one link, the nodes named
            nodes = self._nodes
            return ((nodes[src], nodes[dst]),), hit
        return hit

    def _links(self, key: Key) -> tuple:
        """The links of the routed pair `key` (src, dst); a neighbour's delay alone stands for its link."""
        hit = self._paths[key]
        if type(hit) is float:  # noqa: E721 - exactly a float: a neighbour
            return ((self._node(key >> 32), self._node(key & _LOW)),)
        return hit[0]

    def _sender(
        self, kind: int, client: int, src: int, dst: int, todo: np.ndarray, route, *, chunked: bool = False
    ) -> _Sender:
        # the chunks' bounds and bytes depend on the layers alone, and a pass sends the same few layer lists
        # (a plan, or what a server lacks of one) over and over: worked out once per list
        memo_key = (todo.tobytes(), chunked)
        hit = self._chunking.get(memo_key)
        if hit is None:
            if len(self._chunking) >= _CHUNKING_MEMO:
                self._chunking.clear()
            hit = self._chunking[memo_key] = self._chunk_bounds(todo, chunked)
        bounds, sizes = hit
        chunks = [todo] if len(bounds) == 1 else [todo[lo:hi] for lo, hi in zip((0, *bounds[:-1]), bounds,
                                                                                 strict=True)]
        return self._start(kind, client, src, dst, todo, route, chunks, list(sizes))

    def _chunk_bounds(self, todo: np.ndarray, chunked: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The end of each chunk of `todo` (positions) and its bytes: one chunk (a migration's flow), or with
        `chunked` a new one every time the running total passes another multiple of `chunk_bytes`."""
        wb = self.weight_bytes[todo].tolist()
        bounds = []
        if chunked:  # (a few hundred layers at most: plain Python beats half a dozen numpy calls)
            total, level = 0, 0
            for i, w in enumerate(wb):
                total += w
                k = math.floor(total / self.chunk_bytes)
                if k > level:
                    bounds.append(i + 1)
                    level = k
        if not bounds or bounds[-1] != len(wb):
            bounds.append(len(wb))
        ends, sizes, lo = [], [], 0
        for hi in bounds:
            if hi > lo:
                ends.append(hi)
                sizes.append(sum(wb[lo:hi]))
                lo = hi
        return tuple(ends), tuple(sizes)

    def _start(self, kind: int, client: int, src: int, dst: int, todo: np.ndarray, route,
               chunks: list[np.ndarray], sizes: list[int]) -> _Sender:
        """Send `todo` (its `chunks` of `sizes` bytes) from now: pending at `dst`, in flight, first chunk."""
        key = _key(client, dst)
        pend = self._pending.get(key)
        if pend is None:
            pend = self._pending[key] = np.zeros(self.n_layers, dtype=bool)
        pend[todo] = True
        snd = _Sender(kind, client, src, dst, route[0], route[1], chunks, sizes)
        if kind == MIGRATE:
            self._inflight.setdefault(key, []).append(snd)
        self._next_chunk(snd)
        return snd

    def _next_chunk(self, snd: _Sender) -> None:
        while snd.pos < len(snd.chunks) and snd.sizes[snd.pos] == 0:
            # zero-byte layers (ReLU, pooling) land at once
            self._arrive(snd, self.engine.now, self.engine.now)
        if snd.pos >= len(snd.chunks):
            snd.current = None  # the last chunk's event refers back to `snd`: no cycle left for the collector
            self._unpend(_key(snd.client, snd.dst))
            if snd.kind == UPLOAD and self._uploads.get(snd.client) is snd:
                del self._uploads[snd.client]
            return
        if snd.kind == UPLOAD:
            cell = self._wifi.get(snd.dst)
            if cell is None:
                cell = self._wifi[snd.dst] = PSServer(self.engine, 1.0, name=f"wifi-up s{snd.dst}")
            ev = cell.run(snd.sizes[snd.pos] * 8.0 / self.up_bps, tag=snd)
        else:
            ev = self.net.transfer(snd.path, snd.sizes[snd.pos], tag=snd, latency_s=snd.delay_s)
        snd.current = ev
        start = self.engine.now
        ev.callbacks.append(lambda e, s=snd, t0=start: self._chunk_done(s, t0))

    def _chunk_done(self, snd: _Sender, start: float) -> None:
        if snd.cancelled:
            return
        self._arrive(snd, start, self.engine.now)
        self._next_chunk(snd)

    def _arrive(self, snd: _Sender, start: float, end: float) -> None:
        idx = snd.chunks[snd.pos]
        key = _key(snd.client, snd.dst)
        self._land(key, idx, start, end, snd.sizes[snd.pos])
        self._records.add(snd.kind, snd.client, snd.src, snd.dst, start, end, snd.sizes[snd.pos], len(idx),
                          len(snd.path), True)
        snd.pos += 1
        if snd.pos >= len(snd.chunks) and snd.kind == MIGRATE:
            lst = self._inflight.get(key)
            if lst is not None and snd in lst:
                lst.remove(snd)
                if not lst:
                    del self._inflight[key]

    def _land(self, key: Key, idx: np.ndarray, start: float, end: float, nbytes: int | None = None) -> None:
        """Layers `idx` (`nbytes` of them, when known) land at `key` at `end` (sent from `start`)."""
        held = self._held.get(key)
        if held is None:
            held = self._add(key, np.zeros(self.n_layers, dtype=bool), 0)
            self._refresh(key)
            gained = int(self.weight_bytes[idx].sum()) if nbytes is None else nbytes  # every layer is new
        else:
            gained = int(self.weight_bytes[idx[~held[idx]]].sum())
        if gained:
            self._log_hold(key, gained, 0)
        held[idx] = True
        pend = self._pending.get(key)
        if pend is not None:
            pend[idx] = False
        w = self._watch.get(key)
        if w is not None:
            w.append((end, idx))
        orders = self._orders.get(key) if self._orders else None
        if orders:
            self._forward(key, idx, orders)

    def _forward(self, key: Key, landed: np.ndarray, orders: list[tuple[int, np.ndarray]]) -> None:
        """Relay: send the just-landed layers of `key` on to the standing orders' destinations."""
        client, src = key >> 32, key & _LOW
        now = np.zeros(self.n_layers, dtype=bool)
        now[landed] = True  # a mask, not np.isin: the same layers in `order`'s order, far cheaper
        for dst, order in orders:
            todo = self._missing(_key(client, dst), order[now[order]])
            if len(todo):
                self._sender(MIGRATE, client, src, dst, todo, self._path(src, dst))

    def _cancel_upload(self, client: int) -> None:
        snd = self._uploads.pop(client, None)
        if snd is None:
            return
        cur = snd.current
        if cur is not None and cur.triggered:
            # the chunk's completion fires at this instant: it lands then, and nothing is sent after it
            del snd.chunks[snd.pos + 1:]
        else:
            snd.cancelled = True
            if cur is not None:
                rec = self._wifi[snd.dst].cancel(cur)
                snd.current = None
                sent = rec.work_s * self.up_bps / 8.0
                if sent + 1e-6 >= snd.sizes[snd.pos]:  # its last byte is in (as in `settle`): the chunk lands
                    self._arrive(snd, rec.start, rec.end)
                else:
                    self._records.add(snd.kind, snd.client, snd.src, snd.dst, rec.start, rec.end, sent, 0, 0,
                                      False)
        key = _key(client, snd.dst)
        pend = self._pending.get(key)
        if pend is not None:
            for idx in snd.chunks[snd.pos:]:
                pend[idx] = False
            self._unpend(key)

    def _unpend(self, key: Key) -> None:
        """Forget `key`'s pending mask once nothing is on its way there (a missing mask means none pending):
        a pass leaves hundreds of thousands of (client, server) pairs behind."""
        pend = self._pending.get(key)
        if pend is not None and not np.count_nonzero(pend):  # (pend.any() costs four times as much)
            del self._pending[key]

    def _refresh(self, key: Key) -> None:
        if self.server_plans is not None and key in self._held:
            self._touch(key)
        if self.ttl <= 0:
            return
        exp = self._k + self.ttl
        if self._expire.get(key) != exp:
            self._expire[key] = exp
            bucket = self._expiring.get(exp)
            if bucket is None:
                self._expiring[exp] = array("q", (key,))
            else:
                bucket.append(key)

    # -- results --------------------------------------------------------------------------------------------
    def release(self, *, records: bool = True, log: bool = True) -> None:
        """Let go of the per-client state and the logs once their tables are built (the end of a pass): a
        10,000-user pass holds a few hundred MB of them while the master still builds its summary. With
        ``records=False`` the transfer records and the routes stay (`transfers` and `backhaul` read them),
        with ``log=False`` the holdings log (`holdings` reads it)."""
        for part in (self._held, self._by_client, self._pending, self._expire, self._expiring, self._uploads,
                     self._inflight, self._watch, self._orders, self._recent, self._per_server):
            part.clear()
        self._attached = set()
        if log:
            self._hold_t, self._hold_v, self._hold_c = array("d"), array("q"), array("b")
        if records:
            self._records = _Records()
            # the routes (`backhaul` reads them) and what is left in the event queue and the fluid network
            # (the departures scheduled past the end, their flows): ~30 MB at 10,000 users
            self._paths, self._nodes, self._names_cache, self._wifi, self._chunking = {}, {}, {}, {}, {}
            self._names_by_id = {}
            self.engine.clear()  # (a sim pass runs without the cyclic collector: no queue left to hold them)
            self.engine = Engine(self.engine.now)
            self.net = FluidNetwork(self.engine, {})
        trim_heap()  # the heap pages all this freed go back to the system before the pass's tables are made

    def transfers(self) -> pd.DataFrame:
        """One row per chunk sent (`TRANSFER_COLUMNS`); ``complete`` is False for a cancelled upload."""
        if not len(self._records):
            df = pd.DataFrame([], columns=TRANSFER_COLUMNS)
            return df.astype({"client": np.int64, "src": np.int64, "dst": np.int64, "bytes": np.float64,
                              "layers": np.int64, "hops": np.int64, "complete": bool})
        cols = self._records.columns()
        kind = np.array(_Records.KINDS, dtype=object)[cols["kind"]]
        return pd.DataFrame(cols | {"kind": kind}, columns=TRANSFER_COLUMNS)

    def record(self, transfers: pd.DataFrame) -> None:
        """Add transfers measured elsewhere (a `transfers` table: the net backend's) to this backend's
        records, each migration's pair routed as this backend routes it, so that `transfers` and `backhaul`
        account them as its own (one routing and accounting rule for both backends)."""
        for rec in transfers.itertuples(index=False):
            if rec.kind == "migrate":
                self._path(int(rec.src), int(rec.dst))
            self._records.append(tuple(rec))

    def backhaul(self, t0: float = 0.0) -> pd.DataFrame:
        """Bytes sent (``up_bytes``) and received (``down_bytes``) over the backhaul per server and interval.

        Relays count too: a chunk over path s1 -> s2 -> s3 is uplink of s1 and s2, downlink of s2 and s3.
        Columns ``interval``, ``start`` (s since the first tick + `t0`), ``server``, ``up_bytes``,
        ``down_bytes``; sorted by interval and server.
        """
        w = self.interval_s
        cols = self._records.columns()
        keep = (cols["kind"] == MIGRATE) & (cols["bytes"] > 0)
        src, dst = cols["src"][keep], cols["dst"][keep]
        # the links of each path, flattened (u: uplink end, v: downlink end), and each record's path (paths
        # numbered in the order of their first record)
        pairs, first_rec, rec_path = np.unique(src * (1 << 32) + dst, return_index=True, return_inverse=True)
        order = np.argsort(first_rec, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        rec_path = rank[rec_path.reshape(-1)]
        # each link end as its server id (-1: a node that is no edge server, e.g. an aggregation switch)
        ids: dict[Any, int] = {}
        flat_u, flat_v, first, n_links = array("q"), array("q"), array("q"), array("q")
        for pair in pairs[order].tolist():
            links = self._links(pair)
            first.append(len(flat_u))
            n_links.append(len(links))
            for u, v in links:
                for node, flat in ((u, flat_u), (v, flat_v)):
                    sid = ids.get(node)
                    if sid is None:
                        name = str(node)
                        sid = ids[node] = int(name[1:]) if _SERVER_NODE.match(name) else -1
                    flat.append(sid)
        start, end, nbytes = cols["start"][keep], cols["end"][keep], cols["bytes"][keep]
        k, link, b = spread_chunks(start, end, nbytes, rec_path, np.frombuffer(first, np.int64),
                                   np.frombuffer(n_links, np.int64), w)
        if not len(k):
            return pd.DataFrame({"interval": np.zeros(0, np.int64), "start": np.zeros(0),
                                 "server": np.zeros(0, np.int64), "up_bytes": np.zeros(0),
                                 "down_bytes": np.zeros(0)})
        # the uplink rows, then the downlink rows, of the link ends that are servers; integer server ids, not
        # node names, as group keys: the same rows per group in the same order (the same sums), without a
        # column of names over every (chunk, interval, link) or a frame per direction
        server = np.concatenate([np.frombuffer(flat_u, np.int64)[link],
                                 np.frombuffer(flat_v, np.int64)[link]])
        sel = server >= 0
        span = max(int(server.max()), 0) + 1  # (interval, server) as one key, in the same order
        key = (np.concatenate([k, k]) * span + server)[sel]
        zero = np.zeros(len(b))
        sums = pd.DataFrame({"up_bytes": np.concatenate([b, zero])[sel],
                             "down_bytes": np.concatenate([zero, b])[sel]}).groupby(key).sum()
        del k, link, b, server, sel, zero, key
        key = sums.index.to_numpy()
        interval = key // span
        return pd.DataFrame({"interval": interval, "start": t0 + interval * w, "server": key % span,
                             "up_bytes": sums["up_bytes"].to_numpy(),
                             "down_bytes": sums["down_bytes"].to_numpy()})
