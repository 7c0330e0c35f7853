"""`reproduce` sections that settle issue 25's items 6-9: beat the paper at equal bytes *and* storage, what
Table III really shows, the missing PerDNN items (Fig. 1, fractional migration on Geolife) and EosDNN's
AlexNet compute.

- ``honest-beat``: candidate policies on 3 validation folds of the Geolife train users, with the storage
  each holds (``summary["storage"]``); the rule picks the largest hit ratio at migrated bytes *and* GB·hours
  no larger than perdnn's (TTL 5) on the same folds; the chosen one and every reference row then run once on
  the test users.
- ``honest-table3``: top-1/top-2 and MAE of the Table III predictors and the two baselines by speed class of
  the window and at longer horizons (the interval t doubled and quadrupled).
- ``honest-fig1``, ``honest-fractional``, ``honest-eosdnn``: see their docstrings.

Every pass is cached as JSON under ``<out>/honest/`` (keyed by what it ran, remade when the code changed), so
a rerun picks up where it stopped. What it leaves to others: the simulation (emulator), the predictors, the
doc blocks (docs.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.emulator.rundir import code_digest
from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["BEAT_CANDIDATES", "BEAT_TEST", "alexnet_variants", "beat_rows", "choose", "fig1_timeline",
           "honest_beat", "honest_eosdnn", "honest_fig1", "honest_fractional", "honest_table3"]

#: a candidate: a label and the policy's registry name with parameters (``set_params``)
Candidate = tuple[str, str, dict[str, Any]]

LRU2 = {"ttl_intervals": 0, "server_plans": 2}
#: what the rule chooses from (3 folds of the Geolife train users), fixed before any test-user run
BEAT_CANDIDATES: list[Candidate] = [
    ("perdnn", "perdnn", {}),
    ("perdnn-prob τ=0.1", "perdnn-prob", {"tau": 0.1}),
    ("perdnn-rank τ=0.11 keep 300 m", "perdnn-rank", {}),
    ("perdnn-rank τ=0.11 keep 300 m TTL 4", "perdnn-rank", {"ttl_intervals": 4}),
    ("perdnn-rank τ=0.11 no keep", "perdnn-rank", {"keep_m": 0.0}),
    ("perdnn-rank τ=0.11 no keep TTL 7", "perdnn-rank", {"keep_m": 0.0, "ttl_intervals": 7}),
    ("perdnn-rank τ=0.13 no keep TTL 7", "perdnn-rank", {"tau": 0.13, "keep_m": 0.0, "ttl_intervals": 7}),
    ("perdnn-rank τ=0.16 no keep TTL 7", "perdnn-rank", {"tau": 0.16, "keep_m": 0.0, "ttl_intervals": 7}),
    ("perdnn-rank τ=0.2 no keep TTL 7", "perdnn-rank", {"tau": 0.2, "keep_m": 0.0, "ttl_intervals": 7}),
    ("perdnn-forward LRU C=2", "perdnn-forward", LRU2),
]
#: rows run on the test users besides the chosen one: the earlier headlines (beat-the-paper.md)
BEAT_TEST: list[Candidate] = [
    ("perdnn", "perdnn", {}),
    ("perdnn-forward LRU C=2", "perdnn-forward", LRU2),
    ("perdnn-rank τ=0.11 keep 300 m", "perdnn-rank", {}),
    ("perdnn LRU C=2", "perdnn", LRU2),
]
PAPER_HIT = 70.0  # TARGETS P-F9d: Geolife hit ratio at r = 100


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(ctx: Context, key: str, make) -> dict[str, Any]:
    """The JSON result stored under ``<out>/honest/<key>.json``, made (and stored) when missing or made by
    other code (the file records the `code_digest` of the code that made it)."""
    path = Path(ctx.out) / "honest" / f"{key}.json"
    code = code_digest()
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(stored, dict) and set(stored) == {"code", "result"} and stored["code"] == code:
            return stored["result"]
    res = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"code": code, "result": res}, default=float), encoding="utf-8")
    tmp.replace(path)
    return res


def _holding(params: dict[str, Any]) -> str:
    if params.get("ttl_intervals") == 0:
        return f"LRU, C = {params.get('server_plans')}"
    return f"TTL {params.get('ttl_intervals', 5)}"


def _pass_summary(prep: Any, sc: Any, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    from edgeroam.emulator.master import run_pass
    from edgeroam.emulator.policies import policy_from_scenario

    s = run_pass(prep, policy_from_scenario(sc, kind).set_params(**params)).summary
    st = s["storage"]
    return {"hits": s["hits"], "partial": s["partial_hits"], "misses": s["misses"],
            "changes": s["cold_starts"],
            "migrated_bytes": s["backhaul"]["migrated_bytes"], "queries": s["executed_queries"],
            "gb_hours": st["gb_hours"], "copies_mean": st["copies_mean"], "copies_peak": st["copies_peak"],
            "bytes_mean": st["bytes_mean"], "bytes_peak": st["bytes_peak"], "horizon_s": st["horizon_s"],
            "peak_per_server": (s["memory"] or {}).get("peak_held_per_server"),
            "plan_bytes": s["plan"]["plan_bytes"]}


def beat_rows(ctx: Context, dataset: str, candidates: list[Candidate], folds: int) -> list[dict[str, Any]]:
    """Each candidate's counts summed over `folds` validation folds of the train users (0: the test users).

    Folds: the train users shuffled with seed 11 and dealt into `folds` groups; each group is replayed with
    the predictor (and any learned policy) fitted on the other train users. Storage over folds: GB·hours and
    copy-hours add up, peaks are the largest of any fold.
    """
    from edgeroam._rng import as_generator
    from edgeroam.emulator.prepare import prepare
    from edgeroam.scenario import load_scenario
    from edgeroam.world import load_world

    sc = load_scenario(f"perdnn-{dataset}", ['dnn.model="inception"'])
    state: dict[str, Any] = {}

    def worlds() -> list[Any]:
        if "worlds" not in state:
            world = load_world(sc)
            if folds:
                users = sorted(world.train_users)
                as_generator(11).shuffle(users)
                state["worlds"] = [dataclasses.replace(
                    world, train_users=sorted(set(users) - set(users[k::folds])),
                    test_users=sorted(users[k::folds])) for k in range(folds)]
            else:
                state["worlds"] = [world]
        return state["worlds"]

    def prep(k: int) -> Any:
        if state.get("k") != k:
            state["prep"] = None  # free the previous fold's replay first
            state["prep"] = prepare(sc, world=worlds()[k])
            state["k"] = k
        return state["prep"]

    done = {(k, i): _cached(ctx, _key("beat", dataset, folds, k, kind, params),
                            lambda k=k, kind=kind, params=params: _pass_summary(prep(k), sc, kind, params))
            for k in range(max(folds, 1)) for i, (_label, kind, params) in enumerate(candidates)}
    state.clear()
    rows = []
    for i, (label, kind, params) in enumerate(candidates):
        parts = [done[(k, i)] for k in range(max(folds, 1))]
        tot = {f: sum(p[f] for p in parts) for f in ("hits", "partial", "misses", "changes", "migrated_bytes",
                                                     "queries", "gb_hours")}
        tot["copy_hours"] = sum(p["copies_mean"] * p["horizon_s"] / 3600.0 for p in parts)
        rows.append({"label": label, "kind": kind, "params": params, **tot,
                     "copies_peak": max(p["copies_peak"] for p in parts),
                     "bytes_mean": sum(p["bytes_mean"] for p in parts),
                     "bytes_peak": max(p["bytes_peak"] for p in parts),
                     "peak_per_server": max((p["peak_per_server"] or 0) for p in parts),
                     "plan_bytes": parts[0]["plan_bytes"]})
    return rows


def _hit(r: dict[str, Any]) -> float:
    return 100.0 * r["hits"] / max(r["hits"] + r["misses"], 1)


def choose(rows: list[dict[str, Any]], reference: str = "perdnn") -> dict[str, Any]:
    """The rule: among the rows with migrated bytes and GB·hours no larger than `reference`'s, the largest
    hit ratio (ties: fewer bytes)."""
    ref = next(r for r in rows if r["label"] == reference)
    ok = [r for r in rows
          if r["migrated_bytes"] <= ref["migrated_bytes"] and r["gb_hours"] <= ref["gb_hours"]]
    return max(ok, key=lambda r: (_hit(r), -r["migrated_bytes"]))


def _table(rows: list[dict[str, Any]], chosen: str | None) -> pd.DataFrame:
    """The doc table: hit ratio, bytes and storage of each row beside the reference (perdnn, TTL 5).

    Storage: copy-hours and GB·hours over the replay (summed over folds), the mean GB held (summed over
    folds: as if they ran side by side) and the peak copies and GB held at one instant (largest fold).
    ``goal``: above PerDNN's 70 % with bytes and GB·hours no larger than perdnn's. ``mb_per_hit``: migrated MB
    per hit; the info line: the MB (and plans) per hit that perdnn's bytes allow at 70 % of its changes."""
    ref = next(r for r in rows if r["label"] == "perdnn")
    out = []
    for r in rows:
        hit = _hit(r)
        byt = r["migrated_bytes"] / ref["migrated_bytes"]
        sto = r["gb_hours"] / ref["gb_hours"]
        out.append({
            "policy": r["label"] + (" (chosen)" if r["label"] == chosen else ""),
            "holding": _holding(r["params"]),
            "hit_pct": round(hit, 1),
            "hits": int(r["hits"]), "partial": int(r["partial"]), "misses": int(r["misses"]),
            "executed_queries": int(r["queries"]),
            "migrated_gb": round(r["migrated_bytes"] / 1e9, 1),
            "bytes_vs_perdnn_pct": round(100 * byt),
            "mb_per_hit": round(r["migrated_bytes"] / 1e6 / max(r["hits"], 1), 1),
            "copy_hours": round(r["copy_hours"]),
            "copies_peak": int(r["copies_peak"]),
            "storage_gb_mean": round(r["bytes_mean"] / 1e9, 1),
            "storage_gb_peak": round(r["bytes_peak"] / 1e9, 1),
            "gb_hours": round(r["gb_hours"], 1),
            "storage_vs_perdnn_pct": round(100 * sto),
            "goal": "yes" if hit > PAPER_HIT and byt <= 1 and sto <= 1 else "no",
        })
    t = pd.DataFrame(out)
    # the byte budget of the goal: perdnn's bytes spread over hits on 70 % of its server changes
    budget = ref["migrated_bytes"] / 1e6 / (PAPER_HIT / 100 * ref["changes"])
    t.attrs["info"] = {"mb_per_hit_at_perdnn_bytes_and_70_pct": round(budget, 1),
                       "plans_per_hit_at_perdnn_bytes_and_70_pct": round(budget * 1e6 / ref["plan_bytes"], 2)}
    return t


def honest_beat(ctx: Context) -> Section:
    """Item 6: above 70 % at perdnn's bytes and storage, chosen on train folds, run on the test users."""
    sec = Section(
        "honest-beat",
        "beat-the-paper at equal bytes and storage (Geolife, r = 100, Inception, SVR)",
        "edgeroam reproduce perdnn --only honest-beat --docs",
    )
    folds = beat_rows(ctx, "geolife", BEAT_CANDIDATES, 3)
    pick = choose(folds)
    known = {c[0] for c in BEAT_TEST}
    chosen = [(pick["label"], pick["kind"], pick["params"])] * (pick["label"] not in known)
    test_set = BEAT_TEST[:1] + chosen + BEAT_TEST[1:]  # the reference, the chosen one, then the rest
    test = beat_rows(ctx, "geolife", test_set, 0)
    sec.tables["honest-beat-folds"] = _table(folds, pick["label"])
    sec.tables["honest-beat-test"] = _table(test, pick["label"])
    got = next(r for r in test if r["label"] == pick["label"])
    sec.items.append(Item("P-F9d", f"Geolife hit ratio at r = 100, {pick['label']} (chosen on train folds at "
                          "perdnn's bytes and storage)", PAPER_HIT, round(_hit(got), 1), "%",
                          "a variant beyond PerDNN's policy"))
    return sec


# ------------------------------------------------------------------------------------------------ table3
T3_KINDS = ["markov", "svr", "lstm", "stay", "velocity"]
#: speed of a window's last step (m/s): the class edges and names
SPEED_EDGES = [0.0, 0.2, 1.0, 2.0, 6.0, math.inf]
SPEED_NAMES = ["paused < 0.2", "0.2-1", "1-2", "2-6", "> 6"]
HORIZONS = [1, 2, 4]


def _t3_scores(data: Any, sc: Any, h: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Fit every predictor of `T3_KINDS` for targets `h` intervals ahead; per test window: whether the next
    server is the top-1 / in the top-2 (``<kind>_top1``, ``_top2``) and the error (``<kind>_err``); the
    futile mask (same cell `h` intervals later) and the last step's speed (m/s)."""
    from edgeroam.predictors.evaluate import futile_mask, nearest_server_cells, train_predictor

    te = data.test
    w, y = te.windows, te.targets
    nxt = data.grid.cell_ids_of(y[:, 0], y[:, 1])
    futile = futile_mask(w, y, data.grid)
    speed = np.hypot(*(w[:, -1] - w[:, -2]).T) / float(data.info["interval_s"])
    out: dict[str, np.ndarray] = {}
    for kind in T3_KINDS:
        model, _ = train_predictor(kind, data, sc, params={"steps": float(h)} if kind == "velocity" else None)
        points = model.predict(w)
        if hasattr(model, "predict_cells"):
            ranked = model.predict_cells(w, k=2)[0]
        else:
            ranked = nearest_server_cells(points, data.server_cells, data.grid, 2)
        out[f"{kind}_top1"] = ranked[:, 0] == nxt
        out[f"{kind}_top2"] = (ranked[:, :2] == nxt[:, None]).any(axis=1)
        out[f"{kind}_err"] = np.hypot(*(points - y).T)
    return out, futile, speed


def _t3_row(res: dict[str, np.ndarray], moves: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """top-1 and top-2 (%) of every predictor over the windows `moves`, MAE (m) over the windows `rows`."""
    def pct(v: np.ndarray) -> float | None:
        return round(100 * float(v[moves].mean()), 1) if moves.any() else None

    out: dict[str, Any] = {f"{k}_top1": pct(res[f"{k}_top1"]) for k in T3_KINDS}
    out.update({f"{k}_top2": pct(res[f"{k}_top2"]) for k in T3_KINDS})
    out.update({f"{k}_mae_m": round(float(res[f"{k}_err"][rows].mean()), 1) if rows.any() else None
                for k in ("svr", "lstm", "stay", "velocity")})
    return out


def _t3_dataset(ctx: Context, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """By speed class (h = 1) and by horizon: top-1 / top-2 of the non-futile test windows, MAE (m)."""
    from edgeroam.mobility.windows import windows
    from edgeroam.predictors.evaluate import prepare_data
    from edgeroam.scenario import load_scenario

    def run() -> dict[str, Any]:
        sc = load_scenario(f"perdnn-{dataset}")
        base = prepare_data(sc)
        train_users = sorted(base.train.meta["user"].astype(str).unique())
        test_users = sorted(base.test.meta["user"].astype(str).unique())
        t = float(base.info["interval_s"])
        speed_rows, horizon_rows = [], []
        for h in HORIZONS:
            wh = windows(base.traces, n=int(base.info["n"]), horizon=h, grid=base.grid, interval_s=t)
            data = dataclasses.replace(base, train=wh.for_users(train_users), test=wh.for_users(test_users))
            res, futile, speed = _t3_scores(data, sc, h)
            moves = ~futile
            horizon_rows.append({"horizon_s": h * t, "windows": int(len(futile)), "moves": int(moves.sum()),
                                 **_t3_row(res, moves, np.ones(len(futile), bool))})
            if h != 1:
                continue
            cls = np.digitize(speed, SPEED_EDGES[1:-1])
            for c, name in enumerate(SPEED_NAMES):
                m = moves & (cls == c)
                speed_rows.append({
                    "speed_m_s": name, "windows": int((cls == c).sum()), "moves": int(m.sum()),
                    "moves_pct": round(100 * float(m.sum()) / max(int(moves.sum()), 1), 1),
                    **_t3_row(res, m, cls == c)})
        return {"speed": speed_rows, "horizon": horizon_rows}

    got = _cached(ctx, _key("table3", dataset, T3_KINDS, SPEED_EDGES[:-1], HORIZONS), run)
    return pd.DataFrame(got["speed"]), pd.DataFrame(got["horizon"])


#: table3.md's alternatives: (label, predictor, parameters)
T3_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("SVR linear, displacement target, squared ε-loss (default)", "svr", {}),
    ("SVR linear, absolute positions (PerDNN literal)", "svr", {"target": "absolute"}),
    ("SVR linear, L1 ε-loss (dual liblinear)", "svr", {"loss": "epsilon_insensitive"}),
    ("SVR rbf (5,000-window subset)", "svr", {"kernel": "rbf"}),
    ("SVR poly, degree 3 (5,000-window subset)", "svr", {"kernel": "poly"}),
    ("LSTM, absolute positions", "lstm", {"target": "absolute"}),
]


def _t3_variants(ctx: Context, dataset: str) -> list[dict[str, Any]]:
    """top-1 / top-2 (non-futile test windows) and MAE (all) of each of `T3_VARIANTS` (Table III protocol)."""
    from edgeroam.predictors.evaluate import prepare_data, score_predictions, train_predictor
    from edgeroam.scenario import load_scenario

    def run() -> list[dict[str, Any]]:
        sc = load_scenario(f"perdnn-{dataset}")
        data = prepare_data(sc)
        te = data.test
        out = []
        for label, kind, params in T3_VARIANTS:
            model, _ = train_predictor(kind, data, sc, params=params)
            # predicted in slices: a kernel SVR's test-by-support-vector matrix of all Geolife windows at
            # once took more than 8 GB
            points = np.concatenate([model.predict(te.windows[i:i + 4096])
                                     for i in range(0, len(te.windows), 4096)])
            p = score_predictions(windows=te.windows, targets=te.targets,
                                  users=te.meta["user"].astype(str).to_numpy(), grid=data.grid, points=points,
                                  server_cells=data.server_cells).pooled
            out.append({"variant": label, "top1": round(p["top1"], 1), "top2": round(p["top2"], 1),
                        "mae_m": round(p["mae_m"], 1)})
        return out

    return _cached(ctx, _key("table3-variants", dataset, T3_VARIANTS), run)


def honest_table3(ctx: Context) -> Section:
    """Item 7: where the learned predictors beat stay / constant velocity (speed class, longer horizons)."""
    sec = Section(
        "honest-table3",
        "Table III by speed class and horizon: stay and constant velocity against the learned predictors",
        "edgeroam reproduce perdnn --only honest-table3 --docs",
    )
    variants = {}
    for dataset in ("kaist", "geolife"):
        speed, horizon = _t3_dataset(ctx, dataset)
        sec.tables[f"honest-table3-speed-{dataset}"] = speed
        sec.tables[f"honest-table3-horizon-{dataset}"] = horizon
        variants[dataset] = _t3_variants(ctx, dataset)
    sec.tables["honest-table3-variants"] = pd.DataFrame([
        {"variant": k["variant"], **{f"{ds}_{c}": variants[ds][i][c] for ds in variants
                                     for c in ("top1", "top2", "mae_m")}}
        for i, k in enumerate(variants["kaist"])])
    return sec


# ------------------------------------------------------------------------------------------------ item 8
FIG1_QUERIES = 40
FIG1_CHANGE = 21  # the paper's client changes server at the 21st query


def fig1_timeline(model: str = "inception_21k") -> pd.DataFrame:
    """PerDNN Fig. 1: IONN's execution time of 40 consecutive queries (0.5 s apart) when the client changes
    server at the 21st query: it uploads IONN's order to server 0 from the first query, then starts from
    scratch at server 1 (ODROID XU4 client, Titan Xp server, 35 / 50 Mbit/s)."""
    from edgeroam.emulator.planning.query import server_change_timeline
    from edgeroam.emulator.planning.summary import model_problem
    from edgeroam.emulator.planning.upload import ORDERS

    prob = model_problem(model, "odroid-xu4", "titan-xp", 35.0, 50.0)
    order = ORDERS["ionn"](prob)
    far = 1e5
    alone = server_change_timeline(prob, order, change_at_s=far, horizon_s=far, query_gap_s=0.5)
    if len(alone) < FIG1_QUERIES:
        raise ValueError(f"{model}: only {len(alone)} queries in {far:g} s")
    change = float(alone["start_s"].iat[FIG1_CHANGE - 1])
    tl = server_change_timeline(prob, order, change_at_s=change, horizon_s=far, query_gap_s=0.5)
    tl = tl.iloc[:FIG1_QUERIES].reset_index(drop=True)
    return pd.DataFrame({"query": np.arange(1, len(tl) + 1), "start_s": tl["start_s"].round(2),
                         "server": tl["server"].astype(int), "latency_s": tl["latency_s"].round(3)})


def honest_fig1(ctx: Context) -> Section:
    """Item 8: PerDNN Fig. 1 (IONN, Inception 21k, 40 queries, server change at the 21st)."""
    sec = Section("honest-fig1", "PerDNN Fig. 1: IONN's query time across a server change",
                  "edgeroam reproduce perdnn --only honest-fig1 --docs")
    tl = fig1_timeline()
    sec.tables["honest-fig1"] = tl
    lat = tl["latency_s"].to_numpy()
    sec.items.append(Item("P-F1d", "1st query: all layers local, the slowest before the change (s)", None,
                          float(lat[0]), "s", f"query {FIG1_CHANGE - 1}: {lat[FIG1_CHANGE - 2]:.3f} s"))
    jump = round(float(lat[FIG1_CHANGE - 1] / lat[FIG1_CHANGE - 2]), 2)
    what = f"query {FIG1_CHANGE} (first at the new server) over query {FIG1_CHANGE - 1}"
    sec.items.append(Item("P-F1b", what, None, jump, "×", "the paper: execution time 'soared' there"))
    return sec


def honest_fractional(ctx: Context) -> Section:
    """Item 8: crowded servers and fractional migration on Geolife (Inception; the paper shows only KAIST)."""
    from edgeroam.emulator.prepare import prepare
    from edgeroam.emulator.run import run_prepared
    from edgeroam.scenario import load_scenario
    from edgeroam.world import load_world

    sec = Section("honest-fractional", "Crowded servers and fractional migration on Geolife (Inception)",
                  "edgeroam run perdnn-geolife --policy fractional --set dnn.model=\"inception\"")
    sc = load_scenario("perdnn-geolife", ['dnn.model="inception"'])

    def run() -> dict[str, Any]:
        s = run_prepared(prepare(sc, load_world(sc)), "fractional").summary
        return {k: s[k] for k in ("hit_ratio", "executed_queries", "fractional", "backhaul", "storage",
                                  "servers")}

    s = _cached(ctx, _key("fractional", "geolife", "inception"), run)
    fr, bh = s["fractional"], s["backhaul"]
    before, after = fr["perdnn_peak_up_mbps"], bh["peak_up_mbps"]
    q0, q1 = fr["perdnn_executed_queries"], s["executed_queries"]
    sec.tables["honest-fractional"] = pd.DataFrame([{
        "servers": s["servers"], "crowded": len(fr["crowded"]),
        "crowded_pct": round(100 * len(fr["crowded"]) / s["servers"], 1), "paper_crowded": 86,
        "budget_mb": round(fr["fraction_bytes"] / 1e6, 1),
        "peak_whole_mbps": round(before, 1), "peak_fraction_mbps": round(after, 1),
        "reduction_pct": round(100 * (before - after) / before, 1),
        "query_loss_pct": round(100 * (q0 - q1) / q0, 2), "hit_fraction_pct": round(100 * s["hit_ratio"], 1),
        "migrated_gb": round(bh["migrated_bytes"] / 1e9), "storage_gb_hours": round(s["storage"]["gb_hours"]),
    }])
    sec.items.append(Item("P-D6", "Geolife: the 5-7 % most crowded servers (count)", 86.0,
                          float(len(fr["crowded"])), "", f"{s['servers']} servers here"))
    return sec


# ------------------------------------------------------------------------------------------------ item 9
def _torchvision_alexnet(classes: int = 1000):
    """torchvision's AlexNet (64-192-384-256-256 channels, 224 px input), built here without torchvision."""
    from torch import nn

    def cr(i: int, o: int, k: int, s: int, p: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, k, s, p), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *cr(3, 64, 11, 4, 2), nn.MaxPool2d(3, 2), *cr(64, 192, 5, 1, 2), nn.MaxPool2d(3, 2),
        *cr(192, 384, 3, 1, 1), *cr(384, 256, 3, 1, 1), *cr(256, 256, 3, 1, 1), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(), nn.Linear(256 * 36, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, classes),
    )


def alexnet_variants() -> pd.DataFrame:
    """Parameters, MiB and multiply-adds (conv and fc, from the layer graphs' FLOPs) of three AlexNets beside
    EosDNN Table IV's (62.1 M, 0.7 GFLOPs, 237 MB): our zoo's caffe AlexNet without groups (what EosDNN's
    Table V sizes describe), Krizhevsky's two-tower one (groups in conv2, conv4, conv5) and torchvision's.
    ``graph_gflops``: all FLOPs of the layer graph (2 per multiply-add, plus bias, ReLU, LRN and pooling),
    which the EosDNN workload takes as each layer's CPU cycles (`planning.eosdnn`)."""
    import torch

    from edgeroam.emulator.dnn.graph import layer_graph
    from edgeroam.emulator.dnn.zoo import model_graph

    graphs = [("alexnet (zoo: caffe, ungrouped; EosDNN Table V sizes)", model_graph("alexnet")),
              ("alexnet_parallel (zoo: two towers, grouped conv2/4/5)", model_graph("alexnet_parallel")),
              ("torchvision AlexNet (64-192-384-256-256, 224 px)",
               layer_graph(_torchvision_alexnet().eval(), torch.zeros(1, 3, 224, 224), "alexnet_tv"))]
    rows = []
    for label, g in graphs:
        lay = g.layers
        w = lay["op"].isin(["conv", "fc"])
        params = int(lay["weight_bytes"].sum()) // 4
        macs = float(lay.loc[w, "flops"].sum()) / 2  # FLOPs = 2 × MACs (+ a bias add per output)
        rows.append({"model": label, "params_m": round(params / 1e6, 2),
                     "mib": round(int(lay["weight_bytes"].sum()) / 2**20, 1),
                     "gmacs": round(macs / 1e9, 3), "gmacs_over_paper": round(macs / 1e9 / 0.7, 2),
                     "graph_gflops": round(float(lay["flops"].sum()) / 1e9, 3),
                     "graph_gflops_over_paper": round(float(lay["flops"].sum()) / 1e9 / 0.7, 2)})
    return pd.DataFrame(rows)


def honest_eosdnn(ctx: Context) -> Section:
    """Item 9: EosDNN's AlexNet compute against Table IV's 0.7 GFLOPs, by measurement of three variants."""
    sec = Section("honest-eosdnn", "EosDNN AlexNet compute: which AlexNet gives 0.7 GFLOPs",
                  "edgeroam reproduce perdnn --only honest-eosdnn --docs")
    t = alexnet_variants()
    sec.tables["honest-eosdnn-alexnet"] = t
    sec.items.append(Item("E-T4", "AlexNet multiply-adds of the Table V (ungrouped) AlexNet (G)", 0.7,
                          float(t["gmacs"].iat[0]), "G",
                          "Table IV's 0.7 matches the grouped / torchvision ones"))
    return sec
