"""Plans of zoo models on device presets as plain dicts and tables: what `edgeroam dnn plan` prints, and the
PerDNN single-client experiments (Table II, Fig. 7) as the reproduction script runs them.

Models and profiles come from emulator.dnn (zoo, device presets); the algorithms from this package.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.planning.partition import PlanProblem, shortest_path_plan
from edgeroam.emulator.planning.query import executed_queries, server_change_timeline, upload_timeline
from edgeroam.emulator.planning.upload import ORDERS, UploadOrder, _finish, fraction_cut
from edgeroam.errors import PlanningError

__all__ = ["model_problem", "perdnn_fig7", "perdnn_table2", "plan_summary"]

MBPS = 1e6


def model_problem(model: str, client: str, server: str, up_mbps: float, down_mbps: float) -> PlanProblem:
    """A `PlanProblem` for zoo `model` with preset profiles `client` and `server`, bandwidths in Mbit/s."""
    from edgeroam.emulator.dnn.profiles import profile
    from edgeroam.emulator.dnn.zoo import model_graph

    g = model_graph(model)
    return PlanProblem(
        g, profile(g, client), profile(g, server), up_bps=up_mbps * MBPS, down_bps=down_mbps * MBPS
    )


def _order(prob: PlanProblem, order: str, target: np.ndarray | None = None) -> UploadOrder:
    if order not in ORDERS:
        raise PlanningError(f"unknown upload order {order!r}; choose one of {sorted(ORDERS)}")
    if order == "ionn":
        return ORDERS[order](prob)
    return ORDERS[order](prob, target=target)


def plan_summary(
    model: str,
    client: str = "odroid-xu4",
    server: str = "titan-xp",
    up_mbps: float = 35.0,
    down_mbps: float = 50.0,
    order: str = "efficiency",
    budget_mb: float | None = None,
    query_gap_s: float = 0.5,
) -> dict[str, Any]:
    """The plan of `model` (where layers run, latency breakdown), its upload order and the query timeline.

    ``budget_mb`` (MB = 10**6 bytes) cuts the order to its highest-efficiency prefix (fractional migration);
    the timeline then starts with that prefix held and uploads the rest.
    """
    t0 = time.perf_counter()
    prob = model_problem(model, client, server, up_mbps, down_mbps)
    plan = shortest_path_plan(prob)
    t1 = time.perf_counter()
    up = _order(prob, order)
    t2 = time.perf_counter()
    g = prob.graph
    held0 = None
    if budget_mb is not None:
        cut = fraction_cut(up, budget_mb * 1e6)
        held0 = cut.held_mask()
    timeline = upload_timeline(prob, up, query_gap_s=query_gap_s, held_at_start=held0)
    upload_s = up.total_bytes * prob.up_rate
    if held0 is not None:
        upload_s = float(prob.weight_bytes[up.held_mask() & ~held0].sum()) * prob.up_rate
    ops = g.layers["op"].to_numpy()
    return {
        "model": g.name,
        "client": client,
        "server": server,
        "up_mbps": up_mbps,
        "down_mbps": down_mbps,
        "layers": g.n_layers,
        "model_mb": g.total_weight_bytes / 1e6,
        "plan": {
            "method": plan.method,
            "latency_s": plan.latency_s,
            "client_s": plan.client_s,
            "server_s": plan.server_s,
            "transfer_s": plan.transfer_s,
            "client_only_s": float(prob.exec_c.sum()),
            "server_layers": plan.n_server,
            "client_layers": g.n_layers - plan.n_server,
            "server_mb": float(prob.weight_bytes[plan.where].sum()) / 1e6,
            "client_side": [f"{i}:{g.layers['name'].iat[i]}({ops[i]})" for i in np.flatnonzero(~plan.where)],
            "plan_ms": (t1 - t0) * 1e3,
        },
        "order": {
            "method": up.method,
            "groups": up.n_groups,
            "order_ms": (t2 - t1) * 1e3,
            "table": [
                {
                    "group": k,
                    "layers": f"{int(grp[0])}-{int(grp[-1])}" if len(grp) else "",
                    "n_layers": len(grp),
                    "mb": float(up.bytes[k]) / 1e6,
                    "cumulative_mb": float(up.cumulative_bytes[k]) / 1e6,
                    "efficiency_ms_per_mb": float(up.efficiency[k]) * 1e9,
                    "latency_after_s": float(up.latency_after[k]),
                }
                for k, grp in enumerate(up.groups)
            ],
            "budget_mb": budget_mb,
            "held_at_start_mb": None if held0 is None else float(prob.weight_bytes[held0].sum()) / 1e6,
        },
        "timeline": {
            "upload_s": upload_s,
            "queries_listed": len(timeline),
            "executed_during_upload": executed_queries(timeline, upload_s),
            "first_latency_s": float(timeline["latency_s"].iat[0]) if len(timeline) else None,
            "rows": timeline.to_dict(orient="records"),
        },
    }


def perdnn_table2(
    models: tuple[str, ...] = ("mobilenet_v1", "inception_21k", "resnet50"),
    client: str = "odroid-xu4",
    server: str = "titan-xp",
    up_mbps: float = 35.0,
    down_mbps: float = 50.0,
    query_gap_s: float = 0.5,
    whole_model: bool = False,
) -> pd.DataFrame:
    """PerDNN Table II: queries executed while the server-side layers upload, miss (from scratch) vs hit.

    The window is the upload time of the server-side layers (``whole_model``: of every layer, as the paper's
    upload times imply). Miss is counted with IONN's order and with the efficiency order; hit = all held.
    A query counts when it ends within the window.
    """
    rows = []
    for m in models:
        prob = model_problem(m, client, server, up_mbps, down_mbps)
        target = (
            np.ones(prob.n, dtype=bool) if whole_model else prob.best_where(np.ones(prob.n, dtype=bool))[0]
        )
        eff = _order(prob, "efficiency", target)
        ionn = ORDERS["ionn"](prob)
        if whole_model:  # IONN then uploads what its plan leaves out last, in one group
            rest = target & ~ionn.held_mask()
            if rest.any():
                ionn = _finish(prob, [*ionn.groups, np.flatnonzero(rest)], "ionn+rest")
        window = float(prob.weight_bytes[target].sum()) * prob.up_rate
        miss = {}
        for name, o in (("ionn", ionn), ("efficiency", eff)):
            tl = upload_timeline(prob, o, query_gap_s=query_gap_s, horizon_s=window)
            miss[name] = executed_queries(tl, window)
        hit_tl = upload_timeline(prob, eff, query_gap_s=query_gap_s, horizon_s=window, held_at_start=target)
        rows.append(
            {
                "model": prob.graph.name,
                "server_side_mb": float(prob.weight_bytes[target].sum()) / 1e6,
                "upload_s": window,
                "miss_ionn": miss["ionn"],
                "miss_efficiency": miss["efficiency"],
                "hit": executed_queries(hit_tl, window),
                "client_only_s": float(prob.exec_c.sum()),
                "hit_latency_s": float(hit_tl["latency_s"].iat[0]) if len(hit_tl) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def perdnn_fig7(
    model: str = "inception_21k",
    fractions_mb: tuple[float, ...] = (12.0,),
    client: str = "odroid-xu4",
    server: str = "titan-xp",
    up_mbps: float = 35.0,
    down_mbps: float = 50.0,
    query_gap_s: float = 0.5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PerDNN Fig. 7: query latency around a server change; IONN vs proactive migration (100 %, fractions).

    The client uploads to server 0 from time 0 and moves once that upload is over (the change time the paper's
    Fig. 7 shows, see DIGEST 0.6 #4); the horizon is twice that. IONN: server 1 holds nothing and the client
    uploads in IONN's order; PM: server 1 holds all server-side layers, or the efficiency-order prefix within
    each fraction, and the client uploads the rest in efficiency order. Returns (timelines, peaks).
    """
    prob = model_problem(model, client, server, up_mbps, down_mbps)
    eff = _order(prob, "efficiency")
    ionn = ORDERS["ionn"](prob)
    change = max(eff.total_bytes, ionn.total_bytes) * prob.up_rate
    horizon = 2 * change + 5.0
    cases = [("IONN", ionn, None)]
    cases.append(("PM 100%", eff, eff.held_mask()))
    for mb in fractions_mb:
        cut = fraction_cut(eff, mb * 1e6)
        cases.append((f"PM {cut.total_bytes / 1e6:.1f} MB (budget {mb:g} MB)", eff, cut.held_mask()))
    frames, peaks = [], []
    for label, order, migrated in cases:
        tl = server_change_timeline(
            prob, order, change_at_s=change, horizon_s=horizon, migrated=migrated, query_gap_s=query_gap_s
        )
        tl.insert(0, "case", label)
        frames.append(tl)
        after = tl[tl["server"] == 1]
        peaks.append(
            {
                "case": label,
                "migrated_mb": 0.0 if migrated is None else float(prob.weight_bytes[migrated].sum()) / 1e6,
                "peak_after_change_s": float(after["latency_s"].max()),
                "queries_after_change": int(len(after)),
            }
        )
    peak = pd.DataFrame(peaks)
    peak["ionn_peak_over_peak"] = peak["peak_after_change_s"].iat[0] / peak["peak_after_change_s"]
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(model=prob.graph.name, change_at_s=change, horizon_s=horizon)
    return out, peak
