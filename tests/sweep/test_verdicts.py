"""fig4.md's verdict table: each P-F4 verdict follows from the run's own numbers by a fixed rule."""

from __future__ import annotations

import pandas as pd

from edgeroam.sweep.verdicts import fig4_verdict


def _mae(ll, ll_load, rf):
    return pd.DataFrame({"clients": [1, 2, 3], "LL": ll, "LL w/ load": ll_load, "RF w/ load": rf,
                         "RF w/o load": [0, 0, 0], "mean_seconds": [0, 0, 0]})


def _imp(**kw):
    return pd.DataFrame({"feature": list(kw), "importance": list(kw.values())})


def test_the_papers_picture_gives_yes_everywhere():
    t = fig4_verdict(_mae([100, 400, 700], [90, 200, 300], [80, 150, 250]),
                     _imp(clients=0.5, procs_running=0.2, flops=0.3))
    assert list(t["id"]) == ["P-F4a", "P-F4b", "P-F4c", "P-F4d"]
    assert list(t["verdict"]) == ["yes", "yes", "yes", "yes"]
    assert "clients, flops" in t["ours"].iat[3] and "43 % of LL (300 against 700 µs)" in t["ours"].iat[1]


def test_a_noisy_run_is_not_read_as_a_finding():
    t = fig4_verdict(_mae([900, 400, 700], [950, 390, 690], [800, 420, 720]),
                     _imp(flops=0.7, loadavg1=0.2, cpu_util=0.1)).set_index("id")
    assert t.loc["P-F4a", "verdict"] == "not reproduced"  # falls from 1 to 2 clients, above 800 µs
    assert t.loc["P-F4b", "verdict"] == "not reproduced"  # 99 % of LL is not "much lower"
    assert t.loc["P-F4c", "verdict"].startswith("mixed")
    assert "clients: 1 (of 3 levels)" in t.loc["P-F4c", "ours"]
    assert t.loc["P-F4d", "verdict"] == "no"
    none = fig4_verdict(_mae([1, 2, 3], [1, 2, 3], [5, 5, 5]), _imp(flops=1.0)).set_index("id")
    assert none.loc["P-F4c", "verdict"] == "no" and "clients: none" in none.loc["P-F4c", "ours"]
