"""Report figures on real demo runs: panels per run and model, and a latency figure only with a common change.

`make_report` itself is tested in test_build.py."""

from __future__ import annotations

import json

from edgeroam.emulator.rundir import manifest_of
from edgeroam.report import (
    backhaul_figure,
    fig9_figure,
    latency_figure,
    load_runs,
    traffic_map_figure,
)


def test_figure_panels(demo_runs):
    runs = load_runs(demo_runs.values())
    fig = fig9_figure(runs)
    assert len(fig.axes) == 2  # one (scenario, model): queries and hit ratio
    bars = fig.axes[1].patches
    heights = sorted(round(b.get_height(), 6) for b in bars)
    assert heights[0] == 0.0 and heights[-1] == 100.0  # ionn and optimal
    assert len(backhaul_figure(runs).axes) == 2
    lat = latency_figure(runs)
    assert len(lat.axes) == len(runs)
    tm = traffic_map_figure(runs, max_panels=2)
    visible = [ax for ax in tm.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(visible) == 2


def test_latency_figure_none_without_common_change(demo_runs, tmp_path):
    import shutil

    import pandas as pd

    # a copy of a run whose handovers share no replay row with the original
    copy = tmp_path / "demo-copy"
    shutil.copytree(demo_runs["perdnn"], copy)
    ho = pd.read_parquet(copy / "handovers.parquet")
    ho["row"] += 10**9
    ho.to_parquet(copy / "handovers.parquet", index=False)
    (copy / "manifest.json").write_text(json.dumps(manifest_of(copy)))  # a changed run, made consistent
    assert latency_figure(load_runs([demo_runs["perdnn"], copy], sort=False)) is None

