"""`reproduce`: every TARGETS.md item edgeroam covers, regenerated with its setup, ours beside the paper's.

A reproduction is a list of *sections*. Each section runs its experiment (simulation runs go through the sweep
machinery, `run_sweep`, so they are resumable and parallel), and returns

- `Item`s: one TARGETS id, the paper's number, ours, the gap;
- named tables (`pandas.DataFrame`) that the documents in ``docs/reproductions/`` embed between markers
  (`edgeroam.sweep.docs`), so that no number there is typed by hand.

``quick`` keeps each section to what finishes in minutes (KAIST instead of Geolife, fewer models), for CI.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.sweep.dask_runner import run_sweep
from edgeroam.sweep.grid import sweep_from_dict

__all__ = ["PAPERS", "Item", "Section", "commit_id", "reproduce"]


@dataclass
class Item:
    """One TARGETS item: the paper's number beside ours (None: not produced in this mode)."""

    id: str
    what: str
    paper: float | None
    ours: float | None
    unit: str = ""
    note: str = ""

    @property
    def gap(self) -> float | None:
        """ours − paper (None when either is missing)."""
        if self.paper is None or self.ours is None or not math.isfinite(self.ours):
            return None
        return self.ours - self.paper


@dataclass
class Section:
    """What one reproduction produced: its items, named tables (for the docs), figures, how it was run."""

    name: str
    title: str
    command: str
    items: list[Item] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class Context:
    """Shared by the sections of one `reproduce` call."""

    out: Path
    quick: bool
    workers: int
    scheduler: str | None
    progress: bool
    client: Any = None

    def sweep(self, name: str, data: dict[str, Any]) -> pd.DataFrame:
        """Run a sweep (dict as in a sweep file) under ``<out>/sweeps/<name>``, its runs in ``<out>/store``
        (shared by every section); every run must succeed."""
        from edgeroam.errors import RunError
        from edgeroam.sweep.dask_runner import open_client

        sw = sweep_from_dict({"name": name, **data})
        if self.client is None:  # started on the first sweep, shared by the rest
            self.client = open_client(self.scheduler, self.workers)
        res = run_sweep(
            sw,
            self.out / "sweeps" / name,
            scheduler=self.scheduler,
            workers=self.workers,
            client=self.client,
            progress=self.progress,
            store=self.out / "store",  # a run shared by two sections (same scenario) runs once
        )
        if res.failed:
            err = res.table.loc[res.table["status"] == "failed", "error"].iat[0]
            raise RunError(f"reproduce: {len(res.failed)} run(s) of sweep {name!r} failed, first: {err}")
        return res.table


def commit_id(repo: Path | None = None) -> str:
    """The short git commit of the code (``+dirty`` when the work tree has changes), or ``unknown``."""
    cwd = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "edgeroam"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


# ------------------------------------------------------------------------------------------------ sections
PAPER_T1 = {"mobilenet_v1": (110, 16), "inception_21k": (312, 128), "resnet50": (245, 98)}
PAPER_T2 = {"mobilenet_v1": (3.7, 4, 5), "inception_21k": (29.3, 33, 44), "resnet50": (22.4, 14, 34)}
PAPER_T3 = {  # TARGETS P-T3: (top-1, top-2, MAE m)
    "kaist": {"markov": (4.6, 44.4, None), "svr": (8.1, 54.1, 12.9), "lstm": (9.2, 54.6, 12.4)},
    "geolife": {"markov": (15.0, 32.0, None), "svr": (38.1, 59.6, 31.4), "lstm": (36.9, 58.1, 32.1)},
}
PAPER_F9 = {
    ("kaist", 50): ("P-F9a", 37.0),
    ("kaist", 100): ("P-F9b", 90.0),
    ("geolife", 50): ("P-F9c", 43.0),
    ("geolife", 100): ("P-F9d", 70.0),
}
PAPER_OPT = {"mobilenet": ("P-F9e", 3.5e3), "inception": ("P-F9f", 40e3), "resnet": ("P-F9g", 64e3)}
LETTER = {"mobilenet_v1": "a", "inception_21k": "b", "resnet50": "c"}


def table1(ctx: Context) -> Section:
    """PerDNN Table I: caffe-granularity layer counts and weight sizes of the three models."""
    from edgeroam.emulator.dnn.graph import caffe_layer_count
    from edgeroam.emulator.dnn.zoo import model_graph

    sec = Section("table1", "PerDNN Table I: models", "edgeroam dnn info MODEL --json")
    rows = []
    for model, (layers, mb) in PAPER_T1.items():
        g = model_graph(model)
        count = caffe_layer_count(g)["total"]
        mib = float(np.asarray(g.layers["weight_bytes"]).sum()) / 2**20
        rows.append(
            {
                "model": model,
                "nodes": len(g.layers),
                "caffe_layers": count,
                "paper_layers": layers,
                "weights_mib": round(mib, 1),
                "paper_mb": mb,
            }
        )
        sec.items.append(Item(f"P-T1{LETTER[model]}", f"{model}: layers (caffe count)", layers, count))
        sec.items.append(Item(f"P-T1{LETTER[model]}", f"{model}: size (MiB)", mb, round(mib, 1), "MiB"))
    sec.tables["table1"] = pd.DataFrame(rows)
    sec.tables["table1-zoo"] = _zoo_table()
    return sec


def _zoo_table() -> pd.DataFrame:
    """Every zoo model's size and compute, and its largest layer (what table1.md's prose quotes)."""
    from edgeroam.emulator.dnn.graph import caffe_layer_count
    from edgeroam.emulator.dnn.zoo import ZOO, model_graph

    rows = []
    for model in ZOO:
        g = model_graph(model)
        w = np.asarray(g.layers["weight_bytes"], dtype=np.int64)
        big = int(w.argmax())
        rows.append({"model": model, "nodes": len(g.layers), "caffe_layers": caffe_layer_count(g)["total"],
                     "weight_bytes": int(w.sum()), "float32_values": int(w.sum()) // 4,
                     "weights_mib": round(float(w.sum()) / 2**20, 2),
                     "gflops": round(float(np.asarray(g.layers["flops"]).sum()) / 1e9, 2),
                     "largest_layer": f"{g.layers['op'].iat[big]} {g.layers['name'].iat[big]}",
                     "largest_layer_mib": round(float(w[big]) / 2**20, 1)})
    return pd.DataFrame(rows)


def table2(ctx: Context) -> Section:
    """PerDNN Table II: queries executed while the whole model uploads, miss (IONN) and hit."""
    from edgeroam.emulator.planning.summary import perdnn_table2

    sec = Section(
        "table2", "PerDNN Table II: queries during upload", "python benchmarks/planning.py --table2"
    )
    for whole in (False, True):
        t = perdnn_table2(whole_model=whole)
        t = t[["model", "server_side_mb", "upload_s", "miss_ionn", "miss_efficiency", "hit"]].copy()
        t["server_side_mb"] = t["server_side_mb"].round(1)
        t["upload_s"] = t["upload_s"].round(1)
        t["paper_upload_s"] = [PAPER_T2[m][0] for m in t["model"]]
        t["paper_miss"] = [PAPER_T2[m][1] for m in t["model"]]
        t["paper_hit"] = [PAPER_T2[m][2] for m in t["model"]]
        sec.tables["table2-whole" if whole else "table2-plan"] = t.reset_index(drop=True)
        if whole:
            for r in t.itertuples():
                paper_s, paper_miss, paper_hit = PAPER_T2[r.model]
                sec.items.append(
                    Item("P-T2a", f"{r.model}: upload time", paper_s, r.upload_s, "s", "every layer uploaded")
                )
                sec.items.append(
                    Item("P-T2b", f"{r.model}: executed queries, miss (IONN)", paper_miss, int(r.miss_ionn))
                )
                sec.items.append(Item("P-T2c", f"{r.model}: executed queries, hit", paper_hit, int(r.hit)))
    sec.tables["table2-tail"] = _tail_table()
    return sec


def _tail_table() -> pd.DataFrame:
    """Where each model's last fc and softmax run best in Table II's setup: on the server (the output goes
    down) or on the client (the fc's input goes down, then the client runs them). Why Inception's plan
    leaves its 21k-class fc on the client (table2.md)."""
    from edgeroam.emulator.planning.summary import model_problem

    rows = []
    for model in PAPER_T2:
        p = model_problem(model, "odroid-xu4", "titan-xp", 35.0, 50.0)
        lay = p.graph.layers
        fc = int(np.flatnonzero(lay["op"].to_numpy() == "fc")[-1])
        fc_in, out = float(lay["out_bytes"].iat[fc - 1]), float(lay["out_bytes"].iat[-1])
        server = out * p.down_rate + float(p.exec_s[fc:].sum())
        client = fc_in * p.down_rate + float(p.exec_c[fc:].sum())
        rows.append({"model": model, "fc_weight_mb": round(float(lay["weight_bytes"].iat[fc]) / 1e6, 1),
                     "fc_mflop": round(float(lay["flops"].iat[fc]) / 1e6, 1),
                     "fc_input_kb": round(fc_in / 1e3, 1), "output_kb": round(out / 1e3, 1),
                     "down_output_ms": round(out * p.down_rate * 1e3, 2),
                     "server_fc_softmax_ms": round(float(p.exec_s[fc:].sum()) * 1e3, 2),
                     "down_fc_input_ms": round(fc_in * p.down_rate * 1e3, 2),
                     "client_fc_softmax_ms": round(float(p.exec_c[fc:].sum()) * 1e3, 2),
                     "tail_server_ms": round(server * 1e3, 2), "tail_client_ms": round(client * 1e3, 2),
                     "cheaper_on": "client" if client < server else "server"})
    return pd.DataFrame(rows)


def _table3_dataset(dataset: str) -> pd.DataFrame:
    from edgeroam.predictors.evaluate import run_table3
    from edgeroam.scenario import load_scenario

    kinds = ["markov", "svr", "lstm", "stay", "velocity"] + (["svr-mode"] if dataset == "geolife" else [])
    res = run_table3(load_scenario(f"perdnn-{dataset}"), kinds)
    info = res["info"]
    rows = []
    for kind in kinds:
        p = res["results"][kind]["pooled"]
        paper = PAPER_T3[dataset].get(kind, (None, None, None))
        rows.append(
            {
                "predictor": kind,
                "paper_top1": paper[0],
                "paper_top2": paper[1],
                "paper_mae_m": paper[2],
                "top1": round(p["top1"], 1),
                "top2": round(p["top2"], 1),
                "mae_m": round(p["mae_m"], 1),
                "mae_moves_m": round(p["mae_nonfutile_m"], 1),
                "predictions": int(p["predictions"]),
                "non_futile": int(p["non_futile"]),
            }
        )
    t = pd.DataFrame(rows)
    t.attrs["info"] = {k: v for k, v in info.items() if isinstance(v, int | float | str)}
    return t


def table3(ctx: Context) -> Section:
    """PerDNN Table III: top-1/top-2 next-server accuracy and MAE of each predictor (KAIST; + Geolife)."""
    sec = Section(
        "table3",
        "PerDNN Table III: next-server prediction",
        "edgeroam predict evaluate perdnn-kaist --json (and perdnn-geolife)",
    )
    for dataset, letter in (("kaist", "a"), ("geolife", "b")):
        if dataset == "geolife" and ctx.quick:
            continue
        t = _table3_dataset(dataset)
        sec.tables[f"table3-{dataset}"] = t
        for r in t.itertuples():
            if r.paper_top1 is None or (isinstance(r.paper_top1, float) and math.isnan(r.paper_top1)):
                continue
            sec.items.append(
                Item(f"P-T3{letter}", f"{dataset} {r.predictor} top-1", r.paper_top1, r.top1, "%")
            )
            sec.items.append(
                Item(f"P-T3{letter}", f"{dataset} {r.predictor} top-2", r.paper_top2, r.top2, "%")
            )
            if r.paper_mae_m is not None and not (
                isinstance(r.paper_mae_m, float) and math.isnan(r.paper_mae_m)
            ):
                sec.items.append(
                    Item(
                        f"P-T3{letter}",
                        f"{dataset} {r.predictor} MAE (all predictions)",
                        r.paper_mae_m,
                        r.mae_m,
                        "m",
                    )
                )
    return sec


def fig9(ctx: Context) -> Section:
    """PerDNN Fig. 9 and the backhaul peaks: hit ratios (r = 50, 100), optimizable queries, peak uplink."""
    sec = Section(
        "fig9",
        "PerDNN Fig. 9 and backhaul peaks",
        "edgeroam run perdnn-{kaist,geolife} --policy {perdnn,ionn,optimal} --model M "
        "--set policy.radius_m=R (a sweep)",
    )
    datasets = ["kaist"] if ctx.quick else ["kaist", "geolife"]
    models = ["inception"] if ctx.quick else ["mobilenet", "inception", "resnet"]
    hit_rows, q_rows = [], []
    for ds in datasets:
        hits = ctx.sweep(
            f"fig9-{ds}-perdnn",
            {
                "scenario": f"perdnn-{ds}",
                "set": ['dnn.model="inception"'],
                "grid": {"policy.radius_m": [50, 100], "policy.kind": ["perdnn"]},
            },
        )
        for r in hits.to_dict("records"):
            radius = int(r["policy.radius_m"])
            rid, paper = PAPER_F9[(ds, radius)]
            sec.items.append(
                Item(rid, f"{ds} hit ratio, r = {radius} m", paper, round(100 * r["hit_ratio"], 1), "%")
            )
            hit_rows.append(
                {
                    "dataset": ds,
                    "r_m": radius,
                    "paper_pct": paper,
                    "perdnn_pct": round(100 * r["hit_ratio"], 1),
                    "cold_starts": int(r["cold_starts"]),
                    "test_users": int(r["users.test"]),
                }
            )
        top = hits[hits["policy.radius_m"] == 100].iloc[0]
        sec.items.append(
            Item(
                "P-B1",
                f"{ds} peak backhaul uplink of the busiest server (Inception, r = 100)",
                616.0 if ds == "kaist" else 667.0,
                round(float(top["backhaul.peak_up_mbps"]), 1),
                "Mbit/s",
                "carried on 100 Mbit/s links, not demand",
            )
        )
        sec.items.append(
            Item(
                "P-B2",
                f"{ds} peak backhaul downlink (Inception, r = 100)",
                205.0 if ds == "kaist" else 359.0,
                round(float(top["backhaul.peak_down_mbps"]), 1),
                "Mbit/s",
            )
        )
        if ds == "kaist":
            sec.items.append(Item("P-D2", "KAIST test users", 31.0, float(top["users.test"])))
            q = ctx.sweep(
                f"fig9-{ds}-queries",
                {
                    "scenario": f"perdnn-{ds}",
                    "grid": {"dnn.model": models, "policy.kind": ["ionn", "optimal"]},
                },
            )
            for m in models:
                sub = q[q["dnn.model"] == m].set_index("policy.kind")["executed_queries"]
                opt = float(sub["optimal"] - sub["ionn"])
                rid, paper = PAPER_OPT[m]
                sec.items.append(
                    Item(
                        rid,
                        f"optimizable queries (optimal − ionn), {m}, KAIST",
                        paper,
                        opt,
                        "",
                        "the paper does not name the dataset",
                    )
                )
                q_rows.append(
                    {
                        "dataset": ds,
                        "model": m,
                        "ionn": int(sub["ionn"]),
                        "optimal": int(sub["optimal"]),
                        "optimizable": int(opt),
                        "paper_optimizable": paper,
                    }
                )
    sec.tables["fig9-hit"] = pd.DataFrame(hit_rows)
    sec.tables["fig9-queries"] = pd.DataFrame(q_rows)
    return sec


def fig10(ctx: Context) -> Section:
    """PerDNN Fig. 10: fractional migration on KAIST's crowded servers (peak uplink and query loss)."""
    sec = Section(
        "fig10",
        "PerDNN Fig. 10: fractional migration",
        "edgeroam run perdnn-kaist --policy fractional --model M",
    )
    models = ["inception"] if ctx.quick else ["inception", "resnet", "mobilenet"]
    t = ctx.sweep(
        "fig10", {"scenario": "perdnn-kaist", "grid": {"dnn.model": models, "policy.kind": ["fractional"]}}
    )
    paper = {
        "inception": ("P-F10a", 67.0, 2.0),
        "resnet": ("P-F10b", 43.0, 1.0),
        "mobilenet": ("", None, None),
    }
    rows = []
    for r in t.to_dict("records"):
        m = r["dnn.model"]
        before, after = r["fractional.perdnn_peak_up_mbps"], r["backhaul.peak_up_mbps"]
        q0, q1 = r["fractional.perdnn_executed_queries"], r["executed_queries"]
        red, loss = 100 * (before - after) / before, 100 * (q0 - q1) / q0
        rid, p_red, p_loss = paper[m]
        if rid:  # the paper gives no MobileNet numbers
            sec.items.append(Item(rid, f"{m}: peak uplink reduction", p_red, round(red, 1), "%"))
            sec.items.append(Item(rid, f"{m}: executed-query loss", p_loss, round(loss, 1), "%"))
        rows.append(
            {
                "model": m,
                "crowded": int(r["fractional.crowded.count"]),
                "budget_mb": round(r["fractional.fraction_bytes"] / 1e6, 1),
                "peak_whole_mbps": round(before, 1),
                "peak_fraction_mbps": round(after, 1),
                "reduction_pct": round(red, 1),
                "paper_reduction_pct": p_red,
                "query_loss_pct": round(loss, 1),
                "paper_query_loss_pct": p_loss,
                "hit_fraction_pct": round(100 * r["hit_ratio"], 1),
            }
        )
    sec.tables["fig10"] = pd.DataFrame(rows)
    return sec


def confidence(ctx: Context) -> Section:
    """Hit ratio against radius with 95 % intervals over scenario seeds and over user splits (issue 24, 4)."""
    from scipy import stats

    from edgeroam.report.figures import save_figure

    scenario = "demo" if ctx.quick else "perdnn-kaist"
    radii = [50, 100, 150]
    splits = [1, 2, 3]
    seeds = [1, 2, 3] if ctx.quick else [1, 2]
    sec = Section(
        "confidence",
        f"Hit ratio against radius over seeds and user splits ({scenario})",
        f"edgeroam sweep (scenario {scenario}, policy.radius_m × dataset.split.seed × seed)",
    )
    t = ctx.sweep(
        f"confidence-{scenario}",
        {
            "scenario": scenario,
            "seeds": seeds,
            "grid": {"policy.radius_m": radii, "dataset.split.seed": splits},
        },
    )
    rows = []
    for (r,), g in t.groupby(["policy.radius_m"]):
        for over, col in (("scenario seed", "seed"), ("user split", "dataset.split.seed")):
            per = g.groupby(col)["hit_ratio"].mean() * 100  # mean over the other factor
            # Student t interval of the mean over the factor's levels
            n = len(per)
            half = float(stats.t.ppf(0.975, n - 1) * per.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            rows.append(
                {
                    "r_m": int(r),
                    "over": over,
                    "n": int(len(per)),
                    "mean_pct": round(per.mean(), 1),
                    "ci95_pct": round(half, 1),
                    "min_pct": round(per.min(), 1),
                    "max_pct": round(per.max(), 1),
                }
            )
    ci = pd.DataFrame(rows)
    sec.tables[f"confidence-{scenario}"] = ci
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for k, (over, g) in enumerate(ci.groupby("over")):
        ax.errorbar(
            g["r_m"] + (k - 0.5) * 3,
            g["mean_pct"],
            yerr=g["ci95_pct"].fillna(0),
            capsize=4,
            marker="o",
            label=f"over {over}s ({g['n'].iat[0]})",
        )
    ax.set_xlabel("migration radius r (m)")
    ax.set_ylabel("hit ratio (%)")
    ax.set_title(f"{scenario}: perdnn hit ratio, mean and 95 % interval")
    ax.legend()
    fig.tight_layout()
    path = ctx.out / "figures" / "confidence.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    plt.close(fig)
    sec.figures.append(path)
    return sec


def beat(ctx: Context) -> Section:
    """beat-the-paper's holding rule: hit ratio, bytes, plans held, evictions (KAIST; + Geolife in full)."""
    sec = Section(
        "beat",
        "beat-the-paper: the holding rule (LRU, at most C idle plans per server)",
        "edgeroam run perdnn-DATASET --policy P --set policy.ttl_intervals=0 --set policy.server_plans=C",
    )
    for ds in ["kaist"] if ctx.quick else ["kaist", "geolife"]:
        cap = 13 if ds == "kaist" else 2  # perdnn's peak plans per server under TTL 5 (beat-the-paper.md)
        base = {"scenario": f"perdnn-{ds}", "set": ['dnn.model="inception"']}
        ttl = ctx.sweep(f"beat-{ds}-ttl", {**base, "grid": {"policy.kind": ["perdnn"]}})
        lru = ctx.sweep(
            f"beat-{ds}-lru",
            {
                **base,
                "set": [*base["set"], "policy.ttl_intervals=0", f"policy.server_plans={cap}"],
                "grid": {"policy.kind": ["perdnn-forward", "perdnn", "perdnn-forward-top3", "oracle"]},
            },
        )
        rows = []
        for holding, t in (("TTL 5", ttl), (f"LRU, C = {cap}", lru)):
            for r in t.to_dict("records"):
                rows.append(
                    {
                        "policy": r["policy.kind"],
                        "holding": holding,
                        "hit_pct": round(100 * r["hit_ratio"], 1),
                        "hits": int(r["hits"]),
                        "partial": int(r["partial_hits"]),
                        "misses": int(r["misses"]),
                        "executed_queries": int(r["executed_queries"]),
                        "migrated_gb": round(r["backhaul.migrated_bytes"] / 1e9),
                        "mean_held": round(r["memory.mean_held"], 1),
                        "peak_per_server": int(r["memory.peak_held_per_server"]),
                        "evictions": int(r["memory.evictions"]),
                    }
                )
        sec.tables[f"beat-{ds}"] = pd.DataFrame(rows)
        if ds == "geolife":
            fwd = next(r for r in rows if r["policy"] == "perdnn-forward")
            sec.items.append(
                Item(
                    "P-F9d",
                    "Geolife hit ratio at r = 100: perdnn-forward with LRU holding (C = 2)",
                    70.0,
                    fwd["hit_pct"],
                    "%",
                    "a variant beyond PerDNN's policy",
                )
            )
    return sec


def fig4(ctx: Context) -> Section:
    """PerDNN Fig. 4: MAE of conv-layer time estimators under load (a timing measurement on this machine)."""
    from edgeroam.emulator.dnn.estimator import compare_estimators, generate_load_dataset

    sec = Section(
        "fig4",
        "PerDNN Fig. 4: execution-time estimation under load (timing; varies by machine)",
        "edgeroam dnn fig4 --model resnet18 --clients 6 --reps 12",
    )
    import os

    load0 = os.getloadavg()[0]
    samples = generate_load_dataset("resnet18", max_clients=6, reps=12, cache=False)
    cmp = compare_estimators(samples)
    mae = (cmp.mae * 1e6).round(0).astype(int).rename(columns={"mean_seconds": "mean_us"}).reset_index()
    mae.columns = [str(c) for c in mae.columns]
    mae.attrs["info"] = {"loadavg_at_start": round(load0, 2), "train": cmp.n_train, "test": cmp.n_test}
    sec.tables["fig4"] = mae
    imp = cmp.importances.sort_values(ascending=False).round(2)
    sec.tables["fig4-importance"] = pd.DataFrame(
        {"feature": imp.index.astype(str), "importance": imp.to_numpy()}
    )
    from edgeroam.sweep.verdicts import fig4_verdict

    sec.tables["fig4-verdict"] = fig4_verdict(mae, sec.tables["fig4-importance"])
    last = mae.iloc[-1]
    sec.items.append(
        Item(
            "P-F4a",
            "LL MAE at the most clients (µs; paper: at most ~800 µs on a GPU)",
            800.0,
            float(last["LL"]),
            "µs",
            "CPU ms-scale layers",
        )
    )
    sec.items.append(
        Item(
            "P-F4c",
            "RF w/ load MAE − LL w/ load MAE at the most clients (paper: RF lower)",
            None,
            float(last["RF w/ load"] - last["LL w/ load"]),
            "µs",
            "timing; sign varies",
        )
    )
    return sec


SECTIONS: dict[str, Callable[[Context], Section]] = {
    "table1": table1,
    "table2": table2,
    "table3": table3,
    "fig9": fig9,
    "fig10": fig10,
    "confidence": confidence,
    "beat": beat,
    "fig4": fig4,
}


def _other(name: str, module: str = "others") -> Callable[[Context], Section]:
    """A section of edgeroam.sweep.<module> (imported when run: that module imports this one)."""

    def run(ctx: Context) -> Section:
        import importlib

        return getattr(importlib.import_module(f"edgeroam.sweep.{module}"), name)(ctx)

    run.__doc__ = f"edgeroam.sweep.{module}.{name}"
    return run


SECTIONS.update({n.replace("_", "-"): _other(n) for n in (
    "eosdnn_toy", "eosdnn_models", "eosdnn_lmu", "eosdnn_migration", "s3_table1", "s0_fig5",
    "others_mobility", "eosdnn_engine")})
SECTIONS.update({n.replace("_", "-"): _other(n, "others_seeds") for n in (
    "eosdnn_seeds", "eosdnn_lmu_seeds", "eosdnn_two_step", "s0_seeds", "s3_seeds")})


def _fig7(ctx: Context) -> Section:
    """PerDNN Fig. 7 (edgeroam.sweep.fig7, imported when run: that module imports this one)."""
    from edgeroam.sweep.fig7 import fig7

    return fig7(ctx)


SECTIONS["fig7"] = _fig7


def _traffic(ctx: Context) -> Section:
    """Traffic maps (edgeroam.sweep.traffic, imported when run: that module imports this one)."""
    from edgeroam.sweep.traffic import traffic_maps

    return traffic_maps(ctx)


SECTIONS["traffic-maps"] = _traffic
#: which sections reproduce which paper; quick leaves out the timing measurement (fig4)
PAPERS: dict[str, list[str]] = {
    "perdnn": ["table1", "table2", "fig7", "table3", "fig9", "traffic-maps", "fig10", "confidence", "beat",
               "fig4"],
    "eosdnn": ["eosdnn-toy", "eosdnn-models", "eosdnn-lmu", "eosdnn-migration", "s0-fig5", "eosdnn-seeds",
               "eosdnn-lmu-seeds", "eosdnn-two-step", "s0-seeds", "others-mobility", "eosdnn-engine"],
    "s3": ["s3-table1", "s3-seeds"],
}
QUICK_SKIP = {"fig4"}
#: issue 26: the repeated-seed and KAIST sections (a quick run of them would not give rows of the full tables)
QUICK_SKIP |= {"eosdnn-seeds", "eosdnn-two-step", "s0-seeds", "others-mobility"}


def _gap(name: str) -> Callable[[Context], Section]:
    """A section of edgeroam.sweep.gaps (issue 25's gap measurements; imported when run)."""

    def run(ctx: Context) -> Section:
        from edgeroam.sweep import gaps

        return getattr(gaps, name)(ctx)

    run.__doc__ = f"edgeroam.sweep.gaps.{name}"
    return run


#: issue 25: the PerDNN gaps settled by measurement, fig9.md's per-model tables; full runs only (Geolife)
GAPS = ["fig9-models", "fig9-models-geolife", "gaps-backhaul", "gaps-changes", "gaps-throughput",
        "gaps-kaist50", "gaps-geolife"]
SECTIONS.update({n: _gap(n.replace("-", "_")) for n in GAPS})
PAPERS["perdnn"] += GAPS
QUICK_SKIP |= set(GAPS)


def _honest(name: str) -> Callable[[Context], Section]:
    """A section of edgeroam.sweep.honest (issue 25's items 6-9; imported when run)."""

    def run(ctx: Context) -> Section:
        from edgeroam.sweep import honest

        return getattr(honest, name)(ctx)

    run.__doc__ = f"edgeroam.sweep.honest.{name}"
    return run


#: issue 25 items 6-9 (beat the paper at equal bytes and storage, Table III, Fig. 1, fractional on Geolife,
#: EosDNN compute); full runs only (Geolife passes)
HONEST = ["honest-beat", "honest-table3", "honest-fig1", "honest-fractional", "honest-eosdnn"]
SECTIONS.update({n: _honest(n.replace("-", "_")) for n in HONEST})
PAPERS["perdnn"] += HONEST
QUICK_SKIP |= set(HONEST)
#: issue 24: the doc tables that were typed (section -> module of edgeroam.sweep); quick runs give only the
#: KAIST rows of table3-modes, the others replay Geolife or measure time
DOC_SECTIONS = {"fig9-align": "align", "table3-modes": "predict_docs", "table3-study": "predict_docs",
                "table3-cost": "predict_docs", "table3-gaps": "predict_docs", "beat-history": "beat_history"}
SECTIONS.update({n: _other(n.replace("-", "_"), m) for n, m in DOC_SECTIONS.items()})
PAPERS["perdnn"] += list(DOC_SECTIONS)
QUICK_SKIP |= set(DOC_SECTIONS) - {"table3-modes"}
#: tables whose numbers may differ across machines, and by how much (absolute): an LSTM trains to slightly
#: different weights on CPUs with other float kernels (issue 24's reviewer got KAIST LSTM 14.18 / 59.60 %,
#: this machine 14.5 / 59.3 %); everything else is exact
TOLERANCE: dict[str, float] = {"table3-kaist": 0.5, "table3-geolife": 0.5}
#: TARGETS sections of each paper that edgeroam does not reproduce yet (listed in the report, not hidden)
NOT_COVERED: dict[str, str] = {
    "perdnn": "P-F6a-e (Fig. 6's shapes; its tables: table3-study), P-F7d-e (figure shapes, prose), P-D1, "
    "P-D3–P-D9, "
    "P-H (headline ranges, read from the items above)",
    "eosdnn": "E-P (toy layers of Figs. 9-11 not printed), E-ENV (setup, see docs/reproductions/eosdnn.md); "
    "S0-ENV (setup, docs/reproductions/s0.md)",
    "s3": "S3-K / S3-F2-F5 / S3-H (speed-ups: docs/reproductions/s3.md)",
}


def reproduce(
    paper: str,
    out: str | Path,
    *,
    quick: bool = False,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Run the sections of `paper` (``perdnn``, ``eosdnn``, ``s3`` or ``all``) into `out`; write
    ``results.json``, ``report.md``, ``report.html`` and the figures; return the results.

    `only` restricts the run to the named sections (for tests and partial regeneration).
    """
    from edgeroam.errors import ScenarioError
    from edgeroam.sweep.report import write_report

    papers = list(PAPERS) if paper == "all" else [paper]
    if any(p not in PAPERS for p in papers):
        raise ScenarioError(None, "paper", f"unknown paper {paper!r}; known: {', '.join(PAPERS)}, all")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [s for p in papers for s in PAPERS[p] if not (quick and s in QUICK_SKIP)]
    if only:
        unknown = sorted(set(only) - set(SECTIONS))
        if unknown:
            raise ScenarioError(
                None, "section", f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}"
            )
        names = [s for s in names if s in only]
    t0 = time.perf_counter()
    ctx = Context(out=out, quick=quick, workers=workers, scheduler=scheduler, progress=progress)
    sections = []
    try:
        for name in names:
            s0 = time.perf_counter()
            sec = SECTIONS[name](ctx)
            sec.wall_s = time.perf_counter() - s0
            sections.append(sec)
    finally:
        if ctx.client is not None:
            ctx.client.close()
    results = {
        "paper": paper,
        "quick": quick,
        "commit": commit_id(),
        "wall_s": round(time.perf_counter() - t0, 1),
        "not_covered": {p: NOT_COVERED[p] for p in papers},
        "sections": {s.name: _section_json(s) for s in sections},
    }
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, default=_json_default), encoding="utf-8")
    tmp.replace(out / "results.json")
    write_report(results, out)
    return results


def _json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


def _section_json(sec: Section) -> dict[str, Any]:
    return {
        "title": sec.title,
        "command": sec.command,
        "wall_s": round(sec.wall_s, 1),
        "items": [{**asdict(i), "gap": i.gap} for i in sec.items],
        "tables": {
            k: {
                "columns": list(t.columns),
                "rows": json.loads(t.to_json(orient="values")),
                "info": t.attrs.get("info", {}),
            }
            for k, t in sec.tables.items()
        },
        "figures": [str(p.name) for p in sec.figures],
    }
