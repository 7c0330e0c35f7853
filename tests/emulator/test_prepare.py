"""prepare: the true next step of every row, from the ticks or from the replay's flat rows alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgeroam.emulator.prepare import true_next, true_next_rows
from edgeroam.mobility.replay import Replay
from edgeroam.topology.hexgrid import HexGrid
from edgeroam.topology.servers import servers_visited


def test_true_next_of_ticks_and_of_flat_rows_agree():
    g = HexGrid(50.0)
    rng = np.random.default_rng(0)
    t = np.r_[np.arange(8), np.arange(3, 12), [20, 21, 22]] * 30.0
    user = ["a"] * 8 + ["b"] * 9 + ["a"] * 3
    xy = np.cumsum(rng.normal(0, 60, (len(t), 2)), axis=0)
    tr = pd.DataFrame({"user": pd.Categorical(user), "traj": [0] * 17 + [1] * 3, "t": t, "x": xy[:, 0],
                       "y": xy[:, 1]})
    rep = Replay(tr, g, servers_visited(g, tr), interval_s=30.0, history=3)
    tick, every = rep.steps()
    flat = true_next_rows(tick, every.history, every.server, every.user_code, every.joined)
    by_tick = true_next(list(rep))
    for a, b in zip(flat, by_tick, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    nxt = flat[3]
    assert (nxt == -1).sum() == 3  # a's first run ends (then a gap), b ends, a's second run ends


def test_the_svr_fit_goes_through_the_predictor_cache(tmp_path, monkeypatch):
    from edgeroam.emulator.prepare import fit_predictor
    from edgeroam.predictors import SVRPredictor
    from edgeroam.scenario import scenario_from_dict
    from edgeroam.topology.build import build_topology
    from edgeroam.world import World

    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path))
    sc = scenario_from_dict({"name": "fit", "seed": 3, "topology": {"radius_m": 50.0},
                             "dataset": {"kind": "synthetic", "interval_s": 30.0},
                             "predictor": {"kind": "svr", "history": 3}})
    rng = np.random.default_rng(1)
    n = 60
    xy = np.cumsum(rng.normal(0, 30, (n, 2)), axis=0)
    tr = pd.DataFrame({"user": pd.Categorical(["a"] * (n // 2) + ["b"] * (n // 2)), "traj": 0,
                       "t": np.tile(np.arange(n // 2) * 30.0, 2), "x": xy[:, 0], "y": xy[:, 1]})
    world = World(sc, tr, ["a"], ["b"], build_topology(sc, tr))
    fits = []
    real = SVRPredictor.fit
    monkeypatch.setattr(SVRPredictor, "fit", lambda self, w, y: fits.append(len(w)) or real(self, w, y))
    a = fit_predictor(sc, world, "svr")  # fitted apart (a child process writes the entry), then read
    b = fit_predictor(sc, world, "svr")
    assert fits == [] and len(list(tmp_path.glob("predictor-svr-*.npz"))) == 1
    assert not [f for f in tmp_path.iterdir() if f.name.endswith((".tmp", ".job.npz"))]  # the job is gone
    assert np.array_equal(a.coef_, b.coef_)
    c = fit_predictor(sc, world, "svr", cache=False)  # no cache: fitted here, the same fit
    assert fits == [n // 2 - 3]
    assert np.array_equal(a.coef_, c.coef_) and np.array_equal(a.intercept_, c.intercept_)
