"""The reproduction report: Markdown, a static HTML page and PNGs, every figure with its data table beside it.

Tables are rendered by `markdown_table`, the same function that writes the generated blocks of
``docs/reproductions/*.md`` (`edgeroam.sweep.docs`), so the report and the docs cannot disagree.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

__all__ = ["HEADERS", "fmt", "markdown_table", "write_report"]

#: readable column headers (a column not listed keeps its name)
HEADERS: dict[str, str] = {
    "paper": "paper",
    "ours": "ours",
    "gap": "ours − paper",
    "paper_layers": "paper layers",
    "caffe_layers": "ours (caffe count)",
    "nodes": "our graph nodes",
    "weights_mib": "ours MiB",
    "paper_mb": "paper MB",
    "server_side_mb": "server-side MB",
    "upload_s": "upload s",
    "miss_ionn": "miss (IONN order)",
    "miss_efficiency": "miss (efficiency order)",
    "hit": "hit",
    "paper_upload_s": "paper upload s",
    "paper_miss": "paper miss",
    "paper_hit": "paper hit",
    "paper_top1": "paper top-1",
    "paper_top2": "paper top-2",
    "paper_mae_m": "paper MAE m",
    "top1": "ours top-1",
    "top2": "ours top-2",
    "mae_m": "ours MAE m (all)",
    "mae_moves_m": "MAE m on moves",
    "predictions": "predictions",
    "non_futile": "scored (non-futile)",
    "r_m": "r (m)",
    "paper_pct": "paper %",
    "perdnn_pct": "ours perdnn %",
    "cold_starts": "server changes",
    "test_users": "test users",
    "paper_optimizable": "paper optimizable",
    "optimizable": "optimizable (optimal − ionn)",
    "peak_whole_mbps": "peak uplink whole (Mbit/s)",
    "peak_fraction_mbps": "peak uplink fractional (Mbit/s)",
    "reduction_pct": "reduction %",
    "paper_reduction_pct": "paper reduction %",
    "query_loss_pct": "query loss %",
    "paper_query_loss_pct": "paper query loss %",
    "mean_pct": "mean hit %",
    "ci95_pct": "± 95 % interval",
    "min_pct": "min %",
    "max_pct": "max %",
    "n": "n",
    "hit_pct": "hit ratio %",
    "migrated_gb": "migrated GB",
    "mean_held": "plans held (mean)",
    "peak_per_server": "peak plans per server",
    "evictions": "LRU evictions",
    "executed_queries": "executed queries", "crowded": "crowded servers", "budget_mb": "budget MB",
    "hit_fraction_pct": "hit ratio % (fractional)", "mean_us": "mean time (µs)",
    "mean_seconds": "mean time (µs)",
    "case": "case", "migrated_mb": "migrated MB", "peak_after_change_s": "peak after change (s)",
    "ionn_peak_over_peak": "IONN peak / peak", "paper_change_s": "paper change s",
    "change_s": "ours change s",
    "u": "from", "v": "to", "klass": "class", "mb_uv": "MB from → to", "mb_vu": "MB to → from",
    "peak_mbps": "peak Mbit/s", "peak_share_pct": "peak % of capacity",
}


def fmt(v: Any) -> str:
    """A table cell: – for missing, thousands separators for whole numbers, floats as they were rounded.

    Examples
    --------
    >>> [fmt(v) for v in (None, 51830, 14.5, 3.0, float("nan"), "svr")]
    ['–', '51,830', '14.5', '3.0', '–', 'svr']
    """
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:,.1f}" if round(v, 1) == v else f"{v:,.3f}"
    return str(v)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A GitHub Markdown table; numbers right-aligned."""
    head = "| " + " | ".join(HEADERS.get(c, c) for c in columns) + " |"
    numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in rows) for i in range(len(columns))]
    sep = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    body = ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def _items_table(items: list[dict[str, Any]]) -> str:
    rows = [
        [
            i["id"],
            i["what"],
            i["paper"],
            i["ours"],
            None if i["gap"] is None else round(i["gap"], 1),
            i["unit"],
            i["note"],
        ]
        for i in items
    ]
    return markdown_table(["TARGETS id", "item", "paper", "ours", "gap", "unit", "note"], rows)


def _items_figure(results: dict[str, Any], path: Path) -> Path | None:
    """ours / paper for every item with both numbers (log scale): one glance at how far each one is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeroam.report.figures import save_figure

    pts = [
        (f"{i['id']} {i['what']}"[:60], i["ours"] / i["paper"])
        for s in results["sections"].values()
        for i in s["items"]
        if i["paper"] and i["ours"] is not None and i["ours"] > 0 and i["paper"] > 0
    ]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(pts) + 1.2))
    ax.barh(
        range(len(pts)), [p[1] for p in pts], color=["#2a7" if 0.8 <= p[1] <= 1.25 else "#c63" for p in pts]
    )
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(pts)), [p[0] for p in pts], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("ours / paper (green: within 0.8–1.25)")
    ax.set_title("every TARGETS item edgeroam reproduces")
    save_figure(fig, path)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/items.png`` into `out`; return the two pages."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    fig = _items_figure(results, out / "figures" / "items.png")
    mode = "quick" if results["quick"] else "full"
    md = [
        f"# edgeroam reproduce {results['paper']} ({mode})",
        "",
        f"Commit `{results['commit']}`, wall time {results['wall_s']:.0f} s. Paper numbers from "
        "`../shared/reference/TARGETS.md`; gap = ours − paper.",
        "",
    ]
    if fig is not None:
        md += ["![ours / paper](figures/items.png)", ""]
    for name, s in results["sections"].items():
        md += [f"## {s['title']}", "", f"`{s['command']}` ({s['wall_s']:.0f} s; section `{name}`)", ""]
        if s["items"]:
            md += [_items_table(s["items"]), ""]
        for fig_name in s["figures"]:
            md += [f"![{fig_name}](figures/{fig_name})", ""]
        for tname, t in s["tables"].items():
            md += [
                f"**{tname}**"
                + (f" ({', '.join(f'{k} {v}' for k, v in t['info'].items())})" if t.get("info") else ""),
                "",
                markdown_table(t["columns"], t["rows"]),
                "",
            ]
    md += ["## Not reproduced by this command", ""]
    md += [f"- **{p}**: {text}" for p, text in results["not_covered"].items()]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(_html(md), encoding="utf-8")
    return md_path, html_path


def _html(md: list[str]) -> str:
    """A static page from the report's Markdown lines (headings, images, tables, paragraphs)."""
    body: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if not table:
            return
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
        head, rows = cells[0], cells[2:]
        body.append(
            "<table><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in head)
            + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>"
        )
        table.clear()

    for line in "\n".join(md).splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            body.append(f'<img src="{html.escape(src)}" style="max-width:100%">')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}td{text-align:right}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>edgeroam reproduce</title><style>{style}"
        f"</style></head><body>{''.join(body)}</body></html>\n"
    )
