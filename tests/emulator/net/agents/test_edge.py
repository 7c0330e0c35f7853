"""The edge agent's slots on loopback (real sockets, profiled execution): at most `slots` queries run at once,
the rest wait FIFO, and with a bounded queue the one beyond it waits outside; the waits are measured."""

from __future__ import annotations

import asyncio

import pytest

from edgeroam.emulator.net.agents.compute import LayerRunner
from edgeroam.emulator.net.agents.edge import EdgeAgent
from edgeroam.emulator.net.agents.link import Link
from edgeroam.emulator.net.protocol import Encoder, Tally
from edgeroam.errors import NetError

SECRET = b"k" * 32
RUN = "t-run"
MODEL = "mobilenet_v1"
RUN_S = 0.4  # profiled seconds of the one layer each query runs


def _runner() -> LayerRunner:
    from edgeroam.emulator.dnn.zoo import model_graph

    return LayerRunner(MODEL, "profile", [RUN_S] * model_graph(MODEL).n_layers)


def _three_queries(slots: int | None, queue: int | None) -> list[dict]:
    """Three clients' queries sent together to one edge; their ``result`` meta, in the order sent."""

    async def main() -> list[dict]:
        runner = _runner()
        names = runner.names
        edge = EdgeAgent(1, runner, slots=slots, queue=queue, name="e1", secret=SECRET, run=RUN,
                         listen="127.0.0.1:0")
        addr = await edge.start()
        links = [Link("e1", addr, Encoder(SECRET, RUN, f"c{c}"), SECRET, Tally()) for c in range(3)]
        try:
            for c, link in enumerate(links):
                await link.request("layers", client=c, layers=[names[0]])
            replies = []
            for c, link in enumerate(links):  # sent 50 ms apart: a FIFO order to check
                replies.append(asyncio.ensure_future(link.request("query", client=c, timeout=20,
                                                                  meta={"layers": [names[0]]})))
                await asyncio.sleep(0.05)
            return [r.meta for r in await asyncio.gather(*replies)]
        finally:
            for link in links:
                await link.close()
            await edge.close()

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_one_slot_and_a_queue_of_one_serve_fifo_and_block_the_third() -> None:
    got = _three_queries(1, 1)
    wait = [m["wait_s"] for m in got]
    blocked = [m["blocked_s"] for m in got]
    # the first runs at once; the second waits for it; the third waits outside until the second gets the slot
    assert wait[0] < 0.1 and wait[1] == pytest.approx(RUN_S - 0.05, abs=0.1)
    assert wait[2] == pytest.approx(2 * RUN_S - 0.1, abs=0.15)
    assert blocked[0] < 0.05 and blocked[1] < 0.05 and blocked[2] == pytest.approx(RUN_S - 0.1, abs=0.1)
    assert all(m["exec_s"] == pytest.approx(RUN_S, abs=0.1) for m in got)
    granted = [m["slot_t"] for m in got]
    assert granted[1] - granted[0] >= RUN_S - 0.01 and granted[2] - granted[1] >= RUN_S - 0.01


def test_two_slots_run_two_at_once_and_no_slots_is_the_old_behaviour() -> None:
    got = _three_queries(2, None)
    assert got[0]["wait_s"] < 0.1 and got[1]["wait_s"] < 0.1 and got[2]["blocked_s"] < 0.05
    assert got[2]["wait_s"] == pytest.approx(RUN_S - 0.1, abs=0.1)
    assert all("wait_s" not in m for m in _three_queries(None, None))
    with pytest.raises(NetError, match="queue"):
        EdgeAgent(1, _runner(), queue=3, name="e1", secret=SECRET, run=RUN, listen="127.0.0.1:0")


def test_cloud_tails_take_a_place_first_and_a_full_cloud_queue_holds_the_edge_slot() -> None:
    # S3 on loopback: edge e1 (1 slot) runs layer 0 (0.6 s), its cloud e9 (1 slot, queue 1) the rest (1.4 s).
    # Four clients 0.1 s apart: q0 runs on the cloud 0.6-2.0, q1 queues there at 1.2; q2's edge part ends at
    # 1.8 with the cloud full, so q2 keeps the edge slot until q0 leaves at 2.0 (blocked 0.2 s), and q3 gets
    # the edge at 2.0 (not 1.8), then is blocked itself until 3.4, when q1 leaves the cloud
    from edgeroam.emulator.dnn.zoo import model_graph

    n = model_graph(MODEL).n_layers
    seconds = [0.6] + [1.4 / (n - 1)] * (n - 1)

    async def main() -> tuple[list[dict], dict]:
        edge = EdgeAgent(1, LayerRunner(MODEL, "profile", seconds), slots=1, cloud="e9", name="e1",
                         secret=SECRET, run=RUN, listen="127.0.0.1:0")
        cloud = EdgeAgent(9, LayerRunner(MODEL, "profile", seconds), slots=1, queue=1, whole_model=True,
                          name="e9", secret=SECRET, run=RUN, listen="127.0.0.1:0")
        edge.book["e9"] = await cloud.start()
        addr = await edge.start()
        names = edge.runner.names
        links = [Link("e1", addr, Encoder(SECRET, RUN, f"c{c}"), SECRET, Tally()) for c in range(4)]
        try:
            for c, link in enumerate(links):
                await link.request("layers", client=c, layers=[names[0]])
            await edge.link("e9").connect()
            replies = []
            for c, link in enumerate(links):
                replies.append(asyncio.ensure_future(link.request("query", client=c, timeout=20,
                                                                  meta={"layers": [names[0]], "cloud": 1})))
                await asyncio.sleep(0.1)
            got = [r.meta for r in await asyncio.gather(*replies)]
            master = Link("e1", addr, Encoder(SECRET, RUN, "master"), SECRET, Tally())
            report = await master.request("report", meta={"waits": True})
            await master.close()
            return got, report.meta["waits"]
        finally:
            for link in links:
                await link.close()
            await edge.close()
            await cloud.close()

    got, waits = asyncio.run(asyncio.wait_for(main(), 60))
    assert all(m["ran"] == m["ran"][:1] + m["ran"][1:] and len(m["ran"]) == n and m["cloud_ran"] == n - 1
               and m["cloud"] == 9 for m in got)
    tol = 0.12
    assert [m["hold_s"] for m in got] == pytest.approx([0.0, 0.0, 0.2, 0.8], abs=tol)
    assert [m["cloud_blocked_s"] for m in got] == pytest.approx([0.0, 0.0, 0.2, 0.8], abs=tol)
    assert [m["cloud_wait_s"] for m in got] == pytest.approx([0.0, 0.8, 1.6, 2.2], abs=tol)
    assert [m["wait_s"] for m in got] == pytest.approx([0.0, 0.5, 1.0, 1.7], abs=tol)  # q3: q2's hold
    assert all(m["up_bytes"] > 0 and 0 <= m["up_s"] < 0.1 for m in got)
    assert (waits["queries"], waits["tails"], waits["blocked"], waits["cloud_waited"]) == (4, 4, 2, 3)
    assert waits["edge_wait_s"] == pytest.approx(3.2, abs=3 * tol)
    assert waits["up_bytes"] == sum(m["up_bytes"] for m in got)


def test_a_place_whose_tail_never_comes_frees_after_the_timeout() -> None:
    # a cloud of 1 slot and a queue of 1 has two places; an edge takes both and sends no tail (it failed): a
    # third admit waits until they expire (0.3 s), and a tail on an expired token is refused
    async def main() -> tuple[float, int, int]:
        cloud = EdgeAgent(9, _runner(), slots=1, queue=1, whole_model=True, tail_timeout_s=0.3, name="e9",
                          secret=SECRET, run=RUN, listen="127.0.0.1:0")
        addr = await cloud.start()
        link = Link("e9", addr, Encoder(SECRET, RUN, "e1"), SECRET, Tally())
        try:
            first = [(await link.request("admit", timeout=5)).meta["token"] for _ in range(2)]
            t0 = asyncio.get_running_loop().time()
            await link.request("admit", timeout=5)
            waited = asyncio.get_running_loop().time() - t0
            await link.send("query", client=0, meta={"tail": True, "token": first[0], "layers": []})
            await asyncio.sleep(0.2)
            return waited, len(cloud._places), cloud.tally.dropped["task_error"]
        finally:
            await link.close()
            await cloud.close()

    waited, left, refused = asyncio.run(asyncio.wait_for(main(), 30))
    assert waited == pytest.approx(0.3, abs=0.1) and left == 1 and refused == 1
