"""The master agent: carries the policy's actions to the agents as ``order`` frames and collects what the edge
servers hold.

`MasterAgent.apply(actions)` numbers the batch and sends each action (in `sort_actions` order) where it takes
effect: ``SetPlan`` to the client (which uploads) and to its server, ``Migrate`` to the sending server,
``Drop`` to the server, ``SetCloud`` to the client (its queries carry the cut); it returns when every order is
acknowledged. `attach(client, server)` tells a client where it is now (a handover), `queries(client, on)`
starts or stops its queries, `reports` asks every edge server what it holds. As a process it listens (a Unix
socket reaches it from the root namespace) and relays: an ``order`` with ``meta.actions`` (one batch; or
``meta.actions_body`` with the batch as UTF-8 JSON in the body's ``actions`` tensor, when it would not fit the
64 KiB header), ``meta.action``, ``meta.attach`` or ``meta.queries`` from the driver goes to the agents it
concerns and is acked once they acked it; a ``report`` request is answered with every server's holdings
(``meta.pairs`` [[server, client], ...] and the uint8 mask ``held`` [pairs, layers] in the body) and what each
measured since the last report (``meta.waits``: server -> the sums of `edge` reports: queries, waits, bytes
sent to the cloud).

What it leaves to others: deciding (``emulator.master`` and the policies), executing (edge, client).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from edgeroam.emulator.actions import (
    Action,
    Drop,
    Migrate,
    SetCloud,
    SetPlan,
    action_from_dict,
    action_to_dict,
    sort_actions,
)
from edgeroam.emulator.net.agents.base import Agent, agent_kwargs, common_parser, run_agent
from edgeroam.emulator.net.protocol import Channel, Frame
from edgeroam.errors import EdgeroamError, NetError

__all__ = ["MasterAgent", "main"]


class MasterAgent(Agent):
    """The master (see the module docstring); its address book names every ``e<server>`` and ``c<client>``.

    Parameters
    ----------
    order_timeout_s : float
        An order unacknowledged this long is a NetError.
    **kwargs
        `Agent` arguments.
    """

    def __init__(self, *, order_timeout_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_timeout_s = float(order_timeout_s)
        self.batch = 0
        self.orders = 0

    async def start(self) -> str:
        """Warm torch and safetensors up (their first use costs seconds), then listen."""
        import torch

        from edgeroam.emulator.net.protocol import decode_tensors, encode_tensors

        decode_tensors(encode_tensors({"held": torch.cat([torch.zeros((1, 2), dtype=torch.uint8)] * 2)}))
        return await super().start()

    def edges(self) -> list[str]:
        """Edge agent names in the address book, sorted by server id."""
        names = (n for n in self.book if n.startswith("e") and n[1:].isdigit())
        return sorted(names, key=lambda n: int(n[1:]))

    async def _order(self, peer: str, meta: dict[str, Any], client: int | None) -> Frame:
        self.orders += 1
        return await self.link(peer).request("order", timeout=self.order_timeout_s, client=client, meta=meta)

    async def apply(self, actions: Iterable[Action]) -> int:
        """Send one batch of actions; returns when all are acknowledged; the number of orders sent."""
        self.batch += 1
        sends = []
        for a in sort_actions(actions):
            meta = {"action": action_to_dict(a), "batch": self.batch}
            if isinstance(a, SetPlan):
                sends.append(self._order(f"c{a.client}", meta, a.client))
                sends.append(self._order(f"e{a.server}", meta, a.client))
            elif isinstance(a, SetCloud):
                sends.append(self._order(f"c{a.client}", meta, a.client))
            elif isinstance(a, Migrate):
                sends.append(self._order(f"e{a.src}", meta, a.client))
            elif isinstance(a, Drop):
                sends.append(self._order(f"e{a.server}", meta, a.client))
        for a in actions:
            self.record("action", batch=self.batch, **action_to_dict(a))
        if not sends:  # an empty batch still ends the standing relays
            sends = [self._order(e, {"batch": self.batch, "noop": True}, None) for e in self.edges()]
        await asyncio.gather(*(asyncio.ensure_future(s) for s in sends))
        return len(sends)

    async def attach(self, client: int, server: int | None) -> None:
        """Tell `client` it is attached to `server` now (None: detached)."""
        await self._order(f"c{client}", {"attach": server}, client)

    async def queries(self, client: int, on: bool) -> None:
        """Start or stop `client`'s queries."""
        await self._order(f"c{client}", {"queries": bool(on)}, client)

    async def reports(self) -> list[Frame]:
        """Every edge server's report frame (see `edge.held_layers`)."""
        t0 = time.time()

        async def one(e: str) -> Frame:
            f = await self.link(e).request("report", timeout=self.order_timeout_s, meta={"waits": True})
            took[e] = round(time.time() - t0, 4)
            return f

        took: dict[str, float] = {}
        out = list(await asyncio.gather(*(one(e) for e in self.edges())))
        self.record("reports", took=took)
        return out

    async def stats_of(self, peers: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The ``stats`` of each agent in `peers`."""
        peers = list(peers)
        frames = await asyncio.gather(*(asyncio.ensure_future(self.link(p).request(
            "stats", timeout=self.order_timeout_s)) for p in peers))
        return {p: f.meta for p, f in zip(peers, frames, strict=True)}

    async def handle(self, frame: Frame, chan: Channel) -> None:
        if frame.type == "order":
            meta = frame.meta
            if "actions" in meta:  # one batch
                await self.apply([action_from_dict(d) for d in meta["actions"]])
            elif meta.get("actions_body"):  # one batch too big for a header: JSON bytes in the body
                raw = frame.tensors().get("actions")
                if raw is None:
                    raise NetError(f"master: order seq {frame.seq} from {frame.src} has no actions body")
                await self.apply([action_from_dict(d) for d in json.loads(raw.numpy().tobytes())])
            elif "action" in meta:
                await self.apply([action_from_dict(meta["action"])])
            if "attach" in meta or "queries" in meta:
                if frame.client is None:
                    raise NetError(f"master: order seq {frame.seq} from {frame.src} names no client")
                if "attach" in meta:
                    await self.attach(frame.client, meta["attach"])
                if "queries" in meta:
                    await self.queries(frame.client, bool(meta["queries"]))
            await chan.send("ack", frame.src, ref=frame.seq, client=frame.client)
        elif frame.type == "report":
            import torch


            pairs, masks, waits = [], [], {}
            for r in await self.reports():
                if "waits" in r.meta:
                    waits[str(r.meta.get("server", -1))] = r.meta["waits"]
                held = r.tensors().get("held")
                clients = r.meta.get("clients", [])
                if held is None or len(clients) != held.shape[0]:
                    raise NetError(f"master: report seq {r.seq} from {r.src} does not match its clients")
                pairs += [[int(r.meta.get("server", -1)), int(c)] for c in clients]
                masks.append(held)
            body = {"held": torch.cat(masks)} if masks and sum(len(m) for m in masks) else {}
            await chan.send("report", frame.src, ref=frame.seq, tensors=body,
                            meta={"pairs": pairs, "waits": waits})
        else:
            await super().handle(frame, chan)


def main(argv: list[str] | None = None) -> int:
    """``python -m edgeroam.emulator.net.agents.master``: run the master agent until SIGTERM."""
    p = common_parser("edgeroam-master", "The master agent: relays orders to edges and clients.")
    p.add_argument("--order-timeout-s", type=float, default=30.0, help="seconds to wait for an order's ack")
    args = p.parse_args(argv)
    try:
        agent = MasterAgent(order_timeout_s=args.order_timeout_s, **agent_kwargs(args))
    except (EdgeroamError, OSError, ValueError) as exc:
        print(f"master: {exc}", file=sys.stderr)
        return 2
    return run_agent(agent)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
