"""The edge server agent: holds clients' layers as real tensors, runs them for queries, migrates them.

Requests it answers (each with a frame whose ``ref`` is the request's seq):

- ``layers`` (a client's upload or another server's migration): the tensors of `layers` for `client` are kept
  (a layer already held is refreshed, not stored twice) and made runnable; ack with ``meta.new``, the layers
  that were new. Listed layers under a standing relay order are forwarded as they land.
- ``order`` (from the master): ``meta.action`` is an action dict (`edgeroam.emulator.actions`): ``Migrate``
  from this server sends the layers it holds and the destination lacks, in order, to the destination server
  (acked first, sent in the background, logged as a ``transfer``); with ``relay`` it also stands until an
  order of a later ``meta.batch``; ``Drop`` deletes the client's layers; ``SetPlan`` records the plan.
- ``query``: runs the longest prefix of ``meta.layers`` it holds on the input tensor (torch, or the profiled
  time / k) and answers ``result`` with the output and ``meta.ran``, ``meta.exec_s``. With `slots` (three
  tiers, ``compute = "slots"``) at most that many queries run at once (torch in a pool of that many
  threads) and the rest wait FIFO; with `queue` as well, at most that many wait and a query beyond them
  waits outside until a place frees (a cloud's bounded queue); ``meta.wait_s`` / ``meta.blocked_s`` (and
  ``slot_t``, when the slot was granted) and the log's ``query`` event say how long, measured.
  With ``meta.cloud`` (a cut: S3's cloud tail, `SetCloud`) the layers from the first one this edge did not
  run (the cut, once the edge holds its part) go on to its `cloud` agent, in two phases: while it still
  holds its slot the edge asks the cloud for a place in its queue (``admit``, answered when one is free:
  a full cloud queue keeps the edge slot busy, S3's blocked edge), then frees the slot and sends the tensor
  over the backhaul (``query`` with ``meta.tail`` and the place's ``token``); the cloud runs the tail on one
  of its slots and answers with the output. ``meta.ran`` then lists the edge's and the cloud's layers; the
  log's ``query`` event adds ``cloud_ran``, ``hold_s`` (waiting for the place), ``cloud_wait_s`` and
  ``cloud_blocked_s`` (as the cloud measured them), ``up_s`` and ``up_bytes`` (the tensor's way up).
- ``admit`` and ``query`` with ``meta.tail`` (on a cloud server, `whole_model`): the two phases above, each
  in a task of its own so that one edge's queries queue side by side; the cloud holds the whole model.
- ``report``: ``meta.clients`` and a uint8 mask ``held`` [clients, layers] in the body (of ``client`` only
  when the request names one; ``meta.touch`` refreshes that client's hold); `held_layers` reads it back.
  With ``meta.waits`` (the master's) it adds ``meta.waits``: the sums over the queries answered since the
  last such report (count, edge and cloud waits, blocked queries, bytes sent up and their seconds).
- ``stats``: counters.

Holding rule: a client's layers expire `ttl_s` seconds after their last use (0: never) and, with `max_plans`,
the least recently used client beyond that many is evicted. Events go to the log: ``arrive``, ``expire``,
``transfer``, ``query``.

What it leaves to others: deciding (master), the frames and resends (protocol, link), running layers
(compute).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeroam.emulator.actions import Drop, Migrate, SetPlan, action_from_dict
from edgeroam.emulator.net.agents.base import Agent, agent_kwargs, common_parser, run_agent
from edgeroam.emulator.net.agents.compute import LayerRunner
from edgeroam.errors import EdgeroamError, NetError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from edgeroam.emulator.net.protocol import Channel, Frame

__all__ = ["EdgeAgent", "held_layers", "main"]

#: what an edge sums over its answered queries for the master's report (``meta.waits``)
_MEASURED = ("queries", "edge_wait_s", "cloud_wait_s", "tails", "cloud_waited", "blocked", "up_bytes", "up_s")
#: a wait longer than this (wall seconds) counts as waited or blocked (an uncontended semaphore takes µs)
_BUSY_S = 1e-3


def held_layers(report: Frame, names: Sequence[str]) -> dict[int, list[str]]:
    """{client: layers held} of an edge's ``report`` frame (model order); NetError if it does not parse."""
    clients = report.meta.get("clients", [])
    held = report.tensors().get("held")
    if held is None or held.ndim != 2 or held.shape != (len(clients), len(names)):
        raise NetError(f"report seq {report.seq} from {report.src}: held mask does not match its clients")
    return {int(c): [names[j] for j in row.nonzero().flatten().tolist()] for c, row in zip(clients, held,
                                                                                          strict=True)}


class EdgeAgent(Agent):
    """An edge server (see the module docstring).

    Parameters
    ----------
    server : int
        Its server id (peers are named ``e<id>``).
    runner : LayerRunner
        Runs the model's layers.
    ttl_s : float
        Seconds a client's layers live after their last use (0: no expiry).
    max_plans : int, optional
        Clients held at most (least recently used evicted).
    slots : int, optional
        Queries run at once (None: no limit, the behaviour without tiers).
    queue : int, optional
        Queries waiting for a slot at most (None: unbounded); needs `slots`.
    cloud : str, optional
        The cloud agent (``e<id>``) that runs the tails of queries with a cloud cut.
    whole_model : bool
        A cloud server: it holds the whole model and runs the tails edges send it.
    tail_timeout_s : float
        A cloud's answer (a place in its queue, a tail's output) unanswered this long is a NetError.
    **kwargs
        `Agent` arguments.
    """

    def __init__(self, server: int, runner: LayerRunner, *, ttl_s: float = 0.0, max_plans: int | None = None,
                 slots: int | None = None, queue: int | None = None, cloud: str | None = None,
                 whole_model: bool = False, tail_timeout_s: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if slots is not None and slots < 1 or queue is not None and (slots is None or queue < 1):
            raise NetError(f"edge {server}: slots must be >= 1, and queue >= 1 with slots; got {slots}, "
                           f"{queue}")
        self.slots, self.queue = slots, queue
        self._slot = asyncio.Semaphore(slots) if slots else None  # FIFO: asyncio wakes waiters in order
        self._admit = asyncio.Semaphore(slots + queue) if slots and queue else None
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="slot") if slots and \
            runner.execution == "torch" else None
        self.server_id = int(server)
        self.runner = runner
        self.ttl_s = float(ttl_s)
        self.max_plans = max_plans
        self.held: OrderedDict[int, OrderedDict[str, dict[str, torch.Tensor]]] = OrderedDict()
        self.used: dict[int, float] = {}
        self.plans: dict[int, tuple[str, ...]] = {}
        self.relays: dict[tuple[int, str], set[int]] = {}
        self.batch = -1
        self.bytes_in = 0
        self.inflight: set[tuple[int, int, str]] = set()  # (client, dst, layer) sent, not yet acked
        self._expiry: asyncio.Task | None = None
        self.cloud, self.whole_model, self.tail_timeout_s = cloud, bool(whole_model), float(tail_timeout_s)
        self._places: dict[int, float] = {}  # cloud: token of a place in the queue -> seconds blocked for it
        self._token = 0
        self._measured = dict.fromkeys(_MEASURED, 0.0)  # sums since the master's last report

    async def start(self) -> str:
        addr = await super().start()
        if self.ttl_s > 0:
            self._expiry = self.listener.spawn(self._expire_loop())
        return addr

    def holds(self, client: int) -> list[str]:
        """Layers held for `client`, in arrival order."""
        return list(self.held.get(client, ()))

    def masks(self, clients: Sequence[int]) -> torch.Tensor:
        """uint8 [len(clients), L]: which layers (model order) are held for each client."""
        import torch

        out = torch.zeros((len(clients), len(self.runner.names)), dtype=torch.uint8)
        for i, c in enumerate(clients):
            idx = [self.runner.index[n] for n in self.held.get(c, ())]
            out[i, idx] = 1
        return out

    def _touch(self, client: int) -> None:
        self.used[client] = time.monotonic()
        if client in self.held:
            self.held.move_to_end(client)

    def _forget(self, client: int, why: str) -> None:
        layers = self.held.pop(client, None)
        self.used.pop(client, None)
        if layers:
            self.record("expire", client=client, server=self.server_id, layers=list(layers), why=why)

    async def _expire_loop(self) -> None:
        step = min(max(self.ttl_s / 10, 0.01), 1.0)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for c in [c for c, t in self.used.items() if now - t > self.ttl_s]:
                self._forget(c, "ttl")

    def _store(self, frame: Frame) -> list[str]:
        client = int(frame.client if frame.client is not None else -1)
        tensors = frame.tensors()
        mine = self.held.setdefault(client, OrderedDict())
        new = []
        for layer in frame.layers:
            if layer not in self.runner.index:
                raise NetError(f"{self.name}: unknown layer {layer!r} from {frame.src} seq {frame.seq}")
            if layer in mine:
                continue
            own = {k: v for k, v in tensors.items() if k.startswith(f"{layer}/")}
            mine[layer] = own
            new.append(layer)
        self._touch(client)
        if self.max_plans is not None:
            while len(self.held) > self.max_plans:
                oldest = next(iter(self.held))
                if oldest == client:
                    break
                self._forget(oldest, "lru")
        return new

    async def handle(self, frame: Frame, chan: Channel) -> None:
        if frame.type == "layers":
            new = self._store(frame)
            self.bytes_in += len(frame.body)
            self.record("arrive", client=frame.client, server=self.server_id, src=frame.src, layers=new,
                        dup=[n for n in frame.layers if n not in new], bytes=len(frame.body), sent=frame.ts)
            await chan.send("ack", frame.src, ref=frame.seq, client=frame.client, layers=frame.layers,
                            meta={"new": new})
            self._relay(int(frame.client or 0), new)
        elif frame.type == "order":
            await self._order(frame, chan)
        elif frame.type == "query" and frame.meta.get("tail"):
            self.listener.spawn(self._tail(frame, chan))
        elif frame.type == "admit":
            self.listener.spawn(self._place(frame, chan))
        elif frame.type == "query":
            await self._query(frame, chan)
        elif frame.type == "report":
            if frame.meta.get("touch") and frame.client in self.held:
                self._touch(frame.client)
            clients = [frame.client] if frame.client is not None else sorted(self.held)
            meta: dict[str, Any] = {"clients": clients, "server": self.server_id}
            if frame.meta.get("waits"):
                meta["waits"], self._measured = self._measured, dict.fromkeys(_MEASURED, 0.0)
            await chan.send("report", frame.src, ref=frame.seq, tensors={"held": self.masks(clients)},
                            meta=meta)
        else:
            await super().handle(frame, chan)

    async def _order(self, frame: Frame, chan: Channel) -> None:
        action = action_from_dict(frame.meta.get("action", {}))
        batch = int(frame.meta.get("batch", self.batch))
        if batch > self.batch:  # a new batch of actions replaces the standing relays
            self.batch = batch
            self.relays.clear()
        if isinstance(action, Migrate):
            if action.src != self.server_id:
                raise NetError(f"{self.name}: Migrate from {action.src} sent to server {self.server_id}")
            await chan.send("ack", frame.src, ref=frame.seq, client=action.client)
            if action.relay:
                for layer in action.layers:
                    self.relays.setdefault((action.client, layer), set()).add(action.dst)
            held = set(self.holds(action.client))
            now = [n for n in action.layers if n in held]
            # even with nothing to send, the destination's hold is refreshed (as in sim)
            self.listener.spawn(self._migrate(action.client, action.dst, now))
            return
        if isinstance(action, Drop):
            self._forget(action.client, "drop")
        elif isinstance(action, SetPlan):
            self.plans[action.client] = action.layers
        await chan.send("ack", frame.src, ref=frame.seq, client=action.client)

    def _relay(self, client: int, new: Sequence[str]) -> None:
        by_dst: dict[int, list[str]] = {}
        for layer in new:
            for dst in sorted(self.relays.get((client, layer), ())):
                by_dst.setdefault(dst, []).append(layer)
        for dst, layers in sorted(by_dst.items()):
            self.listener.spawn(self._migrate(client, dst, layers))

    async def _migrate(self, client: int, dst: int, layers: list[str]) -> None:
        """Send `layers` of `client` that server `dst` lacks, in order, pipelined; log the transfer."""
        link = self.link(f"e{dst}")
        t0 = time.time()
        # the report also refreshes the destination's hold on what it has (as a Migrate does in sim)
        report = await link.request("report", client=client, meta={"touch": True})
        have = set(held_layers(report, self.runner.names).get(client, []))
        todo = [n for n in layers if n not in have and n in self.held.get(client, {})
                and (client, dst, n) not in self.inflight]  # a layer on its way is not sent twice
        if not todo:
            return
        mine = self.held[client]
        self._touch(client)
        keys = {(client, dst, n) for n in todo}
        self.inflight |= keys
        try:
            sends = [link.request("layers", client=client, layers=[n], tensors=mine[n]) for n in todo]
            acks = await asyncio.gather(*(asyncio.ensure_future(s) for s in sends))
        finally:
            self.inflight -= keys
        nbytes = sum(sum(t.numel() * t.element_size() for t in mine.get(n, {}).values()) for n in todo)
        self.record("transfer", client=client, src=self.server_id, dst=dst, layers=todo, start=t0,
                    end=time.time(), bytes=nbytes, acked=[n for a in acks for n in a.layers])

    async def _query(self, frame: Frame, chan: Channel) -> None:
        client = int(frame.client if frame.client is not None else -1)
        want = [str(n) for n in frame.meta.get("layers", [])]
        mine = self.held.get(client, {})
        ran = []
        for layer in want:
            if layer not in mine:
                break
            ran.append(layer)
        if ran:
            self._touch(client)
            for layer in ran:
                if not self.runner.loaded(layer):  # live modules are made on first use
                    self.runner.load(layer, mine[layer])
        x = frame.tensors().get("x")
        cut = frame.meta.get("cloud")
        tail = cut is not None and int(cut) < len(self.runner.names)
        if tail and self.cloud is None:
            raise NetError(f"{self.name}: query seq {frame.seq} of client {client} has a cloud part, but "
                           "this server has no cloud")
        place = self._cloud_place if tail else None
        waits: dict[str, Any] = {}
        if self._slot is None or not ran:
            out, secs = await self.runner.run(ran, x)
            ticket = await place() if place is not None else None
        else:
            out, secs, waits, ticket = await self._on_slot(ran, x, place)
        y = out if self.runner.execution == "torch" or not ran else self.runner.output_like(ran[-1])
        tensors = {"y": y} if y is not None and ran else {}
        sent = list(ran)
        if ticket is not None:  # S3's tail: on to the cloud from the first layer not run here
            start = self.runner.index[ran[-1]] + 1 if ran else (self.runner.index[want[0]] if want else
                                                                int(cut))
            y, up = await self._to_cloud(client, self.runner.names[start:], y, ticket)
            tensors = {"y": y} if y is not None else {}
            sent += up.pop("cloud_layers")
            waits |= up
        self.record("query", client=client, server=self.server_id, ran=len(ran), wanted=len(want),
                    exec_s=secs, **waits)
        self._measure(waits)
        await chan.send("result", frame.src, ref=frame.seq, client=client, layers=sent, tensors=tensors,
                        meta={"ran": sent, "exec_s": secs, "server": self.server_id, **waits})

    def _measure(self, waits: dict[str, Any]) -> None:
        """Add one answered query's measured waits to the sums the next master's report carries."""
        m = self._measured
        m["queries"] += 1
        m["edge_wait_s"] += waits.get("wait_s", 0.0)
        m["cloud_wait_s"] += waits.get("cloud_wait_s", 0.0)
        m["tails"] += "cloud_ran" in waits
        m["cloud_waited"] += waits.get("cloud_wait_s", 0.0) > _BUSY_S
        m["blocked"] += max(waits.get("cloud_blocked_s", 0.0), waits.get("blocked_s", 0.0)) > _BUSY_S
        m["up_bytes"] += waits.get("up_bytes", 0)
        m["up_s"] += waits.get("up_s", 0.0)

    async def _cloud_place(self) -> dict[str, Any]:
        """Phase one of a tail: a place in the cloud's queue (its token and how long it took to get)."""
        assert self.cloud is not None
        t0 = time.monotonic()
        ack = await self.link(self.cloud).request("admit", timeout=self.tail_timeout_s)
        return {"token": int(ack.meta["token"]), "hold_s": time.monotonic() - t0}

    async def _to_cloud(self, client: int, layers: list[str], x: torch.Tensor | None,
                        ticket: dict[str, Any]) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Phase two: send the tensor and the tail's `layers` to the cloud on the place of `ticket`; the
        output and what the cloud measured."""
        assert self.cloud is not None
        tensors = {"x": x} if x is not None else {}
        reply = await self.link(self.cloud).request(
            "query", timeout=self.tail_timeout_s, client=client, tensors=tensors,
            meta={"tail": True, "token": ticket["token"], "layers": layers})
        m = reply.meta
        return reply.tensors().get("y"), {
            "cloud": int(m["server"]), "cloud_layers": list(m["ran"]), "cloud_ran": len(m["ran"]),
            "cloud_exec_s": m["exec_s"], "hold_s": ticket["hold_s"], "cloud_wait_s": m["wait_s"],
            "cloud_blocked_s": m["blocked_s"], "up_s": m["up_s"], "up_bytes": m["bytes"]}

    def _cloud_only(self, frame: Frame) -> None:
        if not self.whole_model:
            raise NetError(f"{self.name}: {frame.type} seq {frame.seq} from {frame.src} is for a cloud "
                           "server")

    async def _place(self, frame: Frame, chan: Channel) -> None:
        """A cloud: give an edge a place in the queue once one is free (the seconds it was blocked)."""
        self._cloud_only(frame)
        blocked = 0.0  # without a bounded queue nothing waits outside it
        if self._admit is not None:
            t0 = time.monotonic()
            await self._admit.acquire()
            blocked = time.monotonic() - t0
        self._token += 1
        self._places[self._token] = blocked
        asyncio.get_running_loop().call_later(self.tail_timeout_s, self._unused, self._token, frame.src)
        await chan.send("ack", frame.src, ref=frame.seq, meta={"token": self._token})

    def _unused(self, token: int, edge: str) -> None:
        """A place whose tail never came (its edge failed or went away) frees after `tail_timeout_s`."""
        if self._places.pop(token, None) is not None:
            if self._admit is not None:
                self._admit.release()
            self.record("place_expired", server=self.server_id, edge=edge, token=token)

    async def _tail(self, frame: Frame, chan: Channel) -> None:
        """A cloud: run a tail on a slot, on the place its token holds; answer with the output."""
        self._cloud_only(frame)
        up_s, t_in = time.time() - frame.ts, time.monotonic()
        blocked = self._places.pop(int(frame.meta.get("token", -1)), None)
        if blocked is None:
            raise NetError(f"{self.name}: tail seq {frame.seq} from {frame.src} holds no place in the queue")
        layers = [str(n) for n in frame.meta.get("layers", [])]
        x = frame.tensors().get("x")
        try:
            async with contextlib.AsyncExitStack() as held:
                if self._slot is not None:
                    await held.enter_async_context(self._slot)
                t_run, granted = time.monotonic(), time.time()
                out, secs = await self._run(layers, x)
        finally:
            if self._admit is not None:
                self._admit.release()
        waits = {"wait_s": blocked + t_run - t_in, "blocked_s": blocked, "slot_t": granted}
        self.record("query", client=frame.client, server=self.server_id, ran=len(layers), wanted=len(layers),
                    exec_s=secs, tail=True, edge=frame.src, up_s=up_s, bytes=len(frame.body), **waits)
        y = out if self.runner.execution == "torch" or not layers else self.runner.output_like(layers[-1])
        await chan.send("result", frame.src, ref=frame.seq, client=frame.client, layers=layers,
                        tensors={"y": y} if y is not None and layers else {},
                        meta={"ran": layers, "exec_s": secs, "server": self.server_id, "up_s": up_s,
                              "bytes": len(frame.body), **waits})

    async def _run(self, layers: list[str], x: torch.Tensor | None) -> tuple[Any, float]:
        """Run `layers` (torch in the slots' pool, off the event loop's thread, where there is one)."""
        if self._pool is not None:  # torch: a real parallel slot, not the event loop's thread
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self.runner.run_sync, layers, x)
        return await self.runner.run(layers, x)

    async def _on_slot(self, ran: list[str], x: torch.Tensor | None,
                       then: Callable[[], Awaitable[Any]] | None = None) -> tuple[Any, float, dict, Any]:
        """Run `ran` once a place in the queue and then a slot are free; the output, the run's seconds and
        the measured waits (``wait_s``: from the request to the slot, ``blocked_s``: outside the queue) and
        the wall time the slot was granted (``slot_t``), and what `then` gave: it runs after the layers,
        before the slot is freed (a tail's place in the cloud queue)."""
        assert self._slot is not None
        t0 = time.monotonic()
        async with contextlib.AsyncExitStack() as held:
            t_in = t0  # without a bounded queue nothing waits outside it (not even a preempted tick)
            if self._admit is not None:
                await held.enter_async_context(self._admit)
                t_in = time.monotonic()
            await held.enter_async_context(self._slot)
            t_run, granted = time.monotonic(), time.time()
            out, secs = await self._run(ran, x)
            after = await then() if then is not None else None
        return out, secs, {"wait_s": t_run - t0, "blocked_s": t_in - t0, "slot_t": granted}, after

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        await super().close()


def main(argv: list[str] | None = None) -> int:
    """``python -m edgeroam.emulator.net.agents.edge``: run an edge server agent until SIGTERM."""
    p = common_parser("edgeroam-edge", "An edge server agent: holds, runs and migrates clients' layers.")
    p.add_argument("--server", type=int, required=True, help="server id")
    p.add_argument("--model", required=True, help="zoo model name")
    p.add_argument("--execution", choices=["torch", "profile"], default="torch")
    p.add_argument("--seconds", default=None, help="JSON file: profiled seconds per layer (profile mode)")
    p.add_argument("--speed", type=float, default=1.0, help="speed factor k")
    p.add_argument("--ttl-s", type=float, default=0.0, help="seconds layers live unused (0: forever)")
    p.add_argument("--max-plans", type=int, default=None, help="clients held at most (LRU)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--slots", type=int, default=None, help="queries run at once (three tiers; default: any)")
    p.add_argument("--queue", type=int, default=None, help="queries waiting for a slot at most (cloud queue)")
    p.add_argument("--cloud", default=None, help="the cloud agent (e<id>) that runs queries' cloud tails")
    p.add_argument("--whole-model", action="store_true",
                   help="a cloud server: holds the whole model and runs the tails edges send it")
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(args.threads)
        seconds = json.loads(Path(args.seconds).read_text()) if args.seconds else None
        runner = LayerRunner(args.model, args.execution, seconds, speed=args.speed, seed=args.server,
                             weights=args.whole_model and args.execution == "torch")
        agent = EdgeAgent(args.server, runner, ttl_s=args.ttl_s, max_plans=args.max_plans, slots=args.slots,
                          queue=args.queue, cloud=args.cloud, whole_model=args.whole_model,
                          **agent_kwargs(args))
    except (EdgeroamError, OSError, ValueError) as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 2
    return run_agent(agent)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
