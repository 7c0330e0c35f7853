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
