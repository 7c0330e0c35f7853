"""`edgeroam datasets info` and `edgeroam demo` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from edgeroam.cli import main


@pytest.mark.parametrize("args", [["datasets", "--help"], ["datasets", "info", "--help"], ["demo", "--help"]])
def test_help(args, capsys):
    assert main(args) == 0
    assert "Usage" in capsys.readouterr().out


def test_info_synthetic_json_parses(capsys):
    assert main(["datasets", "info", "synthetic", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["users"] == 20 and info["points"] == 20 * 121
    assert info["region"]["name"] == "synthetic" and info["points_in_region"] == info["points"]
    assert 0.1 < info["mean_speed_mps"] < 1.0


def test_info_table_and_plot(tmp_path, capsys):
    fig = tmp_path / "map.png"
    assert main(["datasets", "info", "synthetic", "--plot", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "mean speed (in region)" in out and "note:" in out and str(fig) in out.replace("\n", "")
    assert fig.exists()


def test_bad_region_is_one_red_line(capsys):
    assert main(["datasets", "info", "synthetic", "--region", "nowhere"]) == 1
    err = capsys.readouterr().err
    assert "error: unknown region 'nowhere'" in err and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1


def test_missing_root_is_one_red_line(tmp_path, capsys):
    assert main(["datasets", "info", "geolife", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no Geolife data under" in err and "Traceback" not in err


def test_bad_kind_is_usage_error():
    from typer.testing import CliRunner

    from edgeroam.commands.datasets import app

    res = CliRunner().invoke(app, ["info", "mars"])
    assert res.exit_code == 2 and "mars" in res.output


def test_demo_writes_map_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert (tmp_path / "d" / "synthetic_traces.png").exists()
    assert json.loads((tmp_path / "d" / "datasets_info.json").read_text())["users"] == 20
    assert "map written to" in out


def test_info_kaist_json_on_shared_data(shared_traces, capsys):
    assert main(["datasets", "info", "kaist", "--root", str(shared_traces), "--json", "--no-cache"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["users"], info["points"], info["points_in_region"]) == (92, 135_055, 120_700)
    assert info["region"]["bounds"] == [-1100.0, -700.0, 400.0, 1300.0]
    assert info["perdnn_mean_speed_mps"] == 0.5


def test_lenient_lists_skipped_files_and_resorted_times(tmp_path, capsys):
    # issue 17.5: `--lenient` said only "skipped N bad lines", never which files it dropped or re-sorted
    folder = tmp_path / "KAIST"
    folder.mkdir()
    (folder / "KAIST_30sec_001.txt").write_bytes(b"0 1 2\r\n60 3 4\r\n30 2 3\r\n")
    (folder / "KAIST_30sec_002.txt").write_bytes(b"0 1 2\r\n30 1 2\r\n")
    (folder / "KAIST_30sec_003.txt").write_bytes(b"")
    args = ["datasets", "info", "kaist", "--root", str(folder), "--region", "metric:-10,-10,10,10",
            "--lenient"]
    assert main([*args, "--json"]) == 0
    read = json.loads(capsys.readouterr().out)["read"]
    assert read["files_skipped"] == 1 and read["skipped_files"][0]["reason"] == "line 1: empty file"
    assert read["times_backwards"] == 1 and read["files_resorted"] == 1
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "skipped file" in out and "KAIST_30sec_003.txt" in out.replace("\n", "")
    assert "re-sorted 1 file" in out


def test_info_own_data_table_gpx_sumo(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "taxis.csv"
    csv.write_text("taxi,time,la,lo\n7,2008-10-23 10:53:04,39.90,116.40\n"
                   "7,2008-10-23 10:53:34,39.901,116.40\n7,2008-10-23 10:54:04,oops,116.40\n")
    args = ["datasets", "info", "table", "--root", str(csv), "--columns", "user=taxi,t=time,lat=la,lon=lo",
            "--timezone", "Asia/Shanghai"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"error: {csv}, line 4, column la: not a finite number: 'oops'" in err and "Traceback" not in err
    assert main([*args, "--lenient", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["points"] == 2 and info["read"]["bad_lines_skipped"] == 1 and info["t_start"].startswith(
        "2008-10-23 02:53:04")
    gpx = tmp_path / "walk.gpx"
    gpx.write_text('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                   '<trkpt lat="39.9" lon="116.4"><time>2020-01-01T00:00:00Z</time></trkpt>'
                   '<trkpt lat="39.9001" lon="116.4"><time>2020-01-01T00:00:10Z</time></trkpt>'
                   "</trkseg></trk></gpx>")
    assert main(["datasets", "info", "gpx", "--root", str(gpx), "--per-track", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["users"] == 1
    fcd = tmp_path / "fcd.xml"
    fcd.write_text('<fcd-export><timestep time="0"><vehicle id="v" x="1" y="2"/></timestep>'
                   '<timestep time="1"><vehicle id="v" x="2" y="2"/></timestep></fcd-export>')
    assert main(["datasets", "info", "sumo", "--root", str(fcd), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == 2
    assert main(["datasets", "info", "sumo"]) == 1
    assert "give their path (--root PATH" in capsys.readouterr().err
    assert main(["datasets", "info", "gpx", "--root", str(gpx), "--crs", "EPSG:32650"]) == 1
    assert "dataset 'gpx' takes user_per, timezone; got 'crs'" in capsys.readouterr().err


def test_a_warm_info_imports_only_the_datasets_commands(shared_traces, tmp_path):
    # `edgeroam datasets ...` mounts its own area alone, and a stored info is read without pandas & co.
    import os
    import subprocess
    import sys

    heavy = ("pandas", "pyarrow", "torch", "pyproj", "shapely", "matplotlib", "sklearn", "edgeroam.emulator")
    code = (
        "import sys; from edgeroam.cli import main; "
        f"rc = main(['datasets', 'info', 'kaist', '--root', {str(shared_traces)!r}, '--json']); "
        f"print('LOADED', [m for m in {heavy!r} if m in sys.modules], rc)"
    )
    env = {**os.environ, "EDGEROAM_CACHE": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            for _ in range(2)]
    cold, warm = (r.stdout[r.stdout.rindex("LOADED") :].strip() for r in runs)
    assert "'pandas'" in cold and cold.endswith(" 0")  # the first call reads the traces
    assert warm == "LOADED [] 0"
    info = [json.loads(r.stdout[: r.stdout.rindex("LOADED")]) for r in runs]
    assert info[0] == info[1] and info[0]["points"] > 0


def test_info_process_has_no_blas_threads_unless_numpy_came_first_or_the_user_says():
    import os
    import subprocess
    import sys

    code = ("import os, sys; {pre}from edgeroam.commands.datasets import _lean_numpy; _lean_numpy(); "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def setting(pre: str, **extra: str) -> str:
        out = subprocess.run([sys.executable, "-c", code.format(pre=pre)], env={**env, **extra},
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert setting("") == "1"
    assert setting("import numpy; ") == "None"  # numpy already set up: nothing pretends otherwise
    assert setting("", OPENBLAS_NUM_THREADS="2") == "2"  # the user's own setting wins


def test_info_in_a_pipe_makes_no_progress_bar_and_imports_no_rich():
    # a transient bar shows nothing where stderr is no terminal: none is made, rich is never imported
    import os
    import subprocess
    import sys

    code = ("import sys; from edgeroam.cli import main; "
            "rc = main(['datasets', 'info', 'synthetic', '--json']); "
            "print('RICH', 'rich' in sys.modules, rc)")
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}

    def rich_loaded(**extra: str) -> str:
        out = subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True,
                             text=True, check=True)
        return out.stdout[out.stdout.rindex("RICH") :].strip()

    assert rich_loaded() == "RICH False 0"
    assert rich_loaded(TTY_COMPATIBLE="1") == "RICH True 0"  # rich would draw there: the bar is made
