"""Connections between agents: a `Link` to one peer that resends what was not answered after a reconnect, and
`Server`, which accepts peers and hands their frames to a handler.

Every request (layers, order, query, report, stats) is answered by a frame whose ``ref`` is the request's seq
(an ack, a result, a report). A `Link` keeps each request until its answer arrives; when the connection breaks
it reconnects (with backoff, up to a deadline) and sends the unanswered requests again under new sequence
numbers, in their first order, so that every layer is acknowledged as the protocol asks. Receivers make
repeated layers harmless (a layer held is held once).

Addresses are ``host:port`` (TCP) or ``unix:/path`` (a Unix socket: it reaches across network namespaces,
which is how the backend in the root namespace talks to the master host).

What it leaves to others: the frames (protocol), what the requests mean (edge, client, master).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edgeroam.emulator.net.protocol import Channel, Decoder, Encoder, Frame, Tally
from edgeroam.errors import NetError

__all__ = ["LINGER_S", "Link", "Server", "open_stream", "parse_address"]

log = logging.getLogger(__name__)

#: how long a closing end waits for its peer to close too (then it logs its counters as they are)
LINGER_S = 5.0


def parse_address(addr: str) -> tuple[str, str | int]:
    """``("unix", path)`` or ``(host, port)`` of an address string; NetError when it is neither."""
    if addr.startswith("unix:"):
        return "unix", addr[5:]
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise NetError(f"address {addr!r} must be host:port or unix:/path")
    return host, int(port)


async def open_stream(addr: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to `addr` (TCP with no Nagle delay, or a Unix socket)."""
    host, port = parse_address(addr)
    if host == "unix":
        return await asyncio.open_unix_connection(str(port))
    return await asyncio.open_connection(host, port)


@dataclass(eq=False)
class _Request:
    type: str
    fields: dict[str, Any]
    future: asyncio.Future
    seq: int = -1
    sends: int = 0
    first_sent: float = field(default_factory=time.time)


class Link:
    """A reliable link from this agent (`encoder.src`) to the peer `peer` at `addr`.

    Parameters
    ----------
    peer : str
        The peer's agent name (frames are addressed to it).
    addr : str
        Its address.
    encoder : Encoder
        This agent's encoder (one per agent: its seq numbers grow across links).
    secret : bytes
    tally : Tally
        This agent's receive counters.
    on_frame : callable, optional
        Called with frames from the peer that answer no request.
    reconnect_s : float
        How long to keep trying to reconnect before the pending requests fail with NetError.
    on_close : callable, optional
        Called with each connection of this link just before it closes (`Channel.on_close`).
    linger_s : float
        At `close`, how long to wait for the peer to close its end too.

    Attributes
    ----------
    resent : int
        Requests sent again after a reconnect.
    reconnects : int
        Connections made after the first.
    """

    def __init__(self, peer: str, addr: str, encoder: Encoder, secret: bytes, tally: Tally, *,
                 on_frame: Callable[[Frame], Awaitable[None] | None] | None = None,
                 reconnect_s: float = 10.0, max_body: int | None = None,
                 on_close: Callable[[Channel], None] | None = None, linger_s: float = LINGER_S) -> None:
        self.peer = peer
        self.addr = addr
        self.encoder = encoder
        self.secret = secret
        self.tally = tally
        self.on_frame = on_frame
        self.reconnect_s = float(reconnect_s)
        self.max_body = max_body
        self.on_close = on_close
        self.linger_s = float(linger_s)
        self.resent = 0
        self.reconnects = 0
        self.bytes_out = 0
        self._chan: Channel | None = None
        self._pending: dict[int, _Request] = {}  # seq -> request, in sending order
        self._reader: asyncio.Task | None = None
        self._connecting: asyncio.Task | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._chan is not None

    async def connect(self) -> None:
        """Connect now (retrying up to `reconnect_s`); NetError if the peer cannot be reached."""
        await self._ensure()

    async def _ensure(self) -> Channel:
        if self._chan is not None:
            return self._chan
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._dial())
        await asyncio.shield(self._connecting)
        assert self._chan is not None
        return self._chan

    async def _dial(self) -> None:
        deadline = time.monotonic() + self.reconnect_s
        delay, last = 0.02, None
        while not self._closed:
            try:
                reader, writer = await open_stream(self.addr)
                break
            except OSError as exc:
                last = exc
            if time.monotonic() >= deadline:
                err = NetError(f"cannot reach {self.peer} at {self.addr}: {last}")
                for req in self._pending.values():
                    if not req.future.done():
                        req.future.set_exception(err)
                self._pending.clear()
                raise err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        else:
            raise NetError(f"link to {self.peer} is closed")
        kw = {} if self.max_body is None else {"max_body": self.max_body}
        dec = Decoder(self.secret, run=self.encoder.run, me=self.encoder.src, tally=self.tally,
                      window="@answers", **kw)
        chan = Channel(reader, writer, self.encoder, dec, self.peer)
        chan.on_close = self.on_close
        await chan.send("hello", self.peer)
        again = list(self._pending.values())
        self._pending.clear()
        self._chan = chan
        self._reader = asyncio.ensure_future(self._read(chan))
        if again:
            self.reconnects += 1
        for req in again:  # unanswered requests, in their first order, under new seqs
            self.resent += 1
            await self._send(chan, req)

    async def _send(self, chan: Channel, req: _Request) -> None:
        def register(seq: int) -> None:  # before the bytes leave: the answer may come back at once
            req.seq = seq
            req.sends += 1
            self._pending[seq] = req

        try:
            await chan.send(req.type, self.peer, on_seq=register, **req.fields)
        except NetError:
            self._pending.pop(req.seq, None)
            raise
        self.bytes_out = chan.bytes_out

    async def request(self, type: str, timeout: float | None = None, **fields: Any) -> Frame:
        """Send a request and wait for its answer (resending it after a reconnect)."""
        loop = asyncio.get_running_loop()
        req = _Request(type, fields, loop.create_future())
        while True:
            chan = await self._ensure()
            try:
                await self._send(chan, req)
                break
            except NetError:
                self._lost(chan)
        try:
            return await asyncio.wait_for(asyncio.shield(req.future), timeout)
        except TimeoutError:
            self._pending.pop(req.seq, None)
            raise NetError(f"no answer from {self.peer} to {type} seq {req.seq} in {timeout} s") from None

    async def send(self, type: str, **fields: Any) -> int:
        """Send a frame that needs no answer; its seq."""
        chan = await self._ensure()
        return await chan.send(type, self.peer, **fields)

    def _lost(self, chan: Channel) -> None:
        """The connection `chan` broke: forget it (the next request or the reader reconnects)."""
        if self._chan is chan:
            self._chan = None
            with contextlib.suppress(Exception):
                chan.finish()

    async def _read(self, chan: Channel) -> None:
        while True:
            frame = await chan.recv()
            if frame is None:
                break
            req = self._pending.pop(frame.ref, None) if frame.ref is not None else None
            if req is not None:
                if not req.future.done():
                    req.future.set_result(frame)
            elif self.on_frame is not None:
                out = self.on_frame(frame)
                if asyncio.iscoroutine(out):
                    await out
        self._lost(chan)
        if self._pending and not self._closed:
            with contextlib.suppress(NetError):
                await self._ensure()  # reconnect and resend what is unanswered

    async def close(self) -> None:
        """Say bye and half-close, keep reading (answers still resolve their requests) until the peer has
        closed too (at most `linger_s`), then close: the counters both ends log then hold every byte the other
        wrote. Requests still pending fail with NetError."""
        self._closed = True
        chan, self._chan = self._chan, None
        if chan is not None:
            with contextlib.suppress(NetError, OSError):
                await chan.send("bye", self.peer, last=True)
            chan.end_writing()  # also when the bye could not be sent
            if self._reader is not None:  # it ends at the peer's end of stream
                await asyncio.wait({self._reader}, timeout=self.linger_s)
            await chan.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for req in self._pending.values():
            if not req.future.done():
                req.future.set_exception(NetError(f"link to {self.peer} closed before an answer"))
        self._pending.clear()


Handler = Callable[[Frame, Channel], Awaitable[None]]


class Server:
    """Accepts peers on `addr` and calls ``handler(frame, channel)`` for every accepted frame.

    One `Tally` counts what all connections drop; a handler exception is logged and counted
    (``tally.dropped['handler_error']``), never kills the server. `on_close` is called with each accepted
    connection just before it closes; at `close`, each connection is closed at both ends before it is logged
    (at most `linger_s` seconds).
    """

    def __init__(self, addr: str, name: str, encoder: Encoder, secret: bytes, handler: Handler, *,
                 tally: Tally | None = None, max_body: int | None = None,
                 on_close: Callable[[Channel], None] | None = None, linger_s: float = LINGER_S) -> None:
        self.addr = addr
        self.name = name
        self.encoder = encoder
        self.secret = secret
        self.handler = handler
        self.tally = Tally() if tally is None else tally
        self.max_body = max_body
        self.on_close = on_close
        self.linger_s = float(linger_s)
        self.channels: set[Channel] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._serving: set[asyncio.Task] = set()
        self._closing = False

    async def start(self) -> str:
        """Listen; the address actually bound (port 0 picks one)."""
        host, port = parse_address(self.addr)
        if host == "unix":
            self._server = await asyncio.start_unix_server(self._serve, str(port))
            return self.addr
        self._server = await asyncio.start_server(self._serve, host, port)
        bound = self._server.sockets[0].getsockname()
        return f"{host}:{bound[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        kw = {} if self.max_body is None else {"max_body": self.max_body}
        dec = Decoder(self.secret, run=self.encoder.run, me=self.name, tally=self.tally, **kw)
        peer = str(writer.get_extra_info("peername") or "unix")
        chan = Channel(reader, writer, self.encoder, dec, peer)
        chan.on_close = self.on_close
        self.channels.add(chan)
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        try:
            while (frame := await chan.recv()) is not None:
                if frame.type == "hello":
                    chan.peer = frame.src
                    continue
                if frame.type == "bye":  # the peer's last frame: read on to its end of stream, then log
                    late = await chan.drain_to_eof(self.linger_s)
                    if late:
                        self.tally.dropped["after_bye"] += late
                    break
                try:
                    await self.handler(frame, chan)
                except NetError as exc:  # the peer went away while we answered
                    log.info("%s: %s", self.name, exc)
                except Exception:  # noqa: BLE001 - one bad request never ends the agent
                    log.exception("%s: handler failed on %s seq %s from %s", self.name, frame.type, frame.seq,
                                  frame.src)
                    self.tally.dropped["handler_error"] += 1
        finally:
            self._serving.discard(task)
            self.channels.discard(chan)
            await chan.close()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run `coro` in the background, kept until done (cancelled by `close`; a failure is counted). Once
        the server is closing, it is cancelled before it starts."""
        task = asyncio.ensure_future(coro)
        if self._closing:
            task.cancel()
            return task
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        """A background task ended: a failure is logged and counted (``task_error``), never lost."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background task failed: %r", self.name, task.exception())
            self.tally.dropped["task_error"] += 1

    async def close(self) -> None:
        """Stop listening and end background work; half-close every connection and go on reading and
        handling (answers can no longer be sent) until each peer has closed too, at most `linger_s`: the
        counters both ends log then hold every byte the other wrote. Then close what is left."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for chan in list(self.channels):
            chan.end_writing()
        serving = {t for t in self._serving if not t.done() and t is not asyncio.current_task()}
        if serving:
            await asyncio.wait(serving, timeout=self.linger_s)
        for chan in list(self.channels):
            await chan.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
