"""Traffic probes run inside hosts (``python -m edgeroam.emulator.net.probes KIND …``), each printing one JSON
line.

``tcp-sink PORT SECONDS`` accepts one connection and reads until it closes or time is up: bytes, the longest
gap between reads and when it began (the TCP stall of a handover), how it ended (``eof``: the source closed it
cleanly after its last byte; ``error``: reset). ``tcp-source HOST PORT SECONDS [BYTES]`` sends as fast as TCP
allows for SECONDS (or exactly BYTES): bytes sent. ``udp-sink PORT SECONDS`` and ``udp-source HOST PORT PPS
SECONDS`` measure the packet gap of a handover with a sequence-numbered stream. Sinks also list every gap over
4 ms with its start on the system-wide monotonic clock, so a caller can tell the gap of a handover from a gap
the CPU scheduler made elsewhere. They are small on purpose (stdlib only, quick to start) and never need root:
`Network.popen` starts them inside a host and ends them by PID; nothing here uses ``net.iperf()``."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import time

__all__ = ["main"]

_CHUNK = 64 * 1024
_GAP_S = 0.004  # gaps longer than this are listed: [start (system-wide monotonic clock), length]


def tcp_sink(port: int, seconds: float) -> dict:
    """Read one TCP connection; bytes, longest gap between reads, how it ended (eof, time, error)."""
    srv = socket.create_server(("0.0.0.0", port), reuse_port=True)
    srv.settimeout(seconds)
    conn, _ = srv.accept()
    conn.settimeout(0.5)
    t0 = last = time.monotonic()
    total, gap, gap_at, end = 0, 0.0, 0.0, "time"
    gaps: list[list[float]] = []
    while time.monotonic() - t0 < seconds:
        try:
            data = conn.recv(_CHUNK)
        except TimeoutError:
            continue
        except OSError:
            end = "error"
            break
        now = time.monotonic()
        if not data:
            end = "eof"
            break
        if total and now - last > gap:
            gap, gap_at = now - last, last - t0
        if total and now - last > _GAP_S and len(gaps) < 1000:
            gaps.append([last, now - last])
        total, last = total + len(data), now
    conn.close()
    srv.close()
    return {"bytes": total, "max_gap_s": gap, "gap_at_s": gap_at, "end": end, "seconds": last - t0,
            "gaps": gaps}


def tcp_source(host: str, port: int, seconds: float, nbytes: int | None = None) -> dict:
    """Send to host:port for `seconds` or exactly `nbytes`; bytes sent and any error."""
    buf = b"\0" * _CHUNK
    sent, err = 0, None
    sock = None
    for _ in range(50):  # the sink may still be starting
        try:
            sock = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    if sock is None:
        return {"bytes": 0, "error": "could not connect"}
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds and (nbytes is None or sent < nbytes):
            n = _CHUNK if nbytes is None else min(_CHUNK, nbytes - sent)
            sock.sendall(buf[:n])
            sent += n
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        sock.recv(1)  # wait for the sink to close: every byte arrived
    except OSError as exc:
        err = str(exc)
    sock.close()
    return {"bytes": sent, "error": err, "seconds": time.monotonic() - t0}


def udp_sink(port: int, seconds: float) -> dict:
    """Receive a numbered UDP stream; received, lost, and the longest gap between arrivals."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    sock.settimeout(0.2)
    t0 = time.monotonic()
    seqs, last, gap, gap_at = set(), None, 0.0, 0.0
    gaps: list[list[float]] = []
    while time.monotonic() - t0 < seconds:
        try:
            data = sock.recv(2048)
        except TimeoutError:
            continue
        now = time.monotonic()
        seqs.add(struct.unpack("!Q", data[:8])[0])
        if last is not None and now - last > gap:
            gap, gap_at = now - last, last - t0
        if last is not None and now - last > _GAP_S and len(gaps) < 1000:
            gaps.append([last, now - last])
        last = now
    hi = max(seqs) + 1 if seqs else 0
    return {"received": len(seqs), "lost": hi - len(seqs), "max_gap_s": gap, "gap_at_s": gap_at,
            "gaps": gaps}


def udp_source(host: str, port: int, pps: float, seconds: float) -> dict:
    """Send `pps` numbered datagrams a second for `seconds` (paced on the monotonic clock)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    n = 0
    pad = b"\0" * 92
    while (now := time.monotonic()) - t0 < seconds:
        due = t0 + n / pps
        if due > now:
            time.sleep(due - now)
        with contextlib.suppress(OSError):  # no route for a moment during a handover: counts as lost
            sock.sendto(struct.pack("!Q", n) + pad, (host, port))
        n += 1
    return {"sent": n}


def main(argv: list[str] | None = None) -> int:
    """Command line of the probes (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    kind, rest = args[0], args[1:]
    if kind == "tcp-sink":
        out = tcp_sink(int(rest[0]), float(rest[1]))
    elif kind == "tcp-source":
        out = tcp_source(rest[0], int(rest[1]), float(rest[2]), int(rest[3]) if len(rest) > 3 else None)
    elif kind == "udp-sink":
        out = udp_sink(int(rest[0]), float(rest[1]))
    elif kind == "udp-source":
        out = udp_source(rest[0], int(rest[1]), float(rest[2]), float(rest[3]))
    else:
        print(f"unknown probe {kind!r}", file=sys.stderr)
        return 2
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
