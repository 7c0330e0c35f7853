"""The edge agent's slots on loopback (real sockets, profiled execution): at most `slots` queries run at once,
the rest wait FIFO, and with a bounded queue the one beyond it waits outside; the waits are measured."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edgeroam.emulator.net.agents.compute import LayerRunner
from edgeroam.emulator.net.agents.edge import _BUSY_S, EdgeAgent
from edgeroam.emulator.net.agents.link import Link
from edgeroam.emulator.net.protocol import Encoder, Tally
from edgeroam.errors import NetError

SECRET = b"k" * 32
RUN = "t-run"
MODEL = "mobilenet_v1"
RUN_S = 0.8  # profiled seconds of the one layer each query runs: long beside the 50 ms between sends
#: slack of comparisons between measurements read a few statements apart (on the wall and monotonic clocks);
#: the effects checked are whole service times, over half a second, so load cannot reach them
EPS = 0.1


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


def _timeline(got: list[dict]) -> tuple[list[float], ...]:
    """Per query, from the edge's own measurements (wall seconds): when it arrived, got a place in the queue,
    got its slot, and ended its run (the slot is freed after that)."""
    arrived = [m["slot_t"] - m["wait_s"] for m in got]
    return (arrived, [t + m["blocked_s"] for t, m in zip(arrived, got, strict=True)],
            [m["slot_t"] for m in got], [m["slot_t"] + m["exec_s"] for m in got])


def test_one_slot_and_a_queue_of_one_serve_fifo_and_block_the_third() -> None:
    got = _three_queries(1, 1)
    arrived, admitted, granted, ran = _timeline(got)
    assert all(m["exec_s"] >= RUN_S - EPS for m in got)  # a profiled run sleeps its seconds at least
    # one slot, FIFO: each query gets the slot in the order sent, once the one before has run
    assert arrived[0] < arrived[1] < arrived[2]
    assert granted[1] >= ran[0] - EPS and granted[2] >= ran[1] - EPS
    # a queue of one: the second waits inside at once (while the first runs); the third waits outside until
    # the first leaves, and gets the place it frees (before the second leaves)
    assert admitted[1] < ran[0] and arrived[2] < ran[0]
    assert got[2]["blocked_s"] > 0 and ran[0] - EPS <= admitted[2] < ran[1]


def test_two_slots_run_two_at_once_and_no_slots_is_the_old_behaviour() -> None:
    got = _three_queries(2, None)
    arrived, admitted, granted, ran = _timeline(got)
    assert all(m["exec_s"] >= RUN_S - EPS for m in got)
    # the first two run side by side; the third (an unbounded queue: in at once) waits for the first to leave
    assert granted[0] < granted[1] < ran[0] and arrived[2] < ran[0] and admitted[2] < ran[0]
    assert granted[2] >= ran[0] - EPS and got[2]["wait_s"] > 0
    free = _three_queries(None, None)
    assert all("wait_s" not in m and m["exec_s"] >= RUN_S - EPS for m in free)
    with pytest.raises(NetError, match="queue"):
        EdgeAgent(1, _runner(), queue=3, name="e1", secret=SECRET, run=RUN, listen="127.0.0.1:0")


def test_cloud_tails_take_a_place_first_and_a_full_cloud_queue_holds_the_edge_slot(tmp_path: Path) -> None:
    # S3 on loopback: edge e1 (1 slot) runs layer 0 (E s), its cloud e9 (1 slot, queue 1) the rest (C s).
    # Four clients 0.1 s apart: q0 runs on the cloud E..E+C, q1 queues there at 2E; q2's edge part ends at
    # 3E with the cloud full, so q2 keeps the edge slot until q0 leaves the cloud (held C-2E), and q3 gets the
    # edge only then, and is held itself (C-E) until q1 leaves the cloud. Checked as orders and as measured
    # times against each other, never as clock readings near a planned time
    from edgeroam.emulator.dnn.zoo import model_graph

    e_s, c_s = 0.3, 1.6  # the holds are then 1.0 and 1.3 s: far beyond what load can move (about 7 s in all)
    n = model_graph(MODEL).n_layers
    seconds = [e_s] + [c_s / (n - 1)] * (n - 1)

    async def main() -> tuple[list[dict], dict]:
        edge = EdgeAgent(1, LayerRunner(MODEL, "profile", seconds), slots=1, cloud="e9", name="e1",
                         secret=SECRET, run=RUN, listen="127.0.0.1:0")
        cloud = EdgeAgent(9, LayerRunner(MODEL, "profile", seconds), slots=1, queue=1, whole_model=True,
                          name="e9", secret=SECRET, run=RUN, listen="127.0.0.1:0", log=tmp_path / "e9.jsonl")
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
                replies.append(asyncio.ensure_future(link.request("query", client=c, timeout=30,
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
    assert all(m["exec_s"] >= e_s - EPS and m["cloud_exec_s"] >= c_s - EPS for m in got)
    events = [json.loads(line) for line in (tmp_path / "e9.jsonl").read_text().splitlines()]
    tails = {e["client"]: e for e in events if e["event"] == "query"}  # the cloud's own measurements
    assert sorted(tails) == [0, 1, 2, 3] and all(e["tail"] and e["edge"] == "e1" for e in tails.values())
    _, _, granted, ran = _timeline(got)
    hold = [m["hold_s"] for m in got]
    placed = [t + h for t, h in zip(ran, hold, strict=True)]  # the edge has its cloud place, frees its slot
    # the edge's one slot, FIFO, kept while its query waits for a cloud place: q(k) starts after q(k-1)'s hold
    assert all(granted[k] >= placed[k - 1] - EPS for k in (1, 2, 3))
    # the cloud's one slot, FIFO in the order of the places: each tail starts once the one before has run
    c_granted = [tails[k]["slot_t"] for k in range(4)]
    c_ran = [tails[k]["slot_t"] + tails[k]["exec_s"] for k in range(4)]
    c_arrived = [tails[k]["slot_t"] - tails[k]["wait_s"] + tails[k]["blocked_s"] for k in range(4)]
    assert all(c_granted[k] >= c_ran[k - 1] - EPS for k in (1, 2, 3))
    # q0 and q1 take the two places at once (q1's tail then waits in the cloud queue while q0 runs); q2 and q3
    # find both taken: each gets the place the oldest tail frees as it leaves (q0's, then q1's)
    blocked = [m["cloud_blocked_s"] for m in got]
    assert all(h >= b for h, b in zip(hold, blocked, strict=True))  # the edge's hold spans the cloud's block
    assert min(blocked[2:]) > 0.25 and max(blocked[:2]) < min(blocked[2:]) / 4
    assert c_arrived[1] < c_ran[0] and got[1]["cloud_wait_s"] > blocked[1]
    assert c_ran[0] - EPS <= placed[2] < c_ran[1] and c_ran[1] - EPS <= placed[3] < c_ran[2]
    assert all(m["cloud_wait_s"] >= m["cloud_blocked_s"] for m in got)
    assert all(m["up_bytes"] > 0 and 0 <= m["up_s"] < m["cloud_exec_s"] for m in got)
    # the master's report: the sums of what the four answers carried
    assert (waits["queries"], waits["tails"]) == (4, 4)
    assert waits["blocked"] == sum(max(m["cloud_blocked_s"], m["blocked_s"]) > _BUSY_S for m in got) >= 2
    assert waits["cloud_waited"] == sum(m["cloud_wait_s"] > _BUSY_S for m in got) >= 3
    for key, meta in (("edge_wait_s", "wait_s"), ("cloud_wait_s", "cloud_wait_s"), ("up_s", "up_s")):
        assert waits[key] == pytest.approx(sum(m[meta] for m in got), rel=1e-9)
    assert waits["up_bytes"] == sum(m["up_bytes"] for m in got)


def test_a_place_whose_tail_never_comes_frees_after_the_timeout(tmp_path: Path) -> None:
    # a cloud of 1 slot and a queue of 1 has two places; an edge takes both and sends no tail (it failed): a
    # third admit waits until the first expires (`timeout` after it was given), a tail on an expired token is
    # refused, and the third place, checked well inside its own timeout, still holds and runs its tail
    timeout = 1.0

    async def main() -> tuple[float, list[int], int, set[int], int, dict, set[int]]:
        cloud = EdgeAgent(9, _runner(), slots=1, queue=1, whole_model=True, tail_timeout_s=timeout, name="e9",
                          secret=SECRET, run=RUN, listen="127.0.0.1:0", log=tmp_path / "e9.jsonl")
        addr = await cloud.start()
        link = Link("e9", addr, Encoder(SECRET, RUN, "e1"), SECRET, Tally())
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            first = [(await link.request("admit", timeout=5)).meta["token"] for _ in range(2)]
            third = (await link.request("admit", timeout=3 * timeout)).meta["token"]  # NetError: not freed
            waited = loop.time() - t0
            while first[1] in cloud._places and loop.time() < t0 + 3 * timeout:  # a few ms after the first
                await asyncio.sleep(0.01)
            places = set(cloud._places)
            await link.send("query", client=0, meta={"tail": True, "token": first[0], "layers": []})
            tail = await link.request("query", client=0, timeout=5, meta={"tail": True, "token": third,
                                                                            "layers": []})
            return (waited, first, third, places, cloud.tally.dropped["task_error"], tail.meta,
                    set(cloud._places))
        finally:
            await link.close()
            await cloud.close()

    waited, first, third, places, refused, tail, left = asyncio.run(asyncio.wait_for(main(), 30))
    assert waited >= timeout - 1e-3  # the first place was given after t0 and lives `timeout`
    assert places == {third} and third not in first  # both unused places expired; the third's has not
    assert refused == 1  # the tail on the expired token
    assert tail["server"] == 9 and tail["ran"] == [] and left == set()  # the live place ran its tail, freed
    events = [json.loads(line) for line in (tmp_path / "e9.jsonl").read_text().splitlines()]
    assert [e["token"] for e in events if e["event"] == "place_expired"] == first
