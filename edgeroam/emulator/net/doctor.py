"""`edgeroam doctor`: probe what this machine can emulate and say what the net backend will and won't do.

Each probe tries the real thing on objects it creates itself (a veth pair and a bridge named ``erd<pid>…``, a
network namespace through ``mnexec``, qdiscs on that veth, an OVS bridge with the userspace datapath) and
removes them before returning; nothing existing is touched (never ``lo``). Building networks is left to
`build`."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeroam.emulator.net.build import NetParams

__all__ = ["Feature", "Report", "choose_params", "diagnose"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Feature:
    """One probed capability: whether it works here, what was seen, what that means for the net backend."""

    name: str
    ok: bool
    detail: str
    consequence: str


@dataclass(frozen=True)
class Report:
    """All probes plus the summary of what the net backend will and won't emulate on this machine."""

    features: list[Feature]
    emulated: list[str] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)

    def ok(self, name: str) -> bool:
        """Whether the feature `name` probed usable (False for an unknown name)."""
        return any(f.name == name and f.ok for f in self.features)

    def to_dict(self) -> dict:
        """Plain data for ``--json``."""
        return {"features": [asdict(f) for f in self.features], "emulated": self.emulated,
                "not_emulated": self.not_emulated}


def _run(args: list[str]) -> tuple[bool, str]:
    """Run a command; (success, first line of its error or output)."""
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    text = (p.stderr.strip() or p.stdout.strip()).splitlines()
    return p.returncode == 0, text[0] if text else ""


def _module(name: str, dist: str) -> tuple[bool, str]:
    if importlib.util.find_spec(name) is None:
        return False, f"Python module {name} not installed (pip install -e '.[emulation]')"
    try:
        return True, f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return True, f"{name} importable"


def _probe_links(root: bool) -> dict[str, tuple[bool, str]]:
    """veth, bridge and qdisc probes on a veth pair and a bridge of our own."""
    names = ["veth", "bridge", "htb", "tbf", "netem", "fq_codel"]
    if not root:
        return {n: (False, "not probed: needs root") for n in names}
    a, b, br = (f"erd{os.getpid() % 100000}{s}" for s in ("a", "b", "br"))
    out: dict[str, tuple[bool, str]] = {}
    try:
        out["veth"] = _run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        if not out["veth"][0]:
            return out | {n: (False, "no veth to probe on") for n in names if n != "veth"}
        _run(["ip", "link", "set", a, "up"])
        out["bridge"] = _run(["ip", "link", "add", br, "type", "bridge"])
        if out["bridge"][0]:
            ok, msg = _run(["bridge", "link", "set", "dev", b, "learning", "off", "flood", "off",
                            "mcast_flood", "off", "bcast_flood", "off"]) if _run(
                ["ip", "link", "set", b, "master", br])[0] else (False, "cannot enslave a veth")
            out["bridge"] = (ok, "learning and flooding can be turned off per port" if ok else msg)
        probes = {"htb": ["htb", "default", "1"], "tbf": ["tbf", "rate", "10mbit", "burst", "10k", "latency",
                                                          "50ms"],
                  "netem": ["netem", "delay", "1ms"], "fq_codel": ["fq_codel"]}
        for n, qdisc in probes.items():
            out[n] = _run(["tc", "qdisc", "add", "dev", a, "root", *qdisc])
            if out[n][0]:
                _run(["tc", "qdisc", "del", "dev", a, "root"])
    finally:
        _run(["ip", "link", "del", a])
        _run(["ip", "link", "del", br])
    return out


def _probe_ovs(root: bool) -> tuple[tuple[bool, str], tuple[bool, str]]:
    """(kernel datapath, userspace datapath) of Open vSwitch; starts and stops the daemons if down."""
    kernel = _run(["genl", "ctrl", "get", "name", "ovs_datapath"])
    kernel = (True, "ovs_datapath netlink family present") if kernel[0] else (
        False, "no ovs_datapath netlink family (openvswitch kernel module absent; modules cannot be loaded)")
    if not root:
        return kernel, (False, "not probed: needs root")
    if shutil.which("ovs-vsctl") is None:
        return kernel, (False, "ovs-vsctl not installed (apt-get install openvswitch-switch)")
    from edgeroam.emulator.net.switches import ovs_daemons

    br = f"erd{os.getpid() % 100000}o"
    try:
        with ovs_daemons():
            ok, msg = _run(["ovs-vsctl", "--timeout=5", "add-br", br, "--", "set", "bridge", br,
                            "datapath_type=netdev"])
            _run(["ovs-vsctl", "--timeout=5", "--if-exists", "del-br", br])
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure instead of raising
        return kernel, (False, f"OVS daemons did not start: {exc}")
    return kernel, (ok, "datapath_type=netdev bridge created and removed" if ok else msg)


def diagnose(*, ovs: bool = True) -> Report:
    """Probe this machine (see the module docstring); `ovs=False` skips the Open vSwitch daemon probe."""
    root = os.geteuid() == 0
    feats: list[Feature] = []

    def add(name: str, res: tuple[bool, str], yes: str, no: str) -> None:
        detail = res[1] or ("works" if res[0] else "failed")
        feats.append(Feature(name, res[0], detail, yes if res[0] else no))

    add("root", (root, f"euid {os.geteuid()}"), "can build networks",
        "cannot build networks: the net backend and `net` tests need root")
    mnexec = shutil.which("mnexec")
    netns = _run([mnexec, "-n", "true"]) if (root and mnexec) else (False, "not probed: needs root, mnexec")
    add("netns", netns, "one network namespace per host", "no hosts: the net backend cannot run")
    add("mnexec", (mnexec is not None, mnexec or "not found (apt-get install mininet)"),
        "Mininet hosts can be spawned", "no Mininet hosts: the net backend cannot run")
    add("mininet", _module("mininet", "mininet"), "Mininet's Python API available",
        "no Mininet Python module: the net backend cannot run")
    links = _probe_links(root)
    add("veth", links["veth"], "links are veth pairs", "no links: the net backend cannot run")
    add("bridge", links["bridge"], "switch kind `bridge` (static forwarding, no flooding)",
        "no switch kind `bridge`")
    add("htb", links["htb"], "link rates shaped with htb",
        "link rates cannot be shaped: the net backend refuses")
    add("tbf", links["tbf"], "tbf available", "no tbf (htb is used anyway)")
    add("netem", links["netem"], "kernel delay/loss/jitter on links",
        "no kernel delay or loss: delay only through the user-space delay line on chosen links, "
        "every other link's delay is reported as not emulated")
    add("fq_codel", links["fq_codel"], "fair queueing per link available",
        "one drop-tail queue per link (flows share it unfairly)")
    kernel, user = _probe_ovs(root) if ovs else ((False, "not probed"), (False, "not probed (--no-ovs)"))
    add("ovs-kernel", kernel, "switch kind `ovs` uses the OVS kernel datapath",
        "OVS kernel datapath never used (it would drop every packet silently): `ovs` runs in userspace")
    add("ovs-user", user, "switch kind `ovs` (userspace datapath, OpenFlow 1.3)", "no switch kind `ovs`")
    add("os-ken", _module("os_ken", "os-ken"), "OpenFlow controller for the `ovs` kind",
        "no OpenFlow controller: no switch kind `ovs`")
    add("torch", _module("torch", "torch"), "edge agents can run layers with torch",
        "edge agents can only sleep the profiled execution time")
    for tool, pkg in (("iperf3", "iperf3"), ("ethtool", "ethtool")):
        path = shutil.which(tool)
        add(tool, (path is not None, path or f"not found (apt-get install {pkg})"), f"{tool} available",
            f"no {tool}")
    cpus = os.cpu_count() or 1
    feats.append(Feature("cpus", True, f"{cpus} CPUs, load {os.getloadavg()[0]:.2f}",
                         f"links above ~{100 * cpus} Mbit/s are CPU-bound; the fidelity monitor flags them"))
    return _summarise(feats)


def _summarise(feats: list[Feature]) -> Report:
    ok = {f.name: f.ok for f in feats}
    base = all(ok.get(n, False) for n in ("root", "netns", "mnexec", "mininet", "veth", "htb"))
    emulated: list[str] = []
    not_emulated: list[str] = []
    rules: list[tuple[bool, str, str]] = [
        (base, "hosts per edge server, client and master in their own network namespaces",
         "nothing: the net backend cannot build a network here (see the failed probes)"),
        (base and ok.get("bridge", False),
         "switch kind `bridge`: Linux bridges, static forwarding, static ARP", "switch kind `bridge`"),
        (base and (ok.get("ovs-kernel", False) or ok.get("ovs-user", False)) and ok.get("os-ken", False),
         f"switch kind `ovs`: OVS {'kernel' if ok.get('ovs-kernel', False) else 'userspace'} datapath driven "
         "by the os-ken app (OpenFlow 1.3)", "switch kind `ovs`"),
        (base, "link capacities (htb) per direction: backhaul, Wi-Fi access 50/35 Mbit/s", "link capacities"),
        (base and ok.get("netem", False), "link delay and loss on every link (netem)",
         "kernel link delay and loss (no netem): delay only by the user-space delay line on chosen links"),
        (False, "", "Wi-Fi radio (no mac80211_hwsim): access is a shaped wired link"),
        (base, "handover by pre-made links (same MAC and IP), byte counters per link",
         "handover and byte counters"),
    ]
    for cond, yes, no in rules:
        (emulated if cond else not_emulated).append(yes if cond else no)
    return Report(features=feats, emulated=emulated, not_emulated=not_emulated)



def choose_params(report: Report, **overrides) -> NetParams:
    """The `NetParams` this machine supports best: netem delay on every link where the kernel has netem (else
    the user-space delay line on the classes asked for), the OVS kernel datapath where it exists (else
    userspace). `overrides` are any other `NetParams` fields.

    Examples
    --------
    >>> full_vm = Report([Feature("netem", True, "", ""), Feature("ovs-kernel", True, "", "")])
    >>> p = choose_params(full_vm, switch="ovs")
    >>> (p.delay, p.datapath)
    ('netem', 'kernel')
    >>> choose_params(Report([])).delay
    'line'
    """
    # imported here: `build` loads pandas and networkx, and every process under `edgeroam.emulator.net` (the
    # delay line, the agents) imports this module through the package
    from edgeroam.emulator.net.build import NetParams

    return NetParams(**{"delay": "netem" if report.ok("netem") else "line",
                        "datapath": "kernel" if report.ok("ovs-kernel") else "user", **overrides})
