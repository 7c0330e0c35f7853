"""`reproduce` sections for table3.md's tables beyond Table III itself (issue 24: no typed table left).

- ``table3-modes``: the transport-mode-aware SVR (`ModeAwareSVRPredictor`) and its two parts alone (speed
  classes, heading frame) beside the plain linear SVR, under the Table III protocol; on Geolife also the
  top-2 per labelled transport mode (labels used only to break the score down). Quick: the KAIST rows.
- ``table3-study``: PerDNN Fig. 6 (`edgeroam.predictors.study.run_study`): the SVR's MAE by history n and
  interval t on Geolife, and the futile ratio, MAE, accuracy a and benefit/cost by t on both datasets.
- ``table3-gaps``: what table3.md's gaps rest on: test moves to and from cells no training window visited
  (where Markov has nothing to go on), and Geolife with the train and test roles of the users swapped.
- ``table3-cost``: training time and prediction throughput of every predictor (`predictor_costs`, also
  what ``benchmarks/predictors.py`` prints): a timing measurement on this machine, with the machine and its
  load in the block's provenance line; no test pins its numbers.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["COST_KINDS", "MODE_VARIANTS", "SWAPPED", "mode_labels", "predictor_costs", "table3_cost",
           "table3_gaps", "table3_modes", "table3_study", "unseen_cells"]

#: (label, predictor kind, parameters): the mode-aware SVR taken apart
MODE_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("linear SVR (PerDNN)", "svr", {}),
    ("+ speed classes only", "svr-mode", {"heading_frame": False}),
    ("+ heading frame only", "svr-mode", {"speed_edges": ()}),
    ("+ both (svr-mode)", "svr-mode", {}),
]
#: predictors compared per labelled mode (top-2 over the moves)
MODE_KINDS = ["svr", "svr-mode", "velocity"]
COST_KINDS = ["markov", "svr", "lstm", "stay", "velocity", "svr-mode"]
#: Geolife with the roles of the users swapped: 92 train, 29 test users (the paper's ratio the other way)
SWAPPED = "dataset.split.test_users=0.242"


def _data(dataset: str) -> tuple[Any, Any]:
    from edgeroam.predictors.evaluate import prepare_data
    from edgeroam.scenario import load_scenario

    sc = load_scenario(f"perdnn-{dataset}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sc, prepare_data(sc)


def mode_labels(meta: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    """The labelled transport mode at each window's last position (``meta`` user, t), "unlabelled" where no
    label interval ``[start, end]`` of that user holds it."""
    out = np.full(len(meta), "unlabelled", dtype=object)
    if len(meta) == 0 or len(labels) == 0:
        return out
    left = pd.DataFrame({"user": meta["user"].astype(str).to_numpy(), "t": meta["t"].to_numpy(float),
                         "i": np.arange(len(meta))}).sort_values("t")
    right = pd.DataFrame({"user": labels["user"].astype(str).to_numpy(),
                          "start": labels["start"].to_numpy(float), "end": labels["end"].to_numpy(float),
                          "mode": labels["mode"].astype(str).to_numpy()}).sort_values("start")
    m = pd.merge_asof(left, right, left_on="t", right_on="start", by="user", direction="backward")
    hit = m["end"].notna().to_numpy() & (m["t"].to_numpy() <= m["end"].to_numpy())
    out[m["i"].to_numpy()[hit]] = m["mode"].to_numpy()[hit]
    return out


def _top2(model: Any, data: Any) -> np.ndarray:
    """Whether the next server is among the 2 servers nearest each test window's predicted point."""
    from edgeroam.predictors.evaluate import nearest_server_cells

    te = data.test
    ranked = nearest_server_cells(model.predict(te.windows), data.server_cells, data.grid, 2)
    return (ranked == te.meta["next_cell"].to_numpy()[:, None]).any(axis=1)


def _per_mode(sc: Any, data: Any) -> pd.DataFrame:
    """Geolife: windows per labelled mode (train, test, test moves) and each of `MODE_KINDS`' top-2 (%)."""
    from edgeroam.datasets.geolife import read_geolife_labels
    from edgeroam.datasets.load import dataset_sources
    from edgeroam.predictors.evaluate import train_predictor

    src, _ = dataset_sources("geolife", sc.dataset.root)
    labels = read_geolife_labels(src)
    train_mode, test_mode = mode_labels(data.train.meta, labels), mode_labels(data.test.meta, labels)
    moves = ~data.test.meta["futile"].to_numpy()
    top2 = {k: _top2(train_predictor(k, data, sc)[0], data) for k in MODE_KINDS}
    modes = sorted(set(test_mode[moves]) - {"unlabelled"}, key=lambda m: -int((test_mode[moves] == m).sum()))
    rows = []
    for mode in [*modes, "unlabelled"]:
        sel = moves & (test_mode == mode)
        rows.append({"mode": mode, "train_windows": int((train_mode == mode).sum()),
                     "test_windows": int((test_mode == mode).sum()), "test_moves": int(sel.sum()),
                     **{f"{k}_top2": round(100 * float(top2[k][sel].mean()), 1) if sel.any() else None
                        for k in MODE_KINDS}})
    return pd.DataFrame(rows)


def table3_modes(ctx: Context) -> Section:
    """table3.md "Beyond PerDNN": speed classes and heading frame, alone and together; Geolife per mode."""
    from edgeroam.predictors.evaluate import evaluate_on, train_predictor

    sec = Section("table3-modes", "Table III beyond PerDNN: a transport-mode-aware SVR",
                  "edgeroam predict evaluate perdnn-DATASET -p svr -p svr-mode (and its parts)")
    rows = []
    for dataset in ["kaist"] if ctx.quick else ["kaist", "geolife"]:
        sc, data = _data(dataset)
        for label, kind, params in MODE_VARIANTS:
            p = evaluate_on(train_predictor(kind, data, sc, params=params)[0], data).pooled
            rows.append({"dataset": dataset, "variant": label, "top1": round(p["top1"], 1),
                         "top2": round(p["top2"], 1), "mae_m": round(p["mae_m"], 1),
                         "mae_moves_m": round(p["mae_nonfutile_m"], 1)})
        if dataset == "geolife":
            sec.tables["table3-modes-geolife"] = _per_mode(sc, data)
    sec.tables["table3-modes"] = pd.DataFrame(rows)
    return sec


def table3_study(ctx: Context) -> Section:
    """table3.md's n and t study (PerDNN Fig. 6): MAE by n and t (Geolife); futility and benefit/cost by t."""
    from edgeroam.predictors.study import run_study
    from edgeroam.scenario import load_scenario

    sec = Section("table3-study", "PerDNN Fig. 6: history n and interval t (linear SVR)",
                  "edgeroam predict study perdnn-DATASET")
    for dataset in ("geolife", "kaist"):
        sc = load_scenario(f"perdnn-{dataset}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = run_study(sc, n_intervals=(15.0, 20.0, 25.0, 30.0) if dataset == "geolife" else ())
        if len(res.by_n):
            piv = res.by_n.pivot(index="n", columns="interval_s", values="mae_m").round(1)
            piv.columns = [f"MAE m, t = {t:g} s" for t in piv.columns]
            sec.tables[f"table3-study-n-{dataset}"] = piv.reset_index()
        bt = res.by_t.reset_index()
        sec.tables[f"table3-study-t-{dataset}"] = pd.DataFrame({
            "interval_s": bt["interval_s"], "predictions": bt["p"].astype(int), "futile": bt["f"].astype(int),
            "futile_ratio": bt["futile_ratio"].round(2), "mae_m": bt["mae_m"].round(1),
            "mae_moves_m": bt["mae_nonfutile_m"].round(1), "a": bt["a"].round(3),
            "benefit_cost": bt["benefit_cost"].round(3), "best": bt["interval_s"] == res.best_t})
        if dataset == "geolife":
            what = "Geolife: interval t with the largest benefit/cost a(p − f)/p"
            sec.items.append(Item("P-F6f", what, 20.0, res.best_t, "s", "linear SVR, n = 5, t = 15 … 60 s"))
    return sec


def unseen_cells(data: Any) -> dict[str, Any]:
    """Of the test moves (non-futile windows): the share whose next cell no training window visited (its
    last position or its target), and the share whose current cell is the last cell of no training window
    (a Markov model then has no context at all and predicts "stay")."""
    tr, te = data.train.meta, data.test.meta
    moves = ~te["futile"].to_numpy()
    visited = np.union1d(tr["cell"].to_numpy(), tr["next_cell"].to_numpy())
    to_new = ~np.isin(te["next_cell"].to_numpy(), visited)
    no_context = ~np.isin(te["cell"].to_numpy(), tr["cell"].to_numpy())
    n = max(int(moves.sum()), 1)
    return {"train_windows": len(tr), "moves": int(moves.sum()),
            "to_unseen_cell_pct": round(100 * float((to_new & moves).sum()) / n, 1),
            "no_markov_context_pct": round(100 * float((no_context & moves).sum()) / n, 1)}


def table3_gaps(ctx: Context) -> Section:
    """table3.md's gaps: unseen cells per dataset; Geolife with train and test users swapped."""
    from edgeroam.predictors.evaluate import run_table3
    from edgeroam.scenario import load_scenario

    sec = Section("table3-gaps", "Table III gaps: unseen cells, and Geolife with the user roles swapped",
                  f"edgeroam predict evaluate perdnn-geolife --set {SWAPPED}")
    rows = []
    for dataset in ("kaist", "geolife"):
        _, data = _data(dataset)
        rows.append({"dataset": dataset, **unseen_cells(data)})
    sec.tables["table3-gaps-cells"] = pd.DataFrame(rows)
    kinds = ["markov", "svr", "lstm", "velocity"]
    sc = load_scenario("perdnn-geolife", [SWAPPED])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = run_table3(sc, kinds)
    info = res["info"]
    pooled = {k: res["results"][k]["pooled"] for k in kinds}
    sec.tables["table3-gaps-swapped"] = pd.DataFrame([
        {"predictor": k, "train_users": info["train_users"], "test_users": info["test_users"],
         "top1": round(p["top1"], 1), "top2": round(p["top2"], 1), "mae_m": round(p["mae_m"], 1)}
        for k, p in pooled.items()])
    return sec


def _median_s(fn: Callable[[], Any], min_s: float = 0.3, max_reps: int = 2000) -> float:
    """Median seconds of one call (repeated until `min_s` has passed, at least 3 times)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < min_s or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def predictor_costs(scenario: str, kinds: list[str]) -> list[dict[str, Any]]:
    """Train each predictor of `kinds` on the train users of `scenario` (a name or file) and time (1) one
    batched prediction of every test window, (2) the emulator's case: one batched call for the users active
    at the busiest tick of the test set, and a batch of 100 windows, per user."""
    from edgeroam.predictors.evaluate import prepare_data, train_predictor
    from edgeroam.scenario import load_scenario

    sc = load_scenario(scenario)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = prepare_data(sc)
    load_s = time.perf_counter() - t0
    test = data.test
    busiest = float(test.meta.groupby("t", observed=True).size().idxmax())
    tick = test.windows[test.meta["t"].to_numpy() == busiest]
    batch = test.windows[:100]
    rows = []
    for kind in kinds:
        model, fit_s = train_predictor(kind, data, sc)
        all_s = _median_s(lambda m=model: m.predict(test.windows), min_s=0.0, max_reps=3)
        tick_s = _median_s(lambda m=model: m.predict(tick))
        batch_s = _median_s(lambda m=model: m.predict(batch))
        rows.append({"dataset": sc.dataset.kind, "predictor": kind, "train_windows": len(data.train),
                     "fit_s": fit_s,
                     "test_windows": len(test), "pred_per_s": len(test) / all_s, "tick_users": len(tick),
                     "tick_us_per_user": 1e6 * tick_s / len(tick),
                     "us_per_user_at_100": 1e6 * batch_s / len(batch), "load_s": load_s,
                     "epochs": getattr(model, "n_epochs_", None),
                     "threads": getattr(model, "num_threads", None)})
    return rows


def table3_cost(ctx: Context) -> Section:
    """table3.md's cost table: training and prediction time of every predictor (a timing measurement)."""
    sec = Section("table3-cost", "Predictors: training and prediction time (timing; varies by machine)",
                  "python benchmarks/predictors.py")
    load0 = os.getloadavg()[0]
    rows = [r for ds in ("kaist", "geolife") for r in predictor_costs(f"perdnn-{ds}", COST_KINDS)]
    t = pd.DataFrame([{
        "dataset": r["dataset"], "predictor": r["predictor"], "epochs": r["epochs"],
        "train_windows": r["train_windows"], "fit_s": round(r["fit_s"], 2),
        "pred_per_s": int(r["pred_per_s"]),
        "tick_users": r["tick_users"], "tick_us_per_user": round(r["tick_us_per_user"], 1),
        "us_per_user_at_100": round(r["us_per_user_at_100"], 1)} for r in rows], dtype=object)
    t.attrs["info"] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                       "loadavg_at_start": round(load0, 2),
                       "lstm_torch_threads": next(r["threads"] for r in rows if r["predictor"] == "lstm")}
    sec.tables["table3-cost"] = t
    return sec
