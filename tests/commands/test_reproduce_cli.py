"""`edgeroam reproduce --help`: `--only` lists the sections the registry holds, not a typed list."""

from __future__ import annotations

import re

from edgeroam.cli import main
from edgeroam.sweep.reproduce import SECTIONS


def test_only_lists_every_registered_section(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["reproduce", "--help"]) == 0
    out = capsys.readouterr().out
    text = re.sub(r"[\s│]+", " ", out[out.index("--only"):out.index("--docs ")])
    listed = text.split("(repeatable):", 1)[1].strip().rstrip(".").split(", ")
    assert [s.strip() for s in listed] == list(SECTIONS)
    assert {"fig9-align", "table3-modes", "table3-study", "table3-cost", "honest-beat"} <= set(listed)
