"""Build a real network from a backhaul graph: plan it (pure), then run it (root, Mininet hosts, batched
links).

`plan_network` turns the backhaul graph (DESIGN §3) and the clients' candidate cells into a `NetPlan`: one
switch per graph node, one host per server, cloud and master node (on an unshaped local link to its switch),
one host per client with a pre-made access link to every cell it may enter, every backhaul edge a veth pair
shaped with htb at its capacity in each direction, access links shaped 50/35 Mbit/s (down/up), names from
`NetParams.prefix` (``er`` by default) within Linux's 15 characters, addresses from node numbers.

`Network` (a context manager) makes it real: hosts are Mininet ``Host`` nodes (a shell in its own network
namespace, spawned by ``mnexec``); links, bridges, qdiscs, static forwarding entries and static ARP are loaded
in a few batches (``ip -batch``, ``tc -batch``, ``bridge -batch``, one script per host run by its shell, all
hosts in parallel) instead of Mininet's one command at a time, which is what makes 100 cells build in seconds.
Every link is configured as ``TCLink(bw=…, txo=False, rxo=False)`` would be (htb root, rate class, checksum
offload off) unless `NetParams.offload` keeps it on. Teardown is in ``finally``, ends only PIDs this network
recorded and deletes only what it created; a record in ``/run/edgeroam`` lets `clean` finish a killed run.
Switch kinds (bridge, ovs) are in `switches`, handover in `handover`, counters in `counters`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import networkx as nx
import pandas as pd

from edgeroam.emulator.net.procs import RECORD_DIR, proc_start_time
from edgeroam.errors import RunError, TopologyError

__all__ = ["HostSpec", "LinkSpec", "NetParams", "NetPlan", "Network", "candidate_cells",
           "plan_network", "run_root"]

_IFNAME_MAX = 15
_HOST_KINDS = ("server", "cloud", "master")
_PREFIX_RE = re.compile(r"^er[a-z0-9]{0,2}$")


@dataclass(frozen=True)
class NetParams:
    """How a network is built (scenario `run.*` values; see docs/net.md)."""

    switch: Literal["bridge", "ovs"] = "bridge"
    prefix: str = "er"
    rto_min_ms: float | None = 5.0
    offload: bool = False
    weight: str | None = None
    shape: bool = True
    delay_klasses: tuple[str, ...] = ()
    delay: Literal["line", "netem"] = "line"
    datapath: Literal["user", "kernel"] = "user"
    #: ovs: run ovs-vswitchd's threads SCHED_RR while the network lives (`switches.vswitchd_realtime`)
    ovs_realtime: bool = False

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise TopologyError(f"net prefix {self.prefix!r} must be 'er' plus at most two of [a-z0-9]")
        if self.switch not in ("bridge", "ovs"):
            raise TopologyError(f"run.switch must be 'bridge' or 'ovs', got {self.switch!r}")
        if self.delay not in ("line", "netem"):
            raise TopologyError(f"net delay must be 'line' (user-space delay line) or 'netem', "
                                f"got {self.delay!r}")
        if self.datapath not in ("user", "kernel"):
            raise TopologyError(f"OVS datapath must be 'user' or 'kernel', got {self.datapath!r}")


@dataclass(frozen=True)
class HostSpec:
    """A host: its name, address, role and the switch ports it is linked to (first = attached at start)."""

    name: str
    role: str
    node: str
    ip: str
    mac: str
    ifaces: tuple[str, ...]
    switches: tuple[str, ...]


@dataclass(frozen=True)
class LinkSpec:
    """A veth pair between nodes a and b; rates are the egress rate at each end (None: unshaped). With a
    `delay_node`, two pairs through that node's namespace, whose delay line holds each frame `delay_s`."""

    a: str
    b: str
    a_if: str
    b_if: str
    rate_ab_bps: float | None
    rate_ba_bps: float | None
    delay_s: float
    klass: str
    kind: Literal["backhaul", "local", "access"]
    delay_node: str | None = None


@dataclass
class NetPlan:
    """Everything a network is, before anything is created (pure data; see the module docstring)."""

    params: NetParams
    graph: nx.Graph
    switch_of: dict[str, str]
    hosts: dict[str, HostSpec]
    links: list[LinkSpec]
    port_to: dict[tuple[str, str], str] = field(default_factory=dict)
    _routes: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _sw_graph: nx.Graph | None = field(default=None, repr=False)

    @property
    def switches(self) -> list[str]:
        """Switch names in graph-node order."""
        return list(self.switch_of.values())

    def delay_table(self) -> pd.DataFrame:
        """Every link's delay and how it is emulated: netem where the kernel has it (every link), else a
        delay line on the chosen classes, else not at all: a, b, klass, kind, delay_s, emulated, how.
        Zero-delay links count as emulated."""
        def how(x: LinkSpec) -> str:
            if x.delay_s == 0:
                return "none needed"
            if self.params.delay == "netem":
                return "netem"
            return "delay line" if x.delay_node else "not emulated"

        rows = [{"a": x.a, "b": x.b, "klass": x.klass, "kind": x.kind, "delay_s": x.delay_s,
                 "emulated": how(x) != "not emulated", "how": how(x)} for x in self.links]
        return pd.DataFrame(rows)

    def netem_delay_s(self, link: LinkSpec) -> float:
        """One-way delay netem adds at each end of `link` (0 unless the plan uses netem)."""
        return link.delay_s if self.params.delay == "netem" else 0.0

    def link_table(self) -> pd.DataFrame:
        """The links as a table (one row per veth pair)."""
        return pd.DataFrame([vars(link) for link in self.links])

    def routes_to(self, switch: str) -> dict[str, str]:
        """For every switch but `switch`, the port it forwards on toward `switch` along the shortest path."""
        if switch not in self._routes:
            if self._sw_graph is None:
                self._sw_graph = self._switch_graph()
            if self.params.weight is None:
                paths = nx.single_source_shortest_path(self._sw_graph, switch)
            else:
                paths = nx.single_source_dijkstra_path(self._sw_graph, switch, weight=self.params.weight)
            self._routes[switch] = {w: self.port_to[(w, p[-2])] for w, p in paths.items() if len(p) > 1}
        return self._routes[switch]

    def forwarding(self, attach: dict[str, int] | None = None) -> dict[str, dict[str, str]]:
        """Static forwarding: switch -> {host MAC -> out port}; `attach` picks each client's link (0)."""
        attach = attach or {}
        table: dict[str, dict[str, str]] = {s: {} for s in self.switches}
        for h in self.hosts.values():
            sw = h.switches[attach.get(h.name, 0)]
            for w, port in self.routes_to(sw).items():
                table[w][h.mac] = port
            table[sw][h.mac] = self.port_to[(sw, h.name)]
        return table

    def _switch_graph(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(self.switches)
        for u, v, d in self.graph.edges(data=True):
            g.add_edge(self.switch_of[u], self.switch_of[v], **d)
        return g


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _mac(n: int) -> str:
    return f"02:00:00:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"


def plan_network(
    graph: nx.Graph, clients: Sequence[Sequence[str]] = (), params: NetParams | None = None
) -> NetPlan:
    """Plan the network of `graph` (see the module docstring).

    `clients[j]` lists the graph nodes client j has pre-made access links to, the first being where it starts
    (`candidate_cells` gives a cell and its neighbours). Raises `TopologyError` naming the node or interface
    when a client names an unknown node, a switch would need more than 1,024 ports, or a name is too long.
    """
    params = params or NetParams()
    p = params.prefix
    nodes = list(graph.nodes)
    switch_of = {n: f"{p}s{i}" for i, n in enumerate(nodes)}
    nports: dict[str, int] = dict.fromkeys(switch_of.values(), 0)
    port_to: dict[tuple[str, str], str] = {}
    links: list[LinkSpec] = []
    hosts: dict[str, HostSpec] = {}
    middles: list[str] = []

    def middle(klass: str, delay_s: float) -> str | None:
        if params.delay == "netem" or klass not in params.delay_klasses or delay_s <= 0:
            return None
        middles.append(f"{p}d{len(middles)}")
        return middles[-1]

    def new_port(sw: str, peer: str) -> str:
        name = f"{sw}-eth{nports[sw]}"
        nports[sw] += 1
        port_to[(sw, peer)] = name
        return name

    for u, v, d in graph.edges(data=True):
        su, sv = switch_of[u], switch_of[v]
        rate = float(d["capacity_bps"]) if params.shape else None
        delay, klass = float(d.get("delay_s", 0.0)), str(d.get("klass", "wireless"))
        links.append(LinkSpec(su, sv, new_port(su, sv), new_port(sv, su), rate, rate, delay, klass,
                              "backhaul", middle(klass, delay)))
    number = 1
    for i, n in enumerate(nodes):
        kind = graph.nodes[n].get("kind", "server")
        if kind not in _HOST_KINDS:
            continue
        name, sw = f"{p}h{i}", switch_of[n]
        hif = f"{name}-eth0"
        links.append(LinkSpec(name, sw, hif, new_port(sw, name), None, None, 0.0, "local", "local"))
        hosts[name] = HostSpec(name, kind, n, _ip(number), _mac(number), (hif,), (sw,))
        number += 1
    access = graph.graph.get("access", {})
    down = float(access.get("down_bps", 50e6)) if params.shape else None
    up = float(access.get("up_bps", 35e6)) if params.shape else None
    for j, cands in enumerate(clients):
        name = f"{p}c{j}"
        if not cands:
            raise TopologyError(f"client {j} has no cell to attach to")
        ifs, sws = [], []
        for k, n in enumerate(cands):
            if n not in switch_of:
                raise TopologyError(f"client {j}: node {n!r} is not in the backhaul graph")
            sw, cif = switch_of[n], f"{name}-eth{k}"
            delay = float(access.get("delay_s", 0.0))
            links.append(LinkSpec(name, sw, cif, new_port(sw, name), up, down, delay, "access", "access",
                                  middle("access", delay)))
            ifs.append(cif)
            sws.append(sw)
        hosts[name] = HostSpec(name, "client", str(cands[0]), _ip(number), _mac(number), tuple(ifs),
                               tuple(sws))
        number += 1
    for sw, n in nports.items():
        if n > 1024:
            raise TopologyError(f"switch {sw} would need {n} ports; a Linux bridge takes at most 1,024")
    for link in links:
        for name in (link.a_if, link.b_if, f"{link.delay_node or ''}-eth1"):
            if len(name) > _IFNAME_MAX:
                raise TopologyError(f"interface name {name!r} is longer than {_IFNAME_MAX} characters")
    return NetPlan(params, graph, switch_of, hosts, links, port_to)


def candidate_cells(graph: nx.Graph, node: str) -> list[str]:
    """`node` then its backhaul neighbours that have a cell (servers and relays), sorted: a client's links."""
    near = sorted(n for n in graph.neighbors(node)
                  if graph.nodes[n].get("kind", "server") in ("server", "relay"))
    return [node, *near]


def run_root(args: list[str], stdin: str | None = None, timeout: float = 120.0) -> str:
    """Run a command in the root namespace; RunError with its output when it fails."""
    try:
        p = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RunError(f"net: {' '.join(args[:3])} failed: {exc}") from exc
    if p.returncode != 0:
        raise RunError(f"net: {' '.join(args[:3])} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout


def _tc_lines(dev: str, rate_bps: float | None, delay_s: float = 0.0) -> list[str]:
    """htb root plus one rate class, as TCLink(bw=…) makes it; with a delay, netem under it (or at the root
    of an unshaped link), as TCLink(delay=…) makes it where the kernel has netem."""
    netem = f"netem delay {delay_s * 1e3:g}ms limit 10000"
    if rate_bps is None:
        return [f"qdisc add dev {dev} root handle 10: {netem}"] if delay_s > 0 else []
    lines = [f"qdisc add dev {dev} root handle 5: htb default 1",
             f"class add dev {dev} parent 5: classid 5:1 htb rate {int(rate_bps)}bit burst 15k"]
    if delay_s > 0:
        lines.append(f"qdisc add dev {dev} parent 5:1 handle 10: {netem}")
    return lines


class Network:
    """A running network made from a `NetPlan` (see the module docstring); use it as a context manager.

    Examples
    --------
    >>> with Network(plan_network(graph)) as net:          # doctest: +SKIP
    ...     net.ping_all()
    """

    def __init__(self, plan: NetPlan):
        self.plan = plan
        self.params = plan.params
        self.hosts: dict[str, object] = {}
        self._middles: dict[str, object] = {}
        self.attach: dict[str, int] = {}
        self.started_at = 0.0
        self.build_s = 0.0
        self._procs: dict[int, subprocess.Popen] = {}
        self._root_ifs: list[str] = []
        self._bridges: list[str] = []
        self._workdir: Path | None = None
        self._record = RECORD_DIR / f"{self.params.prefix}-{os.getpid()}.json"
        self._ovs: contextlib.ExitStack | None = None
        self._controller = None

    # lifecycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> Network:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Create hosts, links, switches, shaping, forwarding and ARP; raises RunError on any failure."""
        from edgeroam.emulator.net.clean import leftovers

        t0 = time.perf_counter()
        left = leftovers(self.params.prefix)
        if left.interfaces or left.processes:
            raise RunError(f"net: {len(left.interfaces)} interfaces and {len(left.processes)} processes with "
                           f"prefix {self.params.prefix!r} exist already; run `edgeroam clean` or pick "
                           "another prefix")
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.params.prefix}-net-"))
        self._write_record()
        self._spawn_hosts()
        self._write_record()
        self._make_links()
        self._configure_hosts()
        self._configure_switches()
        self._shape_root()
        self.started_at = time.time()
        self.build_s = time.perf_counter() - t0

    def stop(self) -> None:
        """Tear everything down (idempotent): our processes by PID, host shells, links, bridges, daemons.

        A Ctrl-C during teardown is held back until teardown is done, then raised (never lost)."""
        held: list[int] = []
        old = None
        if _main_thread():
            old = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        try:
            self._stop()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        if held and old is signal.default_int_handler:
            raise KeyboardInterrupt

    def _stop(self) -> None:
        for pid, proc in list(self._procs.items()):
            _end(proc)
            self._procs.pop(pid, None)
        self._controller = None
        shells = [*self.hosts.values(), *self._middles.values()]
        for host in shells:  # SIGKILL every shell first, then reap: namespaces die in parallel
            if host.shell is not None and host.shell.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(host.shell.pid, signal.SIGKILL)
        for host in shells:
            with contextlib.suppress(Exception):
                _end_shell(host)
        self.hosts, self._middles = {}, {}
        if self.params.switch == "ovs" and self._ovs is not None:  # only bridges this network went on to make
            from edgeroam.emulator.net.switches import ovs_delete_bridges

            ovs_delete_bridges(self.plan.switches)
        if self._root_ifs or self._bridges:
            root = set(self._root_ifs)
            ends = [x.a_if if x.a_if in root else x.b_if for x in self.plan.links  # one end takes its peer
                    if x.a_if in root or x.b_if in root]
            dels = [f"link del {n}" for n in (*ends, *self._bridges)]
            subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(dels) + "\n", text=True,
                           capture_output=True, timeout=120, check=False)
        self._root_ifs, self._bridges = [], []
        if self._ovs is not None:
            self._ovs.close()
            self._ovs = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with contextlib.suppress(FileNotFoundError):
            self._record.unlink()

    def _write_record(self) -> None:
        RECORD_DIR.mkdir(parents=True, exist_ok=True)
        rec = {"prefix": self.params.prefix, "owner": os.getpid(), "switch": self.params.switch,
               "shells": [h.shell.pid for h in (*self.hosts.values(), *self._middles.values())
                          if getattr(h, "shell", None)],
               "pids": [[pid, proc_start_time(pid)] for pid in sorted(self._procs)],
               "workdir": str(self._workdir) if self._workdir else None,
               "ovs_bridges": self.plan.switches if self.params.switch == "ovs" else []}
        tmp = self._record.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, self._record)

    # building ----------------------------------------------------------------------------------------------

    def _spawn_hosts(self) -> None:
        from mininet.node import Host

        for name in self.plan.hosts:
            self.hosts[name] = Host(name)
        for link in self.plan.links:
            if link.delay_node:
                self._middles[link.delay_node] = Host(link.delay_node)

    def _make_links(self) -> None:
        """All veth pairs (host ends straight into their namespaces) and bridges in one ip batch."""
        lines: list[str] = []
        for link in self.plan.links:
            a_host, b_host = self.hosts.get(link.a), self.hosts.get(link.b)
            a = f"link add name {link.a_if}"
            if a_host is not None:
                a += f" address {self.plan.hosts[link.a].mac} netns {a_host.pid}"
            if link.delay_node:  # a -> middle node (delay line) -> b: two pairs
                mid = self._middles[link.delay_node].pid
                lines.append(f"{a} type veth peer name {link.delay_node}-eth0 netns {mid}")
                a = f"link add name {link.delay_node}-eth1 netns {mid}"
            b = f"peer name {link.b_if}" + (f" netns {b_host.pid}" if b_host is not None else "")
            lines.append(f"{a} type veth {b}")
            self._root_ifs += [n for n, h in ((link.a_if, a_host), (link.b_if, b_host)) if h is None]
        root_ifs = list(self._root_ifs)
        if self.params.switch == "bridge":
            for sw in self.plan.switches:
                lines.append(f"link add name {sw} type bridge stp_state 0 mcast_snooping 0")
                self._bridges.append(sw)
            for (sw, _peer), port in self.plan.port_to.items():
                lines.append(f"link set dev {port} master {sw}")
        for n in root_ifs + self._bridges:
            lines += [f"link set dev {n} addrgenmode none", f"link set dev {n} up"]
        self._write_record()
        run_root(["ip", "-batch", "-"], "\n".join(lines) + "\n")
        if not self.params.offload:
            _offload_off(root_ifs)

    def _shape_root(self) -> None:
        """htb on the switch ends of every link, in one tc batch. Runs after the switches exist: Open vSwitch
        replaces a port's root qdisc when it adds the port."""
        tc: list[str] = []
        for link in self.plan.links:
            if link.a not in self.hosts:
                tc += _tc_lines(link.a_if, link.rate_ab_bps, self.plan.netem_delay_s(link))
            if link.b not in self.hosts:
                tc += _tc_lines(link.b_if, link.rate_ba_bps, self.plan.netem_delay_s(link))
        if tc:
            run_root(["tc", "-batch", "-"], "\n".join(tc) + "\n")

    def _configure_hosts(self) -> None:
        """One script per host (addresses, route with rto_min, static ARP, shaping, offloads), in parallel."""
        assert self._workdir is not None
        rto = f" rto_min {self.params.rto_min_ms:g}ms" if self.params.rto_min_ms else ""
        all_hosts = list(self.plan.hosts.values())
        rates = {link.a_if: link.rate_ab_bps for link in self.plan.links if link.a in self.hosts}
        rates |= {link.b_if: link.rate_ba_bps for link in self.plan.links if link.b in self.hosts}
        delays = {i: self.plan.netem_delay_s(link) for link in self.plan.links
                  for i in (link.a_if, link.b_if)}
        for h in all_hosts:
            ip_lines = ["link set dev lo up"]
            tc_lines: list[str] = []
            for dev in h.ifaces:
                ip_lines += [f"link set dev {dev} addrgenmode none", f"link set dev {dev} up",
                             f"addr add {h.ip}/8 dev {dev} noprefixroute"]
                ip_lines += [f"neigh replace {o.ip} lladdr {o.mac} dev {dev} nud permanent"
                             for o in all_hosts if o.name != h.name]
                tc_lines += _tc_lines(dev, rates.get(dev), delays.get(dev, 0.0))
            ip_lines.append(f"route replace 10.0.0.0/8 dev {h.ifaces[0]} src {h.ip}{rto}")
            (self._workdir / f"{h.name}.ip").write_text("\n".join(ip_lines) + "\n")
            script = ["sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
                      f"ip -batch {self._workdir / f'{h.name}.ip'}"]
            if tc_lines:
                (self._workdir / f"{h.name}.tc").write_text("\n".join(tc_lines) + "\n")
                script.append(f"tc -batch {self._workdir / f'{h.name}.tc'}")
            if not self.params.offload:
                script += [f"ethtool -K {dev} tx off rx off >/dev/null 2>&1" for dev in h.ifaces]
            (self._workdir / f"{h.name}.sh").write_text("set -e\n" + "\n".join(script) + "\necho er-ok\n")
        self._parallel_cmd({h.name: f"sh {self._workdir / f'{h.name}.sh'} 2>&1" for h in all_hosts},
                           expect="er-ok")
        self.attach = dict.fromkeys(self.plan.hosts, 0)
        lines = {link.delay_node: self._start_delay_line(link) for link in self.plan.links if link.delay_node}
        _await_ready(lines, timeout_s=60.0)

    def _start_delay_line(self, link: LinkSpec) -> subprocess.Popen:
        """Bring the middle node's two interfaces up (no address) and start its delay line process (not yet
        forwarding: `_await_ready` waits for it)."""
        node = self._middles[link.delay_node]
        ifs = [f"{link.delay_node}-eth0", f"{link.delay_node}-eth1"]
        off = "".join(f"ethtool -K {i} tx off rx off >/dev/null 2>&1; " for i in ifs)
        out = node.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; "
                       + "".join(f"ip link set dev {i} up promisc on && " for i in ifs) + off + "echo er-ok")
        if "er-ok" not in out:
            raise RunError(f"net: delay node {link.delay_node} could not be configured: {out.strip()[-200:]}")
        proc = subprocess.Popen(["mnexec", "-a", str(node.pid), sys.executable, "-m",
                                 "edgeroam.emulator.net.delay", *ifs, f"{link.delay_s * 1e3:g}"],
                                stdout=subprocess.PIPE, text=True)
        self.track(proc)
        return proc

    def _configure_switches(self) -> None:
        if self.params.switch == "bridge":
            lines = [f"link set dev {port} learning off flood off mcast_flood off bcast_flood off"
                     for port in self.plan.port_to.values()]
            for entries in self.plan.forwarding(self.attach).values():
                lines += [f"fdb replace {mac} dev {port} master static" for mac, port in entries.items()]
            run_root(["bridge", "-batch", "-"], "\n".join(lines) + "\n")
        else:
            from edgeroam.emulator.net.switches import start_ovs

            self._ovs = contextlib.ExitStack()
            self._controller = start_ovs(self, self._ovs)
            self._write_record()

    def _parallel_cmd(self, cmds: dict[str, str], expect: str | None = None) -> dict[str, str]:
        """Send one command to several host shells at once, then collect each output."""
        for name, cmd in cmds.items():
            self.hosts[name].sendCmd(cmd)
        out = {name: self.hosts[name].waitOutput() for name in cmds}
        if expect is not None:
            bad = {n: o for n, o in out.items() if expect not in o}
            if bad:
                name, text = sorted(bad.items())[0]
                raise RunError(f"net: configuring host {name} failed: {text.strip()[-400:]}")
        return out

    # using -------------------------------------------------------------------------------------------------

    def host(self, name: str):
        """The Mininet Host called `name` (RunError naming it when unknown)."""
        try:
            return self.hosts[name]
        except KeyError:
            raise RunError(f"net: no host {name!r} in this network") from None

    @property
    def controller(self):
        """The running os-ken controller of the `ovs` kind (RunError for `bridge`)."""
        if self._controller is None:
            raise RunError("net: this network has no OpenFlow controller (switch kind 'bridge')")
        return self._controller

    def ip(self, name: str) -> str:
        """IPv4 address of host `name`."""
        return self.plan.hosts[name].ip

    def popen(self, name: str, args: list[str], **kwargs) -> subprocess.Popen:
        """Start `args` inside host `name`; its PID is recorded and it is ended at stop (or by `end`)."""
        host = self.host(name)
        proc = subprocess.Popen(["mnexec", "-a", str(host.pid), *args], **kwargs)
        self._procs[proc.pid] = proc
        self._write_record()
        return proc

    def track(self, proc: subprocess.Popen) -> None:
        """Record a process started elsewhere (e.g. the controller) so that stop ends it by PID."""
        self._procs[proc.pid] = proc
        self._write_record()

    @property
    def workdir(self) -> Path:
        """This network's scratch folder (batch files, controller config and log); removed at stop."""
        if self._workdir is None:
            raise RunError("net: the network is not started")
        return self._workdir

    def end(self, proc: subprocess.Popen) -> None:
        """End a process started by `popen` (SIGTERM, then SIGKILL after 5 s)."""
        _end(proc)
        self._procs.pop(proc.pid, None)
        self._write_record()

    def ping_all(self, timeout_s: float = 2.0, max_inflight: int = 256) -> tuple[int, int]:
        """Ping every other host from every host, a few sources at a time (at most `max_inflight` pings at
        once, so a big grid does not swamp the machine); (answered, sent)."""
        names = sorted(self.plan.hosts)
        per = max(1, max_inflight // max(1, len(names) - 1))
        up = 0
        for i in range(0, len(names), per):
            cmds = {}
            for n in names[i:i + per]:
                targets = " ".join(self.ip(o) for o in names if o != n)
                cmds[n] = (f"for d in {targets}; do (ping -c1 -W{timeout_s:g} -q $d >/dev/null 2>&1 && "
                           f"echo er-up $d || echo er-down $d) & done; wait")
            up += sum(o.count("er-up") for o in self._parallel_cmd(cmds).values())
        return up, len(names) * (len(names) - 1)

    def pids(self) -> list[int]:
        """Every process this network holds: host and middle-node shells, and processes it started."""
        shells = [h.pid for h in (*self.hosts.values(), *self._middles.values())]
        return sorted(shells + list(self._procs))

    def root_interfaces(self) -> list[str]:
        """Names of this network's interfaces in the root namespace (switch ports)."""
        return list(self._root_ifs)


def _await_ready(procs: dict[str, subprocess.Popen], timeout_s: float) -> None:
    """Wait until every delay line printed ``ready`` (a Python start can take seconds on a busy machine, and
    frames sent before then would be lost); a line that exits or stays silent is a RunError naming its
    node."""
    deadline = time.monotonic() + timeout_s
    for node, proc in procs.items():
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            why = f"exited with {proc.poll()}" if proc.poll() is not None else f"silent for {timeout_s:g} s"
            raise RunError(f"net: the delay line of {node} did not start ({why})")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _offload_off(devs: list[str]) -> None:
    """Checksum offload off on root-namespace interfaces, a few ethtool processes at a time."""
    if not devs:
        return
    cmd = 'ethtool -K "$0" tx off rx off >/dev/null'
    p = subprocess.run(["xargs", "-P", "4", "-n", "1", "sh", "-c", cmd],
                       input="\n".join(devs) + "\n", text=True, capture_output=True, timeout=300, check=False)
    if p.returncode != 0:
        raise RunError(f"net: ethtool could not turn checksum offload off: {p.stderr.strip()[-300:]}")


def _end(proc: subprocess.Popen) -> None:
    """End one process we started: SIGTERM, wait, SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=5)


def _end_shell(host) -> None:
    """End a Mininet host's shell by its PID (its namespace, and the veth ends in it, go with it)."""
    shell = host.shell
    if shell is not None and shell.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(shell.pid, signal.SIGKILL)
        shell.wait(timeout=10)
    with contextlib.suppress(Exception):
        host.cleanup()
    for f in (shell.stdin, shell.stdout) if shell is not None else ():
        with contextlib.suppress(Exception):
            f.close()

