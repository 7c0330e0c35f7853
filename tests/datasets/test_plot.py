"""plot: a map figure is written for metric and lon/lat traces, with the region outline."""

from __future__ import annotations

import pandas as pd
import pytest

from edgeroam.datasets.plot import plot_traces
from edgeroam.datasets.synthetic import synthetic_traces
from edgeroam.datasets.traces import make_traces
from edgeroam.errors import DatasetError


def test_plot_metric_with_region(tmp_path):
    df = synthetic_traces(users=3, duration_s=600, seed=0)
    out = plot_traces(df, tmp_path / "sub" / "map.png", "synthetic")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_lonlat_region_and_svg(tmp_path):
    df = make_traces(
        pd.DataFrame(
            {
                "user": ["a", "a", "b"],
                "traj": [0, 1, 0],
                "t": [0.0, 1.0, 0.0],
                "lat": [39.91, 39.92, 39.93],
                "lon": [116.36, 116.37, 116.40],
            }
        )
    )
    out = plot_traces(df, tmp_path / "map.svg", "perdnn-geolife")
    assert out.read_text().lstrip().startswith("<?xml")


def test_plot_needs_coordinates(tmp_path):
    df = make_traces(pd.DataFrame({"user": ["a"], "traj": [0], "t": [0.0]}))
    with pytest.raises(DatasetError, match="neither"):
        plot_traces(df, tmp_path / "x.png")
