"""The Fig. 7 section: its tables are the ones docs/reproductions/table2.md records, with TARGETS items."""

from __future__ import annotations

import json
from pathlib import Path

from edgeroam.sweep.docs import RECORD, compare_rows
from edgeroam.sweep.reproduce import PAPERS, reproduce

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


def test_fig7_regenerates_the_documented_table_and_items(tmp_path):
    assert "fig7" in PAPERS["perdnn"]
    res = reproduce("perdnn", tmp_path, quick=True, only=["fig7"], progress=False)
    sec = res["sections"]["fig7"]
    record = json.loads((DOCS / RECORD).read_text())
    assert set(sec["tables"]) == {"fig7-peaks", "fig7-change"}
    for name, t in sec["tables"].items():
        assert compare_rows(t, record[name]) == [], name
    peaks = {(r[0], r[1]): r for r in sec["tables"]["fig7-peaks"]["rows"]}
    assert len(peaks) == 9  # three models × IONN, PM 100 %, PM within 12 MB
    for model in ("inception_21k", "resnet50", "mobilenet_v1"):
        ionn, full, part = (peaks[(model, c)] for c in ("IONN", "PM 100 %", "PM, 12 MB budget"))
        assert ionn[2] == 0 and 0 < part[2] <= 12.0 and part[2] < full[2]  # MB migrated
        assert full[3] < part[3] < ionn[3]  # more migrated, lower peak after the change
    ids = {i["id"] for i in sec["items"]}
    assert ids == {"P-F7a", "P-F7b", "P-F7c"}
    ratio = next(i for i in sec["items"] if i["id"] == "P-F7b")
    assert ratio["paper"] == 2.8 and ratio["ours"] == peaks[("inception_21k", "PM, 12 MB budget")][4]
    assert (tmp_path / "figures" / "fig7.png").stat().st_size > 5000
    assert "![fig7.png](figures/fig7.png)" in (tmp_path / "report.md").read_text()
