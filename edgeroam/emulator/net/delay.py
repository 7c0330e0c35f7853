"""A user-space delay line: this kernel has no netem, so a link whose delay matters runs through a middle node
whose process holds every frame `delay_ms` before passing it on (DESIGN §9: 5 ms one way gave 10.9 ms RTT at
92-95 Mbit/s).

Run inside the middle node's namespace as ``python -m edgeroam.emulator.net.delay IF0 IF1 DELAY_MS``: two
AF_PACKET sockets (one per interface, promiscuous, not seeing their own transmissions) and one FIFO per
direction; a frame read on one side is sent on the other once its time has come. One process per delayed link,
so use it on the few links whose delay matters (access, WAN to the cloud). `build` wires the middle node in
where `NetParams.delay_klasses` asks; which link delays were and were not emulated is
`build.NetPlan.delay_table`.
"""

from __future__ import annotations

import collections
import select
import socket
import sys
import time
from collections.abc import Callable

__all__ = ["main", "run"]

_ETH_P_ALL = 0x0003
_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_MR_PROMISC = 1
_PACKET_IGNORE_OUTGOING = 23
_MAX_FRAME = 65536


def _open(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    s.bind((ifname, _ETH_P_ALL))
    idx = socket.if_nametoindex(ifname)
    mreq = idx.to_bytes(4, sys.byteorder) + _PACKET_MR_PROMISC.to_bytes(2, sys.byteorder) + bytes(10)
    s.setsockopt(_SOL_PACKET, _PACKET_ADD_MEMBERSHIP, mreq)
    s.setsockopt(_SOL_PACKET, _PACKET_IGNORE_OUTGOING, 1)
    s.setblocking(False)
    return s


def run(if0: str, if1: str, delay_s: float, stop_after_s: float | None = None,
        on_ready: Callable[[], None] | None = None) -> dict:
    """Forward frames both ways between `if0` and `if1`, each held `delay_s`; runs until killed (or
    `stop_after_s`), returns frames forwarded per direction. `on_ready` is called once both sockets listen."""
    socks = [_open(if0), _open(if1)]
    if on_ready is not None:
        on_ready()
    queues: list[collections.deque] = [collections.deque(), collections.deque()]  # frames read on side i
    counts = [0, 0]
    t_end = None if stop_after_s is None else time.monotonic() + stop_after_s
    while t_end is None or time.monotonic() < t_end:
        now = time.monotonic()
        for i in (0, 1):
            q, out = queues[i], socks[1 - i]
            while q and q[0][0] <= now:
                try:
                    out.send(q[0][1])
                except BlockingIOError:
                    break  # the other side's queue is full: try again on the next turn
                except OSError:
                    pass  # a frame the interface refuses is dropped, like a full queue would
                q.popleft()
                counts[i] += 1
        due = [q[0][0] for q in queues if q]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 0.05
        readable, _, _ = select.select(socks, [], [], timeout)
        stamp = time.monotonic() + delay_s
        for s in readable:
            i = socks.index(s)
            for _ in range(256):
                try:
                    queues[i].append((stamp, s.recv(_MAX_FRAME)))
                except BlockingIOError:
                    break
    for s in socks:
        s.close()
    return {"forwarded_0_to_1": counts[0], "forwarded_1_to_0": counts[1]}


def main(argv: list[str] | None = None) -> int:
    """``IF0 IF1 DELAY_MS``: run the delay line until killed; prints ``ready`` once it forwards."""
    args = sys.argv[1:] if argv is None else argv
    run(args[0], args[1], float(args[2]) / 1e3, on_ready=lambda: print("ready", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
