"""The user-space delay line: links of a chosen class get their delay (no netem here), others are reported as
not emulated; shaped goodput holds through it."""

from __future__ import annotations

import re

import pytest

from edgeroam.emulator.net.build import NetParams, Network, plan_network

from .conftest import hex_graph


def test_delay_table_says_what_is_and_is_not_emulated():
    g = hex_graph(1, wireless_delay_ms=5)
    table = plan_network(g, [["s2", "s0"]], NetParams(delay_klasses=("access",))).delay_table()
    how = table.groupby("kind")["how"].agg(set).to_dict()
    assert how == {"backhaul": {"not emulated"}, "local": {"none needed"}, "access": {"delay line"}}
    assert not table.query("kind == 'backhaul'")["emulated"].any()


@pytest.mark.net
@pytest.mark.timeout(180)
def test_delay_line_adds_its_delay_per_hop(net_ok):
    g = hex_graph(1, wireless_delay_ms=5)
    plan = plan_network(g, params=NetParams(prefix=net_ok, delay_klasses=("wireless",)))
    with Network(plan) as net:
        h0 = net.host(f"{net_ok}h0")
        rtts = {}
        for dst, hops in ((f"{net_ok}h2", 1), (f"{net_ok}h5", 2)):  # s0-s2 and s0-s2-s5
            out = h0.cmd(f"ping -c20 -i0.05 -q {net.ip(dst)}")
            rtts[hops] = float(re.search(r"= ([\d.]+)/", out).group(1))  # the minimum RTT
    # 5 ms each way per hop: 10 ms per hop and round trip, never less; plus the user-space hand-off, which on
    # a machine shared with other work can wait for a CPU (10.3 and 20.6 ms measured when it had one)
    assert 10.0 <= rtts[1] < 30.0 and 20.0 <= rtts[2] < 45.0, rtts
