"""PerDNN's Table III protocol: top-1/top-2 edge-server accuracy and MAE of a predictor on test users.

Protocol (PerDNN §IV.B.2), as implemented here:

* A prediction is made at every window (n positions one interval t apart) and targets the position one
  interval later. It is **futile** when the user's cell (= edge server) one interval later is the current
  one; only the **non-futile** predictions ("made just before a client moves to another server") are scored.
* **Top-k** for point predictors (SVR, LSTM, baselines): correct when the visited next server is one of the
  k servers closest to the predicted point. For a model that ranks cells (Markov): one of its k most
  probable. The servers are PerDNN's: one per cell visited by any user of the dataset (train and test).
* **MAE** = mean Euclidean distance in metres between predicted and actual next position, over **all**
  predictions (``mae_m``; the paper does not say which set its MAE covers, but on KAIST ours over all
  predictions lands within 0.2 m of its 12.9 / 12.4 m, while over the moves only it is ~4x larger), and
  over the scored non-futile ones (``mae_nonfutile_m``).
* Per user and pooled (pooled = every scored prediction counts once, like the paper's percentages).

Loading the scenario's data and training are `run_table3`'s job below; the models are in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Predictor, check_windows
from edgeroam.topology.hexgrid import HexGrid, unpack_cell_id

__all__ = [
    "Evaluation",
    "PreparedData",
    "evaluate_predictor",
    "futile_mask",
    "PAPER_PARAMS",
    "evaluate_on",
    "nearest_server_cells",
    "predictor_params",
    "prepare_data",
    "run_table3",
    "score_predictions",
    "train_predictor",
]


@dataclass
class Evaluation:
    """Scores of one predictor on one test set.

    Attributes
    ----------
    pooled : dict
        ``predictions``, ``futile``, ``non_futile``, ``futile_ratio``, ``top1``, ``top2`` (percent of
        non-futile), ``mae_m`` (all predictions), ``mae_nonfutile_m``, ``users``.
    per_user : DataFrame
        The same per test user (index = user).
    """

    pooled: dict[str, Any]
    per_user: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: pooled scores and a list of per-user rows."""
        rows = self.per_user.reset_index().to_dict(orient="records")
        return {"pooled": self.pooled, "per_user": [{k: _plain(v) for k, v in r.items()} for r in rows]}


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def futile_mask(windows: np.ndarray, targets: np.ndarray, grid: HexGrid) -> np.ndarray:
    """True where the cell one interval later is the current cell (the prediction cannot help a handover)."""
    cur = grid.cell_ids_of(windows[:, -1, 0], windows[:, -1, 1])
    nxt = grid.cell_ids_of(targets[:, 0], targets[:, 1])
    return cur == nxt


def nearest_server_cells(points: np.ndarray, server_cells: np.ndarray, grid: HexGrid, k: int) -> np.ndarray:
    """Cell ids of the `k` servers whose cell centres are closest to each point, nearest first, ``[N, k]``."""
    from sklearn.neighbors import KDTree

    cells = np.unique(np.asarray(server_cells, dtype=np.int64))
    if len(cells) == 0:
        raise EdgeroamError("no servers to rank")
    q, r = unpack_cell_id(cells)
    cx, cy = grid.center(q, r)
    tree = KDTree(np.stack([cx, cy], axis=1))
    kk = min(k, len(cells))
    _, idx = tree.query(np.asarray(points, dtype=np.float64), k=kk)
    out = np.full((len(points), k), -1, dtype=np.int64)
    out[:, :kk] = cells[idx]
    return out


def score_predictions(
    *,
    windows: np.ndarray,
    targets: np.ndarray,
    users: Sequence[str] | np.ndarray,
    grid: HexGrid,
    points: np.ndarray | None = None,
    ranked_cells: np.ndarray | None = None,
    server_cells: np.ndarray | None = None,
    ks: Sequence[int] = (1, 2),
) -> Evaluation:
    """Score predictions with the Table III protocol.

    Parameters
    ----------
    windows, targets : arrays [N, n, 2], [N, 2]
        What was predicted from, and where the users really were one interval later.
    users : array of str [N]
        User of each window (for per-user scores).
    grid : HexGrid
    points : array [N, 2], optional
        Predicted positions (needed for MAE, and for top-k unless `ranked_cells` is given).
    ranked_cells : array [N, >= max(ks)], optional
        Cells ranked by the model (Markov); top-k uses them instead of the servers nearest to `points`.
    server_cells : array of int64, optional
        Cell ids holding a server (default: every cell visited in `windows` and `targets`).
    """
    windows = check_windows(windows)
    targets = np.asarray(targets, dtype=np.float64)
    users = np.asarray(users).astype(str)
    if points is None and ranked_cells is None:
        raise EdgeroamError("score_predictions needs points or ranked_cells")
    kmax = max(ks)
    nxt = grid.cell_ids_of(targets[:, 0], targets[:, 1])
    futile = futile_mask(windows, targets, grid)
    if ranked_cells is None:
        if server_cells is None:
            server_cells = np.concatenate(
                [grid.cell_ids_of(windows[..., 0].ravel(), windows[..., 1].ravel()), nxt]
            )
        ranked = nearest_server_cells(points, server_cells, grid, kmax)
    else:
        ranked = np.asarray(ranked_cells, dtype=np.int64)[:, :kmax]
    hit = {k: (ranked[:, :k] == nxt[:, None]).any(axis=1) for k in ks}
    err = np.hypot(*(points - targets).T) if points is not None else np.full(len(targets), np.nan)
    frame = pd.DataFrame({"user": users, "futile": futile, "err": err, **{f"hit{k}": hit[k] for k in ks}})
    scored = frame[~frame["futile"]]

    def summary(all_rows: pd.DataFrame, nf: pd.DataFrame) -> dict[str, Any]:
        out: dict[str, Any] = {
            "predictions": int(len(all_rows)),
            "futile": int(all_rows["futile"].sum()),
            "non_futile": int(len(nf)),
            "futile_ratio": float(all_rows["futile"].mean()) if len(all_rows) else float("nan"),
        }
        for k in ks:
            out[f"top{k}"] = float(100.0 * nf[f"hit{k}"].mean()) if len(nf) else float("nan")
        out["mae_m"] = float(all_rows["err"].mean()) if len(all_rows) else float("nan")
        out["mae_nonfutile_m"] = float(nf["err"].mean()) if len(nf) else float("nan")
        return out

    pooled = summary(frame, scored)
    pooled["users"] = int(frame["user"].nunique())
    rows = {u: summary(g, g[~g["futile"]]) for u, g in frame.groupby("user", sort=True)}
    per_user = pd.DataFrame.from_dict(rows, orient="index")
    per_user.index.name = "user"
    return Evaluation(pooled={k: _plain(v) for k, v in pooled.items()}, per_user=per_user)


def evaluate_predictor(
    predictor: Predictor,
    windows: np.ndarray,
    targets: np.ndarray,
    users: Sequence[str] | np.ndarray,
    *,
    grid: HexGrid,
    server_cells: np.ndarray | None = None,
    ks: Sequence[int] = (1, 2),
) -> Evaluation:
    """Predict every window with a fitted `predictor` and score it (see `score_predictions`).

    A predictor with ``predict_cells`` (Markov) is ranked by its own probabilities; the others by the servers
    nearest to their predicted point.
    """
    points = predictor.predict(windows)
    ranked = predictor.predict_cells(windows, k=max(ks))[0] if hasattr(predictor, "predict_cells") else None
    return score_predictions(
        windows=windows,
        targets=targets,
        users=users,
        grid=grid,
        points=points,
        ranked_cells=ranked,
        server_cells=server_cells,
        ks=ks,
    )


# -- a scenario's Table III -------------------------------------------------------------------------------

#: PerDNN §IV.B.2's best LSTM latent size per dataset (other parameters are the predictors' defaults)
PAPER_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "kaist": {"lstm": {"hidden_size": 32}},
    "geolife": {"lstm": {"hidden_size": 16}},
}


@dataclass
class PreparedData:
    """A scenario's windows split by user, with its grid and server cells.

    Attributes
    ----------
    train, test : Windows
        Windows of the train and test users (edgeroam.mobility.Windows: windows, targets, meta).
    grid : HexGrid
    server_cells : ndarray[int64]
        Cells holding an edge server (the scenario's Servers table).
    traces : DataFrame
        The resampled in-region traces the windows were cut from.
    info : dict
        Dataset kind, interval, n, user and window counts.
    """

    train: Any
    test: Any
    grid: HexGrid
    server_cells: np.ndarray
    traces: pd.DataFrame = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)


def prepare_data(
    scenario: Any,
    *,
    n: int | None = None,
    interval_s: float | None = None,
    cache: bool = True,
    traces: pd.DataFrame | None = None,
) -> PreparedData:
    """Load a scenario's traces (region, resampled at t), split its users and cut windows of n positions.

    `interval_s` overrides the scenario's t (and sets ``max_gap_s = 3 t``, the ratio of both PerDNN scenario
    files); `n` overrides ``predictor.history``. `traces` skips loading (already resampled at t).
    """
    from edgeroam.datasets.load import load_dataset
    from edgeroam.datasets.split import split_users
    from edgeroam.mobility.windows import windows
    from edgeroam.topology.build import scenario_grid
    from edgeroam.topology.servers import servers_visited

    d = scenario.dataset
    t = float(interval_s if interval_s is not None else (d.interval_s or 0.0))
    if t <= 0:
        raise EdgeroamError(f"{scenario.name}: dataset.interval_s must be set for the Table III protocol")
    max_gap = d.max_gap_s if interval_s is None else 3.0 * t
    n = int(n if n is not None else scenario.predictor.history)
    if traces is None:
        synthetic = d.synthetic.model_dump() if d.kind == "synthetic" else None
        if synthetic is not None:
            synthetic["area_m"] = tuple(synthetic["area_m"])
        traces = load_dataset(
            d.kind, d.root, region=d.region, interval_s=t, max_gap_s=max_gap, cache=cache,
            synthetic=synthetic, reader=d.reader_options(),
        )
    if len(traces) == 0:
        raise EdgeroamError(f"{scenario.name}: no trace points left after the region and resampling")
    users = sorted(traces["user"].astype(str).unique())
    if d.split.test_users is None:
        raise EdgeroamError(
            f"{scenario.name}: dataset.split.test_users is needed to train and test predictors"
        )
    train_users, test_users = split_users(users, test_users=d.split.test_users, seed=d.split.seed)
    grid = scenario_grid(scenario)
    if scenario.topology.servers == "visited":
        server_cells = servers_visited(grid, traces)["cell"].to_numpy(np.int64)
    else:
        from edgeroam.topology.build import build_topology

        servers = build_topology(scenario, traces, test_users=test_users).servers
        server_cells = servers.loc[servers["tier"] == "edge", "cell"].to_numpy(np.int64)
    w = windows(traces, n=n, grid=grid, interval_s=t)
    train, test = w.for_users(train_users), w.for_users(test_users)
    if len(train) == 0 or len(test) == 0:
        raise EdgeroamError(
            f"{scenario.name}: {len(train)} train and {len(test)} test windows of n={n} at t={t:g} s"
        )
    info = {
        "scenario": scenario.name,
        "dataset": d.kind,
        "interval_s": t,
        "n": n,
        "train_users": len(train_users),
        "test_users": len(test_users),
        "test_users_with_windows": int(test.meta["user"].astype(str).nunique()),
        "train_windows": len(train),
        "test_windows": len(test),
        "servers": len(server_cells),
    }
    return PreparedData(train, test, grid, server_cells, traces, info)


def predictor_params(scenario: Any, kind: str, grid: HexGrid, seed: int) -> dict[str, Any]:
    """Parameters for a predictor of `kind` in `scenario`: PerDNN's per-dataset choices, then the scenario's
    ``predictor.params`` when ``predictor.kind`` is this kind, plus the grid (Markov) and a seed."""
    from edgeroam.predictors import PREDICTORS

    cls = PREDICTORS.get(kind)
    if cls is None:
        raise EdgeroamError(f"unknown predictor {kind!r}; choose one of {', '.join(PREDICTORS)}")
    params: dict[str, Any] = dict(PAPER_PARAMS.get(scenario.dataset.kind, {}).get(kind, {}))
    if scenario.predictor.kind == kind:
        params.update(scenario.predictor.params)
    names = set(cls().get_params())
    if "grid" in names:
        params["grid"] = grid
    if "random_state" in names:
        params.setdefault("random_state", seed)
    return params


def train_predictor(
    kind: str,
    data: PreparedData,
    scenario: Any,
    *,
    params: dict[str, Any] | None = None,
    callback: Callable[[int, int, float], None] | None = None,
) -> tuple[Predictor, float]:
    """Fit a predictor of `kind` on the train windows; returns it and the training time in seconds."""
    import time

    from edgeroam._rng import child_seeds
    from edgeroam.predictors import make_predictor

    seed = child_seeds(scenario.seed, 4)[2]
    p = make_predictor(kind, **{**predictor_params(scenario, kind, data.grid, seed), **(params or {})})
    start = time.perf_counter()
    if kind == "lstm" and callback is not None:
        p.fit(data.train.windows, data.train.targets, callback=callback)
    else:
        p.fit(data.train.windows, data.train.targets)
    return p, time.perf_counter() - start


def evaluate_on(predictor: Predictor, data: PreparedData, ks: Sequence[int] = (1, 2)) -> Evaluation:
    """Score a fitted predictor on the test windows of `data` (servers = the scenario's servers)."""
    t = data.test
    return evaluate_predictor(
        predictor,
        t.windows,
        t.targets,
        t.meta["user"].astype(str).to_numpy(),
        grid=data.grid,
        server_cells=data.server_cells,
        ks=ks,
    )


def run_table3(
    scenario: Any,
    kinds: Sequence[str] = ("markov", "svr", "lstm", "stay", "velocity"),
    *,
    data: PreparedData | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    callback: Callable[[str, int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Train each predictor of `kinds` on the scenario's train users and score it on its test users.

    Returns ``{"info": ..., "results": {kind: {"pooled": ..., "fit_s": ..., "per_user": DataFrame}}}``.
    `callback(kind, epoch, max_epochs, val_loss)` reports LSTM epochs.
    """
    data = data if data is not None else prepare_data(scenario)
    results: dict[str, Any] = {}
    for kind in kinds:
        cb = (lambda e, m, v, _k=kind: callback(_k, e, m, v)) if callback is not None else None
        model, fit_s = train_predictor(kind, data, scenario, params=(params or {}).get(kind), callback=cb)
        ev = evaluate_on(model, data)
        results[kind] = {"pooled": ev.pooled, "fit_s": fit_s, "per_user": ev.per_user}
    return {"info": data.info, "results": results}
