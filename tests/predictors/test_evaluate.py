"""The Table III protocol on hand-made trajectories with known futile / non-futile counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.mobility.windows import windows
from edgeroam.predictors import ConstantVelocityPredictor, MarkovPredictor, StayPredictor
from edgeroam.predictors.evaluate import (
    evaluate_predictor,
    futile_mask,
    nearest_server_cells,
    score_predictions,
)
from edgeroam.topology.hexgrid import HexGrid, cell_id

GRID = HexGrid(radius=50.0)
SPACING = GRID.spacing  # 86.6 m between adjacent centres along x (pointy)


def _traces():
    """User u1 walks east along r = 0 at SPACING/2 per 30 s tick from SPACING/4 (a new cell every second tick,
    never on a cell border);
    user u2 stands still at the centre of cell (5, 5); u3 has a gap that breaks its trajectory."""
    rows = []
    for i in range(12):
        rows.append(("u1", 0, 30.0 * i, SPACING / 4 + i * SPACING / 2, 0.0))
    cx, cy = GRID.center(5, 5)
    for i in range(8):
        rows.append(("u2", 0, 30.0 * i, float(cx), float(cy)))
    for i, t in enumerate([0, 30, 60, 200, 230, 260]):
        rows.append(("u3", 0, float(t), 1000.0 + 10 * i, 0.0))
    df = pd.DataFrame(rows, columns=["user", "traj", "t", "x", "y"])
    df["user"] = df["user"].astype("category")
    return df


def _windows():
    return tuple(windows(_traces(), n=3, grid=GRID, interval_s=30.0))


def test_windows_respect_trajectories_and_gaps():
    w, y, meta = _windows()
    counts = meta["user"].astype(str).value_counts().to_dict()
    assert counts == {"u1": 9, "u2": 5}  # u3: no 4 consecutive samples one interval apart
    assert w.shape == (14, 3, 2) and y.shape == (14, 2)
    first = meta.index[meta["user"] == "u1"][0]
    np.testing.assert_allclose(w[first, :, 0], np.array([1, 3, 5]) * SPACING / 4)
    np.testing.assert_allclose(y[first], [7 * SPACING / 4, 0.0])
    assert meta.loc[first, "t"] == 60.0


def test_futile_counts_and_stay_scores():
    w, y, meta = _windows()
    futile = futile_mask(w, y, GRID)
    # u1: positions S/4 + k·S/2 lie in cell floor((k + 1) / 2): the cell changes at k = 1, 3, 5, ...
    # windows end at k = 2..10 and target k+1: a move when k+1 is odd -> k = 2,4,6,8,10 -> 5 non-futile of 9
    np.testing.assert_array_equal(futile, meta["futile"].to_numpy())  # same rule as mobility.windows
    u1 = (meta["user"] == "u1").to_numpy()
    assert int((~futile[u1]).sum()) == 5 and int(futile[u1].sum()) == 4
    assert futile[~u1].all()  # u2 never moves
    ev = evaluate_predictor(StayPredictor().fit(w, y), w, y, meta["user"], grid=GRID)
    assert ev.pooled["predictions"] == 14 and ev.pooled["non_futile"] == 5 and ev.pooled["futile"] == 9
    assert ev.pooled["top1"] == 0.0  # staying never names the next server on a move
    assert ev.pooled["top2"] == 100.0  # the next cell is the 2nd-nearest server to the current point
    assert ev.pooled["mae_nonfutile_m"] == pytest.approx(SPACING / 2)
    assert ev.pooled["mae_m"] == pytest.approx(9 / 14 * SPACING / 2)  # u2 stands still: error 0
    assert ev.per_user.loc["u2", "non_futile"] == 0 and np.isnan(ev.per_user.loc["u2", "top1"])
    assert ev.per_user.loc["u1", "predictions"] == 9


def test_constant_velocity_hits_every_move():
    w, y, meta = _windows()
    ev = evaluate_predictor(ConstantVelocityPredictor().fit(w, y), w, y, meta["user"], grid=GRID)
    assert ev.pooled["top1"] == 100.0 and ev.pooled["mae_m"] == pytest.approx(0.0, abs=1e-9)


def test_markov_is_ranked_by_its_own_probabilities():
    w, y, meta = _windows()
    m = MarkovPredictor(grid=GRID).fit(w, y)
    ev = evaluate_predictor(m, w, y, meta["user"], grid=GRID)
    assert ev.pooled["non_futile"] == 5
    assert 0.0 <= ev.pooled["top1"] <= ev.pooled["top2"] <= 100.0
    # the evaluation uses exactly predict_cells' ranking
    cells, _ = m.predict_cells(w, k=2)
    nxt = GRID.cell_ids_of(y[:, 0], y[:, 1])
    nf = ~futile_mask(w, y, GRID)
    assert ev.pooled["top2"] == pytest.approx(100 * (cells[nf] == nxt[nf, None]).any(axis=1).mean())


def test_nearest_servers_only_among_server_cells():
    servers = np.array([cell_id(0, 0), cell_id(3, 0)])
    near = nearest_server_cells(np.array([[2.0 * SPACING, 0.0]]), servers, GRID, k=3)
    assert near[0].tolist() == [cell_id(3, 0), cell_id(0, 0), -1]


def test_score_needs_a_prediction():
    w, y, meta = _windows()
    with pytest.raises(Exception, match="points or ranked_cells"):
        score_predictions(windows=w, targets=y, users=meta["user"], grid=GRID)


def test_to_dict_is_json_able():
    import json

    w, y, meta = _windows()
    ev = evaluate_predictor(StayPredictor().fit(w, y), w, y, meta["user"], grid=GRID)
    data = json.loads(json.dumps(ev.to_dict()))
    assert data["pooled"]["non_futile"] == 5 and len(data["per_user"]) == 2
