"""The fidelity monitor: say when the emulation stopped being faithful (Mininet-HiFi's lesson).

While a run goes, `FidelityMonitor` samples the CPU's idle share (``/proc/stat``) and every link's byte
counters (`counters.CounterSampler`) each interval. For every transfer it is told about (a backlogged sender
between two hosts over a known time span), the bottleneck links of the transfer's path (the smallest shaped
rate) must carry at least `threshold` (0.9) of their shaped rate in wire bytes during each full interval of
the transfer; an interval below it is flagged with its link and rate. Intervals whose CPU idle share fell
under `cpu_out` are marked as the CPU having run out. `report()` is the per link and interval table a run
directory stores (``fidelity.parquet``); `summary()` the verdict. `goodput` measures a path with iperf3
processes started and ended by PID (never ``net.iperf()``, which runs ``killall``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edgeroam.emulator.net.build import Network
from edgeroam.emulator.net.counters import CounterSampler, link_bytes
from edgeroam.errors import RunError

__all__ = ["FidelityMonitor", "cpu_times", "goodput", "path_links"]


def cpu_times(path: str | Path = "/proc/stat") -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs."""
    f = Path(path).read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in f]
    return vals[3] + vals[4], sum(vals[:8])


def path_links(net: Network, src: str, dst: str) -> list[tuple[str, str]]:
    """The (from, to) node pairs a frame from host `src` to host `dst` crosses, by the forwarding state."""
    plan = net.plan
    s, d = plan.hosts[src], plan.hosts[dst]
    sw = s.switches[net.attach.get(src, 0)]
    dst_sw = d.switches[net.attach.get(dst, 0)]
    hops = [(src, sw)]
    routes = plan.routes_to(dst_sw)
    owner = {port: peer for (_w, peer), port in plan.port_to.items()}
    while sw != dst_sw:
        nxt = owner[routes[sw]]
        hops.append((sw, nxt))
        sw = nxt
    hops.append((dst_sw, dst))
    return hops


@dataclass
class _Transfer:
    src: str
    dst: str
    start: float
    end: float | None


class FidelityMonitor:
    """Sample CPU idle and link counters every `interval_s`; judge the transfers it is told about."""

    def __init__(self, net: Network, interval_s: float = 1.0, threshold: float = 0.9, cpu_out: float = 0.02):
        self.net = net
        self.interval_s = interval_s
        self.threshold = threshold
        self.cpu_out = cpu_out
        self.counters = CounterSampler(net, interval_s, on_sample=self._sample_cpu)
        self._transfers: list[_Transfer] = []
        self._cpu: list[tuple[float, int, int]] = []

    def _sample_cpu(self, now: float) -> None:
        idle, total = cpu_times()
        self._cpu.append((now, idle, total))

    def __enter__(self) -> FidelityMonitor:
        self.counters.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.counters.stop()

    @contextlib.contextmanager
    def transfer(self, src: str, dst: str) -> Iterator[None]:
        """Mark the block as a backlogged transfer from host `src` to host `dst`."""
        t = _Transfer(src, dst, time.time(), None)
        self._transfers.append(t)
        try:
            yield
        finally:
            t.end = time.time()

    def report(self) -> pd.DataFrame:
        """Per transfer, bottleneck link and full interval: rate_bps, achieved_bps, util, cpu_idle, flagged,
        cpu_out (see the module docstring)."""
        lb = link_bytes(self.counters, t0=0.0)
        cpu = np.asarray(self._cpu, dtype=np.float64).reshape(-1, 3)
        idle = np.diff(cpu[:, 1]) / np.maximum(np.diff(cpu[:, 2]), 1)
        rows = []
        for j, t in enumerate(self._transfers):
            hops = path_links(self.net, t.src, t.dst)
            sel = lb.set_index(["src", "dst"]).loc[hops].reset_index()
            rate = sel["rate_bps"].min()
            if not np.isfinite(rate):
                continue  # nothing on the path is shaped: no rate to be faithful to
            end = t.end if t.end is not None else np.inf
            full = sel[(sel["rate_bps"] == rate) & (sel["start"] >= t.start) & (sel["end"] <= end)]
            for r in full.itertuples(index=False):
                rows.append({"transfer": j, "src": r.src, "dst": r.dst, "interval": r.interval,
                             "start": r.start,
                             "rate_bps": r.rate_bps, "achieved_bps": r.bytes * 8 / (r.end - r.start),
                             "util": r.util, "cpu_idle": idle[r.interval]})
        out = pd.DataFrame(rows, columns=["transfer", "src", "dst", "interval", "start", "rate_bps",
                                          "achieved_bps", "util", "cpu_idle"])
        out["flagged"] = out["util"] < self.threshold
        out["cpu_out"] = out["cpu_idle"] < self.cpu_out
        return out

    def summary(self) -> dict:
        """Verdict: faithful (nothing flagged), intervals judged, flagged, CPU-out intervals, worst util."""
        rep = self.report()
        return {"faithful": not bool(rep["flagged"].any()), "intervals": len(rep),
                "flagged": int(rep["flagged"].sum()), "cpu_out": int(rep["cpu_out"].sum()),
                "worst_util": float(rep["util"].min()) if len(rep) else None,
                "threshold": self.threshold}


def goodput(net: Network, src: str, dst: str, seconds: float = 5.0, omit: float = 1.0,
            port: int = 5201) -> float:
    """TCP goodput (bit/s) from host `src` to host `dst` measured by iperf3 (our own processes, by PID)."""
    server = net.popen(dst, ["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        client = net.popen(src, ["iperf3", "-c", net.ip(dst), "-p", str(port), "-t", f"{seconds:g}", "-O",
                                 f"{omit:g}", "-J"], stdout=subprocess.PIPE, text=True)
        out, _ = client.communicate(timeout=seconds + omit + 60)
        net.end(client)
    finally:
        net.end(server)
    try:
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])
    except (ValueError, KeyError) as exc:
        raise RunError(f"net: iperf3 {src} -> {dst} gave no result: {out[-300:]}") from exc
