"""Switch kinds of the net backend and the Open vSwitch daemons they may need.

`bridge`: a Linux bridge per switch with learning and every kind of flooding off on each port, forwarding only
by static fdb entries (a looped mesh is then safe). `ovs`: an Open vSwitch bridge with the userspace datapath
(``datapath_type=netdev``; the kernel's, ``system``, where `doctor` finds it), OpenFlow 1.3, fail mode secure,
driven by the os-ken app in `controller`. This module turns a switch's ports and forwarding entries into
batched commands; `build` decides which entries there are and runs the batches."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

from edgeroam.emulator.net.procs import alive
from edgeroam.errors import RunError

__all__ = ["OVS_CTL", "Controller", "ovs_daemons", "ovs_delete_bridges", "ovs_running", "shortest_ports",
           "start_ovs"]

OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"


#: where ovs-ctl writes the daemons' PIDs
OVSDB_PID = Path("/var/run/openvswitch/ovsdb-server.pid")
VSWITCHD_PID = Path("/var/run/openvswitch/ovs-vswitchd.pid")


def ovs_running(timeout_s: float = 10.0) -> bool:
    """Whether ovsdb-server and ovs-vswitchd answer within `timeout_s`."""
    try:
        p = subprocess.run(["ovs-vsctl", f"--timeout={timeout_s:g}", "show"], capture_output=True,
                           timeout=timeout_s + 5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def _daemons_alive() -> bool:
    """Whether both daemons' PID files name live processes: unlike a query, a busy machine cannot make
    running daemons look stopped (and then be stopped by the last user as if edgeroam had started them)."""
    for pidfile in (OVSDB_PID, VSWITCHD_PID):
        try:
            if not alive(int(pidfile.read_text())):
                return False
        except (OSError, ValueError):
            return False
    return True


_USERS = Path("/run/edgeroam/ovs-users.json")


@contextlib.contextmanager
def _users_lock() -> Iterator[dict]:
    """The shared record of which live processes use the OVS daemons, under an exclusive lock."""
    _USERS.parent.mkdir(parents=True, exist_ok=True)
    with open(_USERS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            rec = json.loads(_USERS.read_text()) if _USERS.exists() else {}
        except ValueError:
            rec = {}
        rec["users"] = [p for p in rec.get("users", []) if alive(p)]
        yield rec
        _USERS.write_text(json.dumps(rec))


@contextlib.contextmanager
def ovs_daemons() -> Iterator[bool]:
    """Make sure the OVS daemons run inside the block; yields whether this block started them.

    There is no systemd here, so ``ovs-ctl start`` is run by hand. Several edgeroam processes may share the
    daemons: a record in /run/edgeroam (under a file lock) lists the live users, and the daemons are stopped
    by the last user to leave, and only when edgeroam started them.
    """
    me = os.getpid()
    started = False
    with _users_lock() as rec:
        if not _daemons_alive():
            p = subprocess.run([OVS_CTL, "start", "--system-id=random"], capture_output=True, text=True,
                               timeout=60, check=False)
            if not ovs_running(timeout_s=30.0):
                raise RunError(f"net: could not start the Open vSwitch daemons: {p.stdout[-300:]} "
                               f"{p.stderr[-300:]}")
            started = rec["ours"] = True
        rec["users"].append(me)
    try:
        yield started
    finally:
        with _users_lock() as rec:
            rec["users"] = [p for p in rec["users"] if p != me]
            if not rec["users"] and rec.get("ours"):
                subprocess.run([OVS_CTL, "stop"], capture_output=True, timeout=60, check=False)
                rec["ours"] = False


@contextlib.contextmanager
def vswitchd_realtime(priority: int = 10) -> Iterator[None]:
    """Run every thread of ovs-vswitchd SCHED_RR at `priority` inside the block (back to SCHED_OTHER after).

    With the userspace datapath every frame of every switch passes through the daemon's one forwarding
    loop, which under traffic takes all the CPU it is given. At ovs-ctl's nice -10 it got 0.22-0.26 of a core
    on this 2-core machine shared with other work, and paths over several switches lost rate; as SCHED_RR it
    got 0.9 of a core and carried 0.90-0.93 of 35 and 100 Mbit/s over 1-3 hops (docs/net.md). It preempts
    other work the way the kernel's softirq does for `bridge`, sleeps when no frame waits, and the kernel's RT
    throttling keeps 5 % of each core for the rest.
    """
    try:
        pid = int(VSWITCHD_PID.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"net: no ovs-vswitchd PID ({VSWITCHD_PID}: {exc}); is Open vSwitch running?") from exc
    p = subprocess.run(["chrt", "-a", "-r", "-p", str(priority), str(pid)], capture_output=True, text=True,
                       timeout=10, check=False)
    if p.returncode != 0:
        raise RunError(f"net: could not make ovs-vswitchd real-time (chrt): {p.stderr.strip()[-300:]}")
    try:
        yield
    finally:
        subprocess.run(["chrt", "-a", "-o", "-p", "0", str(pid)], capture_output=True, timeout=10,
                       check=False)


def _dpid(switch: str) -> int:
    """Datapath id of a switch named ``<prefix>s<i>``: i + 1."""
    return int(switch.rsplit("s", 1)[1]) + 1


def _port_no(port: str) -> int:
    """OpenFlow port number of ``<switch>-eth<k>``: k + 1 (requested from OVS with ofport_request)."""
    return int(port.rsplit("-eth", 1)[1]) + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Controller:
    """The os-ken controller process of a network (`controller` module) and its control socket."""

    def __init__(self, proc: subprocess.Popen, control_port: int, log: Path):
        self.proc = proc
        self.control_port = control_port
        self.log = log
        self._sock: socket.socket | None = None
        self._file = None
        self._lock = threading.Lock()  # the counter thread and a handover may ask at once

    def request(self, req: dict, timeout: float = 30.0) -> dict:
        """Send one JSON request and return the reply (RunError naming the op when it fails)."""
        with self._lock:
            return self._request(req, timeout)

    def _request(self, req: dict, timeout: float) -> dict:
        try:
            if self._sock is None:
                self._sock = socket.create_connection(("127.0.0.1", self.control_port), timeout=timeout)
                self._file = self._sock.makefile("rw")
            self._sock.settimeout(timeout)
            self._file.write(json.dumps(req) + "\n")
            self._file.flush()
            reply = json.loads(self._file.readline())
        except (OSError, ValueError) as exc:
            self.close()
            raise RunError(f"net: controller request {req.get('op')!r} failed: {exc}") from exc
        if "error" in reply:
            raise RunError(f"net: controller request {req.get('op')!r} failed: {reply['error']}")
        return reply

    def wait_ready(self, switches: list[str], timeout: float) -> float:
        """Wait until every switch connected and has its rules; seconds waited."""
        want = {_dpid(s) for s in switches}
        t0 = time.monotonic()
        last: dict = {}
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RunError(f"net: the os-ken controller exited ({self.proc.returncode}): "
                               f"{self.log.read_text()[-500:]}")
            with contextlib.suppress(RunError):
                last = self.request({"op": "status"}, timeout=5)
                if want <= set(last["done"]):
                    return time.monotonic() - t0
            time.sleep(0.1)
        done = len(last.get("done", []))
        raise RunError(f"net: only {done} of {len(want)} switches got their rules from the controller within "
                       f"{timeout:g} s")

    def status(self) -> dict:
        """Switches connected and done, packet-ins seen."""
        return self.request({"op": "status"})

    def move(self, mac: str, ports: dict[str, str]) -> int:
        """Point `mac` at `ports` (switch name -> port name) on those switches; rules changed."""
        reply = self.request({"op": "move", "mac": mac,
                              "ports": {str(_dpid(s)): _port_no(p) for s, p in ports.items()}})
        if not reply["ok"]:
            raise RunError(f"net: a switch did not confirm the handover rules of {mac}")
        return int(reply["rules"])

    def port_counters(self, switches: list[str]) -> dict[str, tuple[int, int, int, int]]:
        """Port name -> (rx_bytes, rx_packets, tx_bytes, tx_packets) from OpenFlow port stats, as of now."""
        reply = self.request({"op": "stats"})
        if not reply.get("ok", False):  # a switch did not answer in time: its counters would be stale
            raise RunError("net: a switch did not answer the controller's port-stats request in time")
        names = {_dpid(s): s for s in switches}
        out = {}
        for dpid, ports in reply["stats"].items():
            sw = names.get(int(dpid))
            for port, (rxb, txb, rxp, txp) in ports.items() if sw else ():
                out[f"{sw}-eth{int(port) - 1}"] = (rxb, rxp, txb, txp)
        return out

    def close(self) -> None:
        """Close the control socket."""
        for f in (self._file, self._sock):
            with contextlib.suppress(Exception):
                if f is not None:
                    f.close()
        self._sock = self._file = None


def start_ovs(net, stack: contextlib.ExitStack) -> Controller:
    """OVS daemons (if down), the os-ken controller, and every switch as a bridge in one ovs-vsctl call (the
    userspace datapath, or the kernel's where `NetParams.datapath` says so); returns when every switch has its
    rules. Cleanup goes on `stack` and `net`'s recorded PIDs."""
    plan = net.plan
    datapath_type = "system" if plan.params.datapath == "kernel" else "netdev"
    stack.enter_context(ovs_daemons())
    if plan.params.ovs_realtime:
        stack.enter_context(vswitchd_realtime())
    of_port, ctl_port = _free_port(), _free_port()
    owner = {port: (sw, peer) for (sw, peer), port in plan.port_to.items()}
    links = []
    for link in plan.links:
        if link.kind == "backhaul":
            links.append([_dpid(link.a), _port_no(link.a_if), _dpid(link.b), _port_no(link.b_if)])
    hosts = [[h.mac, _dpid(h.switches[0]), _port_no(plan.port_to[(h.switches[0], h.name)])]
             for h in plan.hosts.values()]
    config = {"of_port": of_port, "control_port": ctl_port, "links": links, "hosts": hosts,
              "switches": {str(_dpid(s)): s for s in plan.switches}}
    cfg_path = net.workdir / "controller.json"
    cfg_path.write_text(json.dumps(config))
    log = net.workdir / "controller.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edgeroam.emulator.net.controller", str(cfg_path)],
                                stdout=out, stderr=subprocess.STDOUT)
    net.track(proc)
    ctl = Controller(proc, ctl_port, log)
    stack.callback(ctl.close)
    args = ["ovs-vsctl", "--timeout=120"]
    for sw in plan.switches:
        args += ["--", "add-br", sw, "--", "set", "bridge", sw, f"datapath_type={datapath_type}",
                 "protocols=OpenFlow13", "fail_mode=secure", f"other-config:datapath-id={_dpid(sw):016x}",
                 "other-config:disable-in-band=true", "--", "set-controller", sw, f"tcp:127.0.0.1:{of_port}"]
    for port, (sw, _peer) in sorted(owner.items()):
        args += ["--", "add-port", sw, port, "--", "set", "Interface", port,
                 f"ofport_request={_port_no(port)}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    if p.returncode != 0:
        raise RunError(f"net: ovs-vsctl could not create the switches: {p.stderr.strip()[-400:]}")
    ctl.wait_ready(plan.switches, timeout=60 + 0.5 * len(plan.switches))
    return ctl


def shortest_ports(config: dict) -> dict[int, dict[str, int]]:
    """dpid -> {host MAC -> out port}: the shortest path (hops) from every switch to every host's switch."""
    g = nx.Graph()
    g.add_nodes_from(int(d) for d in config["switches"])
    port_of: dict[tuple[int, int], int] = {}
    for a, pa, b, pb in config["links"]:
        g.add_edge(a, b)
        port_of[(a, b)], port_of[(b, a)] = pa, pb
    table: dict[int, dict[str, int]] = {int(d): {} for d in config["switches"]}
    paths_from: dict[int, dict] = {}
    for mac, dpid, port in config["hosts"]:
        if dpid not in paths_from:
            paths_from[dpid] = nx.single_source_shortest_path(g, dpid)
        for w, path in paths_from[dpid].items():
            if len(path) > 1:
                table[w][mac] = port_of[(w, path[-2])]
        table[dpid][mac] = port
    return table


def ovs_delete_bridges(names: list[str]) -> None:
    """Delete these OVS bridges (those that exist) in one ovs-vsctl call; nothing when OVS is down."""
    if not names or not ovs_running():
        return
    args = ["ovs-vsctl", "--timeout=60"]
    for b in names:
        args += ["--", "--if-exists", "del-br", b]
    subprocess.run(args, capture_output=True, timeout=120, check=False)
