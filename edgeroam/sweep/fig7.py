"""`reproduce` section ``fig7``: PerDNN Fig. 7, query latency around a server change (one client).

The experiment is `edgeroam.emulator.planning.summary.perdnn_fig7` (IONN against proactive migration of the
whole server side and of a 12 MB efficiency-order prefix, for each of the three models); this module turns
its peaks into the generated tables of ``docs/reproductions/table2.md`` and the TARGETS items P-F7a/b/c, and
draws the timelines. Registering the section is reproduce.py's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from edgeroam.sweep.reproduce import Item, Section

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.sweep.reproduce import Context

__all__ = ["PAPER_CHANGE_S", "fig7"]

#: TARGETS P-F7a: the server change (the IONN spike) read off the paper's Fig. 7, in seconds
PAPER_CHANGE_S = {"inception_21k": 30.0, "resnet50": 23.0, "mobilenet_v1": 6.0}
#: TARGETS P-F7b/c: Inception with 12 MB (9.4 % of 128 MB) migrated has a 2.8x lower peak than IONN
PAPER_RATIO, PAPER_BUDGET_MB, PAPER_MODEL_MB = 2.8, 12.0, 128.0
#: what the paper's figure shows for each case (its only number is Inception's 12 MB ratio)
PAPER_SHAPE = {"IONN": "spike", "PM 100 %": "small rise", "PM, 12 MB budget": "–"}


def _case(label: str) -> str:
    """The case names of `perdnn_fig7` ("PM 9.1 MB (budget 12 MB)") as short, model-independent names."""
    return "PM, 12 MB budget" if "budget" in label else label.replace("100%", "100 %")


def fig7(ctx: Context) -> Section:
    """PerDNN Fig. 7: peak query latency after the server change, IONN against PM (100 % and 12 MB)."""
    from edgeroam.emulator.planning.summary import perdnn_fig7

    sec = Section(
        "fig7",
        "PerDNN Fig. 7: query latency around a server change (one client)",
        "python benchmarks/planning.py --fig7",
    )
    rows, change_rows, timelines = [], [], {}
    for model in PAPER_CHANGE_S:
        tl, peaks = perdnn_fig7(model, fractions_mb=(PAPER_BUDGET_MB,))
        timelines[model] = tl
        change = float(tl.attrs["change_at_s"])
        change_rows.append({"model": model, "paper_change_s": PAPER_CHANGE_S[model],
                            "change_s": round(change, 1)})
        sec.items.append(Item("P-F7a", f"{model}: server change (IONN spike) at", PAPER_CHANGE_S[model],
                              round(change, 1), "s", "change = end of the upload to server 0"))
        for r in peaks.itertuples():
            case = _case(r.case)
            paper = PAPER_SHAPE[case]
            if model == "inception_21k" and case == "PM, 12 MB budget":
                paper = f"{PAPER_RATIO:g}× lower peak with {PAPER_BUDGET_MB:g} MB"
                sec.items.append(Item("P-F7b", "inception_21k: IONN peak / PM peak, 12 MB budget",
                                      PAPER_RATIO, round(float(r.ionn_peak_over_peak), 2), "×",
                                      f"{r.migrated_mb:.1f} MB of whole groups fit the budget"))
                sec.items.append(Item("P-F7c", "inception_21k: migrated share of the whole model",
                                      round(100 * PAPER_BUDGET_MB / PAPER_MODEL_MB, 1),
                                      round(100 * float(r.migrated_mb) / _whole_mb(model), 1), "%"))
            rows.append({
                "model": model,
                "case": case,
                "migrated_mb": round(float(r.migrated_mb), 1),
                "peak_after_change_s": round(float(r.peak_after_change_s), 3),
                "ionn_peak_over_peak": round(float(r.ionn_peak_over_peak), 2),
                "paper": paper,
            })
    sec.tables["fig7-peaks"] = pd.DataFrame(rows)
    sec.tables["fig7-change"] = pd.DataFrame(change_rows)
    sec.figures.append(_figure(timelines, ctx))
    return sec


def _whole_mb(model: str) -> float:
    """Every weight of `model` in MB (the paper's 128 MB for Inception is its whole model)."""
    from edgeroam.emulator.dnn.zoo import model_graph

    return model_graph(model).total_weight_bytes / 1e6


def _figure(timelines: dict[str, pd.DataFrame], ctx: Context):
    """One panel per model: query latency against start time, one step line per case, the change dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeroam.report.figures import save_figure

    fig, axes = plt.subplots(1, len(timelines), figsize=(4.2 * len(timelines), 3.4))
    for ax, (model, tl) in zip(axes, timelines.items(), strict=True):
        for case, d in tl.groupby("case", sort=False):
            ax.step(d["start_s"], d["latency_s"], where="post", marker=".", ms=3, label=_case(str(case)))
        ax.axvline(tl.attrs["change_at_s"], color="grey", ls=":")
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("query start (s)")
    axes[0].set_ylabel("query latency (s)")
    axes[0].legend(fontsize=7)
    fig.suptitle("PerDNN Fig. 7: odroid-xu4 client, titan-xp servers, server change at the dotted line",
                 fontsize=9)
    fig.tight_layout()
    path = ctx.out / "figures" / "fig7.png"
    save_figure(fig, path)
    plt.close(fig)
    return path
