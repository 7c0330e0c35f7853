"""Closing a connection between agents (loopback, real TCP): the counters each end logs as it closes are
final, so every byte one end wrote is a byte the other end read, whichever end closes first and even when a
frame is still on its way (the byte balance of the net backend's `close` rests on this)."""

from __future__ import annotations

import asyncio

import torch

from edgeroam.emulator.net.agents.link import Link, Server
from edgeroam.emulator.net.agents.wire import conn_record
from edgeroam.emulator.net.backend import byte_balance
from edgeroam.emulator.net.protocol import Encoder, Tally

SECRET = b"k" * 32
RUN = "t-run"
PAYLOAD = {"y": torch.zeros(1024)}  # a 4 KiB answer, about the frame a flaky balance once came up short by


async def _pair(handler):
    """A server `e1` with `handler`, a link `c1` to it, and the conn records both ends log as they close."""
    logged: dict[str, list[dict]] = {"server": [], "link": []}
    srv = Server("127.0.0.1:0", "e1", Encoder(SECRET, RUN, "e1"), SECRET, handler,
                 on_close=lambda ch: logged["server"].append(conn_record(ch)))
    addr = await srv.start()
    link = Link("e1", addr, Encoder(SECRET, RUN, "c1"), SECRET, Tally(), reconnect_s=0.3,
                on_close=lambda ch: logged["link"].append(conn_record(ch)))
    await link.connect()
    return srv, link, logged


def _assert_final(logged: dict[str, list[dict]]) -> None:
    """One connection, logged once by each end, each naming the other (as the backend pairs them); what each
    wrote the other read, nothing left unread."""
    (srv,), (lnk,) = logged["server"], logged["link"]
    assert (lnk["local"], lnk["remote"]) == (srv["remote"], srv["local"]), (lnk, srv)
    assert (lnk["bytes_out"], lnk["bytes_in"]) == (srv["bytes_in"], srv["bytes_out"]), (lnk, srv)
    assert srv["unread"] == lnk["unread"] == 0, (lnk, srv)
    bal = byte_balance([lnk, srv])  # as the net backend checks a run's connections at close
    assert bal["connections"] == 2 and bal["sent"] == bal["received"] > 0, bal


def test_the_sender_answers_after_the_receiver_began_to_close() -> None:
    """The link closes (its agent got SIGTERM) while its request is being answered: the answer, written after
    the link began to close, is still read and counted by the link before it logs."""

    async def main():
        answering = asyncio.Event()

        async def handler(frame, chan):
            answering.set()
            await asyncio.sleep(0.3)  # the link closes meanwhile
            await chan.send("result", frame.src, ref=frame.seq, tensors=PAYLOAD)

        srv, link, logged = await _pair(handler)
        try:
            ask = asyncio.ensure_future(link.request("query", client=1))
            await answering.wait()
            await link.close()
            (answer,) = await asyncio.gather(ask, return_exceptions=True)
            assert getattr(answer, "type", answer) == "result"  # the answer got in before the link closed
        finally:
            await link.close()
            await srv.close()
        return logged

    logged = asyncio.run(asyncio.wait_for(main(), 30))
    assert logged["server"][0]["bytes_out"] > 4096
    _assert_final(logged)


def test_the_receiver_closes_while_frames_are_on_their_way() -> None:
    """The server begins to close (its agent got SIGTERM) while busy with a request, and the link writes one
    more frame at that moment: the server still reads it before it logs; its answers that could no longer be
    sent are not counted as sent."""

    async def main():
        busy = asyncio.Event()

        async def handler(frame, chan):
            busy.set()
            await asyncio.sleep(0.2)
            await chan.send("ack", frame.src, ref=frame.seq)

        srv, link, logged = await _pair(handler)
        try:
            ask = asyncio.ensure_future(link.request("layers", client=1, layers=["l0"], tensors=PAYLOAD))
            await busy.wait()
            closing = asyncio.ensure_future(srv.close())
            await asyncio.sleep(0)  # the server has begun to close; the link has not noticed yet
            await link.send("layers", client=1, layers=["l1"], tensors=PAYLOAD)
            await asyncio.gather(closing, ask, return_exceptions=True)
        finally:
            await link.close()
            await srv.close()
        return logged

    logged = asyncio.run(asyncio.wait_for(main(), 30))
    assert logged["link"][0]["bytes_out"] > 2 * 4096
    _assert_final(logged)


def test_both_ends_close_at_once() -> None:
    """Both ends close at the same moment (as every agent does on the backend's SIGTERM) in the middle of a
    stream of requests: still each end read all the other wrote."""

    async def main():
        async def handler(frame, chan):
            await chan.send("ack", frame.src, ref=frame.seq)

        srv, link, logged = await _pair(handler)

        async def stream():
            for i in range(1000):
                await link.request("layers", client=1, layers=[f"l{i}"], tensors=PAYLOAD)

        task = asyncio.ensure_future(stream())
        try:
            await asyncio.sleep(0.05)
            await asyncio.gather(link.close(), srv.close())
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await link.close()
            await srv.close()
        return logged

    logged = asyncio.run(asyncio.wait_for(main(), 30))
    assert logged["link"][0]["bytes_out"] > 4096
    _assert_final(logged)
