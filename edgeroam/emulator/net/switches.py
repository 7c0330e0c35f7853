"""Switch kinds of the net backend and the Open vSwitch daemons they may need.

`bridge`: a Linux bridge per switch with learning and every kind of flooding off on each port, forwarding only
by static fdb entries (a looped mesh is then safe). `ovs`: an Open vSwitch bridge with the userspace datapath
(``datapath_type=netdev``; the kernel datapath is absent here), OpenFlow 1.3, fail mode secure, driven by the
os-ken app in `controller`. This module turns a switch's ports and forwarding entries into batched commands;
`build` decides which entries there are and runs the batches."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

from edgeroam.errors import RunError

__all__ = ["OVS_CTL", "ovs_daemons", "ovs_running"]

OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"


def ovs_running() -> bool:
    """Whether ovsdb-server and ovs-vswitchd answer."""
    try:
        p = subprocess.run(["ovs-vsctl", "--timeout=2", "show"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


@contextlib.contextmanager
def ovs_daemons() -> Iterator[bool]:
    """Make sure the OVS daemons run inside the block; stop them afterwards only if this block started them.

    Yields whether this block started them. There is no systemd here, so ``ovs-ctl start`` is run by hand.
    """
    started = False
    if not ovs_running():
        p = subprocess.run([OVS_CTL, "start", "--system-id=random"], capture_output=True, text=True,
                           timeout=60, check=False)
        if not ovs_running():
            raise RunError(f"net: could not start the Open vSwitch daemons: {p.stdout[-300:]} "
                           f"{p.stderr[-300:]}")
        started = True
    try:
        yield started
    finally:
        if started:
            subprocess.run([OVS_CTL, "stop"], capture_output=True, timeout=60, check=False)
