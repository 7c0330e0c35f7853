"""Agents on loopback (in-process asyncio, real sockets): layers move as real tensors, every frame is acked,
queries run where the layers are, migrations and drops follow the master's orders, and a broken connection
is resent after the reconnect."""

from __future__ import annotations

import asyncio
import time

import pytest
import torch

from edgeroam.emulator.actions import Drop, Migrate, SetPlan
from edgeroam.emulator.net.agents.client import ClientAgent
from edgeroam.emulator.net.agents.compute import LayerRunner
from edgeroam.emulator.net.agents.edge import EdgeAgent
from edgeroam.emulator.net.agents.link import Link, Server
from edgeroam.emulator.net.agents.master import MasterAgent
from edgeroam.emulator.net.protocol import Decoder, Encoder, Tally
from edgeroam.errors import NetError

SECRET = b"k" * 32
RUN = "t-run"
MODEL = "mobilenet_v1"


@pytest.fixture(scope="module")
def client_runner() -> LayerRunner:
    return LayerRunner(MODEL, "torch", weights=True)


async def until(cond, timeout: float = 20.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def start_all(client_runner: LayerRunner, ttl_s: float = 0.0, max_plans: int | None = None):
    common = {"secret": SECRET, "run": RUN, "listen": "127.0.0.1:0"}
    edges = {s: EdgeAgent(s, LayerRunner(MODEL, "torch", seed=s), ttl_s=ttl_s, max_plans=max_plans,
                          name=f"e{s}", **common) for s in (1, 2, 3)}
    client = ClientAgent(7, client_runner, query_gap_s=0.05, name="c7", **common)
    master = MasterAgent(name="master", **common)
    agents = [*edges.values(), client, master]
    book = {}
    for a in agents:
        book[a.name] = await a.start()
    for a in agents:
        a.book.update(book)
    return edges, client, master, agents


async def close_all(agents) -> None:
    for a in agents:
        await asyncio.wait_for(a.close(), 10)


def test_layers_move_as_real_tensors_and_queries_run_where_they_are(client_runner: LayerRunner) -> None:
    names = client_runner.names
    plan = tuple(names[60:])  # the tail of the model runs on the server

    async def main() -> dict:
        edges, client, master, agents = await start_all(client_runner)
        out: dict = {}
        try:
            await master.attach(7, 1)
            await master.apply([SetPlan(7, 1, plan)])
            await until(lambda: len(client.uploads) == 1)
            out["upload"] = client.uploads[0]
            out["e1"] = {n: {k: v.clone() for k, v in t.items()} for n, t in edges[1].held[7].items()}
            out["hit"] = await client.query()
            await master.apply([Migrate(7, 1, 2, plan)])
            await until(lambda: len(edges[2].holds(7)) == len(plan))
            await master.attach(7, 2)
            out["hit2"] = await client.query()
            await master.attach(7, 3)
            out["miss"] = await client.query()
            await master.apply([Drop(7, 1)])
            out["after_drop"] = edges[1].holds(7)
            reports = await master.reports()
            out["reports"] = {r.meta["server"]: r.meta["clients"] for r in reports}
            out["stats"] = await master.stats_of(["e1", "e2", "c7"])
        finally:
            await close_all(agents)
        return out

    out = asyncio.run(asyncio.wait_for(main(), 120))
    up = out["upload"]
    assert up["layers"] == list(plan) and up["acked"] == list(plan) and up["new"] == list(plan)
    assert up["bytes"] == int(client_runner.graph.layers["weight_bytes"].iloc[60:].sum())
    for n in plan:  # the server holds exactly the client's weights
        sent = client_runner.payload(n)
        assert sorted(out["e1"][n]) == sorted(sent)
        assert all(torch.equal(out["e1"][n][k], v) for k, v in sent.items())
    assert out["hit"]["hit"] and out["hit"]["ran_server"] == len(plan) and out["hit"]["server"] == 1
    assert out["hit2"]["hit"] and out["hit2"]["server"] == 2
    assert not out["miss"]["hit"] and out["miss"]["ran_server"] == 0
    assert out["after_drop"] == []
    assert out["reports"] == {1: [], 2: [7], 3: []}
    for s in out["stats"].values():
        assert s["dropped"] == {}


def test_edge_output_equals_the_clients_own_run(client_runner: LayerRunner) -> None:
    """The server's layers with the received weights compute what the client's model computes."""
    names = client_runner.names
    plan = tuple(names[70:])
    x = client_runner.input_for(names[70])

    async def main():
        edges, client, master, agents = await start_all(client_runner)
        try:
            await master.apply([SetPlan(7, 1, plan)])
            await until(lambda: len(client.uploads) == 1)
            reply = await client.link("e1").request("query", client=7, tensors={"x": x},
                                                    meta={"layers": list(plan)})
            return reply.tensors()["y"], reply.meta["ran"]
        finally:
            await close_all(agents)

    y, ran = asyncio.run(asyncio.wait_for(main(), 60))
    want, _ = client_runner.run_sync(plan, x)
    assert ran == list(plan) and torch.allclose(y, want)


def test_ttl_and_lru_holding_rules(client_runner: LayerRunner) -> None:
    names = client_runner.names
    plan = tuple(names[80:])

    async def main():
        edges, client, master, agents = await start_all(client_runner, ttl_s=0.3)
        try:
            await master.apply([SetPlan(7, 1, plan)])
            await until(lambda: len(client.uploads) == 1)
            held = edges[1].holds(7)
            await until(lambda: edges[1].holds(7) == [], timeout=5)
            return held
        finally:
            await close_all(agents)

    assert asyncio.run(asyncio.wait_for(main(), 60)) == list(plan)

    async def lru():
        edge = EdgeAgent(1, LayerRunner(MODEL, "torch"), max_plans=2, name="e1", secret=SECRET, run=RUN,
                         listen="127.0.0.1:0")
        addr = await edge.start()
        link = Link("e1", addr, Encoder(SECRET, RUN, "c0"), SECRET, Tally())
        try:
            for c in (1, 2, 1, 3):  # client 2 is the least recently used when 3 arrives
                await link.request("layers", client=c, layers=[plan[0]],
                                   tensors=client_runner.payload(plan[0]))
            return sorted(edge.held)
        finally:
            await link.close()
            await edge.close()

    assert asyncio.run(asyncio.wait_for(lru(), 30)) == [1, 3]


def test_resend_after_reconnect() -> None:
    """The first connection breaks before the ack: the link reconnects, the layer is acked on the second."""

    async def main():
        seen: list[tuple[int, str]] = []

        async def handler(frame, chan):
            seen.append((frame.seq, frame.type))
            if len([s for s in seen if s[1] == "layers"]) == 1:
                chan.writer.transport.abort()  # the link breaks before any ack
                return
            await chan.send("ack", frame.src, ref=frame.seq, layers=frame.layers)

        enc = Encoder(SECRET, RUN, "e1")
        srv = Server("127.0.0.1:0", "e1", enc, SECRET, handler)
        addr = await srv.start()
        link = Link("e1", addr, Encoder(SECRET, RUN, "c1"), SECRET, Tally())
        t = {"w": torch.arange(10.0)}
        try:
            ack = await asyncio.wait_for(link.request("layers", client=1, layers=["l1"], tensors=t), 10)
            ack2 = await link.request("layers", client=1, layers=["l2"], tensors=t)
        finally:
            await link.close()
            await srv.close()
        return ack, ack2, link, seen

    ack, ack2, link, seen = asyncio.run(main())
    assert ack.layers == ("l1",) and ack2.layers == ("l2",)
    assert link.resent == 1 and link.reconnects == 1
    layer_seqs = [s for s, t in seen if t == "layers"]
    assert len(layer_seqs) == 3 and layer_seqs == sorted(layer_seqs)  # resent under a new, higher seq


def test_unreachable_peer_is_one_net_error() -> None:
    async def main():
        link = Link("e9", "127.0.0.1:1", Encoder(SECRET, RUN, "c1"), SECRET, Tally(), reconnect_s=0.3)
        try:
            await link.request("hello")
        finally:
            await link.close()

    with pytest.raises(NetError, match="cannot reach e9"):
        asyncio.run(main())


def test_bad_frames_are_counted_and_the_agent_goes_on(client_runner: LayerRunner) -> None:
    async def main():
        edge = EdgeAgent(1, LayerRunner(MODEL, "torch"), name="e1", secret=SECRET, run=RUN,
                         listen="127.0.0.1:0")
        addr = await edge.start()
        host, port = addr.rsplit(":", 1)
        try:
            r, w = await asyncio.open_connection(host, int(port))
            forged = Encoder(b"x" * 32, RUN, "c1").encode("layers", "e1", client=1, layers=["fc"],
                                                         tensors={"w": torch.ones(3)})[1]
            enc = Encoder(SECRET, RUN, "c1", first_seq=5)
            _, good = enc.encode("report", "e1", client=1)
            _, old = Encoder(SECRET, RUN, "c1", first_seq=1).encode("report", "e1", client=1)
            w.write(b"\0" * 100 + forged + good + old + good)
            await w.drain()
            dec = Decoder(SECRET, run=RUN)
            frames = []
            while not frames:
                frames += dec.feed(await asyncio.wait_for(r.read(1 << 16), 5))
            w.close()
            return frames, dict(edge.tally.dropped)
        finally:
            await edge.close()

    frames, dropped = asyncio.run(asyncio.wait_for(main(), 30))
    assert [f.type for f in frames] == ["report"]
    assert dropped == {"bad_mac": 1, "bad_magic": 1, "replay": 2}


def test_a_batch_in_the_body_is_one_batch(client_runner: LayerRunner) -> None:
    """A batch whose JSON would not fit a 64 KiB header goes to the master in the body (``actions_body``)."""
    import json

    from edgeroam.emulator.actions import action_to_dict

    plan = tuple(client_runner.names[60:])

    async def main() -> tuple[int, dict]:
        edges, client, master, agents = await start_all(client_runner)
        driver = Link("master", master.address, Encoder(SECRET, RUN, "driver"), SECRET, Tally())
        try:
            raw = json.dumps([action_to_dict(SetPlan(7, 1, plan))]).encode()
            body = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
            ack = await driver.request("order", timeout=30, meta={"actions_body": True},
                                       tensors={"actions": body})
            await until(lambda: len(client.uploads) == 1)
            return master.batch, {"ack": ack.type, "held": len(edges[1].holds(7))}
        finally:
            await driver.close()
            await close_all(agents)

    batches, out = asyncio.run(main())
    assert batches == 1 and out == {"ack": "ack", "held": len(plan)}


def test_a_replaced_upload_is_logged_with_what_arrived(client_runner: LayerRunner) -> None:
    """A new plan cancels the upload in flight; the cut upload is still recorded (``cancelled``), its bytes
    those of the layers acknowledged before the cut (as sim logs a cut upload)."""
    plan = tuple(client_runner.names[60:])

    async def main() -> list[dict]:
        edges, client, master, agents = await start_all(client_runner)
        try:
            await master.attach(7, 1)
            await master.apply([SetPlan(7, 1, plan)])
            await master.apply([SetPlan(7, 2, plan)])  # at once: the upload to e1 is cut short
            await until(lambda: any(not u["cancelled"] for u in client.uploads))
            return list(client.uploads)
        finally:
            await close_all(agents)

    ups = asyncio.run(main())
    cut = [u for u in ups if u["cancelled"]]
    assert len(cut) == 1 and cut[0]["server"] == 1 and len(cut[0]["acked"]) < len(plan)
    assert [u["server"] for u in ups if not u["cancelled"]] == [2]
