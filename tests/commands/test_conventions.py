"""Conventions a user expects of every command (issue 17, items 7 and 8): scenario names, ``--root``, every
predictor in the help, progress bars with a count and an ETA, no internal ids or source paths in the output,
errors that name the file and key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from edgeroam.cli import main
from edgeroam.errors import ScenarioError
from edgeroam.predictors import PREDICTORS
from edgeroam.scenario import load_scenario, resolve_scenario, scenario_from_dict, scenario_names

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ item 7: names, root


def test_a_scenario_name_resolves_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("perdnn-kaist") == REPO / "scenarios" / "perdnn-kaist.toml"
    assert load_scenario("demo").name == "demo"
    assert {"demo", "perdnn-kaist", "perdnn-geolife"} <= set(scenario_names())


def test_a_local_scenarios_folder_wins_over_the_shipped_one(tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "demo.toml").write_text('name = "mine"\n')
    monkeypatch.chdir(tmp_path)
    assert load_scenario("demo").name == "mine"


def test_an_unknown_name_lists_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"nope: file not found.*known names: .*perdnn-kaist"):
        resolve_scenario("nope")


def test_run_takes_a_scenario_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "demo", "--policy", "ionn", "--out", str(tmp_path / "runs"), "--json"])
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "demo" and Path(out["run_dir"]).is_dir()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "perdnn-kaist", "--no-progress"],
        ["topology", "build", "perdnn-kaist", "--no-export"],
        ["topology", "show", "perdnn-kaist"],
        ["predict", "train", "perdnn-kaist", "--out", "m.npz"],
        ["predict", "evaluate", "perdnn-kaist"],
        ["predict", "study", "perdnn-kaist"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_reading_traces_takes_root(argv, tmp_path, monkeypatch, capsys):
    # an empty folder as --root: the command must look there (and say so), not in the default place
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "no-traces-here"
    empty.mkdir()
    assert main([*argv, "--root", str(empty)]) == 1
    err = capsys.readouterr().err
    assert "no-traces-here" in err and "Traceback" not in err


def test_edgeroam_data_is_the_default_root(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEROAM_DATA", str(tmp_path / "elsewhere"))
    assert main(["topology", "build", "perdnn-kaist", "--no-export"]) == 1
    assert "EDGEROAM_DATA" in capsys.readouterr().err


def test_report_takes_root(capsys):
    assert main(["report", "--help"]) == 0
    assert "--root" in capsys.readouterr().out


def _help(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [["predict", "train"], ["predict", "evaluate"], ["predict", "study"],
                                  ["run"]])
def test_help_lists_every_predictor(argv, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(argv, capsys)
    for kind in PREDICTORS:
        assert kind in text, f"{' '.join(argv)} --help does not list {kind}"


def test_readme_lists_every_predictor_and_the_environment():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "--predictor {" + ",".join(PREDICTORS) + "}" in readme
    for var in ("EDGEROAM_DATA", "EDGEROAM_CACHE", "EDGEROAM_CACHE_DIR"):
        assert var in readme


# ------------------------------------------------------------------------ item 8: progress, wording, errors


def test_run_progress_lines_carry_no_source_path(tmp_path, capsys):
    assert main(["run", str(REPO / "scenarios" / "demo.toml"), "--policy", "ionn",
                 "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "loading traces" in err and ".py:" not in err


def test_progress_bars_have_a_count_and_an_eta():
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    from edgeroam._progress import progress_bar

    kinds = {type(c) for c in progress_bar().columns}
    assert {MofNCompleteColumn, TimeRemainingColumn} <= kinds


def test_datasets_info_reports_its_steps(monkeypatch):
    from edgeroam.datasets import describe_dataset

    seen = []
    describe_dataset("synthetic", progress=lambda step, done, total: seen.append((done, total)))
    assert seen[0] == (0, 4) and seen[-1] == (4, 4) and len(seen) == 5


def test_no_internal_ids_in_user_output(tmp_path, capsys):
    from edgeroam.commands.datasets import render_info
    from edgeroam.commands.topology import render_summary
    from edgeroam.datasets import describe_dataset

    info, _, _ = describe_dataset("synthetic")
    info["perdnn_mean_speed_mps"] = 0.5
    buf = io.StringIO()
    render_info(info, Console(file=buf, width=200))
    assert main(["topology", "build", "demo", "--json", "--no-export", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    summary["perdnn"] = {"servers_implied": [900, 1100], "within": True, "ratio_to_mid": 1.0}
    render_summary(summary, Console(file=buf, width=200))
    text = buf.getvalue()
    assert "PerDNN mean speed" in text and "PerDNN implied" in text
    assert "TARGETS" not in text and "P-D" not in text


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ('predictor.kind="nope"', "predictor.kind"),
        ("predictor.params.foo=1", "predictor.params.foo"),
        ('dnn.model="nope"', "dnn.model"),
        ("policy.radius_m=-1", "policy.radius_m"),
    ],
)
def test_scenario_errors_name_the_file_and_key(override, key):
    path = REPO / "scenarios" / "demo.toml"
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path, [override])
    assert str(exc.value).startswith(f"{path}: {key}: ")


def test_a_scenario_without_a_file_is_named(capsys):
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict({"name": "mine"}, overrides=["policy.radius_m=-1"])
    assert str(exc.value).startswith("scenario 'mine': policy.radius_m: ")
    assert "<scenario>" not in str(exc.value)


def test_run_errors_past_loading_name_the_file(tmp_path, monkeypatch, capsys):
    # make_policy raises without a file; the command names the scenario file it was given
    monkeypatch.chdir(tmp_path)
    assert main(["run", "demo", "--policy", "nope", "--no-progress", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{REPO / 'scenarios' / 'demo.toml'}: policy.kind: unknown policy 'nope'" in err.replace("\n", "")


def test_a_bad_servers_file_names_file_line_and_column(tmp_path, capsys):
    bad = tmp_path / "sites.csv"
    bad.write_text("x,y\n10,20\n30,north\n")
    argv = ["topology", "build", "demo", "--no-export", "--set", 'topology.servers="file"',
            "--set", f"topology.servers_file={json.dumps(str(bad))}"]
    assert main(argv) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{bad}, line 3, column y: 'north' is not a number" in err and "Traceback" not in err


def test_an_unwritable_model_path_is_one_error_naming_it(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "m.npz"  # its parent is a file
    assert main(["predict", "train", "demo", "-p", "stay", "--out", str(target)]) == 1
    assert f"{target}: cannot write the model" in capsys.readouterr().err.replace("\n", "")


def test_topology_build_reports_its_steps(tmp_path):
    from edgeroam.world import build_report

    seen = []
    build_report(load_scenario("demo"), out_dir=tmp_path, export=False, figure=False,
                 progress=lambda step, done, total: seen.append((done, total)))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)


@pytest.mark.slow
def test_report_root_is_where_the_traffic_map_finds_the_traces(shared_traces, tmp_path, capsys):
    from edgeroam.report import load_runs, traffic_map_figure

    code = main(["run", "perdnn-kaist", "--policy", "ionn", "--set", "run.duration_s=600", "--no-progress",
                 "--root", str(shared_traces), "--out", str(tmp_path / "runs"), "--json"])
    assert code == 0, capsys.readouterr().err
    runs = load_runs([json.loads(capsys.readouterr().out)["run_dir"]])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "topology not rebuilt" in traffic_map_figure(runs, root=empty)._suptitle.get_text()
    assert "topology not rebuilt" not in traffic_map_figure(runs, root=shared_traces)._suptitle.get_text()


@pytest.mark.parametrize(("override", "key"), [(".x=1", ".x"), ("policy..radius_m=1", "policy..radius_m"),
                                               ("dataset.split.test_users=0", "dataset.split.test_users")])
def test_bad_overrides_name_their_key(override, key, tmp_path, capsys):
    assert main(["run", "demo", "--no-progress", "--out", str(tmp_path), "--set", override]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{key}: " in err and "Traceback" not in err
