"""Link byte counters on a real network agree with the bytes a TCP sender sent (within 2 %, headers counted).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from edgeroam.emulator.net.build import NetParams, Network, plan_network
from edgeroam.emulator.net.counters import CounterSampler, backhaul_table, link_bytes, read_counters

from .conftest import hex_graph

PROBE = [sys.executable, "-m", "edgeroam.emulator.net.probes"]
HEADERS = 14 + 20 + 32  # Ethernet, IPv4, TCP with timestamps: wire bytes per segment beyond the payload


def test_read_counters_parses_proc_net_dev(tmp_path):
    f = tmp_path / "dev"
    f.write_text("Inter-|   Receive\n face |bytes\n  ers0-eth1: 100 2 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n"
                 "    lo:    7    1    0    0    0     0          0         0        7       1    0    0 "
                 "   0     0       0          0\n")
    assert read_counters(f) == {"ers0-eth1": (100, 2, 300, 4), "lo": (7, 1, 7, 1)}


@pytest.mark.net
@pytest.mark.timeout(240)
@pytest.mark.parametrize("switch", ["bridge", "ovs"])
def test_counters_agree_with_bytes_sent(net_ok, switch):
    if switch == "ovs" and importlib.util.find_spec("os_ken") is None:
        pytest.skip("needs os-ken (pip install -e '.[emulation]')")
    g = hex_graph(1)
    plan = plan_network(g, params=NetParams(prefix=net_ok, switch=switch))
    nbytes = 20_000_000
    a, b = f"{net_ok}h0", f"{net_ok}h5"  # s0 -> s2 -> s5: two backhaul hops
    with Network(plan) as net:
        host_if = {h: read_counters(f"/proc/{net.host(h).pid}/net/dev")[f"{h}-eth0"] for h in (a, b)}
        with CounterSampler(net, 0.5) as cs:  # interface statistics (bridge), OpenFlow port stats (ovs)
            sink = net.popen(b, [*PROBE, "tcp-sink", "5000", "60"], stdout=subprocess.PIPE, text=True)
            time.sleep(0.5)
            src = net.popen(a, [*PROBE, "tcp-source", net.ip(b), "5000", "60", str(nbytes)],
                            stdout=subprocess.PIPE, text=True)
            sent = json.loads(src.communicate(timeout=90)[0])
            got = json.loads(sink.communicate(timeout=90)[0])
        # the hosts' own interface statistics, read inside their namespaces: an independent count
        host_if = {h: np.subtract(read_counters(f"/proc/{net.host(h).pid}/net/dev")[f"{h}-eth0"], host_if[h])
                   for h in (a, b)}
        lb = link_bytes(cs)
        table = backhaul_table(lb, net)
    assert sent["bytes"] == got["bytes"] == nbytes
    fwd = lb.groupby(["src", "dst"])[["bytes", "packets"]].sum()
    s0, s2, s5 = (plan.switch_of[n] for n in ("s0", "s2", "s5"))
    assert abs(fwd.loc[(a, s0), "bytes"] - host_if[a][2]) <= 0.02 * host_if[a][2]  # a sent (tx)
    assert abs(fwd.loc[(s5, b), "bytes"] - host_if[b][0]) <= 0.02 * host_if[b][0]  # b received (rx)
    for hop in ((s0, s2), (s2, s5), (a, s0)):
        wire, pkts = fwd.loc[hop, "bytes"], fwd.loc[hop, "packets"]
        assert wire > nbytes
        if switch == "bridge":  # no loss, so no retransmission: the payload plus the headers of its segments
            assert abs(wire - (nbytes + HEADERS * pkts)) <= 0.02 * wire
            segments = math.ceil(nbytes / 1448)
            assert segments <= pkts <= segments + 20  # data segments plus handshake and FIN
            assert 1.0 < wire / nbytes < 1.06
    per_server = table.groupby("server")[["up_bytes", "down_bytes"]].sum()
    assert per_server.loc[0, "up_bytes"] == fwd.loc[(s0, s2), "bytes"]
    assert per_server.loc[5, "down_bytes"] == fwd.loc[(s2, s5), "bytes"]
    assert np.isclose(per_server["up_bytes"].sum(), per_server["down_bytes"].sum())
    assert set(table["source"]) == {"measured"}
