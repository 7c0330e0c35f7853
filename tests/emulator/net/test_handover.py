"""Handover on a real 7-cell network: the client keeps its address, a TCP connection stays open and loses no
byte, the stall stays far below Linux's 200 ms minimum RTO with rto_min, and no UDP packet is lost."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

import pytest

from edgeroam.emulator.net.build import NetParams, Network, candidate_cells, plan_network
from edgeroam.emulator.net.handover import handover
from edgeroam.errors import RunError

from .conftest import hex_graph

PROBE = [sys.executable, "-m", "edgeroam.emulator.net.probes"]


def _json(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.net
@pytest.mark.timeout(240)
@pytest.mark.parametrize("switch", ["bridge", "ovs"])
def test_tcp_connection_survives_two_handovers(net_ok, switch):
    if switch == "ovs" and importlib.util.find_spec("os_ken") is None:
        pytest.skip("needs os-ken (pip install -e '.[emulation]')")
    g = hex_graph(1)
    plan = plan_network(g, [candidate_cells(g, "s2")], NetParams(prefix=net_ok, rto_min_ms=5, switch=switch))
    c, srv = f"{net_ok}c0", f"{net_ok}h5"
    with Network(plan) as net:
        sink = net.popen(c, [*PROBE, "tcp-sink", "5000", "20"], stdout=subprocess.PIPE, text=True)
        usink = net.popen(c, [*PROBE, "udp-sink", "5001", "5"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        src = net.popen(srv, [*PROBE, "tcp-source", net.ip(c), "5000", "3"], stdout=subprocess.PIPE,
                        text=True)
        usrc = net.popen(srv, [*PROBE, "udp-source", net.ip(c), "5001", "500", "3"], stdout=subprocess.PIPE,
                         text=True)
        time.sleep(1.0)
        at = [time.monotonic()]
        first = handover(net, c, "s0")
        time.sleep(0.8)
        at.append(time.monotonic())
        second = handover(net, c, "s6")
        sent, got, usent, ugot = _json(src), _json(sink), _json(usrc), _json(usink)
    assert first.entries > 0 and second.entries > 0 and first.control_s < 0.5
    assert sent["error"] is None and got["end"] == "eof"
    assert got["bytes"] == sent["bytes"] > 1_000_000  # at 50 Mbit/s down for 3 s: ~18 MB, not one byte lost
    # the longest pause of the stream right after each handover: a broken path would stall for seconds;
    # the benchmark compares rto_min 5 ms with Linux's 200 ms (a shared machine adds scheduling pauses here)
    stalls = [max([g for t, g in got["gaps"] if t0 - 0.01 <= t <= t0 + 0.3], default=0.0) for t0 in at]
    assert max(stalls) < 0.5, stalls
    if switch == "bridge":  # OVS's userspace datapath drops when a shaped queue is full (TCP beside it)
        assert ugot["lost"] <= 5 and ugot["received"] >= usent["sent"] - 5


@pytest.mark.net
@pytest.mark.timeout(120)
def test_handover_to_a_cell_without_a_link_is_refused(net_ok):
    g = hex_graph(2)
    plan = plan_network(g, [candidate_cells(g, "s0")], NetParams(prefix=net_ok))
    far = next(n for n in g.nodes if n not in candidate_cells(g, "s0"))
    with Network(plan) as net, pytest.raises(RunError, match="no pre-made link"):
        handover(net, f"{net_ok}c0", far)
