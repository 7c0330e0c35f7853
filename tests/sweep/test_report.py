"""edgeroam.sweep.report: table cells, Markdown tables and the reproduction report's two pages."""

from __future__ import annotations

import doctest

import pytest

from edgeroam.sweep import report
from edgeroam.sweep.report import HEADERS, fmt, markdown_table, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_doctests_run():
    result = doctest.testmod(report)
    assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (True, "yes"), (False, "no"), (-1234567, "-1,234,567"), (0, "0"), (1234.5, "1,234.5"),
        (0.125, "0.125"), (2.0 / 3.0, "0.667"), (float("inf"), "–"), (float("-inf"), "–"), ("a|b", "a|b"),
    ],
)
def test_fmt(value, cell):
    assert fmt(value) == cell


def test_markdown_table_names_columns_and_aligns_numbers_right():
    text = markdown_table(["hit", "policy", "n"], [[0.5, "perdnn", 3], [None, "ionn", 12000]])
    head, sep, *body = text.split("\n")
    assert head == f"| {HEADERS['hit']} | policy | n |"
    assert sep == "|---:|---|---:|"
    assert body == ["| 0.5 | perdnn | 3 |", "| – | ionn | 12,000 |"]


def test_a_column_with_any_text_is_left_aligned_and_no_rows_is_a_header():
    assert markdown_table(["x"], [[1], ["n/a"]]).split("\n")[1] == "|---|"
    assert markdown_table(["gap"], []) == f"| {HEADERS['gap']} |\n|---:|"


def _results(items: list[dict]) -> dict:
    return {
        "paper": "perdnn",
        "quick": True,
        "commit": "abc1234",
        "wall_s": 12.4,
        "not_covered": {"perdnn": "P-F8 <needs a testbed>"},
        "sections": {
            "table1": {
                "title": "Table 1: models",
                "command": "edgeroam planners models",
                "wall_s": 3.2,
                "items": items,
                "tables": {
                    "layers": {"columns": ["model", "nodes"], "rows": [["mobilenet", 1234]],
                               "info": {"R": "50 m"}},
                    "bare": {"columns": ["a"], "rows": [[1.5]]},
                },
                "figures": ["fig7.png"],
            }
        },
    }


ITEMS = [
    {"id": "P-T1b", "what": "layers", "paper": 312, "ours": 312, "gap": 0, "unit": "", "note": ""},
    {"id": "P-T2a", "what": "upload", "paper": 10.0, "ours": 12.34, "gap": 2.34, "unit": "s", "note": "x<y"},
    {"id": "P-T2b", "what": "hit", "paper": None, "ours": 0.5, "gap": None, "unit": "", "note": ""},
]


def test_write_report_writes_markdown_html_and_the_items_figure(tmp_path):
    md_path, html_path = write_report(_results(ITEMS), tmp_path)
    assert (md_path, html_path) == (tmp_path / "report.md", tmp_path / "report.html")
    md = md_path.read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == "# edgeroam reproduce perdnn (quick)"
    assert "Commit `abc1234`, wall time 12 s." in md
    assert "## Table 1: models" in lines and "`edgeroam planners models` (3 s; section `table1`)" in lines
    assert "| P-T1b | layers | 312 | 312 | 0 |  |  |" in lines
    assert "| P-T2a | upload | 10.0 | 12.340 | 2.3 | s | x<y |" in lines  # the gap rounded to 0.1
    assert "| P-T2b | hit | – | 0.5 | – |  |  |" in lines
    assert "**layers** (R 50 m)" in lines and "**bare**" in lines
    assert "![fig7.png](figures/fig7.png)" in lines and "![ours / paper](figures/items.png)" in lines
    assert lines[-1] == "- **perdnn**: P-F8 <needs a testbed>"
    assert (tmp_path / "figures" / "items.png").read_bytes().startswith(PNG)
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count("<table>") == 3
    assert "<h1>edgeroam reproduce perdnn (quick)</h1>" in page and "<h2>Table 1: models</h2>" in page
    assert "<td>x&lt;y</td>" in page and "&lt;needs a testbed&gt;" in page and "<needs" not in page
    assert '<img src="figures/items.png"' in page and '<img src="figures/fig7.png"' in page
    assert "<td>---:</td>" not in page and "<th>TARGETS id</th>" in page


def test_no_item_with_both_numbers_draws_no_figure(tmp_path):
    res = _results([ITEMS[2]])
    res["quick"] = False
    md_path, _ = write_report(res, tmp_path)
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# edgeroam reproduce perdnn (full)")
    assert "items.png" not in md and not (tmp_path / "figures" / "items.png").exists()


def test_a_section_without_items_has_no_items_table(tmp_path):
    res = _results([])
    md = write_report(res, tmp_path)[0].read_text(encoding="utf-8")
    assert "TARGETS id" not in md and "**layers**" in md
