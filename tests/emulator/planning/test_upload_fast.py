"""The fast efficiency / recursive orders equal a straightforward reference (the original block-by-block
implementation, kept here) on random chains and DAGs and on every zoo model; every pick is the best block."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.profiles import profile
from edgeroam.emulator.dnn.zoo import ZOO, model_graph
from edgeroam.emulator.planning import PlanProblem, UploadOrder, efficiency_order, recursive_order
from edgeroam.emulator.planning.upload import _finish, _runs, _target

UP, DOWN = 35e3 * 8 / 25, 50e3 * 8 / 25


# ---------------------------------------------------------------------------------------------- reference
class _RefBlocks:
    """Every run [a, b] inside the given runs with its lane cost table T[p, q], built per call."""

    def __init__(self, prob: PlanProblem, runs: list[tuple[int, int]]) -> None:
        up, dn, ec, es = (np.asarray(x) for x in prob._lane)
        a_l, b_l, t_l = [], [], []
        for lo, hi in runs:
            for a in range(lo, hi + 1):
                t = [ec[a], up[a] + es[a], dn[a] + ec[a], es[a]]
                a_l.append(a)
                b_l.append(a)
                t_l.append(list(t))
                for b in range(a + 1, hi + 1):
                    p00, p01, p10, p11 = t
                    t = [
                        np.minimum(p00, p01 + dn[b]) + ec[b],
                        np.minimum(p00 + up[b], p01) + es[b],
                        np.minimum(p10, p11 + dn[b]) + ec[b],
                        np.minimum(p10 + up[b], p11) + es[b],
                    ]
                    a_l.append(a)
                    b_l.append(b)
                    t_l.append(list(t))
        self.a = np.array(a_l, dtype=np.int64)
        self.b = np.array(b_l, dtype=np.int64)
        self.T = np.array(t_l, dtype=np.float64).reshape(-1, 4).T
        wcum = np.concatenate([[0], np.cumsum(prob.weight_bytes)])
        self.bytes = wcum[self.b + 1] - wcum[self.a]

    def gains(self, prob: PlanProblem, held: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, float]:
        F, B, lat = prob.lane_forward_backward(held)
        a, b, T = self.a[sel], self.b[sel], self.T[:, sel]
        first = a == 0
        prev = np.maximum(a - 1, 0)
        f0 = np.where(first, 0.0, F[prev, 0])
        f1 = np.where(first, np.inf, F[prev, 1])
        b0, b1 = B[b, 0], B[b, 1]
        new = np.minimum(
            np.minimum(f0 + T[0] + b0, f0 + T[1] + b1), np.minimum(f1 + T[2] + b0, f1 + T[3] + b1)
        )
        return lat - new, lat


def _ref_greedy(prob, blocks, held, todo, exclude_whole):
    held = held.copy()
    picks = []
    n_todo = int(todo.sum())
    while (held & todo).sum() < n_todo:
        hcum = np.concatenate([[0], np.cumsum(held)])
        alive = (hcum[blocks.b + 1] - hcum[blocks.a]) == 0
        if exclude_whole:
            alive &= ~((blocks.b - blocks.a + 1) == n_todo)
        sel = np.flatnonzero(alive)
        if len(sel) == 0:
            break
        gain, _ = blocks.gains(prob, held, sel)
        if not np.any(gain > 1e-12):
            if not exclude_whole:
                picks.append(np.flatnonzero(todo & ~held))
            break
        eff = gain / np.maximum(blocks.bytes[sel], 1)
        top = np.flatnonzero(eff >= eff.max())
        order = np.lexsort((-(blocks.b[sel[top]]), blocks.a[sel[top]], -gain[top]))
        j = sel[top[order[0]]]
        a, b = int(blocks.a[j]), int(blocks.b[j])
        picks.append(np.arange(a, b + 1))
        held[a : b + 1] = True
        exclude_whole = False
    return picks


def ref_efficiency(prob: PlanProblem) -> UploadOrder:
    tgt = _target(prob, None)
    picks = _ref_greedy(prob, _RefBlocks(prob, _runs(tgt)), np.zeros(prob.n, dtype=bool), tgt, False)
    return _finish(prob, picks, "efficiency")


def ref_recursive(prob: PlanProblem) -> UploadOrder:
    eff = ref_efficiency(prob)
    held = np.zeros(prob.n, dtype=bool)
    out = []

    def refine(group):
        if len(group) == 1 or len(group) != group[-1] - group[0] + 1:
            out.append(group)
            held[group] = True
            return
        mask = np.zeros(prob.n, dtype=bool)
        mask[group] = True
        blocks = _RefBlocks(prob, [(int(group[0]), int(group[-1]))])
        picks = _ref_greedy(prob, blocks, held, mask, True)
        if not picks:
            out.append(group)
            held[group] = True
            return
        for sub in picks:
            if not mask[sub].all() or held[sub].any():
                continue
            if len(sub) == len(group):
                out.append(sub)
                held[sub] = True
            else:
                refine(sub)
        rest = mask & ~held
        if rest.any():
            out.append(np.flatnonzero(rest))
            held[rest] = True

    for g in eff.groups:
        refine(g)
    return _finish(prob, out, "recursive")


# ---------------------------------------------------------------------------------------------- checks
def _assert_same(fast: UploadOrder, ref: UploadOrder) -> None:
    assert [g.tolist() for g in fast.groups] == [g.tolist() for g in ref.groups]
    np.testing.assert_allclose(fast.efficiency, ref.efficiency, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.latency_after, ref.latency_after, rtol=0, atol=1e-9)
    assert fast.bytes.tolist() == ref.bytes.tolist()
    assert fast.latency_before == pytest.approx(ref.latency_before, abs=1e-12)


def _problems(mk, seed: int) -> list[PlanProblem]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 28))
    out = []
    for kind in ("chain", "dag"):
        g, c, s = getattr(mk, kind)(seed, n)
        scale = float(rng.choice([0.2, 1.0, 5.0]))  # slow links: smaller targets, more zero-gain blocks
        out.append(PlanProblem(g, c, s, up_bps=UP * scale, down_bps=DOWN * scale))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_fast_orders_equal_reference_on_random_models(mk, seed):
    for prob in _problems(mk, seed):
        _assert_same(efficiency_order(prob), ref_efficiency(prob))
        _assert_same(recursive_order(prob), ref_recursive(prob))


def test_fast_order_equals_reference_with_zero_byte_layers():
    # ties: several zero-weight layers give blocks of equal bytes; the tie rule must match the reference
    from edgeroam.emulator.dnn.graph import LayerGraph

    g = LayerGraph.from_chain("ties", [0, 500, 0, 0, 500, 0], [100] * 6, [1.0] * 6, input_bytes=100)
    for up in (800.0, 8000.0, 80000.0):
        prob = PlanProblem(g, [1.0, 2.0, 1.0, 1.0, 2.0, 1.0], [0.1] * 6, up_bps=up, down_bps=up)
        _assert_same(efficiency_order(prob), ref_efficiency(prob))
        _assert_same(recursive_order(prob), ref_recursive(prob))


@pytest.mark.parametrize("name", list(ZOO))
def test_fast_orders_equal_reference_on_zoo(name):
    g = model_graph(name)
    c, s = profile(g, "odroid-xu4"), profile(g, "titan-xp")
    for up, down in ((35e6, 50e6), (5e6, 10e6)):
        prob = PlanProblem(g, c, s, up_bps=up, down_bps=down)
        _assert_same(efficiency_order(prob), ref_efficiency(prob))
        if name in ("mobilenet_v1", "resnet18", "tiny_yolo"):  # the reference recursion is slow
            _assert_same(recursive_order(prob), ref_recursive(prob))


@pytest.mark.parametrize("seed", range(12))
def test_each_pick_is_the_most_efficient_block(mk, seed):
    # independent of the block tables: score every alive run by the exact lane latency of held + run
    for prob in _problems(mk, 1000 + seed):
        o = efficiency_order(prob)
        tgt = _target(prob, None)
        held = np.zeros(prob.n, dtype=bool)
        for k, grp in enumerate(o.groups):
            lat = prob.lane_latency_batch(held[None])[0]
            masks, sizes = [], []
            for lo, hi in _runs(tgt & ~held):
                for a in range(lo, hi + 1):
                    for b in range(a, hi + 1):
                        m = held.copy()
                        m[a : b + 1] = True
                        masks.append(m)
                        sizes.append(max(int(prob.weight_bytes[a : b + 1].sum()), 1))
            gain = lat - prob.lane_latency_batch(np.array(masks))
            best = float((gain / np.array(sizes)).max())
            if gain.max() > 1e-9:  # otherwise the group is the rest, sent together
                assert o.efficiency[k] == pytest.approx(best, rel=1e-9, abs=1e-12)
            held[grp] = True


def test_with_profiles_shares_the_graph_and_matches_a_new_problem(mk):
    g, c, s = mk.dag(7, 20)
    base = PlanProblem(g, c, s, up_bps=UP, down_bps=DOWN)
    efficiency_order(base)
    other = base.with_profiles(c * 2, s, up_bps=UP / 3)
    fresh = PlanProblem(g, c * 2, s, up_bps=UP / 3, down_bps=DOWN)
    _assert_same(efficiency_order(other), efficiency_order(fresh))
    assert other._frontier is base._frontier
    assert base.with_profiles().up_bps == base.up_bps
