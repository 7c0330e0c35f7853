"""Figures of one or several run directories, side by side: PerDNN Fig. 9 (executed queries and hit ratio per
policy and r, per model), the backhaul CDF and per-server peaks, Fig. 10 (peak uplink against executed
queries, fractional against whole-model migration), the hex map of per-cell traffic and the query-latency
timeline of one user around a server change.

Uses matplotlib's object API on the Agg canvas (no pyplot global state). Each function returns a
``matplotlib.figure.Figure``; :func:`save_figure` writes it as a PNG without a timestamp. The numbers come
from ``tables.py``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeroam._maps import km_axes
from edgeroam.emulator.rundir import RunDir, canonical_json
from edgeroam.errors import EdgeroamError
from edgeroam.report.tables import (
    backhaul_peaks,
    cell_traffic,
    fig9_table,
    latency_timeline,
    representative_change,
    run_grid,
    run_labels,
    run_servers,
    summary_table,
)

__all__ = [
    "backhaul_figure",
    "fig9_figure",
    "fig10_figure",
    "latency_figure",
    "save_figure",
    "traffic_map_figure",
]

_POLICY_COLOURS = {"ionn": "#d62728", "perdnn": "#1f77b4", "fractional": "#2ca02c", "oracle": "#9467bd",
                   "optimal": "#7f7f7f"}
#: PerDNN §IV.B.4: typical wireless broadband capacity, the line the paper compares peaks against
BROADBAND_MBPS = 100.0


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colour(policy: str, i: int) -> str:
    import matplotlib

    return _POLICY_COLOURS.get(policy) or matplotlib.colormaps["tab10"](i % 10)


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write `fig` as a PNG (no timestamp in the metadata, so the same figure gives the same bytes)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    os.replace(tmp, p)
    return p


def _baseline(sub: Any) -> tuple[str, Any]:
    """What a Fig. 9 group's queries are compared with (ionn when present) and its queries per r."""
    if "ionn" not in set(sub["policy"]):  # no ionn run: the run with the fewest queries, per r
        low = sub.loc[sub.groupby("radius_m")["executed_queries"].idxmin()]
        return "the lowest run", low.set_index("radius_m")["executed_queries"]
    return "ionn", sub[sub["policy"] == "ionn"].groupby("radius_m")["executed_queries"].first()


def fig9_figure(runs: Sequence[RunDir]):
    """PerDNN Fig. 9: one column per (scenario, model); top: executed queries after server changes per r and
    policy, as the gain over ionn in % (the paper: the hit ratio is proportional to that gain; the absolute
    counts differ by a few %, so bars from zero would hide them) with each bar's count written on it; bottom:
    hit ratio (hits / (hits + misses)) of the same runs."""
    df = fig9_table(runs)
    groups = list(dict.fromkeys(zip(df["scenario"], df["model"], strict=True)))
    policies = list(dict.fromkeys(df["policy"]))
    fig = _figure(max(6.5, 3.8 * len(groups)), 7.0)
    axes = fig.subplots(2, len(groups), squeeze=False)
    for j, (scen, model) in enumerate(groups):
        sub = df[(df["scenario"] == scen) & (df["model"] == model)]
        radii = sorted(sub["radius_m"].unique())
        base_name, base = _baseline(sub)
        width = 0.8 / max(1, len(policies))
        for i, pol in enumerate(policies):
            rows = sub[sub["policy"] == pol].groupby("radius_m").first()
            xs = np.arange(len(radii)) + (i - (len(policies) - 1) / 2) * width
            q = np.array([rows["executed_queries"].get(r, np.nan) for r in radii], dtype=np.float64)
            b = np.array([base.get(r, np.nan) for r in radii], dtype=np.float64)
            gain = 100.0 * (q / b - 1.0)
            h = np.array([rows["hit_ratio"].get(r, np.nan) * 100 for r in radii], dtype=np.float64)
            c = _colour(pol, i)
            axes[0, j].bar(xs, gain, width, color=c, label=pol)
            axes[1, j].bar(xs, h, width, color=c, label=pol)
            for x, g, v in zip(xs, gain, q, strict=True):
                if np.isfinite(g):
                    axes[0, j].annotate(f"{v:,.0f}", (x, max(g, 0.0)), ha="center", va="bottom", fontsize=6,
                                        rotation=90, xytext=(0, 2), textcoords="offset points")
            for x, v in zip(xs, h, strict=True):
                if np.isfinite(v):
                    axes[1, j].annotate(f"{v:.0f}", (x, v), ha="center", va="bottom", fontsize=7)
        for ax in axes[:, j]:
            ax.set_xticks(np.arange(len(radii)), [f"r = {r:g} m" for r in radii])
        top = axes[0, j]
        top.axhline(0.0, color="k", lw=0.6)
        lo, hi = top.get_ylim()
        top.set_ylim(min(lo, 0.0), hi + 0.25 * (hi - min(lo, 0.0)))  # room for the counts
        top.set_title(f"{scen} · {model}", fontsize=10)
        top.set_ylabel(f"queries after server changes:\ngain over {base_name} (%)", fontsize=9)
        axes[1, j].set_ylabel("hit ratio (%)", fontsize=9)
        axes[1, j].set_ylim(0, 110)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(policies),
               fontsize=8)
    fig.suptitle("Executed queries and hit ratio (PerDNN Fig. 9); numbers on the bars: executed queries",
                 fontsize=10)
    return fig


def _broadband_label() -> str:
    return f"{BROADBAND_MBPS:g} Mbit/s: typical wireless broadband (PerDNN §IV.B.4)"


def _silent(runs: Sequence[RunDir], labels: Sequence[str]) -> list[str]:
    """Labels of the runs that sent nothing over the backhaul (ionn, optimal): absent from traffic plots."""
    out = []
    for run, lab in zip(runs, labels, strict=True):
        peaks = backhaul_peaks(run)[["peak_up_mbps", "peak_down_mbps"]].to_numpy()
        if not (peaks > 0).any():
            out.append(lab)
    return out


def backhaul_figure(runs: Sequence[RunDir]):
    """Backhaul traffic: CDF over servers of the per-server peak uplink (solid) and downlink (dashed), and the
    peak uplink of every server ranked, largest first (log scale), with the 100 Mbit/s broadband line."""
    labels = run_labels(runs)
    fig = _figure(11.0, 4.6)
    ax_cdf, ax_rank = fig.subplots(1, 2)
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        peaks = backhaul_peaks(run)
        if peaks.empty or not (peaks[["peak_up_mbps", "peak_down_mbps"]].to_numpy() > 0).any():
            continue
        c = _colour(run.summary.get("policy", ""), i) if len(set(labels)) == len(
            {r.summary.get("policy") for r in runs}) else _colour("", i)
        for col, ls, tag in (("peak_up_mbps", "-", "up"), ("peak_down_mbps", "--", "down")):
            v = np.sort(peaks[col].to_numpy())
            ax_cdf.step(v, np.arange(1, len(v) + 1) / len(v), where="post", ls=ls, color=c,
                        label=f"{label} ({tag})")
        up = peaks["peak_up_mbps"].to_numpy()
        up = up[up > 0]
        ax_rank.plot(np.arange(1, len(up) + 1), up, color=c, label=label, drawstyle="steps-post")
    ax_cdf.axvline(BROADBAND_MBPS, color="k", lw=0.8, ls=":", label=_broadband_label())
    ax_cdf.set_xlabel("peak traffic of a server in one interval (Mbit/s)")
    ax_cdf.set_ylabel("share of the servers with backhaul traffic")
    ax_cdf.set_title("CDF of per-server peak uplink / downlink", fontsize=10)
    ax_cdf.legend(fontsize=7, loc="lower right")
    ax_rank.axhline(BROADBAND_MBPS, color="k", lw=0.8, ls=":", label=_broadband_label())
    ax_rank.set_yscale("log")
    ax_rank.set_xscale("log")
    ax_rank.set_xlabel("server rank by peak uplink (servers that sent anything)")
    ax_rank.set_ylabel("peak uplink (Mbit/s)")
    ax_rank.set_title("Peak uplink per server", fontsize=10)
    ax_rank.legend(fontsize=7)
    silent = _silent(runs, labels)
    if silent:
        fig.suptitle(f"Backhaul traffic per server (no backhaul traffic, not drawn: {', '.join(silent)})",
                     fontsize=10)
    return fig


def fig10_figure(runs: Sequence[RunDir]):
    """PerDNN Fig. 10: peak backhaul uplink against executed queries for every run, one panel per scenario
    (their query counts differ by orders of magnitude); a fractional run also shows its whole-model first pass
    (square), joined by an arrow (whole model -> fraction)."""
    from matplotlib.ticker import FuncFormatter

    df = summary_table(runs)
    scenarios = list(dict.fromkeys(df["scenario"]))
    fig = _figure(max(6.8, 5.2 * len(scenarios)), 5.0)
    axes = np.atleast_1d(fig.subplots(1, len(scenarios), squeeze=False)).ravel()
    labels = run_labels(runs) if len(scenarios) == 1 else None
    first_pass = False
    for i, (run, rec) in enumerate(zip(runs, df.itertuples(index=False), strict=True)):
        ax = axes[scenarios.index(rec.scenario)]
        c = _colour(rec.policy, i)
        ax.scatter([rec.peak_up_mbps], [rec.executed_queries], color=c, zorder=3)
        name = labels[i] if labels is not None else rec.run.removeprefix(f"{rec.scenario} ")
        ax.annotate(name, (rec.peak_up_mbps, rec.executed_queries), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
        fr = run.summary.get("fractional") or {}
        if rec.policy == "fractional" and fr.get("perdnn_peak_up_mbps") is not None:
            x0, y0 = fr["perdnn_peak_up_mbps"], fr["perdnn_executed_queries"]
            ax.scatter([x0], [y0], facecolor="none", edgecolor=c, marker="s", s=70, zorder=4,
                       label=None if first_pass else "fractional's first pass (perdnn: whole model migrated)")
            first_pass = True
            ax.annotate("", (rec.peak_up_mbps, rec.executed_queries), (x0, y0),
                        arrowprops={"arrowstyle": "->", "color": c})
    models = ", ".join(dict.fromkeys(df["model"]))
    for ax, scen in zip(axes, scenarios, strict=True):
        ax.axvline(BROADBAND_MBPS, color="k", lw=0.8, ls=":", label=_broadband_label())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.margins(x=0.15, y=0.08)  # room for the labels of the points at the edges
        ax.set_xlim(left=min(ax.get_xlim()[0], -0.05 * BROADBAND_MBPS))
        ax.set_xlabel("peak backhaul uplink of the most crowded server (Mbit/s)", fontsize=8)
        ax.set_ylabel("executed queries after server changes", fontsize=8)
        ax.set_title(scen, fontsize=9)
        ax.tick_params(labelsize=7)
    handles, names = [], []
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in names:
                handles.append(h)
                names.append(n)
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=7)
    fig.suptitle(f"Peak traffic vs executed queries (PerDNN Fig. 10), model {models}", fontsize=10)
    return fig


def traffic_map_figure(runs: Sequence[RunDir], *, max_panels: int = 6, root: str | Path | None = None):
    """Hex map of the served cells coloured by the peak backhaul uplink of their server (one shared log colour
    scale), one panel per run (the first `max_panels`); `root`: where the traces are (`run_servers`)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm


    shown = list(runs)[:max_panels]
    labels = run_labels(runs)[: len(shown)]
    # one topology per distinct world (policies, models and r share it)
    keys = [canonical_json({k: v for k, v in run.scenario.items() if k not in ("policy", "dnn", "name")})
            for run in shown]
    servers: dict[str, Any] = {}
    complete = True
    for run, key in zip(shown, keys, strict=True):
        if key not in servers:
            try:
                servers[key] = run_servers(run, root)
            except (EdgeroamError, OSError):
                servers[key] = None
                complete = False
    tables = []
    for run, key in zip(shown, keys, strict=True):
        tables.append(cell_traffic(run, servers[key]))
    # each world (key) has its own frame: its CRS and the lower-left corner of its cells
    frames: dict[str, tuple[Any, tuple[float, float]]] = {}
    for run, key in zip(shown, keys, strict=True):
        if key in frames:
            continue
        if servers[key] is not None:
            crs = servers[key].attrs.get("crs")
        else:  # servers not rebuilt: a Geolife frame is a UTM zone that cannot be named without the traces
            kind = run.scenario.get("dataset", {}).get("kind")
            crs = "UTM, zone unknown (traces not found)" if kind == "geolife" else None
        same = [u for u, k in zip(tables, keys, strict=True) if k == key and len(u)]
        corner = (min(float(u["x"].min()) for u in same), min(float(u["y"].min()) for u in same)) \
            if same else (0.0, 0.0)
        frames[key] = (crs, corner)
    ups = np.concatenate([t["peak_up_mbps"].to_numpy(np.float64) for t in tables] + [np.zeros(0)])
    ups = ups[ups > 0]
    vmax = float(ups.max()) if len(ups) else 1.0
    vmin = min(float(ups.min()) if len(ups) else 0.1, vmax / 10)
    norm = LogNorm(vmin=vmin, vmax=vmax)
    n = len(shown)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = _figure(4.6 * ncols + 0.8, 4.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    mappable = None
    for ax, run, label, t, key in zip(axes, shown, labels, tables, keys, strict=False):
        grid = run_grid(run)
        if len(t):
            polys = grid.corners(t["q"].to_numpy(), t["r"].to_numpy())
            up = t["peak_up_mbps"].to_numpy()
            quiet = up <= 0
            ax.add_collection(PolyCollection(polys[quiet], facecolor="#e8e8e8", edgecolor="#c0c0c0", lw=0.2))
            coll = PolyCollection(polys[~quiet], array=up[~quiet], cmap="inferno_r", norm=norm,
                                  edgecolor="#606060", lw=0.2)
            ax.add_collection(coll)
            mappable = coll
            ax.set_xlim(polys[..., 0].min() - grid.radius, polys[..., 0].max() + grid.radius)
            ax.set_ylim(polys[..., 1].min() - grid.radius, polys[..., 1].max() + grid.radius)
        ax.set_aspect("equal")
        ax.set_title(label, fontsize=9)
        km_axes(ax, frames[key][1], frames[key][0])
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    if mappable is not None:
        from matplotlib.ticker import FuncFormatter

        bar = fig.colorbar(mappable, ax=axes[:n].tolist(), shrink=0.8,
                           label="peak backhaul uplink of the cell's server (Mbit/s, log scale)")
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")  # 40, not 4 × 10¹
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain)
    note = "" if complete else " (topology not rebuilt: only cells visited by test users)"
    fig.suptitle(f"Per-cell backhaul traffic over the hex grid (grey: no uplink){note}")
    return fig


def _latency_groups(runs: Sequence[RunDir]) -> list[list[RunDir]]:
    """Runs grouped by (scenario, model, r) in order of appearance: each group shares one replay."""
    groups: dict[tuple, list[RunDir]] = {}
    for run in runs:
        key = tuple(str(run.summary.get(k)) for k in ("scenario", "model", "radius_m"))
        groups.setdefault(key, []).append(run)
    return list(groups.values())


def latency_figure(runs: Sequence[RunDir], *, max_runs: int = 6, max_groups: int = 4):
    """Query latency of one user around one server change: one column per (scenario, model, r) of the runs
    (at most `max_groups`, the rest named in the title), one panel per run (at most `max_runs` a column).

    The change is `representative_change` of the column's runs (the most common combination of outcomes;
    the column's title says so), at time 0; dotted: the planned latency, dashed: client only.
    Returns None when no group has a server change common to its runs.
    """
    import textwrap

    groups = [g[:max_runs] for g in _latency_groups(runs)]
    picks = [(g, representative_change(g)) for g in groups]
    picks = [(g, p) for g, p in picks if p is not None]
    if not picks:
        return None
    left_out = len(picks) - max_groups
    picks = picks[:max_groups]
    nrows = max(len(g) for g, _ in picks)
    ncols = len(picks)
    fig = _figure(7.5 * ncols, 1.9 + 1.45 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex="col")
    for j, (group, pick) in enumerate(picks):
        first = group[0].summary
        labels = run_labels(group)
        plan = first.get("plan") or {}
        ho = group[0].table("handovers").set_index("row")
        user = str(ho.loc[pick.row, "user"])
        for i, (run, label) in enumerate(zip(group, labels, strict=True)):
            ax = axes[i, j]
            tl = latency_timeline(run, pick.row)
            c = _colour(run.summary.get("policy", ""), i)
            if not tl.empty:
                ax.step(tl["since_change_s"], tl["latency_s"] * 1e3, where="post", color=c, lw=1.2)
                ax.scatter(tl["since_change_s"], tl["latency_s"] * 1e3, color=c, s=6)
            at = run.table("handovers").set_index("row").loc[pick.row]
            ax.text(0.99, 0.92, f"{at['kind']}: {int(at['queries'])} queries in the interval after the "
                    "change", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
            if plan.get("latency_s") is not None:
                ax.axhline(plan["latency_s"] * 1e3, color="k", lw=0.7, ls=":",
                           label="planned latency (all layers on the server)")
            if plan.get("client_only_s") is not None:
                ax.axhline(plan["client_only_s"] * 1e3, color="k", lw=0.7, ls="--",
                           label="client only (no layers on the server)")
            ax.axvline(0.0, color="k", lw=0.8)
            ax.set_ylabel(f"{label}\n(ms)", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes[len(group):, j]:
            ax.set_visible(False)
        axes[len(group) - 1, j].set_xlabel("time since the server change (s)", fontsize=8)
        note = textwrap.fill(pick.note(labels), 110)
        where = f"{first.get('scenario')} · {first.get('model')} · r = {first.get('radius_m'):g} m"
        axes[0, j].set_title(f"{where} · user {user}\n{note}", fontsize=8, loc="left")
    handles, names = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8)
    more = f" ({left_out} more scenario/model/r groups not shown)" if left_out > 0 else ""
    fig.suptitle(f"Query latency around a server change, per run{more}", fontsize=10)
    return fig
