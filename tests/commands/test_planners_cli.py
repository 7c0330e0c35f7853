"""`edgeroam planners` through the real CLI entry point."""

from __future__ import annotations

import json

from edgeroam.cli import main
from edgeroam.emulator.planning.taxonomy import PLANNERS


def test_help(capsys):
    assert main(["planners", "--help"]) == 0
    assert "--measure" in capsys.readouterr().out


def test_json_lists_every_planner_with_its_five_dimensions(capsys):
    assert main(["planners", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == set(PLANNERS)
    for row in d.values():
        assert {"deployment", "granularity", "constraints", "objectives", "algorithm"} <= set(row)
        assert "measured" not in row


def test_measure_adds_a_cost_per_size(capsys):
    assert main(["planners", "--measure", "--iterations", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    sizes = [m["size"] for m in d["pso-ga"]["measured"]]
    assert len(sizes) == 3 and all(m["seconds"] > 0 for m in d["pso-ga"]["measured"])


def test_table(capsys):
    assert main(["planners"]) == 0
    assert "planners (S2 classification)" in capsys.readouterr().out
