"""Handover: a client keeps its MAC and IP and moves to its pre-made link to the new cell's switch.

Every access link of a client already carries the client's MAC, its address (``noprefixroute``) and the static
ARP entries, so a handover only (1) points the client's route at the new link (with ``rto_min``, so TCP
retransmits after a few ms instead of Linux's 200 ms) and (2) rewrites the forwarding entry of the client's
MAC on every switch whose next hop changed: one ``bridge -batch`` in the root namespace for `bridge`, flow
changes by the os-ken app for `ovs`. Both run at once. Measuring the packet gap and the TCP stall is left to
`probes`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from edgeroam.emulator.net.build import Network, run_root
from edgeroam.errors import RunError

__all__ = ["HandoverResult", "handover"]


@dataclass(frozen=True)
class HandoverResult:
    """One handover: client, switches before and after, entries rewritten, control time (s)."""

    client: str
    src: str
    dst: str
    entries: int
    control_s: float


def handover(net: Network, client: str, node: str) -> HandoverResult:
    """Move `client` to its pre-made link to the cell of graph node `node`; RunError when it has none."""
    spec = net.plan.hosts.get(client)
    if spec is None or spec.role != "client":
        raise RunError(f"net: {client!r} is not a client of this network")
    sw = net.plan.switch_of.get(node)
    if sw not in spec.switches:
        raise RunError(f"net: client {client} has no pre-made link to the cell of {node!r} (only "
                       f"{', '.join(spec.switches)})")
    k_new, k_old = spec.switches.index(sw), net.attach[client]
    t0 = time.perf_counter()
    if k_new == k_old:
        return HandoverResult(client, sw, sw, 0, 0.0)
    old = _client_ports(net, client, spec.switches[k_old])
    new = _client_ports(net, client, sw)
    changed = {w: port for w, port in new.items() if old.get(w) != port}
    rto = f" rto_min {net.params.rto_min_ms:g}ms" if net.params.rto_min_ms else ""
    host = net.host(client)
    host.sendCmd(f"ip route replace 10.0.0.0/8 dev {spec.ifaces[k_new]} src {spec.ip}{rto} && echo er-ok")
    try:
        if net.params.switch == "bridge":
            run_root(["bridge", "-batch", "-"],
                 "".join(f"fdb replace {spec.mac} dev {port} master static\n" for port in changed.values()))
        else:
            net.controller.move(spec.mac, changed)
    finally:
        out = host.waitOutput()
    if "er-ok" not in out:
        raise RunError(f"net: handover of {client}: route change failed: {out.strip()[-200:]}")
    net.attach[client] = k_new
    return HandoverResult(client, spec.switches[k_old], sw, len(changed), time.perf_counter() - t0)


def _client_ports(net: Network, client: str, sw: str) -> dict[str, str]:
    """Switch -> out port for the client's MAC when it is attached at switch `sw`."""
    ports = dict(net.plan.routes_to(sw))
    ports[sw] = net.plan.port_to[(sw, client)]
    return ports
