"""`edgeroam report` flags a net run whose fidelity table says it stopped being faithful (text and JSON), and
not a faithful one nor a sim run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from edgeroam.cli import main
from edgeroam.emulator.rundir import MANIFEST, manifest_of
from edgeroam.errors import RunError
from edgeroam.report import make_report
from edgeroam.report.fidelity import fidelity_lines, fidelity_table
from edgeroam.report.tables import load_runs


def _fidelity(utils: list[float], idle: list[float]) -> pd.DataFrame:
    """A table as the net backend writes it: link rows judged at 0.9, one CPU row per interval."""
    n = len(utils)
    links = pd.DataFrame({"kind": "link", "transfer": 0, "src": "erc0", "dst": "ers3",
                          "interval": np.arange(n), "start": np.arange(n) * 5.0,
                          "end": np.arange(1, n + 1) * 5.0, "rate_bps": 35e6,
                          "achieved_bps": np.array(utils) * 35e6, "util": utils, "cpu_idle": idle[:n]})
    cpu = pd.DataFrame({"kind": "cpu", "transfer": -1, "src": None, "dst": None,
                        "interval": np.arange(len(idle)), "start": np.arange(len(idle)) * 5.0,
                        "end": np.arange(1, len(idle) + 1) * 5.0,
                        "rate_bps": np.nan, "achieved_bps": np.nan, "util": np.nan, "cpu_idle": idle})
    out = pd.concat([links, cpu], ignore_index=True)
    out["flagged"] = (out["kind"] == "link") & (out["util"] < 0.9)
    out["cpu_out"] = out["cpu_idle"] < 0.02
    return out


def _as_net_run(src, dst, table: pd.DataFrame):
    """A copy of run `src` with a fidelity table and emulated.json, its manifest written again."""
    shutil.copytree(src, dst)
    table.to_parquet(dst / "fidelity.parquet", index=False)
    (dst / "emulated.json").write_text(json.dumps({"backend": "net", "fidelity": {"threshold": 0.9}}))
    (dst / MANIFEST).write_text(json.dumps(manifest_of(dst), sort_keys=True, indent=1) + "\n")
    return dst


@pytest.fixture
def net_runs(demo_runs, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    bad = _as_net_run(demo_runs["perdnn"], root / "bad", _fidelity([0.95, 0.41, 0.93], [0.5, 0.3, 0.01, 0.4]))
    good = _as_net_run(demo_runs["ionn"], root / "good", _fidelity([0.95, 0.94], [0.6, 0.5, 0.7]))
    shutil.copytree(demo_runs["oracle"], root / "sim")
    return root, bad, good


def test_the_verdict_comes_from_the_table(net_runs):
    root, _bad, _good = net_runs
    t = fidelity_table(load_runs([root]))
    assert t["dir"].tolist() == ["good", "bad"]  # the sim run has no row
    good, bad = t.iloc[0], t.iloc[1]
    assert good["faithful"] and good["flagged"] == 0 and good["cpu_out"] == 0 and good["link_intervals"] == 2
    assert not bad["faithful"] and bad["flagged"] == 1 and bad["cpu_out"] == 1
    assert bad["worst_util"] == pytest.approx(0.41) and bad["worst_link"] == "erc0->ers3"
    lines = fidelity_lines(t)
    assert lines[0].startswith("ionn: faithful")
    assert lines[1].startswith("NOT FAITHFUL perdnn") and "1 of 3 link intervals below 0.9" in lines[1]
    assert "CPU ran out in 1 of 4" in lines[1]


def test_report_flags_an_unfaithful_run_in_text_json_and_markdown(net_runs, tmp_path, capsys):
    root, _bad, _good = net_runs
    assert main(["report", str(root), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "NOT FAITHFUL perdnn" in out and "ionn: faithful" in out
    assert main(["report", str(root), "--out", str(tmp_path / "r"), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["unfaithful"] == ["perdnn"]
    assert [r["faithful"] for r in js["fidelity"]] == [True, False]
    md = (tmp_path / "r" / "summary.md").read_text()
    assert "## Fidelity of emulated runs" in md and "**NOT FAITHFUL perdnn" in md


def test_a_faithful_or_sim_report_has_no_flag(net_runs, demo_runs, tmp_path):
    _root, _bad, good = net_runs
    rep = make_report([good], tmp_path / "g")
    assert rep.to_dict()["unfaithful"] == [] and rep.fidelity["faithful"].tolist() == [True]
    sim = make_report([demo_runs["ionn"]], tmp_path / "s")
    assert sim.fidelity.empty and sim.to_dict()["unfaithful"] == []
    assert "Fidelity" not in (tmp_path / "s" / "summary.md").read_text()


def test_a_fidelity_table_without_its_columns_is_one_error(demo_runs, tmp_path):
    run = _as_net_run(demo_runs["ionn"], tmp_path / "x", pd.DataFrame({"kind": ["link"], "util": [0.5]}))
    with pytest.raises(RunError, match="missing columns"):
        fidelity_table(load_runs([run]))
