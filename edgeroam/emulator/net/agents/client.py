"""The client agent: uploads its model's layers in the plan's order, raises queries, records where layers ran.

Orders it takes (``order`` frames, each acked): ``meta.action`` a ``SetPlan`` (the plan's server-side layers
in upload order: the client asks the server what it holds and uploads the rest, one acked frame per layer, all
in flight at once) or a ``SetCloud`` (S3's cloud tail: from then on its queries on that server send the layers
from the cut on to the server's cloud), ``meta.attach`` (the server it is attached to now, or null: detached;
a handover) and ``meta.queries`` (true/false: raise queries back to back with the think time `query_gap_s` /
k while attached).

A query runs the layers before the plan's first server-side layer on the client, sends the tensor there to the
server with the plan's server-side layers (model order), gets back the output of the longest prefix the
server holds, and runs every other layer on the client: its latency and where every layer ran are logged
(``query``: start, latency_s, server, ran_server, n_plan, hit, and ``ran_cloud`` for a tail) and kept in
`queries`. With a cloud cut the plan's layers before the cut are the edge's; the query goes to the server
even when the edge runs none of them, with ``meta.cloud`` (the cut), and the layers the edge and its cloud
ran come back as one answer (edge.py).

What it leaves to others: when to attach and what plan to use (master), running layers (compute).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from edgeroam.emulator.actions import SetCloud, SetPlan, action_from_dict
from edgeroam.emulator.net.agents.base import Agent, agent_kwargs, common_parser, run_agent
from edgeroam.emulator.net.agents.compute import LayerRunner
from edgeroam.emulator.net.agents.edge import held_layers
from edgeroam.emulator.net.protocol import Channel, Frame
from edgeroam.errors import EdgeroamError, NetError

__all__ = ["ClientAgent", "main"]


class ClientAgent(Agent):
    """A client (see the module docstring).

    Parameters
    ----------
    client : int
        Its client id.
    runner : LayerRunner
        Owns the model (built with weights) and runs the client's layers.
    query_gap_s : float
        Think time between queries (divided by the runner's speed factor).
    query_timeout_s : float
        A query unanswered this long is logged as failed.
    **kwargs
        `Agent` arguments.
    """

    def __init__(self, client: int, runner: LayerRunner, *, query_gap_s: float = 0.5,
                 query_timeout_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = int(client)
        self.runner = runner
        self.query_gap_s = float(query_gap_s)
        self.query_timeout_s = float(query_timeout_s)
        self.attached: int | None = None
        self.plan: tuple[str, ...] = ()
        self.cuts: dict[int, int] = {}  # server -> the first layer its cloud runs (SetCloud)
        self.queries: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self._querying = False
        self._loop: asyncio.Task | None = None
        self._upload: asyncio.Task | None = None

    async def handle(self, frame: Frame, chan: Channel) -> None:
        if frame.type != "order":
            await super().handle(frame, chan)
            return
        meta = frame.meta
        if "attach" in meta:
            self.attached = None if meta["attach"] is None else int(meta["attach"])
            self.record("attach", client=self.client, server=self.attached)
        if "action" in meta:
            action = action_from_dict(meta["action"])
            if not isinstance(action, SetPlan | SetCloud) or action.client != self.client:
                raise NetError(f"{self.name}: cannot carry out {meta['action']} (seq {frame.seq})")
            if isinstance(action, SetCloud):
                self.cuts[action.server] = action.cut
            else:
                self.plan = action.layers
                self.attached = action.server
                if self._upload is not None and not self._upload.done():
                    self._upload.cancel()
                self._upload = self.listener.spawn(self.upload(action.server, action.layers))
        if "queries" in meta:
            self.set_querying(bool(meta["queries"]))
        await chan.send("ack", frame.src, ref=frame.seq, client=self.client)

    async def upload(self, server: int, layers: tuple[str, ...]) -> dict[str, Any]:
        """Upload the `layers` `server` lacks, in order, each acknowledged; the upload's record."""
        link = self.link(f"e{server}")
        t0 = time.time()
        have = set(held_layers(await link.request("report", client=self.client), self.runner.names)
                   .get(self.client, []))
        todo = [n for n in layers if n not in have]
        payloads = {n: self.runner.payload(n) for n in todo}
        futures = [asyncio.ensure_future(link.request("layers", client=self.client, layers=[n],
                                                      tensors=payloads[n])) for n in todo]
        try:
            acks = await asyncio.gather(*futures)
        except asyncio.CancelledError:  # a new plan replaced this one: log what arrived (as sim logs a cut)
            for f in futures:
                f.cancel()
            acks = [f.result() for f in futures if f.done() and not f.cancelled() and f.exception() is None]
            self._log_upload(server, todo, payloads, acks, t0, cancelled=True)
            raise
        return self._log_upload(server, todo, payloads, acks, t0)

    def _log_upload(self, server: int, todo: list[str], payloads: dict[str, Any], acks: list[Frame],
                    t0: float, cancelled: bool = False) -> dict[str, Any]:
        """Record an upload: bytes are those of the acknowledged layers."""
        acked = [n for a in acks for n in a.layers]
        rec = {"client": self.client, "server": server, "layers": todo, "start": t0, "end": time.time(),
               "bytes": sum(t.numel() * t.element_size() for n in acked if n in payloads
                            for t in payloads[n].values()),
               "acked": acked, "new": [n for a in acks for n in a.meta.get("new", [])],
               "cancelled": cancelled}
        self.uploads.append(rec)
        self.record("upload", **rec)
        return rec

    def set_querying(self, on: bool) -> None:
        """Start or stop raising queries."""
        self._querying = on
        if on and (self._loop is None or self._loop.done()):
            self._loop = self.listener.spawn(self._query_loop())

    async def _query_loop(self) -> None:
        while self._querying:
            if self.attached is None:
                await asyncio.sleep(0.01)
                continue
            try:
                await self.query()
            except NetError as exc:
                self.record("query_failed", client=self.client, server=self.attached, error=str(exc))
            await asyncio.sleep(self.query_gap_s / self.runner.speed)

    async def query(self) -> dict[str, Any]:
        """Run one query now on the attached server; its record."""
        server = self.attached
        if server is None:
            raise NetError(f"{self.name}: not attached to a server")
        r = self.runner
        cut = min(self.cuts.get(server, len(r.names)), len(r.names))
        plan = sorted((n for n in self.plan if r.index[n] < cut), key=r.index.__getitem__)
        first = r.index[plan[0]] if plan else cut
        t0 = time.time()
        x = r.input_like() if r.execution == "profile" else r.input_for(r.names[0])
        before = r.names[:first]
        x, _ = await r.run(before, x)
        ran: list[str] = []
        cloud = 0
        if plan or cut < len(r.names):
            reply = await self.link(f"e{server}").request(
                "query", timeout=self.query_timeout_s, client=self.client,
                tensors={"x": x if x is not None else r.input_like()},
                meta={"layers": plan, **({"cloud": cut} if cut < len(r.names) else {})})
            ran = [str(n) for n in reply.meta.get("ran", [])]
            cloud = int(reply.meta.get("cloud_ran", 0))
            y = reply.tensors().get("y")
            if r.execution == "torch" and ran and y is not None:
                x = y
        done = set(before) | set(ran)
        rest = [n for n in r.names[first:] if n not in done]
        await r.run(rest, x)
        edge = len(ran) - cloud
        rec = {"client": self.client, "server": server, "start": t0, "latency_s": time.time() - t0,
               "ran_server": edge, "n_plan": len(plan), "hit": bool(plan) and edge == len(plan),
               **({"ran_cloud": cloud} if cloud else {})}
        self.queries.append(rec)
        self.record("query", **rec)
        return rec

    async def close(self) -> None:
        self._querying = False
        await super().close()


def main(argv: list[str] | None = None) -> int:
    """``python -m edgeroam.emulator.net.agents.client``: run a client agent until SIGTERM."""
    p = common_parser("edgeroam-client", "A client agent: uploads layers in plan order and raises queries.")
    p.add_argument("--client", type=int, required=True, help="client id")
    p.add_argument("--model", required=True, help="zoo model name")
    p.add_argument("--execution", choices=["torch", "profile"], default="torch")
    p.add_argument("--seconds", default=None, help="JSON file: profiled client seconds per layer")
    p.add_argument("--speed", type=float, default=1.0, help="speed factor k")
    p.add_argument("--query-gap-s", type=float, default=0.5, help="think time between queries")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(args.threads)
        seconds = json.loads(Path(args.seconds).read_text()) if args.seconds else None
        runner = LayerRunner(args.model, args.execution, seconds, speed=args.speed, seed=0, weights=True)
        agent = ClientAgent(args.client, runner, query_gap_s=args.query_gap_s, **agent_kwargs(args))
    except (EdgeroamError, OSError, ValueError) as exc:
        print(f"client: {exc}", file=sys.stderr)
        return 2
    return run_agent(agent)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
