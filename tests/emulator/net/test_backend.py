"""The net backend on a real network: 7 cells, 2 clients, a scripted path; the master's policy through the
seam; hits and misses equal sim's on the same path; layers arrive as acked frames; nothing is left behind."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.master import run_pass
from edgeroam.emulator.net.backend import Net
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.sim.driver import Sim

pytestmark = [pytest.mark.net, pytest.mark.timeout(600)]

PATHS = {"a": (0, 0, 1, 1, 2, 2, 3, 3), "b": (6, 6, 5, 5, 4, 4, 4, 3)}


def visits_of(prep) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for tk in prep.ticks:
        for c, s in zip(tk.user_code.tolist(), tk.server.tolist(), strict=True):
            if s >= 0 and s not in out.setdefault(int(c), []):
                out[int(c)].append(int(s))
    return out


def test_net_hits_and_misses_equal_sim_on_a_scripted_path(scripted, net_ok, tmp_path) -> None:
    from edgeroam.emulator.net.clean import leftovers

    prep = scripted(PATHS, server_cells=list(range(7)))
    sim = run_pass(prep, make_policy("perdnn"), backend=Sim())
    net_backend = Net(visits_of(prep), speed=15.0, prefix=net_ok, ready_s=240,
                      keep_logs=tmp_path / "logs")
    res = run_pass(prep, make_policy("perdnn"), backend=net_backend)
    s_arr, n_arr = sim.tables["handovers"], res.tables["handovers"]
    assert len(n_arr) == len(s_arr) == 8
    cols = ["client", "server", "t", "load", "kind", "held_bytes", "plan_bytes"]
    assert n_arr["kind"].tolist() == s_arr["kind"].tolist(), (
        f"sim:\n{s_arr[cols]}\nnet:\n{n_arr[cols]}\nsim transfers:\n{sim.tables['transfers']}\n"
        f"net transfers:\n{res.tables['transfers']}\n{net_backend.emulated}")
    assert set(s_arr["kind"]) >= {"hit", "miss"}  # the path has both
    # layers arrived: every migration and upload was acked layer by layer
    tr = res.tables["transfers"]
    assert len(tr) and tr["complete"].all()
    assert set(tr["kind"]) == {"upload", "migrate"}
    stats = net_backend.stats()
    assert all(st.get("dropped", {}) == {} for st in stats.values()), stats
    # queries were measured in the windows after arrivals
    assert res.tables["queries"]["queries"].sum() > 0
    bh = res.tables["backhaul"]
    measured = bh[bh["source"] == "measured"]
    assert measured["up_bytes"].sum() > 0
    # the measured backhaul carried at least the migrated layer bytes
    assert measured["up_bytes"].sum() >= 0.98 * tr.loc[tr["kind"] == "migrate", "bytes"].sum()
    assert net_backend.emulated["speed"] == 15.0 and net_backend.emulated["clients"] == 2
    # link delays as this machine allows them (doctor's probe): netem where the kernel has it, else recorded
    # as not emulated
    from edgeroam.emulator.net.doctor import diagnose

    netem = diagnose(ovs=False).ok("netem")
    assert net_backend.emulated["link_delay"].startswith("netem" if netem else "not emulated")
    assert any("link delay" in x for x in net_backend.emulated["not_emulated"]) != netem
    assert net_backend.emulated.get("late_ticks", 0) == 0, net_backend.emulated
    # the switch counters of every host's own link against what its agents' connections put on the wire
    wire = net_backend.emulated["wire"]
    print({k: v for k, v in wire.items() if k != "hosts"}, *wire["hosts"], sep="\n")
    assert wire["sent_wire_bytes"] > 1e6
    assert abs(wire["err_total"]) < 0.02 and wire["err_max"] < 0.02, wire
    assert all(abs(h["err_in"]) < 0.02 for h in wire["hosts"]), wire
    # every byte an agent wrote was read by its peer or counted lost
    bal = wire["balance"]
    assert bal["connections"] >= 10 and bal["sent"] > 1e6
    assert bal["unexplained"] == bal["excess"] == bal["unpaired"] == 0, bal
    assert bal["sent"] == bal["received"] + bal["lost_unread"] + bal["lost_in_flight"]
    # backhaul.parquet: the counters beside the model of the same migrations; memory measured
    assert set(bh["source"]) == {"measured", "model"}
    mig = tr.loc[tr["kind"] == "migrate", "bytes"].sum()
    model = bh[bh["source"] == "model"]
    assert model["up_bytes"].sum() >= mig  # each migration counted once per hop
    mem = res.summary["memory"]
    assert mem["peak_held"] >= 2 and mem["edge_rss_peak_mb"] > 50 and mem["agents_rss_mb"] > 500, mem
    left = leftovers(net_ok)
    assert not left.interfaces and not left.processes
    assert np.isfinite(res.tables["queries"]["latency_s"]).all()


def test_a_setcloud_without_a_cloud_on_tier_slots_is_one_clear_error() -> None:
    # S3's cloud tail needs cloud agents (tier slots and a cloud server): net says so instead of ignoring the
    # action (nothing is built here)
    from edgeroam.emulator.actions import SetCloud, SetPlan
    from edgeroam.errors import RunError

    net = Net({1: [0]})
    with pytest.raises(RunError, match="SetCloud .* needs servers on tier slots"):
        net.apply([SetPlan(1, 0, ("a",)), SetCloud(1, 0, 3)])


def test_a_migrates_batch_goes_to_the_master_as_its_migrates() -> None:
    # a policy's batch of Migrates as columns reaches the agents as the Migrate orders it stands for, in
    # sort_actions order (nothing is built here: the order is caught before it is sent)
    import numpy as np

    from edgeroam.emulator.actions import Migrate, Migrates, SetPlan, action_to_dict

    net = Net({1: [0]})
    net._clouds, sent = [], []
    net._order = lambda meta, client=None: meta
    net._call = sent.append
    net._took = lambda what, secs: None
    batch = Migrates(np.array([4, 1]), np.array([0, 0]), np.array([2, 3]), [("a", "b")], np.array([0, -1]))
    net.apply([SetPlan(1, 0, ("a",)), batch])
    assert sent == [{"actions": [action_to_dict(a) for a in (SetPlan(1, 0, ("a",)), Migrate(1, 0, 3, ()),
                                                             Migrate(4, 0, 2, ("a", "b")))]}]
