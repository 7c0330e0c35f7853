"""The fidelity monitor: say when the emulation stopped being faithful (Mininet-HiFi's lesson).

While a run goes, `FidelityMonitor` samples the CPU's idle share (``/proc/stat``) and every link's byte
counters (`counters.CounterSampler`) each interval. For every transfer it is told about (a backlogged sender
between two hosts over a known time span: marked live with `transfer`, or added afterwards from an agent's log
with `add_transfer` / `add_agent_transfers`), each full interval of the transfer is judged on the link of its
path that carried the most of its shaped rate (the bottleneck: alone on its path, the link with the smallest
rate; sharing it, the link the flows share): below `threshold` (0.9) of the shaped rate, the interval is
flagged with its link and rate. Every interval whose CPU idle share fell under `cpu_out` is marked as the CPU
having run out. `report()` is the per transfer, link and interval table, `cpu_report()` the per-interval CPU,
`table()` both as the run directory stores them (``fidelity.parquet``) and `summary()` the verdict
(``emulated.json``'s ``fidelity``): faithful when no interval was flagged and the CPU never ran out. `goodput`
measures a path with iperf3 processes started and ended by PID (never ``net.iperf()``, which runs
``killall``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from edgeroam.emulator.net.build import Network
from edgeroam.emulator.net.counters import CounterSampler, link_bytes
from edgeroam.errors import RunError

__all__ = ["FIDELITY_COLUMNS", "FidelityMonitor", "add_agent_transfers", "cpu_times", "goodput", "path_links"]

#: columns of `FidelityMonitor.table` (``fidelity.parquet``): ``kind`` "link" rows judge a transfer's
#: bottleneck link in one interval, ``kind`` "cpu" rows give every interval's CPU idle share
FIDELITY_COLUMNS = ["kind", "transfer", "src", "dst", "interval", "start", "end", "rate_bps", "achieved_bps",
                    "util", "cpu_idle", "flagged", "cpu_out"]


def cpu_times(path: str | Path = "/proc/stat") -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs."""
    f = Path(path).read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in f]
    return vals[3] + vals[4], sum(vals[:8])


def path_links(net: Network, src: str, dst: str, *, via: str | None = None) -> list[tuple[str, str]]:
    """The (from, to) node pairs a frame from host `src` to host `dst` crosses, by the forwarding state;
    `via` is the switch `src` is attached to (default: its link now)."""
    plan = net.plan
    s, d = plan.hosts[src], plan.hosts[dst]
    sw = via if via is not None else s.switches[net.attach.get(src, 0)]
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
    path: list[tuple[str, str]]


class FidelityMonitor:
    """Sample CPU idle and link counters every `interval_s`; judge the transfers it is told about.

    `source` picks the counters (`CounterSampler`: "auto" = OpenFlow port stats for `ovs`; "proc" reads the
    switch ports' interface statistics, which needs no controller round trip).
    """

    def __init__(self, net: Network, interval_s: float = 1.0, threshold: float = 0.9, cpu_out: float = 0.02,
                 source: Literal["auto", "proc", "openflow"] = "auto"):
        self.net = net
        self.interval_s = interval_s
        self.threshold = threshold
        self.cpu_out = cpu_out
        self.counters = CounterSampler(net, interval_s, on_sample=self._sample_cpu, source=source)
        self._transfers: list[_Transfer] = []
        self._cpu: list[tuple[float, int, int]] = []

    def _sample_cpu(self, now: float) -> None:
        idle, total = cpu_times()
        self._cpu.append((now, idle, total))

    def start(self) -> FidelityMonitor:
        """Take the first sample and sample in the background until `stop`."""
        self.counters.start()
        return self

    def stop(self) -> None:
        """Stop sampling (a last sample is taken)."""
        self.counters.stop()

    def __enter__(self) -> FidelityMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def transfer(self, src: str, dst: str) -> Iterator[None]:
        """Mark the block as a backlogged transfer from host `src` to host `dst`."""
        t = _Transfer(src, dst, time.time(), None, path_links(self.net, src, dst))
        self._transfers.append(t)
        try:
            yield
        finally:
            t.end = time.time()

    def add_transfer(self, src: str, dst: str, start: float, end: float, *, via: str | None = None) -> None:
        """A finished transfer from host `src` (attached to switch `via`, default its link now) to host `dst`
        over the wall-clock span [start, end] (``time.time()`` seconds)."""
        self._transfers.append(_Transfer(src, dst, float(start), float(end),
                                         path_links(self.net, src, dst, via=via)))

    def _cpu_idle(self) -> np.ndarray:
        cpu = np.asarray(self._cpu, dtype=np.float64).reshape(-1, 3)
        return np.diff(cpu[:, 1]) / np.maximum(np.diff(cpu[:, 2]), 1)

    def report(self) -> pd.DataFrame:
        """Per transfer and full interval of it, the most loaded shaped link of its path: transfer, src, dst,
        interval, start, end (wall clock), rate_bps, achieved_bps, util, cpu_idle, flagged, cpu_out."""
        cols = ["transfer", "src", "dst", "interval", "start", "end", "rate_bps", "achieved_bps", "util",
                "cpu_idle"]
        lb = link_bytes(self.counters, t0=0.0)
        idle = self._cpu_idle()
        parts = []
        if len(lb):
            by_link = lb.set_index(["src", "dst"])
            for j, t in enumerate(self._transfers):
                sel = by_link.loc[t.path].reset_index()
                end = t.end if t.end is not None else np.inf
                sel = sel[np.isfinite(sel["rate_bps"]) & (sel["start"] >= t.start) & (sel["end"] <= end)]
                if sel.empty:
                    continue  # shorter than an interval, or nothing on the path is shaped
                best = sel.sort_values(["util", "rate_bps"], ascending=[False, True], kind="stable")
                best = best.drop_duplicates("interval").sort_values("interval")
                parts.append(best.assign(transfer=j))
        out = (pd.concat(parts, ignore_index=True) if parts
               else pd.DataFrame(columns=[*lb.columns, "transfer"]))
        out["achieved_bps"] = out["bytes"] * 8 / np.maximum(out["end"] - out["start"], 1e-9)
        out["cpu_idle"] = idle[out["interval"].to_numpy(np.int64)] if len(out) else []
        out = out[cols].astype({"transfer": np.int64, "interval": np.int64, "start": float, "end": float,
                                "rate_bps": float, "achieved_bps": float, "util": float, "cpu_idle": float})
        out["flagged"] = out["util"] < self.threshold
        out["cpu_out"] = out["cpu_idle"] < self.cpu_out
        return out

    def cpu_report(self) -> pd.DataFrame:
        """Per sampled interval: interval, start, end (wall clock), cpu_idle, cpu_out."""
        cpu = np.asarray(self._cpu, dtype=np.float64).reshape(-1, 3)
        idle = self._cpu_idle()
        return pd.DataFrame({"interval": np.arange(len(idle), dtype=np.int64), "start": cpu[:-1, 0],
                             "end": cpu[1:, 0], "cpu_idle": idle, "cpu_out": idle < self.cpu_out})

    def table(self, t0: float = 0.0, speed: float = 1.0) -> pd.DataFrame:
        """``fidelity.parquet``: the `report` rows (kind "link") and the `cpu_report` rows (kind "cpu", no
        link), times as run seconds ``(wall - t0) * speed``; rates stay wire rates (bit/s)."""
        links = self.report().assign(kind="link")
        cpu = self.cpu_report().assign(kind="cpu", transfer=-1, src=None, dst=None, rate_bps=np.nan,
                                       achieved_bps=np.nan, util=np.nan, flagged=False)
        parts = [x for x in (links, cpu) if len(x)]
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FIDELITY_COLUMNS)
        out[["start", "end"]] = (out[["start", "end"]].astype(float) - t0) * speed
        return out[FIDELITY_COLUMNS].astype({"transfer": np.int64, "interval": np.int64, "flagged": bool,
                                             "cpu_out": bool})

    def summary(self) -> dict[str, Any]:
        """Verdict: faithful (no interval flagged, the CPU never ran out), transfers told and judged, link
        intervals judged and flagged, CPU intervals and those where it ran out, worst util, least CPU idle."""
        rep, cpu = self.report(), self.cpu_report()
        flagged = rep[rep["flagged"]]
        worst = rep.loc[rep["util"].idxmin()] if len(rep) else None
        return {"faithful": not bool(len(flagged)) and not bool(cpu["cpu_out"].any()),
                "transfers": len(self._transfers), "judged_transfers": int(rep["transfer"].nunique()),
                "intervals": len(rep), "flagged": len(flagged), "cpu_intervals": len(cpu),
                "cpu_out": int(cpu["cpu_out"].sum()),
                "worst_util": None if worst is None else float(worst["util"]),
                "worst_link": None if worst is None else f"{worst['src']}->{worst['dst']}",
                "min_cpu_idle": float(cpu["cpu_idle"].min()) if len(cpu) else None,
                "interval_s": self.interval_s, "threshold": self.threshold, "cpu_out_below": self.cpu_out}


def add_agent_transfers(monitor: FidelityMonitor, logs: Mapping[str, list[dict]],
                        server_host: Mapping[int, str], client_host: Mapping[int, str],
                        server_switch: Mapping[int, str]) -> int:
    """Tell `monitor` the transfers the net agents logged: each migration (``transfer``: edge to edge) and
    upload (``upload``: a client, attached to its server's switch, to that server); returns how many."""
    n = 0
    for recs in logs.values():
        for r in recs:
            if r.get("event") == "transfer":
                monitor.add_transfer(server_host[int(r["src"])], server_host[int(r["dst"])], r["start"],
                                     r["end"])
            elif r.get("event") == "upload":
                s = int(r["server"])
                monitor.add_transfer(client_host[int(r["client"])], server_host[s], r["start"], r["end"],
                                     via=server_switch[s])
            else:
                continue
            n += 1
    return n


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
