"""The OpenFlow controller of the `ovs` switch kind: an os-ken app written against the Ryu API, and its
launcher.

Run as ``python -m edgeroam.emulator.net.controller CONFIG.json`` (by `switches.Controller`, in its own
process: os-ken runs on eventlet, which must not patch the caller). CONFIG gives the OpenFlow port, a control
port, the switches (dpid -> name), the links between switch ports and where each host's MAC is attached. When
a switch connects the app installs, proactively, one rule per host MAC (``eth_dst`` -> the port on the
shortest path to the host's switch, priority 10) and no table-miss rule, so nothing is flooded and nothing
comes to the controller (no packet-in storm on a looped mesh). A line-based JSON control socket on 127.0.0.1
answers ``status`` (switches connected and done, packet-ins seen), ``move`` (rewrite one MAC's rules at a
handover, then an OpenFlow barrier on every switch touched) and ``stats`` (port counters, polled from every
switch on demand)."""

from __future__ import annotations

import json
import sys

from os_ken.base import app_manager  # must be imported before cfg.CONF() is called
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from edgeroam.emulator.net.switches import shortest_ports

__all__ = ["EdgeroamPaths", "main"]

_PRIORITY = 10
_WAIT_S = 5.0


class EdgeroamPaths(app_manager.OSKenApp):
    """Proactive shortest-path forwarding over the backhaul, rule changes at handover, port counters."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from os_ken import cfg

        # os-ken builds its apps itself; the launcher hands the run's CONFIG over by os-ken's own options
        with open(cfg.CONF.edgeroam_config) as f:
            self.config = json.load(f)
        self.table = shortest_ports(self.config)
        self.datapaths: dict[int, object] = {}
        self.done: set[int] = set()
        self.packet_in = 0
        self._barriers: dict[int, hub.Event] = {}
        self._installing: dict[int, int] = {}
        self._stats: dict[int, dict[int, list[int]]] = {}
        self._stats_wait: dict[int, hub.Event] = {}
        self.server = hub.spawn(self._serve)

    # OpenFlow ----------------------------------------------------------------------------------------------

    def _flow(self, dp, mac: str, port: int, command: int | None = None) -> None:
        ofp, parser = dp.ofproto, dp.ofproto_parser
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port)])]
        cmd = ofp.OFPFC_ADD if command is None else command
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=_PRIORITY, match=parser.OFPMatch(eth_dst=mac),
                                      instructions=inst, command=cmd))

    def _barrier(self, dps: list) -> bool:
        events = []
        for dp in dps:
            req = dp.ofproto_parser.OFPBarrierRequest(dp)
            dp.set_xid(req)
            ev = self._barriers[req.xid] = hub.Event()
            dp.send_msg(req)
            events.append(ev)
        return all(ev.wait(timeout=_WAIT_S) for ev in events)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev) -> None:
        dp = ev.msg.datapath
        self.datapaths[dp.id] = dp
        for mac, port in sorted(self.table.get(dp.id, {}).items()):
            self._flow(dp, mac, port)
        req = dp.ofproto_parser.OFPBarrierRequest(dp)
        dp.set_xid(req)
        self._installing[req.xid] = dp.id  # done when the barrier returns (never wait inside a handler)
        dp.send_msg(req)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev) -> None:
        waiter = self._barriers.pop(ev.msg.xid, None)
        if waiter is not None:
            waiter.set()
        dpid = self._installing.pop(ev.msg.xid, None)
        if dpid is not None:
            self.done.add(dpid)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev) -> None:
        self.packet_in += 1  # never expected: no table-miss rule sends anything here

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def _port_stats(self, ev) -> None:
        dpid = ev.msg.datapath.id
        self._stats[dpid] = {s.port_no: [s.rx_bytes, s.tx_bytes, s.rx_packets, s.tx_packets]
                             for s in ev.msg.body if s.port_no < 0xFFFFFF00}
        waiter = self._stats_wait.pop(dpid, None)
        if waiter is not None:
            waiter.set()

    # control socket ----------------------------------------------------------------------------------------

    def _serve(self) -> None:
        hub.StreamServer(("127.0.0.1", self.config["control_port"]), self._handle).serve_forever()

    def _handle(self, sock, _addr) -> None:
        f = sock.makefile("rw")
        for line in f:
            try:
                reply = self._answer(json.loads(line))
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the controller
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            f.write(json.dumps(reply) + "\n")
            f.flush()

    def _answer(self, req: dict) -> dict:
        op = req.get("op")
        if op == "status":
            return {"connected": sorted(self.datapaths), "done": sorted(self.done),
                    "packet_in": self.packet_in}
        if op == "move":
            dps = []
            for dpid, port in req["ports"].items():
                dp = self.datapaths[int(dpid)]
                self._flow(dp, req["mac"], int(port))
                self.table[int(dpid)][req["mac"]] = int(port)
                dps.append(dp)
            return {"ok": self._barrier(dps), "rules": len(dps)}
        if op == "stats":
            events = []
            for dpid, dp in self.datapaths.items():
                ev = self._stats_wait[dpid] = hub.Event()
                dp.send_msg(dp.ofproto_parser.OFPPortStatsRequest(dp, 0, dp.ofproto.OFPP_ANY))
                events.append(ev)
            ok = all(ev.wait(timeout=_WAIT_S) for ev in events)
            stats = {str(d): {str(p): v for p, v in s.items()} for d, s in self._stats.items()}
            return {"ok": ok, "stats": stats}
        return {"error": f"unknown op {op!r}"}


def main(argv: list[str] | None = None) -> int:
    """Load CONFIG and run the app with os-ken's ofp_handler until killed."""
    from os_ken import cfg

    args = sys.argv[1:] if argv is None else argv
    with open(args[0]) as f:
        of_port = json.load(f)["of_port"]
    cfg.CONF.register_cli_opt(cfg.StrOpt("edgeroam-config", help="the run's controller CONFIG.json"))
    cfg.CONF(args=["--ofp-tcp-listen-port", str(of_port), "--ofp-listen-host", "127.0.0.1",
                   "--edgeroam-config", args[0]],
             project="os_ken")
    app_manager.AppManager.run_apps(["os_ken.controller.ofp_handler", __name__])
    return 0


if __name__ == "__main__":
    sys.exit(main())
