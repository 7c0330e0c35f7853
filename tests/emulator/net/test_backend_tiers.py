"""The net backend with three tiers on slots, on a real network: two clients on one edge server of one slot
take turns (no two queries run at once), and the waits the agent measured are in its log; S3 sends query
tails through a cloud agent of one slot and a queue of one, whose measured waits and rate reach the master's
view."""

from __future__ import annotations

import json

import pytest

from edgeroam.emulator.master import run_pass
from edgeroam.emulator.net.backend import Net
from edgeroam.emulator.policies import make_policy

pytestmark = [pytest.mark.net, pytest.mark.timeout(300)]


def test_two_clients_take_turns_on_one_edge_slot(scripted, net_ok, tmp_path) -> None:
    prep = scripted({"a": (0, 0, 0, 0), "b": (0, 0, 0, 0)}, server_cells=[0, 1])
    prep.world.topology.backhaul.graph["tiers"] = {"slots": {"client": 1, "edge": 1, "cloud": 8},
                                                   "cloud_queue": 20, "compute": "slots"}
    net_backend = Net({0: [0], 1: [0]}, speed=15.0, prefix=net_ok, ready_s=240, keep_logs=tmp_path / "logs")
    try:
        res = run_pass(prep, make_policy("perdnn"), backend=net_backend)
    finally:
        net_backend._teardown()  # idempotent: close() has torn down already unless the run failed
    assert res.tables["queries"]["queries"].sum() > 0
    recs = [json.loads(line) for line in (tmp_path / "logs" / "e0.jsonl").read_text().splitlines()]
    runs = [r for r in recs if r["event"] == "query" and r["ran"] > 0]
    assert len(runs) > 10 and all("wait_s" in r and "blocked_s" in r for r in runs)
    # one slot: every query got it after the one before had run (slot_t: when the slot was granted)
    spans = sorted((r["slot_t"], r["slot_t"] + r["exec_s"]) for r in runs)
    waited = [r["wait_s"] for r in runs if r["wait_s"] > 1e-3]
    print(f"e0: {len(runs)} queries, {len(waited)} waited for the slot, max wait "
          f"{max(waited, default=0):.4f} s, mean exec {sum(r['exec_s'] for r in runs) / len(runs):.4f} s")
    assert all(b[0] >= a[1] - 1e-4 for a, b in zip(spans, spans[1:], strict=False))
    assert max(r["wait_s"] for r in runs) > 0 and max(r["blocked_s"] for r in runs) < 1e-3


def _s3_world(clients: int, ticks: int):  # noqa: ANN202
    """Clients that hop between two edge servers together every tick (an arrival, so S3 decides, each tick)
    with MobileNet on i7-7700 edges of one slot, no think time, and one cloud of one slot and a queue of
    one behind a 20 MB/s WAN link."""
    import math

    import numpy as np
    import pandas as pd

    from edgeroam.emulator.prepare import prepare
    from edgeroam.scenario import scenario_from_dict
    from edgeroam.topology.build import build_topology
    from edgeroam.world import World

    step = math.sqrt(3) * 50.0

    def walks(paths: dict) -> pd.DataFrame:
        rows = [(u, i * 30.0, c * step) for u, cells in paths.items() for i, c in enumerate(cells)]
        user, t, x = zip(*rows, strict=True)
        return pd.DataFrame({"user": pd.Categorical(user), "traj": np.zeros(len(rows), np.int32),
                             "t": np.array(t), "x": np.array(x), "y": np.zeros(len(rows)), "lat": np.nan,
                             "lon": np.nan})

    sc = scenario_from_dict({
        "name": "s3-net", "seed": 1,
        "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
        "topology": {"radius_m": 50.0, "backhaul": {"cloud": {"enabled": True}},
                     "tiers": {"rates": {"edge-cloud": 20.0}, "slots": {"client": 1, "edge": 1, "cloud": 1},
                               "cloud_queue": 1}},
        "dnn": {"model": "mobilenet", "server": "i7-7700", "query_gap_s": 0.0},
        "predictor": {"kind": "stay", "history": 2},
        "policy": {"kind": "s3", "radius_m": 100.0, "ttl_intervals": 5},
    })
    paths = {f"u{i}": tuple(j % 2 for j in range(ticks)) for i in range(clients)}
    topo = build_topology(sc, walks({"servers": [0, 1]}))
    return prepare(sc, World(sc, walks(paths), [], sorted(paths), topo))


def test_s3_sends_query_tails_through_a_tight_cloud(net_ok, tmp_path) -> None:
    # S3's Scheduling with Queuing on net: five clients on one edge slot meet measured waits, so the arrivals
    # of ticks 2 and 3 send their queries' tails to the cloud agent over the WAN link; its one slot and queue
    # of one block edges. The views after the first tails carry the measured rate and waits.
    from edgeroam.emulator.net.counters import link_bytes

    prep = _s3_world(5, 4)
    visits = {c: [0, 1] for c in range(5)}
    net_backend = Net(visits, speed=15.0, prefix=net_ok, ready_s=240, keep_logs=tmp_path / "logs")
    seen = []
    policy = make_policy("s3")
    decide = policy.decide

    def watched(view, tick):  # noqa: ANN001, ANN202
        seen.append((view.cloud_bps, view.queue_wait(0), view.queue_wait(1)))
        return decide(view, tick)

    policy.decide = watched
    try:
        res = run_pass(prep, policy, backend=net_backend)
    finally:
        net_backend._teardown()
    assert res.tables["queries"]["queries"].sum() > 0
    cloud = int(prep.world.topology.servers.query("tier == 'cloud'")["server"].iloc[0])
    logs = {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in (tmp_path / "logs").glob("*.jsonl")}
    tails = [r for r in logs[f"e{cloud}"] if r["event"] == "query" and r.get("tail")]
    sent = [r for a in ("e0", "e1") for r in logs[a] if r["event"] == "query" and r.get("cloud_ran")]
    waited = [r for r in tails if r["wait_s"] > 1e-3]
    blocked = [r for r in tails if r["blocked_s"] > 1e-3]
    lb = link_bytes(net_backend._wire)
    to_cloud = lb.loc[(lb["klass"] == "wan") & (lb["dst"] == net_backend.net.plan.switch_of[f"c{cloud}"]),
                      "bytes"].sum()
    print(f"cloud e{cloud}: {len(tails)} tails ({len(waited)} waited, {len(blocked)} blocked at the full "
          f"queue), {to_cloud} bytes on the WAN link to it; views (cloud_bps, waits e0, e1): {seen}")
    # every tail an edge got back ran on the cloud agent (up to one a client may be cut off by the close)
    assert len(sent) > 0 and len(sent) <= len(tails) <= len(sent) + len(visits)
    assert to_cloud >= sum(r["bytes"] for r in tails) > 0
    assert waited and blocked  # one slot, a queue of one: measured waits and blocked edges
    assert max(r["hold_s"] for r in sent) > 1e-3  # an edge waited for a place while the cloud queue was full
    summary = net_backend.emulated["cloud_tails"]
    assert (summary["tails"], summary["waited"], summary["blocked"]) == (len(tails), len(waited),
                                                                         len(blocked))
    # S-Q sent whole queries (cut 0: no edge slot to hold) or tails behind an edge part (the slot held)
    held = [r for r in sent if "slot_t" in r and r["hold_s"] > 1e-3]
    assert summary["edge_slot_held"] == len(held)
    assert summary["bytes"] == pytest.approx(15.0 * sum(r["bytes"] for r in tails))
    # S-Q reacted to the measured waits: no tail while the views had none, tails once edge waits were seen
    cuts = [(r["batch"], r["cut"]) for r in logs["master"]
            if r["event"] == "action" and r["action"] == "SetCloud"]
    n = prep.planner.n_layers
    assert {c for b, c in cuts if b <= 2} == {n} and any(c < n for b, c in cuts if b > 2)
    assert seen[0][0] == 20.0 * 8 * 2**20 and any(s[0] != seen[0][0] for s in seen)  # then measured
    assert any(max(s[1] + s[2]) > 0 for s in seen)
