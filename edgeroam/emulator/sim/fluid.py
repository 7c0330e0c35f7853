"""Fluid flows over a capacitated network: each transfer gets its max-min fair rate as flows come and go.

A flow is `nbytes` over a path of directed links. Its rate is the max-min fair share (progressive filling)
over all flows in progress; rates are recomputed, once per instant, whenever a flow starts or ends, and the
next completion is one engine timer. Bytes are accounted per link, in total and per interval, so the backend
can report backhaul uplink/downlink per server and per link per interval.

Links are *directed*: Wi-Fi up and Wi-Fi down of a cell are two links, and an undirected backhaul edge
``(u, v)`` of the topology (`networkx.Graph` with ``capacity_bps``) is modelled as two links ``(u, v)`` and
``(v, u)``, each with the full capacity, like a full-duplex wire (:func:`backhaul_links`). Bytes sent by
server ``u`` to ``v`` therefore count on ``(u, v)`` only: the uplink of ``u`` and the downlink of ``v``.

Capacities are in bits per second, sizes in bytes. Propagation delay is not part of the fluid model; a caller
that wants it waits for the path's delay after the transfer (``latency_s`` of :meth:`FluidNetwork.transfer`).

What it leaves to others: routing (the topology's shortest paths), and what the bytes mean (layers, queries).

The progressive filling is vectorized over a flows x links incidence kept as CSR arrays (flow -> links and
link -> flows): each round saturates the links with the smallest fair share and freezes their flows, so one
recomputation costs O(rounds x links + nnz) numpy work, not O(flows^2) Python.

The flows in progress are kept as plain lists while they are few (a sparse replay has one to a few at a time,
where a numpy call costs more than its arithmetic) and as arrays while they are many (`_VECTOR`); either way
every float comes out of the same operations in the same order. Only the links that carry a flow are
accounted at each step, not every link of the network (thousands, as paths come into use).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.sim.engine import LATE, NORMAL, Engine, Event
from edgeroam.errors import RunError, TopologyError

__all__ = ["FlowRecord", "FluidNetwork", "Transfer", "backhaul_links", "max_min_rates", "path_links"]

_TIME_EPS = 1e-10
"""A flow whose remaining bytes take at most this long at its rate is complete (absorbs float residue)."""
_BYTE_EPS = 1e-6
_SMALL = 24
"""Flow-link entries up to which `max_min_rates` runs in plain Python (`_max_min_small`)."""
_VECTOR = 32
"""Flows in progress above which they are kept as arrays rather than lists."""


def backhaul_links(graph: Any, capacity: str = "capacity_bps") -> dict[tuple[Hashable, Hashable], float]:
    """Directed links of an undirected backhaul graph: each edge ``(u, v)`` gives ``(u, v)`` and ``(v, u)``.

    Both directions get the edge's full `capacity` attribute (full duplex). Edges are listed in sorted node
    order so the link order (and hence every array) is stable.
    """
    links: dict[tuple[Hashable, Hashable], float] = {}
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (repr(e[0]), repr(e[1]))):
        if capacity not in data:
            raise TopologyError(f"backhaul edge ({u!r}, {v!r}) has no {capacity!r} attribute")
        cap = float(data[capacity])
        links[(u, v)] = cap
        links[(v, u)] = cap
    return links


def path_links(nodes: Sequence[Hashable]) -> list[tuple[Hashable, Hashable]]:
    """The directed links ``[(n0, n1), (n1, n2), ...]`` of a node path (e.g. a networkx shortest path)."""
    return [(nodes[i], nodes[i + 1]) for i in range(len(nodes) - 1)]


def max_min_rates(capacity: np.ndarray, flow_ptr: np.ndarray, flow_links: np.ndarray) -> np.ndarray:
    """Max-min fair rates by progressive filling.

    Parameters
    ----------
    capacity : ndarray of float, shape (L,)
        Link capacities (any unit; rates come out in the same unit).
    flow_ptr, flow_links : ndarray of int
        CSR incidence: the links of flow ``f`` are ``flow_links[flow_ptr[f]:flow_ptr[f+1]]`` (no repeats).

    Returns
    -------
    ndarray of float, shape (F,)
        The rate of each flow; ``inf`` for a flow with an empty path.

    Notes
    -----
    Progressive filling raises one water level for all unfrozen flows; a link saturates when the level reaches
    its fair share ``(capacity - frozen load) / unfrozen flows``, and its flows freeze at that rate. Done one
    link at a time that takes as many rounds as there are distinct bottleneck levels (hundreds in a mesh).
    Here a round saturates *every* link whose share is the smallest among the links its unfrozen flows cross
    (a local minimum), not only the global one: freezing flows at a lower level only raises the shares of the
    other links they cross, so such a link saturates at the same level as in the one-at-a-time order and the
    result is identical (ties within 1e-12 relative count as equal). A round is a few O(nnz) numpy passes
    (``minimum.reduceat`` over the flow -> links and link -> flows incidence); the number of rounds is the
    length of the longest chain of bottlenecks that depend on each other, a handful in practice.
    """
    if len(flow_links) <= _SMALL:
        return _max_min_small(capacity, np.diff(flow_ptr).tolist(), np.asarray(flow_links).tolist())
    n_links = len(capacity)
    n_flows = len(flow_ptr) - 1
    rates = np.full(n_flows, math.inf)
    lengths = np.diff(flow_ptr)
    # The unfrozen part of the incidence, compacted after every round: flow side (links of each flow, grouped
    # by flow) and link side (flows of each link, grouped by link).
    fids = np.flatnonzero(lengths > 0)
    if len(fids) == 0:
        return rates
    seglen = lengths[fids]
    fl = np.asarray(flow_links, dtype=np.int64)
    icount = np.bincount(fl, minlength=n_links)
    if icount.max() <= 1:  # no link shared: every flow freezes in the first round at its smallest capacity
        cap = np.maximum(np.asarray(capacity, dtype=np.float64)[fl], 0.0)
        rates[fids] = np.minimum.reduceat(cap, np.cumsum(seglen) - seglen)
        return rates
    owner = np.repeat(np.arange(n_flows), lengths)
    lf = owner[np.argsort(fl, kind="stable")]
    residual = np.asarray(capacity, dtype=np.float64).copy()
    frozen = np.zeros(n_flows, dtype=bool)
    fmin = np.full(n_flows, math.inf)
    share = np.empty(n_links)
    bottleneck = np.zeros(n_links, dtype=bool)
    while len(fids):
        fstarts = np.cumsum(seglen) - seglen
        lids = np.flatnonzero(icount)
        lstarts = (np.cumsum(icount) - icount)[lids]
        share.fill(math.inf)
        share[lids] = np.maximum(residual[lids], 0.0) / icount[lids]
        fmin_seg = np.minimum.reduceat(share[fl], fstarts)
        fmin[fids] = fmin_seg
        lmin = np.minimum.reduceat(fmin[lf], lstarts)
        bottleneck[:] = False
        bottleneck[lids] = share[lids] <= lmin * (1.0 + 1e-12)
        newly = np.logical_or.reduceat(bottleneck[fl], fstarts)
        done = fids[newly]
        rates[done] = fmin_seg[newly]
        frozen[done] = True
        entry_done = np.repeat(newly, seglen)
        links_hit = fl[entry_done]
        icount -= np.bincount(links_hit, minlength=n_links)
        load = np.repeat(fmin_seg[newly], seglen[newly])
        residual -= np.bincount(links_hit, weights=load, minlength=n_links)
        fl = fl[~entry_done]
        fids = fids[~newly]
        seglen = seglen[~newly]
        lf = lf[~frozen[lf]]
    return rates


def _max_min_small(capacity: np.ndarray, lengths: list[int], flat: list[int]) -> np.ndarray:
    """`max_min_rates` of a few flows in plain Python: the same floating-point operations in the same order
    (bit-identical rates), without the fixed cost of a dozen numpy calls per round (most recomputations of a
    sparse replay have one to four flows)."""
    return np.array(_max_min_list(capacity, lengths, flat), dtype=np.float64)


def _max_min_list(capacity: Sequence[float], lengths: list[int], flat: list[int]) -> list[float]:
    """`_max_min_small`'s rates as a list (what the fluid network keeps)."""
    rates = [math.inf] * len(lengths)
    count: dict[int, int] = {}  # flows per link, the links in order of first use (a Counter costs more here)
    for lk in flat:
        count[lk] = count.get(lk, 0) + 1
    if len(count) == len(flat):  # no link shared: each flow at its smallest capacity
        pos = 0
        for f, k in enumerate(lengths):
            if k == 1:  # (max(c, 0.0) spelled out: the same float, NaN and -0.0 included)
                c = float(capacity[flat[pos]])
                rates[f] = 0.0 if c < 0.0 else c
            elif k:
                rates[f] = min([max(float(capacity[lk]), 0.0) for lk in flat[pos: pos + k]])
            pos += k
        return rates
    flows: list[tuple[int, list[int]]] = []
    pos = 0
    for f, k in enumerate(lengths):
        if k:
            flows.append((f, flat[pos: pos + k]))
        pos += k
    residual = {lk: float(capacity[lk]) for lk in count}
    while flows:
        share = {lk: max(residual[lk], 0.0) / c for lk, c in count.items() if c}
        at = share.__getitem__
        fmin = [min(map(at, links)) for _f, links in flows]
        lmin: dict[int, float] = {}
        for (_f, links), m in zip(flows, fmin, strict=True):
            for lk in links:
                if m < lmin.get(lk, math.inf):
                    lmin[lk] = m
        bottleneck = {lk for lk, sh in share.items() if sh <= lmin[lk] * (1.0 + 1e-12)}
        load: dict[int, float] = {}  # rates of the flows frozen now, summed per link in entry order
        rest = []
        for (f, links), m in zip(flows, fmin, strict=True):
            if not bottleneck.isdisjoint(links):
                rates[f] = m
                for lk in links:
                    count[lk] -= 1
                    load[lk] = load.get(lk, 0.0) + m
            else:
                rest.append((f, links))
        for lk, x in load.items():
            residual[lk] -= x
        flows = rest
    return rates


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """A finished transfer: what the backend writes to ``transfers.parquet``."""

    flow: int
    start: float
    end: float
    nbytes: float
    path: tuple[Hashable, ...]
    tag: Any = None


class Transfer(Event):
    """The event of one flow: succeeds with its :class:`FlowRecord` when the last byte arrived."""

    __slots__ = ("flow", "path", "nbytes", "start", "tag", "_links", "_latency")


class FluidNetwork:
    """Max-min fair fluid flows over directed links, driven by an :class:`~.engine.Engine`.

    Parameters
    ----------
    engine : Engine
    links : mapping of link id -> capacity in bits per second
        Any hashable ids (e.g. ``("wifi-up", cell)``, ``(u, v)`` for a backhaul direction). Order is kept.
    interval_s : float, optional
        Width of the accounting intervals (bins ``[k * interval_s, (k + 1) * interval_s)`` from `origin`);
        ``None`` keeps totals only.
    origin : float
        Start of interval 0 (seconds).

    Examples
    --------
    >>> from edgeroam.emulator.sim.engine import Engine
    >>> eng = Engine()
    >>> net = FluidNetwork(eng, {"a": 8e6})          # 1 MB/s
    >>> def send(eng, net):
    ...     rec = yield net.transfer(["a"], 2e6)
    ...     return rec.end
    >>> p = eng.process(send(eng, net))
    >>> eng.run()
    >>> p.value
    2.0
    """

    def __init__(self, engine: Engine, links: Mapping[Hashable, float], interval_s: float | None = None,
                 origin: float = 0.0):
        self.engine = engine
        self._ids: list[Hashable] = list(links)
        self._index = {lid: i for i, lid in enumerate(self._ids)}
        cap = np.array([float(links[lid]) for lid in self._ids], dtype=np.float64)
        bad = np.flatnonzero(~(cap > 0) | ~np.isfinite(cap))
        if len(bad):
            lid = self._ids[int(bad[0])]
            value = float(cap[bad[0]])
            raise TopologyError(f"link {lid!r} has capacity {value!r} bps; it must be finite and > 0")
        # capacity and bytes carried of every link: views of one buffer with room to grow, so that adding
        # links as paths come into use costs amortized O(1) per link, not a copy of every array; the
        # capacities also as a list (the few links of a few flows, read one by one)
        self._buf = np.zeros((2, max(len(cap), 64)))
        self._cap_Bps, self._link_bytes = self._views(len(cap))
        self._cap_Bps[:] = cap / 8.0
        self._cap: list[float] = self._cap_Bps.tolist()
        # the links with a rate now, each once, and their rates (bytes/s): lists after a recomputation of a
        # few flows, arrays after one of many; every other link's rate is zero
        self._loaded: list[int] | np.ndarray = []
        self._load: list[float] | np.ndarray = []
        if interval_s is not None and not (interval_s > 0 and math.isfinite(interval_s)):
            raise RunError(f"interval_s must be finite and > 0, got {interval_s!r}")
        self.interval_s = interval_s
        self.origin = float(origin)
        self._bins: dict[int, np.ndarray] = {}
        # flows in progress, in start order (dict keeps insertion order: deterministic)
        self._flows: dict[int, Transfer] = {}
        self._next_id = 0
        # the flows in progress, in start order: ids, bytes left, rates (bytes/s), path lengths, and the link
        # indices of their paths concatenated; lists while there are at most `_VECTOR` flows, else arrays
        self._fid: list[int] | np.ndarray = []
        self._remaining: list[float] | np.ndarray = []
        self._rate: list[float] | np.ndarray = []
        self._lengths: list[int] | np.ndarray = []
        self._flat: list[int] | np.ndarray = []
        self._new: list[Transfer] = []  # started at this instant, merged by the recomputation
        self._last = engine.now
        self._timer: Event | None = None
        self._recompute_pending: Event | None = None
        self.recomputations = 0
        self.completed = 0

    # -- public ---------------------------------------------------------------------------------------------
    @property
    def links(self) -> list[Hashable]:
        """Link ids in array order."""
        return list(self._ids)

    def add_links(self, links: Mapping[Hashable, float]) -> None:
        """Add links (id -> capacity in bit/s) not in the network yet; known ids are left as they are.

        Rates depend only on the links the flows cross, so a network that grows its links as paths come into
        use computes the same rates as one built with every link up front.
        """
        new = [lid for lid in links if lid not in self._index]
        if not new:
            return
        caps = [float(links[lid]) for lid in new]  # a path's few links: checked in plain Python
        for lid, c in zip(new, caps, strict=True):
            if not (c > 0 and math.isfinite(c)):
                raise TopologyError(f"link {lid!r} has capacity {links[lid]!r} bps; it must be finite and "
                                    "> 0")
        self._advance()
        for lid in new:
            self._index[lid] = len(self._ids)
            self._ids.append(lid)
        n0, n1 = len(self._cap), len(self._ids)
        if n1 > self._buf.shape[1]:
            buf = np.zeros((2, max(n1, 2 * self._buf.shape[1])))
            buf[:, :n0] = self._buf[:, :n0]
            self._buf = buf
        self._cap_Bps, self._link_bytes = self._views(n1)
        self._cap.extend(c / 8.0 for c in caps)  # a path's few links: the same division as on an array
        self._cap_Bps[n0:] = self._cap[n0:]
        if self._bins:
            pad = np.zeros(len(new))
            for k, arr in self._bins.items():
                self._bins[k] = np.concatenate([arr, pad])

    def _views(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Capacity (bytes/s) and bytes carried of the first `n` links: buffer views."""
        return self._buf[0, :n], self._buf[1, :n]

    def capacity_bps(self, link: Hashable) -> float:
        """The capacity of `link` in bits per second."""
        return self._cap[self._link(link)] * 8.0

    def set_capacity(self, link: Hashable, capacity_bps: float) -> None:
        """Change a link's capacity from now on; rates are recomputed at this instant."""
        i = self._link(link)
        if not (capacity_bps > 0 and math.isfinite(capacity_bps)):
            raise TopologyError(f"link {link!r}: capacity must be finite and > 0, got {capacity_bps!r}")
        self._advance()
        self._cap[i] = self._cap_Bps[i] = capacity_bps / 8.0
        self._mark_dirty()

    @property
    def active(self) -> int:
        """Number of flows in progress."""
        return len(self._flows)

    def transfer(self, path: Iterable[Hashable], nbytes: float, tag: Any = None,
                 latency_s: float = 0.0) -> Transfer:
        """Start sending `nbytes` over `path` (link ids) now; the returned event fires when they arrived.

        The event succeeds with a :class:`FlowRecord` ``latency_s`` seconds after the last byte left the
        fluid model (``end`` excludes the latency). An empty path or zero bytes complete at once.
        """
        path = path if type(path) is tuple else tuple(path)  # noqa: E721 - (a backend's route: a tuple)
        index = self._index
        ids = [index[lid] if lid in index else self._link(lid) for lid in path]
        if len(ids) > 1 and len(set(ids)) != len(ids):
            raise TopologyError(f"path {path!r} crosses a link twice")
        if not (nbytes >= 0 and math.isfinite(nbytes)):
            raise RunError(f"transfer size must be finite and >= 0 bytes, got {nbytes!r} "
                           f"(t={self.engine.now!r} s)")
        if not (latency_s >= 0 and math.isfinite(latency_s)):
            raise RunError(f"transfer latency must be finite and >= 0 s, got {latency_s!r}")
        ev = Transfer(self.engine, name=f"transfer {self._next_id}")
        ev.flow = self._next_id
        self._next_id += 1
        ev.path = path
        ev.nbytes = float(nbytes)
        ev.start = self.engine.now
        ev.tag = tag
        ev._links = ids
        ev._latency = float(latency_s)
        if nbytes == 0 or not ids:
            self._finish(ev)
            return ev
        self._advance()
        self._flows[ev.flow] = ev
        self._new.append(ev)
        self._mark_dirty()
        return ev

    def in_progress(self, transfer: Transfer) -> bool:
        """Whether `transfer` is still moving bytes (False once its last byte left, in its latency too)."""
        fid = getattr(transfer, "flow", None)
        return fid in self._flows and self._flows[fid] is transfer

    def cancel(self, transfer: Transfer) -> FlowRecord:
        """Stop a flow in progress now (e.g. its client left); its event never fires.

        Returns a :class:`FlowRecord` whose ``nbytes`` is what was delivered up to now; those bytes stay in
        the link accounting. Cancelling a finished or unknown transfer is an error.
        """
        fid = getattr(transfer, "flow", None)
        if fid not in self._flows or self._flows[fid] is not transfer:
            raise RunError(f"cannot cancel {transfer!r}: not in progress (t={self.engine.now!r} s)")
        self._advance()
        del self._flows[fid]
        if any(e is transfer for e in self._new):
            self._new = [e for e in self._new if e is not transfer]
            sent = 0.0
        elif type(self._fid) is list:  # noqa: E721 - a few flows, as lists
            pos = self._fid.index(fid)
            sent = transfer.nbytes - max(self._remaining[pos], 0.0)
            first = sum(self._lengths[:pos])
            del self._flat[first: first + self._lengths[pos]]
            for col in (self._fid, self._remaining, self._rate, self._lengths):
                del col[pos]
        else:
            pos = int(np.flatnonzero(self._fid == fid)[0])
            sent = transfer.nbytes - max(float(self._remaining[pos]), 0.0)
            keep = self._fid != fid
            self._flat = self._flat[np.repeat(keep, self._lengths)]
            self._fid, self._remaining = self._fid[keep], self._remaining[keep]
            self._rate, self._lengths = self._rate[keep], self._lengths[keep]
            self._few()
        transfer.cancel()
        self._mark_dirty()
        return FlowRecord(fid, transfer.start, self.engine.now, sent, transfer.path, transfer.tag)

    def rates_bps(self) -> dict[int, float]:
        """Current rate of every flow in progress (bits per second) by flow id, recomputed first if due."""
        self._flush()
        return {int(fid): float(r * 8.0) for fid, r in zip(self._fid, self._rate, strict=True)}

    def link_bytes(self) -> dict[Hashable, float]:
        """Bytes carried by each link so far (up to now)."""
        self._advance()
        return {lid: float(b) for lid, b in zip(self._ids, self._link_bytes, strict=True)}

    def link_load_bps(self) -> dict[Hashable, float]:
        """Current load of each link (bits per second)."""
        self._flush()
        rates = [0.0] * len(self._ids)
        for lk, r in zip(self._loaded, self._load, strict=True):
            rates[lk] = r
        return {lid: float(r * 8.0) for lid, r in zip(self._ids, rates, strict=True)}

    def interval_bytes(self) -> pd.DataFrame:
        """Bytes per link per interval so far.

        Columns ``interval`` (int64), ``start`` (s), ``link`` (str), ``bytes`` (float).

        Only non-zero cells; sorted by interval, then link order. Link ids are stored as their ``str``.
        """
        self._advance()
        rows_k, rows_l, rows_b = [], [], []
        for k in sorted(self._bins):
            arr = self._bins[k]
            nz = np.flatnonzero(arr)
            rows_k.append(np.full(len(nz), k, dtype=np.int64))
            rows_l.append(nz)
            rows_b.append(arr[nz])
        if rows_k:
            ks = np.concatenate(rows_k)
            ls = np.concatenate(rows_l)
            bs = np.concatenate(rows_b)
        else:
            ks = np.zeros(0, dtype=np.int64)
            ls = np.zeros(0, dtype=np.int64)
            bs = np.zeros(0)
        names = np.array([str(lid) for lid in self._ids] or [""], dtype=object)
        return pd.DataFrame({
            "interval": ks,
            "start": self.origin + ks * (self.interval_s or 0.0),
            "link": names[ls] if len(ls) else np.array([], dtype=object),
            "bytes": bs,
        })

    def interval_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """``(intervals[K], bytes[K, L])``: bytes per interval and link, links in :attr:`links` order."""
        self._advance()
        ks = np.array(sorted(self._bins), dtype=np.int64)
        mat = np.stack([self._bins[int(k)] for k in ks]) if len(ks) else np.zeros((0, len(self._ids)))
        return ks, mat

    def node_interval_bytes(self, links: Iterable[tuple[Hashable, Hashable]]) -> pd.DataFrame:
        """Per node and interval, bytes sent (``up_bytes``) and received (``down_bytes``) over `links`.

        `links` are directed ``(u, v)`` link ids (e.g. the keys of :func:`backhaul_links`): their bytes count
        as uplink of ``u`` and downlink of ``v``. Columns ``interval``, ``start``, ``node``, ``up_bytes``,
        ``down_bytes``; one row per node and interval with traffic, sorted by interval then node.
        """
        ks, mat = self.interval_matrix()
        ids = list(links)
        cols = np.array([self._link(lid) for lid in ids], dtype=np.int64)
        for lid in ids:
            if not (isinstance(lid, tuple) and len(lid) == 2):
                raise TopologyError(f"link {lid!r} is not a directed (u, v) pair")
        src = [u for u, _ in ids]
        dst = [v for _, v in ids]
        frames = []
        for k_pos, k in enumerate(ks.tolist()):
            b = mat[k_pos, cols]
            up = pd.Series(b).groupby(pd.Series(src, dtype=object)).sum()
            down = pd.Series(b).groupby(pd.Series(dst, dtype=object)).sum()
            both = pd.concat({"up_bytes": up, "down_bytes": down}, axis=1).fillna(0.0)
            both = both[(both["up_bytes"] > 0) | (both["down_bytes"] > 0)]
            frames.append(pd.DataFrame({
                "interval": np.int64(k), "start": self.origin + k * (self.interval_s or 0.0),
                "node": both.index.to_numpy(dtype=object),
                "up_bytes": both["up_bytes"].to_numpy(), "down_bytes": both["down_bytes"].to_numpy(),
            }))
        if not frames:
            empty = np.zeros(0)
            return pd.DataFrame({"interval": np.zeros(0, np.int64), "start": empty,
                                 "node": np.zeros(0, object), "up_bytes": empty, "down_bytes": empty})
        return pd.concat(frames, ignore_index=True)

    # -- internals ------------------------------------------------------------------------------------------
    def _link(self, lid: Hashable) -> int:
        try:
            return self._index[lid]
        except (KeyError, TypeError):
            raise TopologyError(f"unknown link {lid!r}") from None

    def _finish(self, ev: Transfer) -> None:
        latency = ev._latency
        rec = FlowRecord(ev.flow, ev.start, self.engine.now, ev.nbytes, ev.path, ev.tag)
        self.completed += 1
        ev.succeed(rec, delay=latency)  # it fires once the path delay is over (triggered from now on)

    def _account(self, t0: float, t1: float) -> None:
        """Add the bytes carried by each link over [t0, t1) at the current link rates (the links with a rate:
        every other one carries nothing)."""
        dt = t1 - t0
        if dt <= 0 or not self._flows:
            return
        loaded, load = self._loaded, self._load
        few = type(loaded) is list  # noqa: E721 - the links of a few flows, as lists
        carried = self._link_bytes
        if few:
            for lk, r in zip(loaded, load, strict=True):
                carried[lk] += r * dt
        else:
            carried[loaded] += load * dt
        if self.interval_s is None:
            return
        w = self.interval_s
        k0 = math.floor((t0 - self.origin) / w)
        k1 = math.floor((t1 - self.origin) / w)
        if (t1 - self.origin) == k1 * w:
            k1 -= 1  # t1 is exactly a bin edge: nothing falls in bin k1
        n = len(self._ids)
        for k in range(k0, max(k0, k1) + 1):
            lo = max(t0, self.origin + k * w)
            hi = min(t1, self.origin + (k + 1) * w)
            if hi > lo:
                arr = self._bins.get(k)
                if arr is None:
                    arr = self._bins[k] = np.zeros(n)
                span = hi - lo
                if few:
                    for lk, r in zip(loaded, load, strict=True):
                        arr[lk] += r * span
                else:
                    arr[loaded] += load * span

    def _advance(self) -> None:
        """Move the fluid state from the last update to now."""
        now = self.engine.now
        dt = now - self._last
        if dt > 0:
            remaining = self._remaining
            if type(remaining) is not list:  # noqa: E721 - many flows, as arrays
                remaining -= self._rate * dt
            elif remaining:
                self._remaining = [x - r * dt for x, r in zip(remaining, self._rate, strict=True)]
            self._account(self._last, now)
        self._last = now

    def _mark_dirty(self) -> None:
        if self._recompute_pending is None:
            self._recompute_pending = self.engine.call(0.0, self._recompute, LATE, "fluid recompute")

    def _flush(self) -> None:
        if self._recompute_pending is not None:
            self._recompute_pending.cancel()
            self._recompute()

    def _merge_new(self) -> None:
        new, self._new = self._new, []
        if type(self._fid) is list and len(self._fid) + len(new) <= _VECTOR:  # noqa: E721 - still few
            for ev in new:
                self._fid.append(ev.flow)
                self._remaining.append(ev.nbytes)
                self._rate.append(0.0)
                self._lengths.append(len(ev._links))
                self._flat.extend(ev._links)
            return
        self._fid = np.concatenate([np.asarray(self._fid, dtype=np.int64),
                                    np.array([ev.flow for ev in new], dtype=np.int64)])
        self._remaining = np.concatenate([np.asarray(self._remaining, dtype=np.float64),
                                          np.array([ev.nbytes for ev in new], dtype=np.float64)])
        self._rate = np.concatenate([np.asarray(self._rate, dtype=np.float64), np.zeros(len(new))])
        self._lengths = np.concatenate([np.asarray(self._lengths, dtype=np.int64),
                                        np.array([len(ev._links) for ev in new], dtype=np.int64)])
        self._flat = np.concatenate([np.asarray(self._flat, dtype=np.int64),
                                     np.array([lk for ev in new for lk in ev._links], dtype=np.int64)])

    def _few(self) -> None:
        """Keep the flows in progress as lists again once there are at most `_VECTOR` of them."""
        if len(self._fid) <= _VECTOR:
            self._fid, self._remaining, self._rate, self._lengths, self._flat = (
                col.tolist() for col in (self._fid, self._remaining, self._rate, self._lengths, self._flat))

    def _recompute(self) -> None:
        """Recompute every rate (once per instant) and re-arm the completion timer."""
        self._recompute_pending = None
        self._advance()
        if self._new:
            self._merge_new()
        self.recomputations += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not len(self._fid):
            self._loaded, self._load = [], []
            return
        few = len(self._flat) <= _SMALL and type(self._fid) is list  # noqa: E721 - (lists: `_VECTOR`)
        dt = self._rates_small() if few else self._rates_vector()
        if not math.isfinite(dt):
            raise RunError(f"no flow can progress at t={self.engine.now!r} s (all rates are zero)")
        self._timer = self.engine.call(dt, self._complete, NORMAL, "fluid completion")

    def _rates_vector(self) -> float:
        """`_recompute`'s rates, link loads and time to the next completion with numpy (many flow-links)."""
        n = len(self._fid)
        lengths = np.asarray(self._lengths, dtype=np.int64)
        flat = np.asarray(self._flat, dtype=np.int64)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        rate = max_min_rates(self._cap_Bps, ptr, flat)
        owner = np.repeat(np.arange(n), lengths)
        # the load of each link in use: its flows' rates summed in entry order (np.bincount)
        if len(flat) * 8 < len(self._ids):  # a few links of a large network: those alone, not every link
            links, inv = np.unique(flat, return_inverse=True)
            load = np.bincount(inv.reshape(-1), weights=rate[owner], minlength=len(links))
        else:
            load = np.bincount(flat, weights=rate[owner], minlength=len(self._ids))
            links = np.flatnonzero(load)  # (a link of zero load carries nothing either way)
            load = load[links]
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(rate > 0, np.maximum(np.asarray(self._remaining, dtype=np.float64), 0.0) / rate,
                            math.inf)
        self._rate = rate if type(self._fid) is not list else rate.tolist()  # noqa: E721 - as the others
        self._loaded, self._load = links, load
        return float(left.min())

    def _rates_small(self) -> float:
        """`_recompute`'s rates, link loads and time to the next completion for a few flows, in plain Python
        with the same floating-point operations in the same order as the array code (identical floats)."""
        remaining, lengths, flat = self._remaining, self._lengths, self._flat
        if len(lengths) == 1 and flat:
            # a lone flow (a sparse replay's usual case): its narrowest link's capacity (no link is shared;
            # every capacity is > 0, so max(c, 0.0) is c)
            r = min(map(self._cap.__getitem__, flat))
            self._rate = [r]
            self._loaded, self._load = list(flat), [0.0 + r] * len(flat)
            return max(remaining[0], 0.0) / r if r > 0 else math.inf
        rates = self._rate = _max_min_list(self._cap, lengths, flat)
        load: dict[int, float] = {}  # per link, summed in entry order like np.bincount
        pos = 0
        for k, r in zip(lengths, rates, strict=True):
            for lk in flat[pos: pos + k]:
                load[lk] = load.get(lk, 0.0) + r
            pos += k
        self._loaded, self._load = list(load), list(load.values())
        return min([max(left, 0.0) / r if r > 0 else math.inf
                    for left, r in zip(remaining, rates, strict=True)], default=math.inf)

    def _complete(self) -> None:
        """Timer: finish every flow whose last byte arrived now, then recompute."""
        self._timer = None
        self._advance()
        few = type(self._fid) is list  # noqa: E721 - a few flows, as lists
        finished = self._finish_few() if few else self._finish_many()
        for fid in finished:
            self._finish(self._flows.pop(fid))
        if len(self._fid):
            # Link rates stay as they were until the recomputation of this instant; no time passes meanwhile.
            self._mark_dirty()
        else:  # none left in progress: every rate is zero and there is nothing to recompute (a flow started
            # later at this instant schedules its own recomputation)
            self._loaded, self._load = [], []

    def _finish_few(self) -> list[int]:
        """`_complete`'s finished flows, taken out of the lists."""
        finished = self._fid
        if len(finished) == 1:  # a lone flow (a sparse replay's usual case) finishes: done, or the nearest
            self._fid, self._remaining, self._rate, self._lengths, self._flat = [], [], [], [], []
            return finished
        remaining, rate = self._remaining, self._rate
        done = [x <= r * _TIME_EPS or x <= _BYTE_EPS for x, r in zip(remaining, rate, strict=True)]
        if not any(done):  # the flow nearest its end (np.argmin's first minimum of remaining / rate)
            ahead = [x / r if r else math.inf for x, r in zip(remaining, rate, strict=True)]
            done[ahead.index(min(ahead))] = True
        if all(done):  # the last flows in progress (a sparse replay's usual lone flow): nothing to keep
            self._fid, self._remaining, self._rate, self._lengths, self._flat = [], [], [], [], []
            return finished
        if done.count(True) == 1:  # one of them (the usual case): taken out of the lists in place
            pos = done.index(True)
            fid = finished[pos]
            first = sum(self._lengths[:pos])
            del self._flat[first: first + self._lengths[pos]]
            for col in (finished, remaining, rate, self._lengths):
                del col[pos]
            return [fid]
        keep = [not d for d in done]
        flat, pos, kept = self._flat, 0, []
        for k, d in zip(self._lengths, done, strict=True):
            if not d:
                kept.extend(flat[pos: pos + k])
            pos += k
        self._flat = kept
        self._fid = list(compress(finished, keep))
        self._remaining = list(compress(remaining, keep))
        self._rate = list(compress(rate, keep))
        self._lengths = list(compress(self._lengths, keep))
        return list(compress(finished, done))

    def _finish_many(self) -> list[int]:
        """`_complete`'s finished flows, taken out of the arrays."""
        done = (self._remaining <= self._rate * _TIME_EPS) | (self._remaining <= _BYTE_EPS)
        if not done.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                done[int(np.argmin(self._remaining / self._rate))] = True
        keep = ~done
        finished = self._fid[done].tolist()
        self._flat = self._flat[np.repeat(keep, self._lengths)]
        self._fid = self._fid[keep]
        self._remaining = self._remaining[keep]
        self._rate = self._rate[keep]
        self._lengths = self._lengths[keep]
        self._few()
        return finished
