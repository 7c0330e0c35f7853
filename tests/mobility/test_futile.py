"""Futile predictions and a·(p − f)/p on hand-built trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.mobility.futile import (
    PERDNN_INTERVALS,
    benefit_cost,
    benefit_cost_table,
    futile_counts,
    service_range_accuracy,
)
from edgeroam.mobility.windows import windows
from edgeroam.topology.hexgrid import HexGrid


def _walk():
    # one user walking east at 2 m/s for 10 minutes, sampled every second
    t = np.arange(0, 600, 1.0)
    return pd.DataFrame({"user": pd.Categorical(["a"] * len(t)), "traj": 0, "t": t, "x": 2.0 * t, "y": 0.0})


def _resample(tr, step):
    t = np.arange(tr["t"].iloc[0], tr["t"].iloc[-1] + 1e-9, step)
    return pd.DataFrame(
        {
            "user": pd.Categorical(["a"] * len(t)),
            "traj": 0,
            "t": t,
            "x": np.interp(t, tr["t"], tr["x"]),
            "y": 0.0,
        }
    )


def test_benefit_cost_formula():
    assert benefit_cost(0.8, 100, 75) == pytest.approx(0.2)
    assert benefit_cost(0.5, 0, 0) == 0.0
    assert np.allclose(benefit_cost(np.array([1.0, 0.5]), np.array([10, 4]), np.array([5, 1])), [0.5, 0.375])
    assert PERDNN_INTERVALS == (15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0)


def test_futile_counts_exact_on_straight_walk():
    g = HexGrid(50.0)  # pointy: along y = 0, cell boundaries every sqrt(3)*50 = 86.6 m
    counts = futile_counts(_walk(), g, intervals=[15.0, 60.0], n=5, resampler=_resample)
    for t in (15.0, 60.0):
        w = windows(_resample(_walk(), t), n=5, grid=g, interval_s=t)
        last = w.windows[:, -1, 0]
        nxt = w.targets[:, 0]
        # brute force: same cell iff floor((x + 43.3) / 86.6) equal (y = 0 row of pointy cells)
        cell = np.floor((last + g.spacing / 2) / g.spacing)
        ncell = np.floor((nxt + g.spacing / 2) / g.spacing)
        assert counts.loc[t, "p"] == len(w)
        assert counts.loc[t, "f"] == int((cell == ncell).sum())
    # 2 m/s: 30 m in 15 s is usually in the same cell, 120 m in 60 s never
    assert counts.loc[15.0, "futile_ratio"] > 0.5 and counts.loc[60.0, "f"] == 0


def test_accuracy_and_table_with_oracle_and_stay():
    g = HexGrid(50.0)
    w = windows(_resample(_walk(), 30.0), n=5, grid=g, interval_s=30.0)
    assert service_range_accuracy(w.targets, w, g) == 1.0  # the truth is always in range
    stay = w.windows[:, -1]
    assert service_range_accuracy(stay, w, g) < 0.5

    def oracle(ws):
        return ws.targets

    def stay_fp(ws):
        return ws.windows[:, -1]

    tab = benefit_cost_table(_walk(), g, oracle, intervals=[15.0, 30.0, 60.0], resampler=_resample)
    assert (tab["a"] == 1.0).all()
    assert np.allclose(tab["benefit_cost"], 1 - tab["futile_ratio"])
    assert tab["benefit_cost"].idxmax() == 60.0
    tab2 = benefit_cost_table(_walk(), g, stay_fp, intervals=[30.0], resampler=_resample)
    assert tab2.loc[30.0, "benefit_cost"] < tab.loc[30.0, "benefit_cost"]
    with pytest.raises(ValueError):
        service_range_accuracy(np.zeros((1, 2)), w, g)
