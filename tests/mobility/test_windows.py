"""windows(): shapes, gaps, trajectory boundaries, futile flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.mobility.windows import infer_interval, windows
from edgeroam.topology.hexgrid import HexGrid


def _tr():
    # user a traj 0: 6 samples every 20 s; user a traj 1: 3 samples; user b: 5 samples with a gap after 2
    return pd.DataFrame(
        {
            "user": pd.Categorical(["a"] * 9 + ["b"] * 5),
            "traj": [0] * 6 + [1] * 3 + [0] * 5,
            "t": [0, 20, 40, 60, 80, 100, 500, 520, 540, 0, 20, 100, 120, 140],
            "x": [0.0, 10, 20, 30, 200, 210, 0, 1, 2, 0, 0, 0, 300, 600],
            "y": 0.0,
        }
    ).astype({"t": float})


def test_windows_shapes_and_targets():
    w, y, meta = windows(_tr(), n=3, horizon=1, interval_s=20.0)
    # traj a0: starts 0,1,2 (targets rows 3,4,5); a1: none (3 samples); b: rows 11,12,13 -> none (need 4)
    assert w.shape == (3, 3, 2) and y.shape == (3, 2)
    assert np.allclose(w[0, :, 0], [0, 10, 20]) and np.allclose(y[:, 0], [30, 200, 210])
    assert meta["t"].tolist() == [40.0, 60.0, 80.0] and meta["row"].tolist() == [2, 3, 4]
    assert meta["futile"].tolist() == [True, False, True]
    assert meta["user"].astype(str).tolist() == ["a", "a", "a"]
    g = HexGrid()
    assert (meta["next_cell"].to_numpy() == g.cell_ids_of(y[:, 0], y[:, 1])).all()


def test_windows_horizon_and_gap():
    w = windows(_tr(), n=2, horizon=2, interval_s=20.0)
    assert len(w) == 3  # a0: starts 0..2; a1 and b's part after the gap have only 3 samples (need 4)
    assert (w.meta["t_target"] - w.meta["t"] == 40.0).all()
    w1 = windows(_tr(), n=2, horizon=1, interval_s=20.0).for_users(["b"])
    assert w1.meta["t"].tolist() == [120.0]  # no window spans the gap 20 s -> 100 s
    assert np.allclose(w1.targets[:, 0], [600])


def test_infer_interval_and_users_subset():
    assert infer_interval(_tr()) == 20.0
    w = windows(_tr(), n=2)
    assert w.interval_s == 20.0
    sub = w.for_users(["b"])
    assert set(sub.meta["user"].astype(str)) == {"b"} and len(sub) == sub.windows.shape[0]
    assert len(windows(_tr().iloc[:2], n=5)) == 0
    with pytest.raises(ValueError):
        windows(_tr(), n=0)


def test_nan_breaks_windows():
    tr = _tr()
    tr.loc[1, "x"] = np.nan
    w = windows(tr, n=2, interval_s=20.0)
    assert not np.isnan(w.windows).any() and not np.isnan(w.targets).any()
