"""The other papers' planners as mobility policies: EosDNN's LMU order and S3's cut on PerDNN's planner."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edgeroam.emulator.actions import Migrate, SetCloud, SetPlan
from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import Planner
from edgeroam.emulator.planning.lmu import lmu_order
from edgeroam.emulator.planning.scheduling import ThreeTierCuts, split_mask
from edgeroam.emulator.policies import MasterView, make_policy
from edgeroam.emulator.policies.layers import LayerChoice
from edgeroam.errors import ScenarioError
from edgeroam.mobility.replay import Tick

DEMO = Path(__file__).resolve().parents[3] / "scenarios" / "demo.toml"


def planner() -> Planner:
    """Four layers; the server is only 3x faster than the client and busy (rho ~ 0.4): a queue can form."""
    g = LayerGraph.from_chain("toy", [4000, 0, 4000, 4000], [2000, 2000, 200, 10], [1.0] * 4, input_bytes=400)
    return Planner(g, [0.3, 0.3, 0.3, 0.3], [0.1, 0.1, 0.1, 0.1], up_bps=80_000.0, down_bps=80_000.0,
                   query_gap_s=0.5)


def lmu_planner() -> Planner:
    """A chain where LMU's order (layer 2 before 1) differs from the efficiency order."""
    g = LayerGraph.from_chain("toy", [4000, 2000, 2000, 0], [1000, 500, 500, 10], [1.0] * 4, input_bytes=400)
    return Planner(g, [0.1, 0.4, 0.3, 0.4], [0.05] * 4, up_bps=80_000.0, down_bps=80_000.0, query_gap_s=0.5)


def view_and_tick(pl: Planner, load: int) -> tuple[MasterView, Tick]:
    """User 0 just handed over to server 10 (held nothing), `load` clients there; candidate server 11."""
    tick = Tick(index=1, time=30.0, user=np.array(["a"], object), user_code=np.array([0]),
                traj=np.zeros(1, np.int64), x=np.zeros(1), y=np.zeros(1), cell=np.zeros(1, np.int64),
                server=np.array([10]), prev_server=np.array([12]), handover=np.array([True]),
                joined=np.array([False]), history=np.zeros((1, 1, 2)), history_len=np.ones(1, np.int64))
    view = MasterView(tick_index=1, interval_s=30.0, first_row=0, predicted=np.zeros((1, 2)),
                      load=lambda s: load, holds=lambda c, s: None, planner=pl)
    return view, tick


def test_default_choice_is_the_planners_entry():
    pl = planner()
    for k in (1, 5):
        names, idx = LayerChoice().layers(pl, k)
        assert names == pl.entry(k).layers and idx.tolist() == pl.entry(k).index.tolist()


def test_lmu_policy_uploads_the_plans_layers_in_lmu_order():
    pl = lmu_planner()
    pol = make_policy("lmu")
    pol.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([11])))
    view, tick = view_and_tick(pl, 1)
    (a,) = pol.decide(view, tick)  # reactive: one SetPlan, nothing sent ahead
    want = lmu_order(pl.problem(1), pl.entry(1).target)
    assert isinstance(a, SetPlan) and a.layers == tuple(pl.names[want])
    assert sorted(a.layers) == sorted(pl.entry(1).layers)
    assert a.layers == ("layer3", "layer2", "layer1", "layer0") != pl.entry(1).layers
    ahead = make_policy("perdnn-lmu")
    ahead.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([11])))
    acts = ahead.decide(view, tick)
    assert [type(x) for x in acts] == [SetPlan, Migrate] and acts[0].layers == a.layers


def test_s3_queue_moves_the_cut_toward_the_client_as_the_server_load_grows():
    pl = planner()
    sizes = {}
    for kind in ("s3", "s3-single"):
        pol = make_policy(kind)
        pol.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([11])))
        for load in (1, 16):
            view, tick = view_and_tick(pl, load)
            (a,) = pol.decide(view, tick)
            mask = split_mask(pl.base, pl.slowdown(load), pol.split)
            assert set(a.layers) == set(pl.names[mask])
            sizes[kind, load] = len(a.layers)
    # unloaded both run the Eq. 1 cut; a long queue moves S-Q's cut, S-C keeps it
    assert sizes["s3", 1] == sizes["s3-single", 1] == sizes["s3-single", 16] > sizes["s3", 16]


def test_s3_on_tier_slots_splits_three_ways_from_the_measured_edge_wait():
    pl = planner()
    fast = 8 * 2**20 * 5.0  # a 5 MB/s edge-cloud link: the cloud is worth it once the edge queue is long
    cuts = ThreeTierCuts(pl.base, fast)
    got = {}
    for kind in ("s3", "s3-single"):
        pol = make_policy(kind)
        pol.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([11])))
        for wait in (0.0, 2.0):
            view, tick = view_and_tick(pl, 1)
            view = dataclasses.replace(view, cloud_bps=fast, queue_wait=lambda s, w=wait: (w, 0.0))
            plan, cloud = pol.decide(view, tick)
            assert isinstance(plan, SetPlan) and isinstance(cloud, SetCloud) and cloud.server == 10
            i, j = cuts.best(wait if kind == "s3" else 0.0, 0.0)
            assert cloud.cut == j and set(plan.layers) == set(pl.names[i:j])
            got[kind, wait] = (i, j)
    # idle: the whole model on the edge (no cloud part); a 2 s edge wait moves S-Q's tail to the cloud
    assert got["s3", 0.0] == got["s3-single", 0.0] == got["s3-single", 2.0] == (0, 4)
    assert got["s3", 2.0] == (0, 0)
    # a measured cloud wait as long sends it back to the client
    assert cuts.best(2.0, 2.0) == (4, 4)


def test_perdnn_s3_on_tier_slots_sends_ahead_the_edge_part_of_the_targets_own_split():
    pl = planner()
    pol = make_policy("perdnn-s3")  # server 10 holds the whole model; 11 is the target
    pol.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([11])))
    sent = {}
    for wait in (0.0, 2.0):  # what target 11's queries last waited at its edge
        view, tick = view_and_tick(pl, 1)
        view = dataclasses.replace(view, cloud_bps=8e4, queue_wait=lambda s, w=wait: (w * (s == 11), 0.0),
                                   holds=lambda c, s: np.ones(4, bool) if s == 10 else None)
        acts = pol.decide(view, tick)
        assert [type(a) for a in acts[:2]] == [SetPlan, SetCloud] and acts[1].cut == 4  # 10 idle: the edge
        sent[wait] = {name for a in acts[2:] if isinstance(a, Migrate) for name in a.layers}
    # idle, the target's edge runs the whole model (0, 4); a 2 s wait there sends it to the cloud (0, 0)
    assert ThreeTierCuts(pl.base, 8e4).best(2.0, 0.0) == (0, 0)
    assert sent == {0.0: set(pl.names), 2.0: set()}


def test_bad_order_or_split_names_the_key():
    with pytest.raises(ScenarioError, match="policy.order"):
        make_policy("perdnn", order="random")
    with pytest.raises(ScenarioError, match="policy.split"):
        make_policy("perdnn", split="half")


@pytest.mark.parametrize("kind", ["lmu", "s3"])
def test_runs_on_the_demo_scenario_like_perdnn(kind, tmp_path):
    from edgeroam.emulator.run import run_scenario
    from edgeroam.emulator.rundir import open_run_dir

    run = run_scenario(DEMO, tmp_path, progress=False, overrides=[f'policy.kind="{kind}"'])
    summary = open_run_dir(run).summary
    assert summary["policy"] == kind and summary["executed_queries"] > 0
