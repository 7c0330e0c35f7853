"""Verdict tables written from a section's own measurement, so that a doc never types a verdict that the
next regeneration contradicts (issue 24: fig4.md stated one timing draw as a finding).

`fig4_verdict` reads PerDNN Fig. 4's claims (TARGETS P-F4a-d) against one run of the estimator comparison:
the MAE table (µs per method and number of clients) and the random forest's feature importances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["fig4_verdict"]

#: PerDNN's text about Fig. 4, per TARGETS id
FIG4_PAPER = {
    "P-F4a": "LL's MAE surges with the number of clients; at most ~800 µs for one layer",
    "P-F4b": "LL w/ load much lower than LL under many clients",
    "P-F4c": "RF w/ load lower than LL w/ load",
    "P-F4d": "load features more important than hyperparameters",
}
#: "much lower": at most this share of the other method's MAE
MUCH = 0.8


def _levels(clients: np.ndarray, mask: np.ndarray) -> str:
    return ", ".join(str(int(c)) for c in clients[mask]) or "none"


def fig4_verdict(mae: pd.DataFrame, importance: pd.DataFrame) -> pd.DataFrame:
    """One row per P-F4 item: the paper's claim, what this run measured, and the verdict.

    `mae`: columns clients, LL, LL w/ load, RF w/ load (µs), one row per number of clients; `importance`:
    columns feature, importance. Rules: P-F4a holds when LL's MAE never falls as clients grow and stays at
    most 800 µs; P-F4b when LL w/ load is at most 80 % of LL at the most clients; P-F4c at every level, "no"
    at none, "mixed" otherwise; P-F4d when the load features' importances add up to more than the
    hyperparameters'.
    """
    from edgeroam.emulator.dnn.estimator import LOAD_FEATURES

    m = mae.sort_values("clients")
    c = m["clients"].to_numpy()
    ll, ll_load, rf = (m[k].to_numpy(float) for k in ("LL", "LL w/ load", "RF w/ load"))
    monotone = bool(np.all(np.diff(ll) >= 0))
    a_ok = monotone and ll.max() <= 800
    b_ratio = ll_load[-1] / ll[-1]
    rf_lower = rf < ll_load
    imp = importance.set_index("feature")["importance"]
    load = float(imp[imp.index.isin(LOAD_FEATURES)].sum())
    hyper = float(imp[~imp.index.isin(LOAD_FEATURES)].sum())
    top = ", ".join(imp.sort_values(ascending=False).index[:2])
    rows = [
        ("P-F4a", f"LL's MAE {ll.min():,.0f} to {ll.max():,.0f} µs; never falling as clients grow: "
                  f"{'yes' if monotone else 'no'}", "yes" if a_ok else "not reproduced"),
        ("P-F4b", f"at {int(c[-1])} clients LL w/ load is {100 * b_ratio:.0f} % of LL "
                  f"({ll_load[-1]:,.0f} against {ll[-1]:,.0f} µs)",
         "yes" if b_ratio <= MUCH else "not reproduced"),
        ("P-F4c", f"RF w/ load lower than LL w/ load at clients: {_levels(c, rf_lower)} (of {len(c)} levels)",
         "yes" if rf_lower.all() else "no" if not rf_lower.any() else "mixed: the sign changes with load"),
        ("P-F4d", f"importance of the load features {load:.2f} against the hyperparameters' {hyper:.2f}; "
                  f"the two most important: {top}", "yes" if load > hyper else "no"),
    ]
    return pd.DataFrame([{"id": i, "paper": FIG4_PAPER[i], "ours": ours, "verdict": v}
                         for i, ours, v in rows])
