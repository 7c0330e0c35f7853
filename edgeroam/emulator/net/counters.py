"""Byte counters of every link and direction, sampled every interval into the backhaul table.

Every link has at least one end in the root namespace (a switch port), so one read of ``/proc/net/dev`` (or,
for `ovs`, one round of OpenFlow port stats through the controller) gives every link: bytes x→y are the
transmit counter of x's end when that end is a switch port, else the receive counter of y's end (a host's end
lives in its namespace). Counters are wire bytes (Ethernet header and up, no FCS), as a switch port counts
them. `CounterSampler` reads them in a thread every interval; `link_bytes` turns the samples into per-interval
deltas and `backhaul_table` into the per-server table of the run directory (``up_bytes``/``down_bytes`` like
the sim backend's, with ``source = "measured"``). Turning counters into fidelity verdicts is left to
`fidelity`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from edgeroam.emulator.net.build import Network
from edgeroam.errors import RunError

__all__ = ["CounterSampler", "backhaul_table", "directions", "link_bytes", "read_counters"]


def read_counters(path: str | Path = "/proc/net/dev") -> dict[str, tuple[int, int, int, int]]:
    """Interface -> (rx_bytes, rx_packets, tx_bytes, tx_packets) of one namespace (default: the root one)."""
    out = {}
    for line in Path(path).read_text().splitlines()[2:]:
        name, _, rest = line.partition(":")
        f = rest.split()
        out[name.strip()] = (int(f[0]), int(f[1]), int(f[8]), int(f[9]))
    return out


def directions(net: Network) -> pd.DataFrame:
    """One row per link direction: link, kind, klass, src, dst (node names), iface, field, rate_bps."""
    rows = []
    root = set(net.root_interfaces())
    for i, link in enumerate(net.plan.links):
        for src, dst, s_if, d_if, rate in ((link.a, link.b, link.a_if, link.b_if, link.rate_ab_bps),
                                          (link.b, link.a, link.b_if, link.a_if, link.rate_ba_bps)):
            iface, col = (s_if, "tx") if s_if in root else (d_if, "rx")
            rows.append({"link": i, "kind": link.kind, "klass": link.klass, "src": src, "dst": dst,
                         "iface": iface, "field": col, "rate_bps": np.nan if rate is None else rate})
    return pd.DataFrame(rows)


class CounterSampler:
    """Sample every link direction's byte and packet counters every `interval_s` in a background thread.

    Use as a context manager (or `start`/`stop`); `samples()` gives (times [T], bytes [T, D], packets [T, D])
    with D = the rows of `directions(net)`; the first sample is taken at start, the last at stop.
    `source` "proc" reads interface statistics, "openflow" the controller's port stats ("auto": port stats
    for `ovs`, interface statistics for `bridge`). `on_sample(t)` runs after each sample (the fidelity
    monitor reads the CPU on the same clock).
    """

    def __init__(self, net: Network, interval_s: float = 1.0,
                 on_sample: Callable[[float], None] | None = None,
                 source: Literal["auto", "proc", "openflow"] = "auto"):
        self.net = net
        if source == "auto":
            source = "openflow" if net.params.switch == "ovs" else "proc"
        self.source = source
        self.interval_s = interval_s
        self.on_sample = on_sample
        self.dirs = directions(net)
        self._times: list[float] = []
        self._bytes: list[np.ndarray] = []
        self._pkts: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    def sample(self) -> None:
        """Take one sample now."""
        if self.source == "openflow":
            c = self.net.controller.port_counters(self.net.plan.switches)
        else:
            c = read_counters()
        now = time.time()
        missing = [i for i in self.dirs["iface"] if i not in c]
        if missing:  # a zero would read as a counter reset: huge or negative differences
            raise RunError(f"net: no byte counters for {', '.join(missing[:5])} (interface gone?)")
        vals = np.array([c[i] for i in self.dirs["iface"]], dtype=np.int64).reshape(-1, 4)
        tx = (self.dirs["field"] == "tx").to_numpy()
        self._bytes.append(np.where(tx, vals[:, 2], vals[:, 0]))
        self._pkts.append(np.where(tx, vals[:, 3], vals[:, 1]))
        self._times.append(now)
        if self.on_sample is not None:
            self.on_sample(now)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self.sample()
        except Exception as exc:  # noqa: BLE001 - kept and raised by stop() in the caller's thread
            self._error = exc

    def start(self) -> CounterSampler:
        """Take the first sample and start sampling in the background."""
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="er-counters", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and take a last sample; a sampling error of the thread is raised here."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise RunError(f"net: counter sampling stopped: {self._error}") from self._error
            self.sample()

    def __enter__(self) -> CounterSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times [T], bytes [T, D], packets [T, D]) so far."""
        d = len(self.dirs)
        return (np.asarray(self._times), np.asarray(self._bytes, dtype=np.int64).reshape(-1, d),
                np.asarray(self._pkts, dtype=np.int64).reshape(-1, d))


def link_bytes(sampler: CounterSampler, t0: float | None = None) -> pd.DataFrame:
    """Per interval and link direction: interval, start (s since `t0`, default the first sample), end, link,
    kind, klass, src, dst, bytes, packets, rate_bps, util (achieved / shaped rate)."""
    times, nbytes, npkts = sampler.samples()
    if len(times) < 2:
        return pd.DataFrame(columns=["interval", "start", "end", "link", "kind", "klass", "src", "dst",
                                     "bytes", "packets", "rate_bps", "util"])
    t0 = times[0] if t0 is None else t0
    db, dp = np.diff(nbytes, axis=0), np.diff(npkts, axis=0)
    n_int, n_dir = db.shape
    dirs = sampler.dirs
    rep = np.tile(np.arange(n_dir), n_int)
    start = np.repeat(times[:-1] - t0, n_dir)
    end = np.repeat(times[1:] - t0, n_dir)
    rate = dirs["rate_bps"].to_numpy()[rep]
    out = pd.DataFrame({
        "interval": np.repeat(np.arange(n_int), n_dir), "start": start, "end": end,
        "link": dirs["link"].to_numpy()[rep], "kind": dirs["kind"].to_numpy()[rep],
        "klass": dirs["klass"].to_numpy()[rep], "src": dirs["src"].to_numpy()[rep],
        "dst": dirs["dst"].to_numpy()[rep], "bytes": db.ravel(), "packets": dp.ravel(), "rate_bps": rate,
    })
    out["util"] = out["bytes"] * 8 / np.maximum(out["end"] - out["start"], 1e-9) / out["rate_bps"]
    return out


def backhaul_table(links: pd.DataFrame, net: Network) -> pd.DataFrame:
    """Per interval and edge server: bytes (and packets) its switch sent (``up_bytes``, ``up_packets``) and
    received (``down_bytes``, ``down_packets``) over backhaul links, ``source = "measured"``; columns
    interval, start, server, up_bytes, down_bytes, up_packets, down_packets, source. Packets let a reader take
    the headers off: every TCP segment here carries 66 bytes of them (`agents.wire.SEGMENT_HEADER`)."""
    g = net.plan.graph
    server_of = {sw: g.nodes[n]["server"] for n, sw in net.plan.switch_of.items()
                 if g.nodes[n].get("kind") == "server"}
    bh = links[links["kind"] == "backhaul"]
    up = bh.assign(server=bh["src"].map(server_of)).dropna(subset=["server"])
    down = bh.assign(server=bh["dst"].map(server_of)).dropna(subset=["server"])
    up = up.groupby(["interval", "server"]).agg(start=("start", "first"), up_bytes=("bytes", "sum"),
                                                up_packets=("packets", "sum"))
    down = down.groupby(["interval", "server"]).agg(down_bytes=("bytes", "sum"),
                                                    down_packets=("packets", "sum"))
    out = up.join(down, how="outer").reset_index()
    out = out.fillna({c: 0 for c in ("up_bytes", "down_bytes", "up_packets", "down_packets")})
    out["server"] = out["server"].astype(np.int64)
    cols = ["up_bytes", "down_bytes", "up_packets", "down_packets"]
    out[cols] = out[cols].astype(np.float64)
    out["source"] = "measured"
    return out[["interval", "start", "server", *cols, "source"]].sort_values(
        ["interval", "server"], ignore_index=True)
