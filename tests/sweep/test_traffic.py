"""The traffic-maps section: the KAIST run's maps are written, the table is the recorded one, and a second
section needing the same run reuses it from the run store."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from edgeroam.sweep.docs import RECORD, compare_rows
from edgeroam.sweep.reproduce import reproduce

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


@pytest.mark.slow
def test_traffic_maps_section_writes_the_maps_and_the_recorded_table(shared_traces, tmp_path):
    res = reproduce("perdnn", tmp_path, quick=True, only=["traffic-maps"], progress=False)
    sec = res["sections"]["traffic-maps"]
    t = sec["tables"]["traffic-kaist-links"]
    record = json.loads((DOCS / RECORD).read_text())
    assert compare_rows(t, record["traffic-kaist-links"]) == []
    peaks = [r[t["columns"].index("peak_mbps")] for r in t["rows"]]
    assert len(peaks) == 8 and peaks == sorted(peaks, reverse=True) and peaks[0] > 0
    maps = tmp_path / "maps" / "kaist"
    assert {p.name for p in maps.iterdir()} == {"traffic.gpkg", "traffic.png", "traffic.html"}
    links = gpd.read_file(maps / "traffic.gpkg", layer="links")
    assert links["peak_mbps"].max() == pytest.approx(peaks[0], abs=0.05)
    assert sec["figures"] == ["traffic-kaist.png"] and (tmp_path / "figures" / "traffic-kaist.png").exists()
    # the run lives once in the store; another call's sweep of the same scenario links it, runs nothing
    again = reproduce("perdnn", tmp_path, quick=True, only=["traffic-maps"], progress=False)
    assert again["sections"]["traffic-maps"]["tables"] == sec["tables"]
    store = [p for p in (tmp_path / "store").iterdir() if not p.name.startswith(".")]
    assert len(store) == 1 and (tmp_path / "sweeps" / "traffic-kaist" / "runs" / store[0].name).is_symlink()
