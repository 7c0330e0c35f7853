"""Shaped goodput over three hops, and the fidelity monitor: on a scripted network (the bottleneck and the CPU
judged per interval; agent logs as transfers), a 35 Mbit/s transfer on an idle grid is faithful, a 1 Gbit/s
transfer with every CPU busy is flagged."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest

from edgeroam.emulator.net.build import NetParams, Network, plan_network
from edgeroam.emulator.net.fidelity import (
    FIDELITY_COLUMNS,
    FidelityMonitor,
    add_agent_transfers,
    cpu_times,
    goodput,
    path_links,
)

from .conftest import hex_graph

PROBE = [sys.executable, "-m", "edgeroam.emulator.net.probes"]


def _three_hops(plan, g) -> tuple[str, str]:
    hosts = sorted(plan.hosts.values(), key=lambda h: h.name)
    d = dict(nx.all_pairs_shortest_path_length(g))
    a, b = next((x, y) for x in hosts for y in hosts if d[x.node][y.node] == 3)
    return a.name, b.name


def test_cpu_times_reads_proc_stat(tmp_path):
    f = tmp_path / "stat"
    f.write_text("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\n")
    assert cpu_times(f) == (85, 100)


@pytest.mark.net
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("switch", "mbps", "realtime"), [
    ("bridge", 35, False), ("bridge", 100, False), ("ovs", 35, False), ("ovs", 100, False), ("ovs", 35, True),
    ("ovs", 100, True)])
def test_goodput_over_three_hops(net_ok, switch, mbps, realtime):
    if shutil.which("iperf3") is None:
        pytest.skip("needs iperf3")
    if realtime and shutil.which("chrt") is None:
        pytest.skip("needs chrt (util-linux)")
    if switch == "ovs" and importlib.util.find_spec("os_ken") is None:
        pytest.skip("needs os-ken (pip install -e '.[emulation]')")
    g = hex_graph(2, wireless_mbps=mbps)
    plan = plan_network(g, params=NetParams(prefix=net_ok, switch=switch, ovs_realtime=realtime))
    with Network(plan) as net:
        a, b = _three_hops(plan, g)
        assert len(path_links(net, a, b)) == 5  # host -> 4 switches (3 backhaul hops) -> host
        # TCP goodput can reach 1448/1514 = 0.956 of an htb rate; on a machine shared with other work one
        # retry is allowed, and the best of the tries must reach 0.9 (bridge)
        idle0, total0 = cpu_times()
        tries = [goodput(net, a, b, seconds=4) / (mbps * 1e6)]
        if tries[0] < 0.9:
            tries.append(goodput(net, a, b, seconds=4) / (mbps * 1e6))
        idle1, total1 = cpu_times()
    assert max(tries) <= 0.97, tries  # never above the shaped rate: the links are really shaped
    idle = (idle1 - idle0) / max(1, total1 - total0)
    if realtime:
        # ovs-vswitchd SCHED_RR: its forwarding loop preempts other work like the kernel's softirq does for
        # bridge, so it reaches 0.9 even on a busy machine (measured 0.90-0.93 at load average 27-40)
        assert max(tries) >= 0.9, (tries, idle)
    elif switch == "bridge":
        if max(tries) < 0.9 and idle < 0.05:
            pytest.skip(f"the CPUs had no room (idle {idle:.0%}): goodput {tries} not judged")
        assert max(tries) >= 0.9, (tries, idle)
    else:
        # OVS forwards in one userspace thread: DESIGN §9 measured 0.74-0.92 over 3 hops on an idle machine,
        # and it collapses when other work takes the CPUs (0.2-0.65 at nice -10, docs/net.md). Ask 0.7 when
        # the CPUs had room, else only that traffic flows (the fidelity monitor is what flags such a run)
        assert max(tries) >= (0.7 if idle >= 0.25 else 0.05), (tries, idle)


def _transfer(net, mon, a, b, seconds):
    sink = net.popen(b, [*PROBE, "tcp-sink", "5000", str(seconds + 30)], stdout=subprocess.PIPE, text=True)
    try:
        with mon.transfer(a, b):
            src = net.popen(a, [*PROBE, "tcp-source", net.ip(b), "5000", str(seconds)],
                            stdout=subprocess.PIPE, text=True)
            src.communicate(timeout=seconds + 60)
    finally:
        net.end(sink)


@pytest.mark.net
@pytest.mark.timeout(300)
def test_fidelity_monitor_passes_35_mbit_on_an_idle_grid(net_ok):
    g = hex_graph(1, wireless_mbps=35)
    plan = plan_network(g, params=NetParams(prefix=net_ok))
    with Network(plan) as net, FidelityMonitor(net, interval_s=0.5) as mon:
        _transfer(net, mon, f"{net_ok}h0", f"{net_ok}h5", 4)
    rep = mon.report()
    assert len(rep) >= 4 and set(rep["rate_bps"]) == {35e6}
    assert (rep["util"] <= 1.02).all()  # never above the shaped rate
    # on a machine shared with other work, an interval where the CPU ran out may rightly be flagged; every
    # interval where the CPU had room must be faithful
    calm = rep[rep["cpu_idle"] >= 0.2]
    if calm.empty:
        pytest.skip("the CPUs never had room during the transfer (other work on the machine)")
    assert not calm["flagged"].any(), calm
    assert calm["util"].between(0.9, 1.02).all()


@pytest.mark.net
@pytest.mark.timeout(300)
def test_fidelity_monitor_flags_1_gbit_on_a_busy_machine(net_ok):
    g = hex_graph(2, wireless_mbps=1000)
    plan = plan_network(g, params=NetParams(prefix=net_ok))
    burners = []
    try:
        with Network(plan) as net, FidelityMonitor(net, interval_s=0.5) as mon:
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                       for _ in range(os.cpu_count() or 2)]
            a, b = _three_hops(plan, g)
            _transfer(net, mon, a, b, 4)
    finally:
        for p in burners:
            p.kill()
            p.wait()
    rep = mon.report()
    assert len(rep) >= 4
    assert not mon.summary()["faithful"], rep
    assert rep["flagged"].sum() >= len(rep) // 2


def _scripted_monitor(monkeypatch, utils: list[float], idle: list[float]):
    """A monitor over a fake three-link network (h0 -35 Mbit/s-> s0 -100-> s1 -unshaped-> h1) whose counters,
    clock and CPU follow a script: the access link carries `utils` of its rate, the CPU is `idle` per
    interval."""
    from types import SimpleNamespace

    from edgeroam.emulator.net import counters, fidelity

    link = SimpleNamespace
    links = [link(a="h0", b="s0", a_if="h0-eth0", b_if="s0-eth1", rate_ab_bps=35e6, rate_ba_bps=50e6,
                  kind="access", klass="wifi"),
             link(a="s0", b="s1", a_if="s0-eth2", b_if="s1-eth2", rate_ab_bps=100e6, rate_ba_bps=100e6,
                  kind="backhaul", klass="wireless"),
             link(a="s1", b="h1", a_if="s1-eth1", b_if="h1-eth0", rate_ab_bps=None, rate_ba_bps=None,
                  kind="local", klass="local")]
    net = SimpleNamespace(plan=SimpleNamespace(links=links), params=SimpleNamespace(switch="bridge"),
                          root_interfaces=lambda: ["s0-eth1", "s0-eth2", "s1-eth2", "s1-eth1"])
    state = {"t": 1000.0, "bytes": 0, "idle": 0, "total": 0}
    monkeypatch.setattr(counters, "time", SimpleNamespace(time=lambda: state["t"]))
    monkeypatch.setattr(counters, "read_counters", lambda: {
        # s0-eth1 receives what h0 sends; s0-eth2 and s1-eth1 pass it on
        "s0-eth1": (state["bytes"], 0, 0, 0), "s0-eth2": (0, 0, state["bytes"], 0),
        "s1-eth2": (state["bytes"], 0, 0, 0), "s1-eth1": (0, 0, state["bytes"], 0)})
    monkeypatch.setattr(fidelity, "cpu_times", lambda: (state["idle"], state["total"]))
    monkeypatch.setattr(fidelity, "path_links", lambda _net, src, dst, via=None: [
        ("h0", via or "s0"), ("s0", "s1"), ("s1", "h1")])
    mon = FidelityMonitor(net, interval_s=1.0, source="proc")
    mon.counters.sample()
    for u, i in zip(utils, idle, strict=True):
        state["t"] += 1.0
        state["bytes"] += int(u * 35e6 / 8)
        state["idle"] += int(100 * i)
        state["total"] += 100
        mon.counters.sample()
    return mon


def test_the_monitor_judges_the_bottleneck_and_the_cpu_per_interval(monkeypatch):
    mon = _scripted_monitor(monkeypatch, [0.95, 0.95, 0.5, 0.95, 0.95], [0.5, 0.4, 0.01, 0.3, 0.6])
    mon.add_transfer("h0", "h1", 1000.0, 1005.0)
    rep = mon.report()
    # the access link (35 Mbit/s, the most loaded) is judged, not the backhaul (0.33 of 100) nor the unshaped
    assert rep["interval"].tolist() == [0, 1, 2, 3, 4] and set(rep["rate_bps"]) == {35e6}
    assert set(zip(rep["src"], rep["dst"], strict=True)) == {("h0", "s0")}
    assert rep["util"].round(3).tolist() == [0.95, 0.95, 0.5, 0.95, 0.95]
    assert rep["flagged"].tolist() == [False, False, True, False, False]
    assert rep["cpu_out"].tolist() == [False, False, True, False, False]
    s = mon.summary()
    assert not s["faithful"] and s["flagged"] == 1 and s["cpu_out"] == 1 and s["judged_transfers"] == 1
    assert s["worst_util"] == pytest.approx(0.5) and s["worst_link"] == "h0->s0"
    assert s["min_cpu_idle"] == pytest.approx(0.01)
    t = mon.table(t0=1000.0, speed=10.0)
    assert list(t.columns) == FIDELITY_COLUMNS
    assert (t["kind"] == "link").sum() == 5 and (t["kind"] == "cpu").sum() == 5
    # run seconds (k = 10)
    assert t.loc[t["kind"] == "link", "start"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_a_transfer_at_its_rate_with_cpu_to_spare_is_faithful(monkeypatch):
    mon = _scripted_monitor(monkeypatch, [0.2, 0.95, 0.96, 0.94, 0.0], [0.5] * 5)
    mon.add_transfer("h0", "h1", 1001.0, 1004.0)  # only its full intervals: 1, 2, 3
    rep = mon.report()
    assert rep["interval"].tolist() == [1, 2, 3] and not rep["flagged"].any()
    assert mon.summary()["faithful"]
    mon.add_transfer("h0", "h1", 1001.2, 1001.9)  # shorter than an interval: told, not judged
    s = mon.summary()
    assert s["transfers"] == 2 and s["judged_transfers"] == 1


def test_agent_logs_become_transfers_with_the_uploads_cell(monkeypatch):
    mon = _scripted_monitor(monkeypatch, [0.95] * 3, [0.5] * 3)
    logs = {"e1": [{"event": "transfer", "src": 1, "dst": 2, "start": 1000.0, "end": 1003.0},
                   {"event": "stats"}],
            "c0": [{"event": "upload", "client": 0, "server": 2, "start": 1000.0, "end": 1002.0},
                   {"event": "query", "client": 0}]}
    n = add_agent_transfers(mon, logs, {1: "h0", 2: "h1"}, {0: "h0"}, {1: "s0", 2: "sX"})
    assert n == 2
    assert [(t.src, t.dst, t.path[0]) for t in mon._transfers] == [("h0", "h1", ("h0", "s0")),
                                                                  ("h0", "h1", ("h0", "sX"))]


@pytest.mark.net
@pytest.mark.timeout(600)
def test_a_net_run_writes_its_fidelity_table_and_the_report_reads_it(scripted, net_ok, tmp_path, monkeypatch):
    """The net backend runs the monitor through a whole run: fidelity.parquet (listed in the manifest) with a
    CPU row per interval and the judged intervals of the agents' uploads and migrations, the verdict in
    emulated.json, and `edgeroam report`'s fidelity row."""
    import dataclasses
    import functools
    import json

    from edgeroam.emulator.net.backend import Net
    from edgeroam.emulator.run import run_scenario
    from edgeroam.emulator.rundir import check_manifest
    from edgeroam.report import make_report
    from edgeroam.scenario import scenario_from_dict

    prep = scripted({"a": (0, 0, 1, 1, 2, 2, 3, 3), "b": (6, 6, 5, 5, 4, 4, 4, 3)}, model="inception",
                    server_cells=list(range(7)))
    sc = scenario_from_dict(prep.scenario.model_dump(mode="json"), overrides=["run.backend=net",
                                                                              "run.speed=15"])
    prep = dataclasses.replace(prep, scenario=sc)
    monkeypatch.setattr(Net, "__init__", functools.partialmethod(Net.__init__, prefix=net_ok, ready_s=240))
    run = run_scenario(sc, tmp_path / "runs", progress=False, prepared=prep)
    check_manifest(run)
    manifest = json.loads((run / "manifest.json").read_text())["files"]
    assert "fidelity.parquet" in manifest and "emulated.json" in manifest
    fid = pd.read_parquet(run / "fidelity.parquet")
    verdict = json.loads((run / "emulated.json").read_text())["fidelity"]
    cpu, links = fid[fid["kind"] == "cpu"], fid[fid["kind"] == "link"]
    transfers = pd.read_parquet(run / "transfers.parquet")
    print(verdict, links.to_string(), sep="\n")
    # 8 ticks of 30 s at k = 15: about 16 s of wall time, sampled every 0.5 s
    assert len(cpu) >= 20 and cpu["cpu_idle"].between(0, 1).all()
    assert verdict["transfers"] == len(transfers) > 0
    assert verdict["cpu_intervals"] == len(cpu) and verdict["intervals"] == len(links)
    assert verdict["faithful"] == (not links["flagged"].any() and not cpu["cpu_out"].any())
    if len(links):
        assert (links["util"] <= 1.05).all() and links["rate_bps"].isin([35e6, 50e6, 100e6, 1000e6]).all()
    rep = make_report([run], tmp_path / "report")
    assert rep.fidelity["faithful"].tolist() == [verdict["faithful"]]
    assert rep.fidelity["cpu_intervals"].tolist() == [len(cpu)]
