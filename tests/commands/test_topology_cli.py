"""`edgeroam topology build/show` through the root CLI on the demo scenario (and the real ones, slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeroam.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_build_json_writes_layers_and_map(tmp_path, capsys):
    code = main(["topology", "build", str(SCENARIOS / "demo.toml"), "--json", "--out", str(tmp_path)])
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["scenario"] == "demo" and s["servers"]["edge"] == s["cells"]["visited_all_users"] > 0
    assert s["backhaul"]["connected"] is True
    assert s["paths"]["hops"]["pairs"] == s["servers"]["edge"] * (s["servers"]["edge"] - 1) // 2
    assert Path(s["files"]["map"]).stat().st_size > 10_000
    for p in s["files"]["layers"]["paths"]:
        assert Path(p).exists()


def test_build_table_and_set_override(tmp_path, capsys):
    code = main(
        [
            "topology",
            "build",
            str(SCENARIOS / "demo.toml"),
            "--out",
            str(tmp_path),
            "--no-export",
            "--set",
            "topology.backhaul.shape=star",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "edge servers" in out and "star" in out and "shortest paths" in out
    assert not list(tmp_path.iterdir())


def test_show_writes_png(tmp_path, capsys):
    target = tmp_path / "m.png"
    assert main(["topology", "show", str(SCENARIOS / "demo.toml"), "--out", str(target)]) == 0
    assert target.stat().st_size > 10_000 and "map:" in capsys.readouterr().out


def test_bad_scenario_is_one_red_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[topology]\nradius_m = 'x'\n")
    assert main(["topology", "build", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "topology.radius_m" in err and str(bad.name) in err and "Traceback" not in err
    assert main(["topology", "build", str(SCENARIOS / "demo.toml"), "--set", "topology.radius=5"]) == 1
    assert "unknown key" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("name", "lo", "hi"), [("perdnn-kaist", 300, 480), ("perdnn-geolife", 1000, 6000)])
def test_real_scenarios_server_counts(shared_traces, tmp_path, capsys, name, lo, hi):
    code = main(
        [
            "topology",
            "build",
            str(SCENARIOS / f"{name}.toml"),
            "--json",
            "--no-export",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert lo <= s["servers"]["edge"] <= hi
    assert s["backhaul"]["connected"] and "perdnn" in s
