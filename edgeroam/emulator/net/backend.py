"""`Net`: the ``net`` backend behind the Backend contract: a real network, agents in its hosts, real tensors.

`start` builds the Mininet network of the topology (`build`, one host per edge server, one per client with a
pre-made access link to every cell it visits), writes the run secret (mode 0600) and an address book into the
network's scratch folder, and starts, in their hosts, an edge agent per server, a client agent per client and
the master agent (in the master's host, or the gateway server's host when the backhaul has no master node);
each is a process recorded by PID and ended by PID. The driver (this object, in the root namespace) reaches
the master agent over a Unix socket and the master reaches every other agent over the emulated network.

Time is the wall clock with speed factor k (DESIGN §6): virtual time `until` is wall time ``t0 + until / k``,
and the agents cut every layer's bytes and every profiled execution time by k instead of speeding links up.
`advance` sleeps to that wall time, then carries out the users' moves: a handover moves the client's host to
its pre-made link (`handover`) and the master tells the client; the layers the new server holds at that moment
(its report) make the arrival's hit, partial hit or miss. Clients raise queries while attached; the queries
of the interval after each arrival are that arrival's (as in ``sim``). `close` stops the agents, reads their
event logs (uploads, migrations, queries) and the switch-port byte counters (``backhaul`` with ``source =
"measured"``, bytes times k), and tears everything down in ``finally``.

Needs root, Linux namespaces and Mininet (`edgeroam doctor`); what it does not emulate (netem delay, Wi-Fi) is
listed by `emulated`.

What it leaves to others: the network (build, handover, counters), the agents (agents/), deciding (master,
policies), metrics (metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.emulator.actions import SetCloud, action_to_dict, sort_actions
from edgeroam.emulator.backend import Closing, Events, Moves, Setup
from edgeroam.errors import NetError, RunError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.actions import Action

__all__ = ["Net", "byte_balance", "cloud_tails"]

_EDGE_PORT = 7100
_CLIENT_PORT = 7101
_HEADER_ROOM = 48 * 1024  # a batch's JSON above this goes in the frame body (headers are at most 64 KiB)
TRANSFER_COLUMNS = ["kind", "client", "src", "dst", "start", "end", "bytes", "layers", "hops", "complete"]


@dataclass(eq=False)
class _Window:
    row: int
    client: int
    server: int
    t0: float
    t1: float


class Net:
    """The ``net`` backend (contract: `edgeroam.emulator.backend.Backend`).

    Parameters
    ----------
    visits : mapping client -> servers, optional
        The servers each client will visit (its host gets a pre-made link to each one's cell); default:
        ``Setup.visits``.
    speed : float
        Speed factor k.
    execution : {"profile", "torch"}
        Agents sleep the profiled layer times / k, or run the layers with torch (k = 1 only).
    switch : {"bridge", "ovs"}
        Switch kind (`build.NetParams`).
    ovs_realtime : bool
        ``ovs``: ovs-vswitchd runs SCHED_RR while the network lives (`switches.vswitchd_realtime`).
    prefix : str
        Name prefix of everything created (``er`` plus at most two characters).
    ready_s : float, optional
        Seconds to wait for the agents to listen (default: 12 s an agent, at least 120 s).
    keep_logs : path, optional
        Copy the agents' event logs and error output there before teardown.
    max_agents : int
        Most agent processes (servers + clients + master) this machine is asked to run; a bigger window is a
        RunError before anything is built (on 2 cores, a few hundred Python agents starve the machine).
    capabilities : doctor.Report, optional
        What this machine can emulate; default: probed by `doctor.diagnose` at start. netem (link delays) and
        the OVS kernel datapath are used where it finds them (`doctor.choose_params`).
    """

    name = "net"

    def __init__(self, visits: Mapping[int, Sequence[int]] | None = None, *, speed: float = 10.0,
                 execution: str = "profile", switch: str = "bridge", ovs_realtime: bool = False,
                 prefix: str = "er",
                 ready_s: float | None = None, keep_logs: str | Path | None = None, max_agents: int = 64,
                 capabilities: Any = None) -> None:
        if execution not in ("profile", "torch"):
            raise RunError(f"net: execution must be 'profile' or 'torch', got {execution!r}")
        if execution == "torch" and speed != 1:
            raise RunError("net: execution 'torch' runs real layers and needs speed 1")
        if speed <= 0:
            raise RunError(f"net: speed must be positive, got {speed}")
        self.visits = None if visits is None else {int(c): [int(s) for s in v] for c, v in visits.items()}
        self.speed = float(speed)
        self.execution = execution
        self.switch = switch
        self.ovs_realtime = bool(ovs_realtime)
        self.prefix = prefix
        self.ready_s = None if ready_s is None else float(ready_s)
        self.max_agents = int(max_agents)
        self.keep_logs = None if keep_logs is None else Path(keep_logs)
        self.capabilities = capabilities
        self.net: Any = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._driver: Any = None
        self._sampler: Any = None
        self._fidelity: Any = None
        self._t0: float | None = None
        self._windows: list[_Window] = []
        self._held: dict[tuple[int, int], np.ndarray] = {}
        self._leaving: list[tuple[float, int]] = []
        self._attached: dict[int, int] = {}
        self._logs: dict[str, list[dict]] = {}
        self._clouds: list[int] = []
        self._tail_bps: float | None = None  # on tier slots: the edge-cloud rate, configured then measured
        self._waits: dict[int, tuple[float, float]] = {}
        self._wire: Any = None
        self._pss_mb = 0.0
        self._mem = {"sum": 0, "ticks": 0, "peak": 0, "peak_server": 0}
        self.emulated: dict[str, Any] = {}

    # -- life ----------------------------------------------------------------------------------------------
    def start(self, setup: Setup) -> None:
        """Build the network and start the agents (everything is torn down again if any step fails)."""
        self.setup = setup
        visits = self.visits if self.visits is not None else setup.visits
        if not visits:
            raise RunError("net: the net backend needs the servers each client visits (Net(visits=...) or "
                           "Setup.visits) to pre-make its access links")
        try:
            self._start(setup, visits)
        except BaseException:
            self._teardown()
            raise

    def _start(self, setup: Setup, visits: Mapping[int, Sequence[int]]) -> None:
        from edgeroam.emulator.net.build import Network, plan_network
        from edgeroam.emulator.net.counters import CounterSampler
        from edgeroam.emulator.net.doctor import choose_params, diagnose
        from edgeroam.topology.tiers import node_slots, slot_tiers

        g = setup.topology.backhaul
        tiers = slot_tiers(g)
        kinds = ("server", "cloud") if tiers is not None else ("server",)  # on slots, clouds run S3's tails
        if tiers is not None:
            from edgeroam.emulator.sim.slotqueries import CloudTails

            self._tail_bps = CloudTails.of(setup, tiers).edge_cloud_bps  # the configured rate until measured
        self._node_of = {int(d["server"]): n for n, d in g.nodes(data=True)
                         if d.get("kind", "server") in kinds and "server" in d}
        self.clients = sorted(visits)
        agents = len(self._node_of) + len(self.clients) + 1
        if agents > self.max_agents:
            raise RunError(f"net: {len(self._node_of)} servers and {len(self.clients)} clients need {agents} "
                           f"agent processes, over max_agents={self.max_agents}; pick a smaller window (fewer"
                           " cells or users) for the net backend")
        cands = []
        for c in self.clients:
            nodes = []
            for s in visits[c]:
                if s not in self._node_of:
                    raise RunError(f"net: client {c} visits server {s}, which is not in the backhaul")
                if self._node_of[s] not in nodes:
                    nodes.append(self._node_of[s])
            cands.append(nodes)
        caps = self.capabilities if self.capabilities is not None else diagnose(ovs=self.switch == "ovs")
        params = choose_params(caps, switch=self.switch, prefix=self.prefix, ovs_realtime=self.ovs_realtime)
        plan = plan_network(g, cands, params)
        self.net = Network(plan)
        self.net.start()
        # every link's counters before any agent runs: `close` compares them with what the agents sent
        self._wire = CounterSampler(self.net)
        self._wire.sample()
        hosts = plan.hosts
        self._host_of_client = {c: f"{self.prefix}c{j}" for j, c in enumerate(self.clients)}
        self._host_of_server = {int(g.nodes[h.node]["server"]): name for name, h in hosts.items()
                                if h.role in kinds}
        self._clouds = sorted(s for s, n in self._node_of.items() if g.nodes[n].get("kind") == "cloud")
        master_host = next((n for n, h in hosts.items() if h.role == "master"), None)
        if master_host is None:
            gw = g.graph.get("gateway")
            gw_server = int(g.nodes[gw]["server"]) if gw in g.nodes and "server" in g.nodes[gw] else min(
                self._host_of_server)
            master_host = self._host_of_server[gw_server]
        self._master_host = master_host
        work = self.net.workdir
        secret = os.urandom(32)
        (work / "secret").write_text(secret.hex())
        os.chmod(work / "secret", 0o600)
        book = {f"e{s}": f"{self.net.ip(h)}:{_EDGE_PORT}" for s, h in self._host_of_server.items()}
        book |= {f"c{c}": f"{self.net.ip(h)}:{_CLIENT_PORT}" for c, h in self._host_of_client.items()}
        (work / "book.json").write_text(json.dumps(book))
        pl = setup.planner
        (work / "server_s.json").write_text(json.dumps([float(x) for x in pl.base.exec_s]))
        (work / "client_s.json").write_text(json.dumps([float(x) for x in pl.base.exec_c]))
        self.run_id = f"{self.prefix}-{os.getpid()}-{int(time.time())}"
        common = ["--run", self.run_id, "--secret-file", str(work / "secret"), "--book",
                  str(work / "book.json"), "--model", pl.graph.name, "--execution", self.execution,
                  "--speed", repr(self.speed)]
        ttl_s = setup.ttl_intervals * setup.interval_s / self.speed if setup.ttl_intervals > 0 else 0.0
        for s, h in sorted(self._host_of_server.items()):
            args = ["edgeroam.emulator.net.agents.edge", "--name", f"e{s}", "--listen",
                    f"0.0.0.0:{_EDGE_PORT}", "--server", str(s), "--seconds", str(work / "server_s.json"),
                    "--ttl-s", repr(ttl_s), "--log", str(work / f"e{s}.jsonl"), *common]
            if setup.server_plans is not None:
                args += ["--max-plans", str(setup.server_plans)]
            if tiers is not None:  # three tiers on slots: the node's slots, a cloud's bounded queue
                slots, queue = node_slots(setup.topology, s, tiers)
                args += ["--slots", str(slots), *(["--queue", str(queue)] if queue is not None else [])]
                # S3's tails: an edge sends them to its cloud (spread by id, as in sim), which holds the model
                args += ["--whole-model"] if s in self._clouds else \
                    ["--cloud", f"e{self._clouds[s % len(self._clouds)]}"] if self._clouds else []
            self._spawn(f"e{s}", h, args)
        for c, h in sorted(self._host_of_client.items()):
            self._spawn(f"c{c}", h, ["edgeroam.emulator.net.agents.client", "--name", f"c{c}", "--listen",
                                     f"0.0.0.0:{_CLIENT_PORT}", "--client", str(c), "--seconds",
                                     str(work / "client_s.json"), "--query-gap-s", repr(setup.query_gap_s),
                                     "--log", str(work / f"c{c}.jsonl"), *common])
        self._spawn("master", master_host, ["edgeroam.emulator.net.agents.master", "--name", "master",
                                            "--listen", f"unix:{work / 'master.sock'}", "--log",
                                            str(work / "master.jsonl"),
                                            *common[:6]])  # run, secret, book
        self._wait_ready()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="er-net-driver", daemon=True)
        self._thread.start()
        from edgeroam.emulator.net.agents.link import Link
        from edgeroam.emulator.net.protocol import Encoder, Tally

        self._driver = Link("master", f"unix:{work / 'master.sock'}", Encoder(secret, self.run_id, "driver"),
                            secret, Tally())
        self._call(self._driver.connect())
        # warm up before the clock starts: torch and safetensors imported here (seconds, the first time), the
        # master connected to every edge (a report) and every client
        import torch

        from edgeroam.emulator.net.protocol import decode_tensors, encode_tensors

        decode_tensors(encode_tensors({"held": torch.zeros((1, 2), dtype=torch.uint8)}))
        self._refresh()
        self._call(self._each_client({"queries": False}, self.clients))
        self._sampler = CounterSampler(self.net, interval_s=max(setup.interval_s / self.speed, 0.05)).start()
        from edgeroam.emulator.net.fidelity import FidelityMonitor  # CPU idle, achieved / shaped rates

        tick_s = max(setup.interval_s / self.speed, 0.05)
        self._fidelity = FidelityMonitor(self.net, interval_s=min(0.5, tick_s), source="proc").start()
        self.emulated = {
            "backend": "net", "switch": self.switch, "speed": self.speed, "execution": self.execution,
            "cells": len(plan.switches), "servers": len(self._host_of_server), "clients": len(self.clients),
            "master_host": master_host, "build_s": self.net.build_s,
            "link_delay": ("netem (wall-clock delays, not cut by the speed factor)" if params.delay == "netem"
                           else "not emulated (no netem in this kernel)"),
            "ovs_datapath": params.datapath if self.switch == "ovs" else None,
            "ovs_realtime": self.ovs_realtime if self.switch == "ovs" else None,
            "not_emulated": (["link delay (no netem in this kernel)"] if params.delay != "netem" else [])
            + ["Wi-Fi: access links are shaped wired links (50/35 Mbit/s)",
               "bytes and execution times are cut by the speed factor"],
        }

    def _spawn(self, agent: str, host: str, args: list[str]) -> None:
        log = (self.net.workdir / f"{agent}.err").open("w")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self._procs[agent] = self.net.popen(host, [sys.executable, "-m", *args], stdout=subprocess.PIPE,
                                            stderr=log, text=True, env=env)
        log.close()

    def _wait_ready(self) -> None:
        if self.ready_s is None:  # every agent imports torch: about 2-4 s of CPU each, more on a busy machine
            self.ready_s = max(120.0, 12.0 * len(self._procs))
        deadline = time.monotonic() + self.ready_s
        waiting = dict(self._procs)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NetError(f"net: agents {', '.join(sorted(waiting))} not ready in {self.ready_s:g} s")
            ready, _, _ = select.select([p.stdout for p in waiting.values()], [], [], min(left, 1.0))
            for agent, p in list(waiting.items()):
                if p.stdout in ready:
                    line = p.stdout.readline()
                    if line.startswith("READY"):
                        del waiting[agent]
                    else:
                        err = (self.net.workdir / f"{agent}.err").read_text()[-400:]
                        raise NetError(f"net: agent {agent} did not start: {line.strip()} {err.strip()}")
                elif p.poll() is not None:
                    err = (self.net.workdir / f"{agent}.err").read_text()[-400:]
                    raise NetError(f"net: agent {agent} exited with {p.returncode}: {err.strip()}")

    def _call(self, coro: Any, timeout: float = 120.0) -> Any:
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise NetError(f"net: the master agent did not answer in {timeout:g} s") from None

    async def _each_client(self, meta: dict[str, Any], clients: Sequence[int]) -> None:
        await asyncio.gather(*(self._order(meta, c) for c in clients))

    async def _order(self, meta: dict[str, Any], client: int | None = None) -> Any:
        return await self._driver.request("order", timeout=60.0, client=client, meta=meta)

    # -- the contract --------------------------------------------------------------------------------------
    def _sleep_to(self, until: float) -> None:
        """Sleep to the wall time of `until`; a tick reached late is counted (`emulated['late_ticks']`)."""
        if self._t0 is None:
            self._t0 = time.time() - until / self.speed
        wait = self._t0 + until / self.speed - time.time()
        if wait > 0:
            time.sleep(wait)
        elif -wait > 0.1 * self.setup.interval_s / self.speed:
            self.emulated["late_ticks"] = self.emulated.get("late_ticks", 0) + 1
            self.emulated["max_lag_s"] = max(self.emulated.get("max_lag_s", 0.0), -wait * self.speed)

    def advance(self, until: float, moves: Moves | None = None) -> Events:
        """Sleep to `until` (/ k), then carry out `moves` (handovers, joins, departures); the arrivals."""
        self._sleep_to(until)
        t_wall = time.perf_counter()
        try:
            return self._advance(until, moves)
        except BaseException:  # the master does not call close after an error: nothing may be left running
            self._teardown()
            raise
        finally:
            self._took("advance", time.perf_counter() - t_wall)

    def _took(self, what: str, secs: float) -> None:
        """Keep the longest wall time of each step (`emulated['max_step_s']`)."""
        steps = self.emulated.setdefault("max_step_s", {})
        steps[what] = max(steps.get(what, 0.0), round(secs, 4))
        if secs > 0.25 * self.setup.interval_s / self.speed:
            at = round(self._virtual(time.time()), 3)
            self.emulated.setdefault("slow_steps", []).append([what, round(secs, 3), at])

    def _advance(self, until: float, moves: Moves | None) -> Events:
        from edgeroam.emulator.net.handover import handover

        out = Events()
        for t, c in [x for x in self._leaving if x[0] <= until + 1e-9]:
            self._leaving.remove((t, c))
            if c not in (moves.attached if moves else {}):
                self._call(self._order({"attach": None, "queries": False}, c))
                self._attached.pop(c, None)
        if moves is None:
            return out
        interval = self.setup.interval_s
        for c in moves.leaving:
            self._leaving.append((until + interval, c))
        arrived = []
        for a in moves.arrivals:
            host = self._host_of_client.get(a.client)
            if host is None:
                raise RunError(f"net: client {a.client} arrives at server {a.server} but has no host (not in "
                               "the visits)")
            t_wall = time.perf_counter()
            handover(self.net, host, self._node_of[a.server])
            self._took("handover", time.perf_counter() - t_wall)
            self._attached[a.client] = a.server
            arrived.append(a)
        if arrived:
            async def tell() -> None:
                await asyncio.gather(*(self._order({"attach": a.server, "queries": True}, a.client)
                                       for a in arrived))
            t_wall = time.perf_counter()
            self._call(tell())
            self._took("attach", time.perf_counter() - t_wall)
        t_wall = time.perf_counter()
        self._refresh()
        self._took("report", time.perf_counter() - t_wall)
        self._count_held()
        load = Counter(moves.attached.values())
        n = self.setup.planner.n_layers
        for a in arrived:
            held = self._held.get((a.client, a.server))
            held = np.zeros(n, bool) if held is None else held.copy()
            out.arrivals.append((a.row, a.client, a.prev, a.server, until, int(load.get(a.server, 1)),
                                 a.handover, held))
            self._windows.append(_Window(a.row, a.client, a.server, until, until + interval))
        return out

    def _refresh(self) -> None:
        """Ask the master for every server's holdings."""
        rep = self._call(self._driver.request("report", timeout=60.0))
        self._measured(rep.meta.get("waits", {}))
        pairs = rep.meta.get("pairs", [])
        held = rep.tensors().get("held")
        self._held = {}
        if held is not None and pairs:
            masks = held.numpy().astype(bool)
            for (s, c), m in zip(pairs, masks, strict=True):
                if m.any():
                    self._held[(int(c), int(s))] = m

    def _measured(self, waits: Mapping[str, Mapping[str, float]]) -> None:
        """The waits each edge measured since its last report (wall seconds x k): a server's mean (edge,
        cloud) wait over the queries it answered, kept until it answers more; and the rate its tails'
        tensors reached the cloud at (bytes over the seconds they took, summed over every edge)."""
        up_bytes = up_s = 0.0
        for server, m in waits.items():
            if m.get("queries", 0) > 0:
                n = m["queries"]
                k = self.speed / n
                self._waits[int(server)] = (m["edge_wait_s"] * k, m["cloud_wait_s"] * k)
            up_bytes, up_s = up_bytes + m.get("up_bytes", 0.0), up_s + m.get("up_s", 0.0)
        if up_s > 0 and self._tail_bps is not None:  # bytes are cut by k and so is the time they take
            self._tail_bps = float(f"{8 * up_bytes / up_s:.3g}")  # 3 digits: a policy memoises per rate

    def cloud_bps(self) -> float | None:
        """On tier slots the rate the tails' tensors last reached the cloud at (bit/s; the tier spec's
        edge-cloud rate before any, 0 without a cloud); None otherwise."""
        return self._tail_bps

    def queue_wait(self, server: int) -> tuple[float, float]:
        """The mean (edge, cloud) waits of `server`'s queries in the last interval it answered any, as its
        agent measured them (virtual seconds)."""
        return self._waits.get(int(server), (0.0, 0.0))

    def _count_held(self) -> None:
        """Client plans held (pairs holding any layer) at this tick, from the servers' own reports."""
        m = self._mem
        n = len(self._held)
        m["sum"] += n
        m["ticks"] += 1
        m["peak"] = max(m["peak"], n)
        per = Counter(s for _c, s in self._held)
        m["peak_server"] = max([m["peak_server"], *per.values()])

    def apply(self, actions: list[Action]) -> None:
        """Send the batch to the master (acked when every agent acked its order), then refresh holdings; a
        `Migrates` batch goes as the Migrates it stands for (`sort_actions` expands it)."""
        layers = self.setup.planner.n_layers if hasattr(self, "setup") else float("inf")  # lower cut: a tail
        if not self._clouds and any(isinstance(a, SetCloud) and a.cut < layers for a in actions):
            self._teardown()
            raise RunError("net: a SetCloud (S3's cloud tail) needs servers on tier slots (topology.tiers "
                           "compute = \"slots\") and a cloud server (topology.backhaul.cloud)")
        acts = [action_to_dict(a) for a in sort_actions(actions)]
        t_wall = time.perf_counter()
        raw = json.dumps(acts, separators=(",", ":")).encode()
        try:
            if len(raw) < _HEADER_ROOM:
                self._call(self._order({"actions": acts}))
            else:  # a big batch (many clients' plans at once): its JSON goes in the body, still one batch
                import torch

                body = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
                self._call(self._driver.request("order", timeout=60.0, client=None,
                                                meta={"actions_body": True}, tensors={"actions": body}))
        except BaseException:  # as in advance: torn down before the error leaves
            self._teardown()
            raise
        self._took("apply", time.perf_counter() - t_wall)

    def holds(self, client: int, server: int) -> np.ndarray | None:
        """Layers `server` held for `client` at the last report (None: nothing)."""
        return self._held.get((int(client), int(server)))

    def held_by(self, client: int) -> frozenset[int]:
        """Servers holding any layer of `client` at the last report."""
        return frozenset(s for (c, s) in self._held if c == client)

    def close(self) -> Closing:
        """Run to the end of the last query window, stop the agents, read logs and counters; tear down."""
        try:
            end = max([w.t1 for w in self._windows], default=0.0)
            self._sleep_to(end)
            if self._driver is not None:
                self._call(self._each_client({"queries": False}, sorted(self._attached)))
            if self._sampler is not None:
                self._sampler.stop()
            if self._fidelity is not None:
                self._fidelity.stop()
            self._pss_mb = sum(_pss_mb(p.pid) for p in self._procs.values())
            for proc in self._procs.values():  # SIGTERM by PID to all at once (one by one took minutes)
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.terminate()
            deadline = time.monotonic() + 60.0  # each writes its final stats line, then exits; on a loaded
            for agent in sorted(self._procs):  # machine 41 exits at once took longer than end's 5 s
                proc = self._procs[agent]
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                with contextlib.suppress(subprocess.TimeoutExpired):  # still there: teardown ends it by PID
                    self.net.end(proc)
            self._wire.sample()  # every connection is closed: the counters hold all the agents sent
            self._logs = {a: _read_log(self.net.workdir / f"{a}.jsonl") for a in self._procs}
            self.emulated["wire"] = self._wire_check()
            if self._clouds:
                self.emulated["cloud_tails"] = cloud_tails(self._logs, self.speed)
            transfers = self._transfers()
            return Closing(self._queries(), transfers, self._backhaul(transfers), self._memory(),
                           self.emulated, tables={"fidelity": self._judge_fidelity()})
        finally:
            self._teardown()

    def _judge_fidelity(self) -> pd.DataFrame:
        """The fidelity monitor's table (``fidelity.parquet``) over the agents' logged transfers; its verdict
        goes to ``emulated['fidelity']``."""
        from edgeroam.emulator.net.fidelity import add_agent_transfers

        switch_of = {s: self.net.plan.switch_of[n] for s, n in self._node_of.items()}
        add_agent_transfers(self._fidelity, self._logs, self._host_of_server, self._host_of_client, switch_of)
        self.emulated["fidelity"] = self._fidelity.summary()
        return self._fidelity.table(t0=self._t0 or 0.0, speed=self.speed)

    # -- tables --------------------------------------------------------------------------------------------
    def _virtual(self, t: float) -> float:
        return (t - (self._t0 or 0.0)) * self.speed

    def _queries(self) -> Events:
        out = Events()
        by_client: dict[int, list[_Window]] = {}
        for w in self._windows:
            by_client.setdefault(w.client, []).append(w)
        for agent, recs in sorted(self._logs.items()):
            if not agent.startswith("c"):
                continue
            for r in recs:
                if r.get("event") != "query":
                    continue
                s = self._virtual(r["start"])
                for w in by_client.get(int(r["client"]), []):
                    if w.t0 <= s < w.t1 and w.server == int(r["server"]):
                        out.queries.append((w.row, w.client, w.server, s, r["latency_s"] * self.speed, 1))
                        break
        return out

    def stats(self) -> dict[str, dict]:
        """Each agent's final counters (after `close`)."""
        return {a: next((r for r in reversed(recs) if r.get("event") == "stats"), {})
                for a, recs in self._logs.items()}

    def _transfers(self) -> pd.DataFrame:
        import networkx as nx

        rows = []
        g = self.setup.topology.backhaul
        for _agent, recs in sorted(self._logs.items()):
            for r in recs:
                if r.get("event") == "transfer":
                    hops = nx.shortest_path_length(g, self._node_of[r["src"]], self._node_of[r["dst"]])
                    rows.append(("migrate", r["client"], r["src"], r["dst"], self._virtual(r["start"]),
                                 self._virtual(r["end"]), r["bytes"] * self.speed, len(r["layers"]), hops,
                                 r["acked"] == r["layers"]))
                elif r.get("event") == "upload":
                    rows.append(("upload", r["client"], -1, r["server"], self._virtual(r["start"]),
                                 self._virtual(r["end"]), r["bytes"] * self.speed, len(r["layers"]), 0,
                                 r["acked"] == r["layers"]))
        df = pd.DataFrame(rows, columns=TRANSFER_COLUMNS)
        return df.astype({"client": np.int64, "src": np.int64, "dst": np.int64, "bytes": np.float64,
                          "layers": np.int64, "hops": np.int64, "complete": bool})

    def _backhaul(self, transfers: pd.DataFrame) -> pd.DataFrame:
        """Per interval and server: the switch counters (``source = "measured"``, wire bytes, with their
        packets) and the sim's backhaul model of the same migrations (``source = "model"``: each transfer's
        layer bytes spread over its path's links and the intervals it spans)."""
        from edgeroam.emulator.net.counters import backhaul_table, link_bytes

        links = link_bytes(self._sampler, self._t0)
        cols = ["interval", "start", "server", "up_bytes", "down_bytes", "up_packets", "down_packets",
                "source"]
        parts = []
        if len(links):
            bh = backhaul_table(links, self.net)
            bh["start"] = bh["start"] * self.speed
            bh["interval"] = np.floor(bh["start"] / self.setup.interval_s + 1e-9).astype(np.int64)
            bh[["up_bytes", "down_bytes", "up_packets", "down_packets"]] *= self.speed
            parts.append(bh.groupby(["interval", "server", "source"], as_index=False).agg(
                start=("start", "min"), up_bytes=("up_bytes", "sum"), down_bytes=("down_bytes", "sum"),
                up_packets=("up_packets", "sum"), down_packets=("down_packets", "sum"))[cols])
        model = self._model_backhaul(transfers)
        if len(model):
            parts.append(model.assign(up_packets=np.nan, down_packets=np.nan, source="model")[cols])
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True).sort_values(["source", "interval", "server"],
                                                               ignore_index=True)

    def _model_backhaul(self, transfers: pd.DataFrame) -> pd.DataFrame:
        """The sim backend's backhaul accounting (`SimBackend.backhaul`, the same routes) fed this run's
        measured migrations (virtual times, bytes x k)."""
        from edgeroam.emulator.sim.backend import SimBackend

        topo, pl = self.setup.topology, self.setup.planner
        edge = topo.servers.loc[topo.servers["tier"] == "edge", "server"].to_numpy(np.int64)
        core = SimBackend(topo.backhaul, edge, pl.weight_bytes, pl.names, interval_s=self.setup.interval_s,
                          ttl_intervals=self.setup.ttl_intervals, up_bps=self.setup.up_bps)
        core.record(transfers[transfers["kind"] == "migrate"])
        return core.backhaul()

    def _memory(self) -> dict[str, float]:
        """Client plans the servers held (from their reports at every tick, like sim's `memory`), LRU
        evictions the edge agents logged, the agents' peak resident memory (``getrusage``, MB) and their
        proportional set size at the end (``agents_pss_mb``: shared library pages counted once)."""
        m = self._mem
        stats = self.stats()
        rss = {a: st.get("rss_peak_kb", 0) / 1024 for a, st in stats.items()}
        edges = [v for a, v in rss.items() if a.startswith("e")]
        clients = [v for a, v in rss.items() if a.startswith("c")]
        evictions = sum(1 for a, recs in self._logs.items() if a.startswith("e") for r in recs
                        if r.get("event") == "expire" and r.get("why") == "lru")
        return {"mean_held": m["sum"] / max(m["ticks"], 1), "peak_held": float(m["peak"]),
                "peak_held_per_server": float(m["peak_server"]), "evictions": float(evictions),
                "agents_rss_mb": float(sum(rss.values())), "agents_pss_mb": float(self._pss_mb),
                "edge_rss_peak_mb": float(max(edges, default=0.0)),
                "client_rss_peak_mb": float(max(clients, default=0.0)),
                "master_rss_peak_mb": float(rss.get("master", 0.0))}

    def _wire_check(self) -> dict[str, Any]:
        """The switch counters of every host's own link against the bytes its agents' TCP connections put on
        the wire (``TCP_INFO``: payload sent plus 66 header bytes a segment, `wire`), per host and direction;
        and the byte balance of every connection between agents: each byte one end wrote was read by the
        other, or counted lost (left unread at close, or unacknowledged / unwritten at the sender)."""
        from edgeroam.emulator.net.agents.wire import wire_bytes
        from edgeroam.emulator.net.counters import link_bytes

        host_of = {f"e{s}": h for s, h in self._host_of_server.items()}
        host_of |= {f"c{c}": h for c, h in self._host_of_client.items()}
        host_of["master"] = self._master_host
        conns = [(agent, r) for agent, recs in sorted(self._logs.items()) for r in recs
                 if r.get("event") == "conn" and "local" in r]
        exp_out: Counter[str] = Counter()
        exp_in: Counter[str] = Counter()
        for agent, r in conns:
            if "tcp" in r:
                o, i = wire_bytes(r["tcp"])
                exp_out[host_of[agent]] += o
                exp_in[host_of[agent]] += i
        lb = link_bytes(self._wire)
        own = lb[lb["kind"].isin(["local", "access"])]
        cnt_out = own.groupby("src")["bytes"].sum()
        cnt_in = own.groupby("dst")["bytes"].sum()
        hosts = []
        for h in sorted(set(exp_out) | set(exp_in)):
            row = {"host": h, "sent": int(exp_out[h]), "counted_out": int(cnt_out.get(h, 0)),
                   "received": int(exp_in[h]), "counted_in": int(cnt_in.get(h, 0))}
            row["err_out"] = row["counted_out"] / row["sent"] - 1 if row["sent"] else None
            row["err_in"] = row["counted_in"] / row["received"] - 1 if row["received"] else None
            hosts.append(row)
        sent_all = sum(exp_out.values())
        counted_all = sum(int(cnt_out.get(h, 0)) for h in exp_out)
        return {"hosts": hosts, "sent_wire_bytes": int(sent_all), "counted_wire_bytes": int(counted_all),
                "err_total": counted_all / sent_all - 1 if sent_all else None,
                "err_max": max((abs(x["err_out"]) for x in hosts if x["err_out"] is not None), default=None),
                "balance": byte_balance([r for _a, r in conns])}

    def _teardown(self) -> None:
        """Stop the driver loop and the network (which ends every recorded PID); idempotent."""
        for sampler in (self._sampler, self._fidelity):
            if sampler is not None:
                with contextlib.suppress(Exception):
                    sampler.stop()
        if self._loop is not None:
            if self._driver is not None:
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._driver.close(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            if self._thread is None or not self._thread.is_alive():
                self._loop.close()
            self._loop = None
        if self.net is not None and self.keep_logs is not None:
            import shutil

            with contextlib.suppress(OSError, RunError):
                self.keep_logs.mkdir(parents=True, exist_ok=True)
                for f in sorted(self.net.workdir.glob("*.jsonl")) + sorted(self.net.workdir.glob("*.err")):
                    shutil.copy(f, self.keep_logs / f.name)
        if self.net is not None:
            for p in self._procs.values():
                if p.stdout is not None:
                    p.stdout.close()
            self.net.stop()


def cloud_tails(logs: Mapping[str, list[dict]], speed: float) -> dict[str, Any]:
    """What the agents' logs say of the query tails the clouds ran (``emulated['cloud_tails']``): how many,
    how many waited for a place or a slot and how many were blocked by a full queue (over 1 ms of wall
    time), the mean wait (virtual seconds), the tensors' bytes (x k) and the rate they came at (bit/s);
    and how many queries held an edge slot while waiting for the place."""
    tails = [r for recs in logs.values() for r in recs if r.get("event") == "query" and r.get("tail")]
    holds = [r["hold_s"] for recs in logs.values() for r in recs
             if r.get("event") == "query" and "hold_s" in r and "slot_t" in r]
    up_s = sum(r["up_s"] for r in tails)
    return {"tails": len(tails), "waited": sum(r["wait_s"] > 1e-3 for r in tails),
            "blocked": sum(r["blocked_s"] > 1e-3 for r in tails),
            "mean_wait_s": float(np.mean([r["wait_s"] for r in tails]) * speed) if tails else 0.0,
            "bytes": float(sum(r["bytes"] for r in tails) * speed),
            "rate_bps": 8 * sum(r["bytes"] for r in tails) / up_s if up_s > 0 else None,
            "edge_slot_held": sum(h > 1e-3 for h in holds)}


def _pss_mb(pid: int) -> float:
    """Proportional set size of a process in MB (shared pages split among their users: what the agents
    really take together, unlike the sum of their RSS); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def byte_balance(conns: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The byte balance of TCP connections from both ends' ``conn`` records (`wire.conn_record`): each byte
    one end wrote was read by the other (``received``), or counted lost: left unread at close
    (``lost_unread``) or unacknowledged / unwritten at the sender (``lost_in_flight``). ``unexplained``: short
    and none of those; ``excess``: read but not written; ``unpaired``: written on a connection whose other
    end logged nothing (or a record that names no peer address). The agents log only once both ends have
    closed (`Channel.drain_to_eof`), so in a clean close everything is ``received``."""
    ends = {(r["local"], r["remote"]): r for r in conns if "remote" in r}
    bal = {"connections": len(ends), "sent": 0, "received": 0, "lost_unread": 0, "lost_in_flight": 0,
           "unexplained": 0, "excess": 0, "unpaired": 0}
    for r in conns:
        if "remote" not in r:
            bal["sent"] += r["bytes_out"]
            bal["unpaired"] += r["bytes_out"]
    for (loc, rem), r in ends.items():
        other = ends.get((rem, loc))
        bal["sent"] += r["bytes_out"]
        if other is None:
            bal["unpaired"] += r["bytes_out"]
            continue
        got = other["bytes_in"]
        bal["received"] += min(got, r["bytes_out"])
        bal["excess"] += max(0, got - r["bytes_out"])
        short = max(0, r["bytes_out"] - got)
        unread = min(short, other.get("unread", 0))
        flight = min(short - unread, r.get("unacked", 0) + r.get("unwritten", 0))
        bal["lost_unread"] += unread
        bal["lost_in_flight"] += flight
        bal["unexplained"] += short - unread - flight
    return bal


def _read_log(path: Path) -> list[dict]:
    """The events of an agent's log (a torn last line is skipped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out
