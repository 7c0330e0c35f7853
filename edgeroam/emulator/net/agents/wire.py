"""What one connection put on the wire: the agent's own byte counts and the kernel's TCP counters, read when
the connection closes, so that the backend can check the switch counters against what the agents sent and
that every byte sent was received or counted lost.

`conn_record(chan)` gives, for a `Channel` about to close: its local and remote address, the bytes the agent
wrote (``bytes_out``, whole frames) and fed to its decoder (``bytes_in``), the bytes left unread at close
(``unread``: the stream reader's buffer plus the socket's receive queue, ``SIOCINQ``) and not yet
acknowledged by the peer (``unacked``: ``SIOCOUTQ``, sent or not), and Linux ``TCP_INFO``: payload bytes the
kernel sent (retransmits included), segments sent and received, retransmits. `wire_bytes` turns those into
Ethernet bytes: each TCP segment carries 66 bytes of headers here (Ethernet 14, IPv4 20, TCP 20 and the 12
bytes of the timestamp option, which every namespace has on), a SYN 8 more (MSS, SACK-permitted, window
scale).

What it leaves to others: pairing both ends and comparing with the counters (backend).
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.net.protocol import Channel

__all__ = ["SEGMENT_HEADER", "SYN_EXTRA", "conn_record", "tcp_info", "wire_bytes"]

#: Ethernet + IPv4 + TCP + timestamp option bytes of one segment (no FCS: interface counters exclude it)
SEGMENT_HEADER = 66
#: extra option bytes of a SYN or SYN-ACK (MSS 4, SACK-permitted 2, window scale 3, NOP 1, less 2 of padding)
SYN_EXTRA = 8
_SIOCOUTQ = 0x5411  # TIOCOUTQ: bytes in the send queue not yet acknowledged

# struct tcp_info (linux/tcp.h) offsets of the fields read
_FIELDS = {"total_retrans": (100, "I"), "bytes_acked": (120, "Q"), "bytes_received": (128, "Q"),
           "segs_out": (136, "I"), "segs_in": (140, "I"), "notsent_bytes": (144, "I"),
           "data_segs_in": (152, "I"), "data_segs_out": (156, "I"), "bytes_sent": (200, "Q"),
           "bytes_retrans": (208, "Q")}
_INFO_LEN = 216


def tcp_info(sock: Any) -> dict[str, int] | None:
    """The kernel's TCP counters of `sock` (None: not a TCP socket, or a kernel older than 4.19)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except (OSError, AttributeError):
        return None
    if len(raw) < _INFO_LEN:
        return None
    return {k: struct.unpack_from("=" + f, raw, off)[0] for k, (off, f) in _FIELDS.items()}


def _ioctl_int(fd: int, request: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0]


def conn_record(chan: Channel) -> dict[str, Any]:
    """What `chan` carried so far (see the module docstring); called just before it closes."""
    writer = chan.writer
    sock = writer.get_extra_info("socket")
    rec: dict[str, Any] = {"peer": chan.peer, "bytes_out": int(chan.bytes_out),
                           "bytes_in": int(chan.decoder.bytes_in)}
    buffered = len(getattr(chan.reader, "_buffer", b""))  # read from the socket, not yet fed to the decoder
    rec["unread"] = buffered
    if sock is None or sock.family != socket.AF_INET:
        return rec
    # the addresses the transport noted when the connection opened: once both ends have closed (as they do
    # before logging, `Channel.drain_to_eof`) the socket no longer has a peer name
    with contextlib.suppress(OSError):
        local = writer.get_extra_info("sockname") or sock.getsockname()
        rec["local"] = "{}:{}".format(*local[:2])
        remote = writer.get_extra_info("peername") or sock.getpeername()
        rec["remote"] = "{}:{}".format(*remote[:2])
    with contextlib.suppress(OSError, ValueError):
        fd = sock.fileno()
        rec["unread"] = buffered + _ioctl_int(fd, termios.FIONREAD)
        rec["unacked"] = _ioctl_int(fd, _SIOCOUTQ)
    transport = getattr(writer, "transport", None)
    rec["unwritten"] = int(transport.get_write_buffer_size()) if transport is not None else 0
    info = tcp_info(sock)
    if info is not None:
        rec["tcp"] = info
    return rec


def wire_bytes(tcp: dict[str, int]) -> tuple[int, int]:
    """(out, in) Ethernet bytes of one connection from its ``TCP_INFO``: payload sent (retransmits included)
    plus headers of every segment sent; payload received plus headers of every segment received."""
    out = tcp["bytes_sent"] + SEGMENT_HEADER * tcp["segs_out"] + SYN_EXTRA
    inn = tcp["bytes_received"] + SEGMENT_HEADER * tcp["segs_in"] + SYN_EXTRA
    return out, inn
