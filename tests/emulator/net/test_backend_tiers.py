"""The net backend with three tiers on slots, on a real network: two clients on one edge server of one slot
take turns (no two queries run at once), and the waits the agent measured are in its log."""

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
