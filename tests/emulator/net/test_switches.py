"""The `ovs` switch kind on a looped 19-cell grid: the os-ken app connects every switch and installs proactive
shortest-path rules (every pair reachable, not one packet-in: no flooding storm); nothing is left behind."""

from __future__ import annotations

import importlib.util

import pytest

from edgeroam.emulator.net.build import NetParams, Network, candidate_cells, plan_network
from edgeroam.emulator.net.clean import leftovers
from edgeroam.emulator.net.switches import _dpid, _port_no, shortest_ports

from .conftest import hex_graph


def test_controller_paths_match_the_bridge_forwarding():
    g = hex_graph(2)
    plan = plan_network(g, [candidate_cells(g, "s4")])
    links = [[_dpid(x.a), _port_no(x.a_if), _dpid(x.b), _port_no(x.b_if)] for x in plan.links
             if x.kind == "backhaul"]
    hosts = [[h.mac, _dpid(h.switches[0]), _port_no(plan.port_to[(h.switches[0], h.name)])]
             for h in plan.hosts.values()]
    table = shortest_ports({"switches": {str(_dpid(s)): s for s in plan.switches}, "links": links,
                            "hosts": hosts})
    owner = {(_dpid(sw), _port_no(port)): peer for (sw, peer), port in plan.port_to.items()}

    def walk(sw: str, mac: str, ports) -> int:
        """Switches crossed following `ports(switch, mac)` until the port leads to a host."""
        n = 0
        while sw in plan.switch_of.values():
            sw = owner[(_dpid(sw), ports(sw, mac))]
            n += 1
            assert n <= len(plan.switches), "forwarding loop"
        return n

    fwd = plan.forwarding()
    for sw in plan.switches:
        assert table[_dpid(sw)].keys() == fwd[sw].keys()
        for mac in fwd[sw]:
            # both are shortest paths; where several exist they may differ, but never in length
            assert walk(sw, mac, lambda w, m: table[_dpid(w)][m]) == walk(sw, mac,
                                                                          lambda w, m: _port_no(fwd[w][m]))


@pytest.mark.net
@pytest.mark.timeout(300)
def test_ovs_with_os_ken_reaches_every_pair_without_packet_ins(net_ok):
    if importlib.util.find_spec("os_ken") is None:
        pytest.skip("needs os-ken (pip install -e '.[emulation]')")
    g = hex_graph(2)
    plan = plan_network(g, [candidate_cells(g, "s0")], NetParams(prefix=net_ok, switch="ovs"))
    with Network(plan) as net:
        status = net.controller.status()
        assert status["connected"] == status["done"] == sorted(range(1, 20))
        up, sent = net.ping_all(timeout_s=5)
        assert up == sent == 20 * 19
        assert net.controller.status()["packet_in"] == 0
    left = leftovers(net_ok)
    assert left.empty, left


@pytest.mark.net
@pytest.mark.timeout(180)
def test_daemons_edgeroam_did_not_start_outlive_a_run_even_when_a_query_times_out(net_ok, monkeypatch):
    import shutil
    import subprocess

    from edgeroam.emulator.net import switches

    if shutil.which("ovs-vsctl") is None:
        pytest.skip("needs Open vSwitch (scripts/provision.sh installs it)")
    started_here = not switches._daemons_alive()
    if started_here:  # as provisioning would have done
        subprocess.run([switches.OVS_CTL, "start", "--system-id=random"], capture_output=True, timeout=60,
                       check=True)
    try:
        # a loaded machine: ovs-vsctl misses its deadline although both daemons run
        monkeypatch.setattr(switches, "ovs_running", lambda timeout_s=10.0: False)
        with switches.ovs_daemons() as started:
            assert started is False
        assert switches._daemons_alive()
    finally:
        if started_here:
            subprocess.run([switches.OVS_CTL, "stop"], capture_output=True, timeout=60, check=False)
