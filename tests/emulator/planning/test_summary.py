"""The zoo-level summaries and the `edgeroam dnn plan` command on a real zoo model and presets."""

from __future__ import annotations

import json

import pytest

from edgeroam.cli import main
from edgeroam.emulator.planning.summary import perdnn_fig7, perdnn_table2, plan_summary
from edgeroam.errors import PlanningError


def test_plan_summary_mobilenet():
    d = plan_summary("mobilenet", order="efficiency")
    p = d["plan"]
    assert p["latency_s"] <= p["client_only_s"]
    assert p["client_s"] + p["server_s"] + p["transfer_s"] == pytest.approx(p["latency_s"])
    o = d["order"]
    assert o["table"][-1]["cumulative_mb"] == pytest.approx(p["server_mb"])
    assert o["table"][-1]["latency_after_s"] == pytest.approx(p["latency_s"])  # a chain: lane = exact
    with pytest.raises(PlanningError, match="unknown upload order"):
        plan_summary("mobilenet", order="random")


def test_table2_and_fig7_shapes():
    t = perdnn_table2(models=("mobilenet_v1",))
    row = t.iloc[0]
    assert row["hit"] >= row["miss_ionn"] >= 1 and row["hit"] >= row["miss_efficiency"]
    tl, peaks = perdnn_fig7("mobilenet_v1", fractions_mb=(4.0,))
    assert set(tl["server"]) == {0, 1}
    assert peaks["peak_after_change_s"].iat[0] == pytest.approx(float(t.iloc[0]["client_only_s"]))
    assert (peaks["ionn_peak_over_peak"] >= 1 - 1e-12).all()


def test_cli_plan_json(capsys):
    assert main(["dnn", "plan", "mobilenet", "--order", "ionn", "--budget-mb", "5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["order"]["method"] == "ionn" and d["order"]["held_at_start_mb"] <= 5
    assert main(["dnn", "plan", "mobilenet"]) == 0
    assert "upload order" in capsys.readouterr().out
    assert main(["dnn", "plan", "mobilenet", "--order", "nope"]) == 1
