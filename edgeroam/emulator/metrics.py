"""PerDNN's metrics: hit / partial hit / miss, cold starts, executed queries, backhaul traffic, predictions.

Definitions (PerDNN §IV.B, DIGEST §0.5):

- a *cold start* is a server change (handover); a user's first server (a join) is listed but not counted;
- at a cold start the new server *hits* when it holds every server-side layer of the client's current plan
  (made with the server's current load), *misses* when it holds none of them, and is a *partial hit*
  otherwise; hit ratio = hits / (hits + misses) (the paper's), beside (hits + partials) / cold starts;
- *executed queries*: queries that start and end within the interval right after a cold start; the client
  sends a query `query_gap_s` after the previous one returned, and a query's latency is that of the exact
  placement restricted to the layers the server holds when it starts (counted analytically from the
  arrival times of the layers, see `closed_loop_queries`);
- *backhaul traffic*: bytes each server sends (uplink) and receives (downlink) over the backhaul per interval,
  relays included; reported in Mbit/s over the interval, with the peak per server and over all servers;
- *storage held*: model copies ((client, server) pairs holding any layer) and layer bytes on all servers
  together, as step functions of time from the backend's holdings log: time-weighted mean, peak, and the
  integral in GB·hours over the replay (one interval per tick; gaps with no active user skipped);
- *prediction accuracy on the fly*: error of every prediction against the true position one interval later,
  whether the true next server is within r of the prediction, and the futile share (same server next).

`closed_loop_queries` (the one closed-loop query model, in planning/query.py) is re-exported here.

What it leaves to others: producing the events (master, backends), writing them (rundir).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.emulator.planning.query import closed_loop_queries

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.planning.planner import Planner
    from edgeroam.emulator.prepare import Prepared

__all__ = [
    "arrival_table",
    "classify_arrival",
    "closed_loop_queries",
    "everywhere_holdings",
    "hit_ratio",
    "prediction_table",
    "query_table",
    "storage_summary",
    "summarize",
]


def classify_arrival(held: np.ndarray, target: np.ndarray) -> str:
    """``"hit"``, ``"partial"`` or ``"miss"`` for a server holding `held` when the plan needs `target`.

    Examples
    --------
    >>> t = np.array([True, True, False])
    >>> [classify_arrival(np.array(h), t) for h in ([1, 1, 0], [1, 0, 1], [0, 0, 1])]
    ['hit', 'partial', 'miss']
    """
    need = int(np.count_nonzero(target))
    have = int(np.count_nonzero(np.asarray(held, bool) & target))
    if have == need:
        return "hit"
    return "miss" if have == 0 else "partial"


def hit_ratio(kinds: pd.Series) -> float | None:
    """hits / (hits + misses) (None without either)."""
    h = int((kinds == "hit").sum())
    m = int((kinds == "miss").sum())
    return h / (h + m) if h + m else None


def query_table(segments: list[tuple]) -> pd.DataFrame:
    """Query runs: ``row`` (replay row of the arrival), ``client``, ``server``, ``start`` (s from the first
    tick), ``latency_s``, ``queries`` (consecutive queries of that latency)."""
    cols = ["row", "client", "server", "start", "latency_s", "queries"]
    df = pd.DataFrame(segments, columns=cols)
    return df.astype({"row": np.int64, "client": np.int64, "server": np.int64, "start": np.float64,
                      "latency_s": np.float64, "queries": np.int64})


def arrival_table(
    arrivals: list[tuple], queries: pd.DataFrame, prep: Prepared, planner: Planner, *, everywhere: bool
) -> pd.DataFrame:
    """One row per arrival at a server (handover or join) with its class and executed queries.

    Columns: ``row``, ``user``, ``client``, ``t`` (s from the first tick), ``from_server``, ``server``,
    ``handover`` (False: first server of a trajectory), ``load``, ``kind`` (hit|partial|miss),
    ``held_bytes`` (bytes of the plan's server-side layers present on arrival), ``plan_bytes``, ``queries``.
    """
    cols = ["row", "client", "from_server", "server", "t", "handover", "load", "kind", "held_bytes",
            "plan_bytes"]
    types = {"row": np.int64, "client": np.int64, "from_server": np.int64, "server": np.int64,
             "t": np.float64, "handover": bool, "load": np.int64, "held_bytes": np.int64,
             "plan_bytes": np.int64}
    if not arrivals:
        df = pd.DataFrame([], columns=cols).astype(types)
    else:
        # on arrays, not one row at a time (tens of thousands of arrivals): the plan's layers for each load,
        # what the server held of them, in whole bytes (integer sums: exact in any order)
        row, c, src, dst, t, k, handover, held = zip(*arrivals, strict=True)
        load = np.array(k, dtype=np.int64)
        loads, which = np.unique(load, return_inverse=True)
        wb = np.asarray(planner.weight_bytes, dtype=np.int64)
        targets = [planner.entry(int(n)).target for n in loads.tolist()]
        plan_b = np.array([int(wb[tg].sum()) for tg in targets], dtype=np.int64)[which]
        if everywhere:
            kind, held_b = np.full(len(load), "hit", dtype=object), plan_b
        else:
            # the masks (bool arrays, or their bytes as the sim keeps them) as the rows of one matrix
            joined = b"".join(h if type(h) is bytes else np.asarray(h).astype(bool).tobytes() for h in held)
            have = np.stack(targets)[which] & np.frombuffer(joined, bool).reshape(len(held), -1)
            n_have, n_need = have.sum(axis=1), np.array([tg.sum() for tg in targets])[which]
            kind = np.where(n_have == n_need, "hit", np.where(n_have == 0, "miss", "partial")).astype(object)
            held_b = np.zeros(len(load), dtype=np.int64)
            for j in np.flatnonzero(wb).tolist():  # layer by layer: no arrivals x layers array of bytes
                held_b += wb[j] * have[:, j]
        df = pd.DataFrame({"row": row, "client": c, "from_server": src, "server": dst, "t": t,
                           "handover": handover, "load": load, "kind": kind, "held_bytes": held_b,
                           "plan_bytes": plan_b}, columns=cols).astype(types)
    q = queries.groupby("row")["queries"].sum() if len(queries) else pd.Series(dtype=np.int64)
    df["queries"] = df["row"].map(q).fillna(0).astype(np.int64)
    user_names = np.concatenate([tk.user for tk in prep.ticks])
    df.insert(1, "user", _user_categories(user_names[df["row"].to_numpy()]))
    return df


def _user_categories(names: np.ndarray) -> pd.Categorical:
    """User names as a categorical of their text, made from the ticks' own name objects (no fixed-width text
    copy of every row); names that are not str (ints) by their text."""
    user = pd.Categorical(names)
    if user.categories.inferred_type != "string":
        user = pd.Categorical(np.asarray(names).astype(str))
    return user


def prediction_table(prep: Prepared) -> pd.DataFrame:
    """Every prediction: ``user``, ``tick``, ``t``, ``x``, ``y``, predicted ``px``, ``py``, true next ``ax``,
    ``ay``, ``error_m``, ``server``, ``next_server`` (-1 unknown), ``futile`` (same server next),
    ``covered`` (the true next server is within r of the prediction)."""
    ticks = prep.ticks
    # covered: the true next server among the row's servers within r of the prediction (first, while few
    # other columns are made: the candidates outnumber the rows several times)
    off, srv = prep.near_pred
    nxt = prep.next_server
    counts = np.diff(off)
    match = srv == np.repeat(nxt, counts)
    hit = np.zeros(len(nxt), dtype=bool)
    some = counts > 0
    hit[some] = np.logical_or.reduceat(match, off[:-1][some])
    del match
    user = _user_categories(np.concatenate([tk.user for tk in ticks]))
    tick = np.concatenate([np.full(len(tk), tk.index, np.int64) for tk in ticks])
    x = np.concatenate([tk.x for tk in ticks])
    y = np.concatenate([tk.y for tk in ticks])
    server = np.concatenate([tk.server for tk in ticks]).astype(np.int64)
    p, a = prep.predicted, prep.actual_next
    err = np.hypot(p[:, 0] - a[:, 0], p[:, 1] - a[:, 1])
    return pd.DataFrame({
        "user": user, "tick": tick,
        "t": (tick - ticks[0].index) * prep.scenario.dataset.interval_s,
        "x": x, "y": y, "px": p[:, 0], "py": p[:, 1], "ax": a[:, 0], "ay": a[:, 1], "error_m": err,
        "server": server, "next_server": nxt, "futile": (nxt == server) & (nxt >= 0),
        "covered": hit & (nxt >= 0),
    })


def storage_summary(holdings: pd.DataFrame, tick_times: np.ndarray, interval_s: float) -> dict[str, float]:
    """Storage held across all servers from a holdings log (``t``, ``bytes``, ``copies`` deltas, in time
    order; nothing is held before the first row) over the replay's ticks.

    Each tick at `tick_times` (s from the first tick, increasing) counts one interval; the gaps between
    ticks where no user is active (a replay of years of traces skips them) do not count, so a time ``t`` in
    tick j's interval maps to ``j * interval_s + (t - tick_times[j])`` and a time in a gap to the start of the
    next tick. Returns ``copies_mean`` and ``bytes_mean`` (time-weighted over ``horizon_s`` = ticks ×
    interval), ``copies_peak`` and ``bytes_peak`` (the state after all changes at one instant, so an add and
    the eviction it causes are not a peak) and ``gb_hours`` (bytes × seconds / 1e9 / 3600).

    Examples
    --------
    >>> log = pd.DataFrame({"t": [0.0, 1800.0, 3600.0], "bytes": [2e9, 1e9, -2e9], "copies": [1, 1, -1]})
    >>> s = storage_summary(log, np.array([0.0, 3600.0]), 3600.0)
    >>> s["copies_mean"], s["copies_peak"], s["bytes_peak"], s["gb_hours"]
    (1.25, 2.0, 3000000000.0, 3.5)
    >>> storage_summary(log, np.array([0.0, 10_000.0]), 3600.0)["gb_hours"]  # 3600 s gap skipped
    3.5
    """
    t = holdings["t"].to_numpy(np.float64)
    if len(t) and np.any(np.diff(t) < 0):
        raise ValueError("holdings log not in time order")
    ticks = np.asarray(tick_times, dtype=np.float64)
    w = float(interval_s)
    horizon = len(ticks) * w
    # active time: within a tick's interval as is; in a gap, the start of the next tick
    at = np.zeros(len(t))
    if len(ticks):
        j = np.searchsorted(ticks, t, side="right") - 1
        jc = np.maximum(j, 0)
        at = np.where(j < 0, 0.0, jc * w + np.minimum(t - ticks[jc], w))
    cb = np.cumsum(holdings["bytes"].to_numpy(np.float64))
    cc = np.cumsum(holdings["copies"].to_numpy(np.float64))
    last = np.flatnonzero(np.r_[at[1:] != at[:-1], True]) if len(at) else np.zeros(0, np.int64)
    tt, b, c = at[last], cb[last], cc[last]
    inside = tt < horizon
    tt, b, c = tt[inside], b[inside], c[inside]
    dur = np.diff(np.r_[tt, horizon])
    b_int, c_int = float(b @ dur), float(c @ dur)
    h = max(horizon, 1e-12)
    return {
        "copies_mean": c_int / h,
        "copies_peak": float(c.max()) if len(c) else 0.0,
        "bytes_mean": b_int / h,
        "bytes_peak": float(b.max()) if len(b) else 0.0,
        "gb_hours": b_int / 1e9 / 3600.0,
        "horizon_s": float(horizon),
    }


def everywhere_holdings(prep: Prepared, n_servers: int) -> pd.DataFrame:
    """The holdings log of the optimal bound: at each tick every active client's whole model is on every
    edge server (a step at each tick by the change in active clients × `n_servers`)."""
    ticks = prep.ticks
    if not ticks:
        empty = np.zeros(0, np.int64)
        return pd.DataFrame({"t": np.zeros(0), "bytes": empty, "copies": empty})
    active = np.array([int(np.count_nonzero(tk.server >= 0)) for tk in ticks], dtype=np.int64)
    step = np.diff(active, prepend=0) * int(n_servers)
    t = np.array([tk.time - ticks[0].time for tk in ticks], dtype=np.float64)
    model = int(prep.planner.weight_bytes.sum())
    return pd.DataFrame({"t": t, "bytes": step * model, "copies": step})


def _pct(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def summarize(
    prep: Prepared, policy: str, tables: dict[str, pd.DataFrame], *, interval_s: float,
    crowded: list[int], fraction_bytes: float,
) -> dict[str, Any]:
    """The headline metrics of one pass (deterministic: no wall time here)."""
    sc = prep.scenario
    arr = tables["handovers"]
    ho = arr[arr["handover"]]
    kinds = ho["kind"]
    hits, partial, misses = (int((kinds == k).sum()) for k in ("hit", "partial", "miss"))
    n = len(ho)
    bh = tables["backhaul"]
    if "source" in bh:  # net: the switch counters, not the model estimate beside them
        bh = bh[bh["source"] == "measured"]
    tr = tables["transfers"]
    to_mbps = 8.0 / interval_s / 1e6
    if len(bh):
        per_server = bh.groupby("server")[["up_bytes", "down_bytes"]].max() * to_mbps
        peak_up = per_server["up_bytes"].to_numpy()
        peak_down = per_server["down_bytes"].to_numpy()
    else:
        peak_up = peak_down = np.zeros(0)
    n_edge = int((prep.world.topology.servers["tier"] == "edge").sum())
    preds = tables["predictions"]
    known = preds["next_server"] >= 0
    nonfutile = known & ~preds["futile"]
    mig = tr[tr["kind"] == "migrate"]
    up = tr[tr["kind"] == "upload"]
    return {
        "scenario": sc.name,
        "seed": sc.seed,
        "policy": policy,
        "predictor": prep.predictor_name,
        "model": sc.dnn.model,
        "radius_m": sc.policy.radius_m,
        "interval_s": interval_s,
        "ttl_intervals": sc.policy.ttl_intervals,
        "server_plans": sc.policy.server_plans,
        "users": {"train": len(prep.world.train_users), "test": len(prep.world.test_users)},
        "servers": n_edge,
        "user_steps": int(len(preds)),
        "ticks": len(prep.ticks),
        "cold_starts": n,
        "joins": int((~arr["handover"]).sum()),
        "hits": hits,
        "partial_hits": partial,
        "misses": misses,
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "hit_ratio_with_partial": (hits + partial) / n if n else None,
        "executed_queries": int(ho["queries"].sum()),
        "queries_per_cold_start": float(ho["queries"].mean()) if n else None,
        "plan": {
            "server_layers": int(prep.planner.entry(1).target.sum()),
            "layers": prep.planner.n_layers,
            "plan_bytes": int(prep.planner.entry(1).bytes),
            "latency_s": float(prep.planner.entry(1).plan.latency_s),
            "client_only_s": float(prep.planner.latency(1, np.zeros(prep.planner.n_layers, bool))),
            "rho": prep.planner.rho,
        },
        "backhaul": {
            "migrated_bytes": float(mig["bytes"].sum()),
            "migration_chunks": int(len(mig)),
            "uploaded_bytes": float(up["bytes"].sum()),
            "servers_with_traffic": int(len(peak_up)),
            "peak_up_mbps": float(peak_up.max()) if len(peak_up) else 0.0,
            "peak_down_mbps": float(peak_down.max()) if len(peak_down) else 0.0,
            "peak_up_mbps_p50": _pct(peak_up, 50),
            "peak_up_mbps_p95": _pct(peak_up, 95),
            "mean_up_mbps": float(bh["up_bytes"].sum() * to_mbps / max(1, len(prep.ticks)) / max(1, n_edge)),
        },
        "fractional": {"crowded": crowded, "fraction_bytes": None if not math.isfinite(fraction_bytes)
                       else fraction_bytes},
        "prediction": {
            "predictions": int(len(preds)),
            "with_next": int(known.sum()),
            "mae_m": float(preds.loc[known, "error_m"].mean()) if known.any() else None,
            "futile_ratio": float(preds.loc[known, "futile"].mean()) if known.any() else None,
            "covered": float(preds.loc[known, "covered"].mean()) if known.any() else None,
            "covered_nonfutile": float(preds.loc[nonfutile, "covered"].mean()) if nonfutile.any() else None,
        },
    }
