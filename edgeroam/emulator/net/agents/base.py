"""What every agent shares: its name, run secret and encoder, a `Server` for its peers, `Link`s to the peers
in its address book, an event log (JSON lines), the command line and the process life (ready line, SIGTERM).

An agent process prints one line ``READY <name> <address>`` on stdout once it listens, writes its events to
``--log`` as they happen (one JSON object a line, flushed), logs every connection as it closes (``conn``:
bytes written and read, bytes left unread or unacknowledged, the kernel's TCP counters; `wire`), and on
SIGTERM or SIGINT closes its links and server, writes a final ``stats`` line (with its peak resident memory)
and exits 0.

What it leaves to others: what each agent does with frames (edge, client, master).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

from edgeroam.emulator.net.agents.link import LINGER_S, Link, Server
from edgeroam.emulator.net.agents.wire import conn_record
from edgeroam.emulator.net.protocol import DEFAULT_MAX_BODY, Channel, Encoder, Frame, Tally, load_secret
from edgeroam.errors import EdgeroamError, NetError

__all__ = ["Agent", "common_parser", "run_agent"]


class Agent:
    """Base of the agents.

    Parameters
    ----------
    name : str
        This agent's name (``e<server>``, ``c<client>``, ``master``).
    listen : str
        Address to listen on (``host:port``, port 0 picks one; ``unix:/path``).
    secret : bytes
        The run's secret.
    run : str
        The run id.
    book : dict[str, str]
        Peer name -> address.
    log : path, optional
        Event log (JSON lines).
    max_body : int
        Largest frame body accepted.
    """

    def __init__(self, name: str, listen: str, secret: bytes, run: str, *, book: dict[str, str] | None = None,
                 log: str | Path | None = None, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.name = name
        self.listen = listen
        self.secret = secret
        self.run = run
        self.book = dict(book or {})
        self.max_body = int(max_body)
        self.encoder = Encoder(secret, run, name)
        self.tally = Tally()
        self.listener = Server(listen, name, self.encoder, secret, self.handle, tally=self.tally,
                             max_body=max_body, on_close=self.conn_closed)
        self.links: dict[str, Link] = {}
        self.address: str | None = None
        self.t0 = time.time()
        self._log: IO[str] | None = None
        self._log_path = None if log is None else Path(log)

    async def start(self) -> str:
        """Open the log and listen; the bound address."""
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("a", encoding="utf-8")
        self.address = await self.listener.start()
        return self.address

    def link(self, peer: str) -> Link:
        """The link to `peer` (made on first use, from the address book)."""
        lk = self.links.get(peer)
        if lk is None:
            addr = self.book.get(peer)
            if addr is None:
                raise NetError(f"{self.name}: no address for peer {peer!r} in the address book")
            lk = self.links[peer] = Link(peer, addr, self.encoder, self.secret, self.tally,
                                         on_frame=self.on_frame, max_body=self.max_body,
                                         on_close=self.conn_closed)
        return lk

    def conn_closed(self, chan: Channel) -> None:
        """Log what a connection carried (``conn``, `wire.conn_record`) as it closes."""
        self.record("conn", **conn_record(chan))

    async def on_frame(self, frame: Frame) -> None:
        """A frame on one of our links that answers no request (default: ignored, but counted)."""
        self.tally.dropped["unexpected"] += 1

    async def handle(self, frame: Frame, chan: Channel) -> None:
        """Handle a request from a peer (agents override; default: answer stats, refuse the rest)."""
        if frame.type == "stats":
            await chan.send("stats", frame.src, ref=frame.seq, meta=self.stats())
            return
        self.tally.dropped["unhandled"] += 1

    def stats(self) -> dict[str, Any]:
        """Counters: frames accepted and dropped by reason, link resends, bytes sent."""
        return {
            "agent": self.name, "accepted": self.tally.accepted,
            "dropped": dict(sorted(self.tally.dropped.items())),
            "resent": sum(lk.resent for lk in self.links.values()),
            "reconnects": sum(lk.reconnects for lk in self.links.values()),
            "bytes_out": sum(lk.bytes_out for lk in self.links.values())
            + sum(ch.bytes_out for ch in self.listener.channels),
            "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }

    def record(self, event: str, **fields: Any) -> None:
        """Append an event to the log (with wall time `t`)."""
        if self._log is not None:
            self._log.write(json.dumps({"event": event, "agent": self.name, "t": time.time(), **fields},
                                       separators=(",", ":")) + "\n")
            self._log.flush()

    async def close(self) -> None:
        """Close links (all at once: each waits for its peer to close too) and server; write the final stats
        line."""
        await asyncio.gather(*(lk.close() for lk in list(self.links.values())))
        await self.listener.close()
        self.record("stats", **self.stats())
        if self._log is not None:
            self._log.close()
            self._log = None


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every agent takes."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--name", required=True, help="agent name (e<server>, c<client>, master)")
    p.add_argument("--listen", required=True, help="host:port (port 0 picks one) or unix:/path")
    p.add_argument("--run", required=True, help="run id every frame carries")
    p.add_argument("--secret-file", default=None,
                   help="file with the run secret (hex or raw); default: $EDGEROAM_RUN_SECRET (hex)")
    p.add_argument("--book", default=None, help="JSON file: peer name -> address")
    p.add_argument("--log", default=None, help="event log (JSON lines)")
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, help="largest body accepted (bytes)")
    return p


def agent_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Base `Agent` arguments from parsed options (reads the secret and the address book)."""
    book = {}
    if args.book:
        try:
            book = json.loads(Path(args.book).read_text())
        except (OSError, ValueError) as exc:
            raise NetError(f"address book {args.book}: {exc}") from None
    return {"name": args.name, "listen": args.listen, "secret": load_secret(args.secret_file),
            "run": args.run, "book": book, "log": args.log, "max_body": args.max_body}


def run_agent(agent: Agent) -> int:
    """Run `agent` until SIGTERM/SIGINT; print ``READY <name> <address>`` once listening; the exit status."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            addr = await agent.start()
            print(f"READY {agent.name} {addr}", flush=True)
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(agent.close(), 2 * LINGER_S + 10)  # links, then server, may linger

    try:
        asyncio.run(main())
    except EdgeroamError as exc:
        print(f"{agent.name}: {exc}", file=sys.stderr)
        return 1
    return 0
