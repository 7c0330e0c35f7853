"""`edgeroam reproduce`: TARGETS items beside the paper's numbers, one report, unknown names refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edgeroam.cli import main
from edgeroam.errors import ScenarioError
from edgeroam.sweep.docs import RECORD, compare_rows
from edgeroam.sweep.reproduce import reproduce

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reproductions"
TARGETS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "TARGETS.md"


def test_the_report_puts_ours_beside_the_paper_for_each_item(tmp_path):
    res = reproduce("perdnn", tmp_path, quick=True, only=["table1"], progress=False)
    items = res["sections"]["table1"]["items"]
    inc = next(i for i in items if i["id"] == "P-T1b" and "layers" in i["what"])
    assert (inc["paper"], inc["ours"], inc["gap"]) == (312, 312, 0)
    md = (tmp_path / "report.md").read_text()
    assert "| P-T1b | inception_21k: layers (caffe count) | 312 | 312 | 0 |" in md
    assert (tmp_path / "report.html").read_text().count("<table>") >= 2
    assert (tmp_path / "figures" / "items.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["sections"]["table1"]["items"] == items


def test_uncovered_papers_say_so_and_unknown_names_are_refused(tmp_path):
    res = reproduce("s3", tmp_path, progress=False)
    assert set(res["sections"]) == {"s3-table1", "s3-seeds"}
    assert "S3-H" in res["not_covered"]["s3"]
    with pytest.raises(ScenarioError, match="unknown paper"):
        reproduce("nope", tmp_path, progress=False)
    with pytest.raises(ScenarioError, match="unknown section"):
        reproduce("perdnn", tmp_path, only=["fig99"], progress=False)


def test_the_item_ids_are_targets_ids(tmp_path):
    res = reproduce("perdnn", tmp_path, quick=True, only=["table1", "table2"], progress=False)
    known = set(re.findall(r"\| (P-[A-Z0-9]+[a-z]?) \|", TARGETS.read_text())) if TARGETS.exists() else None
    ids = {i["id"] for s in res["sections"].values() for i in s["items"]}
    assert ids == {"P-T1a", "P-T1b", "P-T1c", "P-T2a", "P-T2b", "P-T2c"}
    if known is not None:
        assert ids <= known


@pytest.mark.slow
def test_reproduce_all_quick_matches_every_documented_table(tmp_path, capsys):
    """What CI runs: the whole quick reproduction; every table it makes is in the docs' record."""
    code = main(["reproduce", "all", "--quick", "--out", str(tmp_path), "--no-progress", "--workers", "2"])
    assert code == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "results.json").read_text())
    assert set(res["sections"]) == {"table1", "table2", "fig7", "table3", "fig9", "traffic-maps", "fig10",
                                    "confidence", "beat", "eosdnn-toy", "eosdnn-models", "eosdnn-lmu",
                                    "eosdnn-migration",
                                    "s0-fig5", "s3-table1", "eosdnn-lmu-seeds", "s3-seeds",
                                    "eosdnn-engine", "table3-modes"}
    ids = {i["id"] for s in res["sections"].values() for i in s["items"]}
    assert {"P-T1b", "P-T2c", "P-T3a", "P-F9a", "P-F9b", "P-F9f", "P-B1", "P-F10a", "P-D2"} <= ids
    record = json.loads((DOCS / RECORD).read_text())
    for s in res["sections"].values():
        for name, t in s["tables"].items():
            assert name in record, f"{name}: not in docs/reproductions/{RECORD}"
            assert compare_rows(t, record[name]) == [], name
