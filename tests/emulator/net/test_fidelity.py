"""Shaped goodput over three hops, and the fidelity monitor: a 35 Mbit/s transfer on an idle grid is faithful,
a 1 Gbit/s transfer with every CPU busy is flagged."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import networkx as nx
import pytest

from edgeroam.emulator.net.build import NetParams, Network, plan_network
from edgeroam.emulator.net.fidelity import FidelityMonitor, cpu_times, goodput, path_links

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
@pytest.mark.parametrize(("switch", "mbps"), [("bridge", 35), ("bridge", 100), ("ovs", 35), ("ovs", 100)])
def test_goodput_over_three_hops(net_ok, switch, mbps):
    if shutil.which("iperf3") is None:
        pytest.skip("needs iperf3")
    if switch == "ovs" and importlib.util.find_spec("os_ken") is None:
        pytest.skip("needs os-ken (pip install -e '.[emulation]')")
    g = hex_graph(2, wireless_mbps=mbps)
    plan = plan_network(g, params=NetParams(prefix=net_ok, switch=switch))
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
    if switch == "bridge":
        if max(tries) < 0.9 and idle < 0.05:
            pytest.skip(f"the CPUs had no room (idle {idle:.0%}): goodput {tries} not judged")
        assert max(tries) >= 0.9, (tries, idle)
    else:
        # OVS forwards in one userspace thread: DESIGN §9 measured 0.74-0.92 over 3 hops on an idle machine,
        # and it collapses when other work takes the CPUs. Ask 0.7 when the CPUs had room, else only that
        # traffic flows (the fidelity monitor is what flags such a run)
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
