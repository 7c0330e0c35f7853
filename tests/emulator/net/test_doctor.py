"""`edgeroam doctor` probes the real thing and says what will and won't be emulated; `clean` lists."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from edgeroam.cli import main
from edgeroam.emulator.net.clean import leftovers
from edgeroam.emulator.net.doctor import Feature, _summarise, diagnose


def _feat(name: str, ok: bool) -> Feature:
    return Feature(name, ok, "seen", "means")


def test_summary_follows_the_probes():
    base = ["root", "netns", "mnexec", "mininet", "veth", "htb", "bridge"]
    rep = _summarise([_feat(n, True) for n in base] + [_feat("netem", False), _feat("ovs-user", True),
                                                          _feat("os-ken", False)])
    assert any("`bridge`" in line for line in rep.emulated)
    assert "switch kind `ovs`" in rep.not_emulated  # OVS works, but no controller
    assert any("netem" in line for line in rep.not_emulated)
    none = _summarise([_feat(n, n != "root") for n in base])
    assert none.emulated == [] and none.not_emulated[0].startswith("nothing")
    assert rep.ok("veth") and not rep.ok("netem") and not rep.ok("unknown")


@pytest.mark.net
@pytest.mark.timeout(120)
def test_doctor_agrees_with_a_direct_probe(net_ok, tmp_path: Path):
    rep = diagnose(ovs=False)
    for name in ("root", "netns", "veth", "bridge", "htb"):
        assert rep.ok(name), rep.features
    # netem: the doctor's verdict is the kernel's answer on a veth of our own
    a, b = f"{net_ok}s98-eth0", f"{net_ok}s99-eth0"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    try:
        direct = subprocess.run(["tc", "qdisc", "add", "dev", a, "root", "netem", "delay", "1ms"],
                                capture_output=True, check=False).returncode == 0
    finally:
        subprocess.run(["ip", "link", "del", a], check=False)
    assert rep.ok("netem") == direct
    assert not [n for n in leftovers("er").interfaces if n.startswith("erd")]  # the probe's own veth is gone


@pytest.mark.net
@pytest.mark.timeout(120)
def test_doctor_and_clean_commands(net_ok, capsys):
    assert main(["doctor", "--json", "--no-ovs"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {f["name"] for f in out["features"]} >= {"netns", "veth", "htb", "netem", "ovs-user", "torch"}
    assert main(["clean", "--prefix", net_ok, "--dry-run"]) == 0
    assert "would remove: 0 processes" in capsys.readouterr().out
    assert main(["clean", "--prefix", "bad!"]) == 1


def _machine(**ok: bool) -> list[Feature]:
    base = ["root", "netns", "mnexec", "mininet", "veth", "htb", "bridge", "ovs-user", "os-ken"]
    return [_feat(n, True) for n in base] + [_feat(n, v) for n, v in ok.items()]


def test_a_full_vm_gets_netem_on_every_link_and_the_kernel_datapath():
    """A fake probe of a full VM (netem and the OVS kernel module present): the net backend's parameters use
    them, every link delay is emulated by netem and no delay-line process is planned."""
    from edgeroam.emulator.net.build import _tc_lines, candidate_cells, plan_network
    from edgeroam.emulator.net.doctor import choose_params

    from .conftest import PREFIX, hex_graph

    rep = _summarise(_machine(netem=True, **{"ovs-kernel": True}))
    assert any("kernel datapath" in line for line in rep.emulated)
    assert any("netem" in line for line in rep.emulated)
    params = choose_params(rep, switch="ovs", prefix=PREFIX, delay_klasses=("access",))
    assert (params.delay, params.datapath, params.switch) == ("netem", "kernel", "ovs")
    g = hex_graph(1)
    plan = plan_network(g, [candidate_cells(g, "s2")], params)
    table = plan.delay_table()
    delayed = table[table["delay_s"] > 0]
    assert set(delayed["kind"]) == {"backhaul", "access"}
    assert set(delayed["how"]) == {"netem"} and delayed["emulated"].all()
    assert all(link.delay_node is None for link in plan.links)
    backhaul = next(link for link in plan.links if link.kind == "backhaul")
    lines = _tc_lines(backhaul.a_if, backhaul.rate_ab_bps, plan.netem_delay_s(backhaul))
    assert lines[-1].endswith("netem delay 2ms limit 10000") and "parent 5:1" in lines[-1]
    assert _tc_lines("x", None, 0.02) == ["qdisc add dev x root handle 10: netem delay 20ms limit 10000"]


def test_this_kind_of_machine_falls_back_to_the_delay_line_and_userspace():
    """No netem, no OVS kernel module (this machine): a delay line on the classes asked for, every other link
    delay reported as not emulated, and the userspace datapath."""
    from edgeroam.emulator.net.build import _tc_lines, candidate_cells, plan_network
    from edgeroam.emulator.net.doctor import choose_params

    from .conftest import PREFIX, hex_graph

    rep = _summarise(_machine(netem=False, **{"ovs-kernel": False}))
    assert any("userspace datapath" in line for line in rep.emulated)
    assert any("no netem" in line for line in rep.not_emulated)
    params = choose_params(rep, switch="ovs", prefix=PREFIX, delay_klasses=("access",))
    assert (params.delay, params.datapath) == ("line", "user")
    g = hex_graph(1)
    plan = plan_network(g, [candidate_cells(g, "s2")], params)
    table = plan.delay_table()
    assert set(table.loc[table["kind"] == "access", "how"]) == {"delay line"}
    assert set(table.loc[table["kind"] == "backhaul", "how"]) == {"not emulated"}
    assert all(plan.netem_delay_s(link) == 0 for link in plan.links)
    backhaul = next(link for link in plan.links if link.kind == "backhaul")
    assert not any("netem" in line for line in _tc_lines(backhaul.a_if, backhaul.rate_ab_bps))
