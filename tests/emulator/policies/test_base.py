"""MasterView: the future plan of a server counts the client who is coming, the current one does not."""

from __future__ import annotations

import numpy as np

from edgeroam.emulator.actions import Migrate
from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.planning import Planner
from edgeroam.emulator.policies import MasterView, make_policy
from edgeroam.mobility.replay import Tick


def _planner() -> Planner:
    # two layers: 3 s on the client; on a lone server 1 s upload + 0.1 + 1.5 s + 0.01 s download = 2.61 s, so
    # both go to the server; one more client slows the server by 1 + rho (about 1.5) and 1.6 s of server
    # time becomes about 2.4 s, 3.4 s in all: with two clients everything stays on the client
    g = LayerGraph.from_chain("toy", [8000, 8000], [1000, 10], [1.0, 1.0], input_bytes=1000)
    p = Planner(g, [1.0, 2.0], [0.1, 1.5], up_bps=8000.0, down_bps=8000.0)
    assert p.entry(1).layers == ("layer0", "layer1") and p.entry(2).layers == ()
    return p


def _view(planner: Planner, load: dict[int, int]) -> MasterView:
    full = np.ones(2, bool)
    return MasterView(
        tick_index=3, interval_s=30.0, first_row=0, predicted=np.zeros((1, 2)),
        load=lambda s: load.get(s, 0), holds=lambda c, s: full if s == 10 else None, planner=planner,
    )


def _tick() -> Tick:
    return Tick(index=3, time=90.0, user=np.array(["a"], object), user_code=np.array([0]),
                traj=np.zeros(1, np.int64), x=np.zeros(1), y=np.zeros(1), cell=np.zeros(1, np.int64),
                server=np.array([10]), prev_server=np.array([10]), handover=np.array([False]),
                joined=np.array([False]), history=np.zeros((1, 1, 2)), history_len=np.ones(1, np.int64))


def test_future_plan_counts_the_coming_client_and_current_plan_does_not():
    planner = _planner()
    view = _view(planner, {13: 1, 10: 1})
    assert view.future_plan(13).layers == ()  # 1 there + the one coming = 2 clients
    assert view.current_plan(10).layers == ("layer0", "layer1")  # the client is one of the 1
    assert _view(planner, {}).future_plan(13).layers == ("layer0", "layer1")


def test_perdnn_migrates_the_plan_for_the_load_after_arrival():
    planner = _planner()
    perdnn = make_policy("perdnn")
    perdnn.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([13])))  # s13 is near the prediction
    # s13 empty: after the client arrives it is alone there, so the full server plan goes over
    migs = [a for a in perdnn.decide(_view(planner, {10: 1}), _tick()) if isinstance(a, Migrate)]
    assert [(a.src, a.dst, a.layers) for a in migs] == [(10, 13, ("layer0", "layer1"))]
    # s13 already serves one client: with this one it is two, whose plan keeps every layer on the client
    migs = [a for a in perdnn.decide(_view(planner, {10: 1, 13: 1}), _tick()) if isinstance(a, Migrate)]
    assert [a.layers for a in migs] in ([], [()])  # nothing to send (at most a TTL refresh)


def test_current_plan_is_the_plan_for_the_servers_own_load():
    planner = _planner()
    assert _view(planner, {10: 2}).current_plan(10).layers == ()  # two clients there: all on the client
    assert _view(planner, {10: 2, 13: 1}).current_plan(13).layers == ("layer0", "layer1")


def test_repr_names_the_class_and_every_parameter_so_it_can_be_pasted_back():
    p = make_policy("perdnn", radius_m=50.0)
    text = repr(p)
    assert text.startswith("TargetPolicy(radius_m=50.0, predictor='model', ")
    assert eval(text, {"TargetPolicy": type(p)}).get_params() == p.get_params()


def test_current_plans_of_a_few_users_and_of_many_are_alike():
    from edgeroam.emulator.actions import SetPlan
    from edgeroam.emulator.policies.base import current_plans

    rng = np.random.default_rng(2)
    view = _view(_planner(), {10: 1, 11: 2})
    for n in (1, 3, 4, 5, 9):  # up to 4 users in plain Python, more on arrays
        for _ in range(20):
            server = rng.choice([-1, 10, 11], n)
            handover, joined = rng.random(n) < 0.4, rng.random(n) < 0.3
            tick = Tick(index=3, time=90.0, user=np.array(list("abcdefghi")[:n], object),
                        user_code=rng.permutation(20)[:n], traj=np.zeros(n, np.int64), x=np.zeros(n),
                        y=np.zeros(n), cell=np.zeros(n, np.int64), server=server, prev_server=server,
                        handover=handover, joined=joined, history=np.zeros((n, 1, 2)),
                        history_len=np.ones(n, np.int64))
            want = [SetPlan(int(tick.user_code[i]), int(server[i]), view.current_plan(int(server[i])).layers)
                    for i in range(n) if (handover[i] or joined[i]) and server[i] >= 0]
            assert current_plans(view, tick) == want


def test_plans_kept_across_ticks_follow_the_views_planner_and_budget():
    perdnn = make_policy("perdnn")
    perdnn.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([13])))

    def sent(view):
        return [a.layers for a in perdnn.decide(view, _tick()) if isinstance(a, Migrate)]

    assert sent(_view(_planner(), {10: 1})) == [("layer0", "layer1")]
    g = LayerGraph.from_chain("toy", [8000, 8000], [1000, 10], [1.0, 1.0], input_bytes=1000)
    slow = Planner(g, [1.0, 2.0], [5.0, 9.0], up_bps=8000.0, down_bps=8000.0)  # all on the client
    assert slow.entry(1).layers == ()
    assert sent(_view(slow, {10: 1})) == []  # another planner, another plan (no Migrate without layers)
    fractional = make_policy("fractional")
    fractional.set_candidates(np.zeros((1, 2)), (np.array([0, 1]), np.array([13])))
    planner = _planner()
    for budget, want in ((float("inf"), ("layer0", "layer1")), (9000.0, ()), (16000.0, ("layer0", "layer1")),
                         (100.0, ())):  # the two layers are one upload group: all or nothing
        assert planner.fraction(1, budget).layers == want
        view = _view(planner, {10: 1})
        view = MasterView(**{**view.__dict__, "crowded": frozenset({13}), "fraction_bytes": budget})
        got = [a.layers for a in fractional.decide(view, _tick()) if isinstance(a, Migrate)]
        assert got == ([want] if want else [])


def test_holds_matrix_asks_the_backend_for_many_pairs_or_each_pair():
    view = _view(_planner(), {})
    clients, servers = np.array([1, 2, 3]), np.array([10, 11, 10])
    each = view.holds_matrix(clients, servers)  # no holds_rows: holds pair by pair
    assert each.tolist() == [[True, True], [False, False], [True, True]]
    asked = []
    fast = MasterView(**{**view.__dict__, "holds_rows": lambda c, s: asked.append((c, s)) or each})
    assert fast.holds_matrix(clients, servers) is each and asked == [(clients, servers)]
    assert view.holds_matrix(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0, 2)
