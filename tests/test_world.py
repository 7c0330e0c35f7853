"""edgeroam.world: a scenario's traces, user split and topology, and the `topology build` report."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeroam.errors import DatasetError
from edgeroam.scenario import load_scenario, scenario_from_dict
from edgeroam.world import World, build_report, default_out_dir, load_world, raw_visited_cells

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE", str(tmp_path / "cache"))


def _demo(*overrides: str):
    return load_scenario(SCENARIOS / "demo.toml", list(overrides))


def test_the_split_covers_every_user_once():
    w = load_world(_demo())
    assert isinstance(w, World)
    users = set(w.traces["user"].astype(str))
    assert len(w.train_users) == len(w.test_users) == 10
    assert set(w.train_users).isdisjoint(w.test_users) and set(w.train_users) | set(w.test_users) == users
    assert w.topology is not None and w.region is None and w.extra == {}


def test_test_traces_are_the_test_users_rows():
    w = load_world(_demo())
    t = w.test_traces
    assert set(t["user"].astype(str)) == set(w.test_users)
    assert len(t) == w.traces["user"].astype(str).isin(w.test_users).sum() < len(w.traces)


def test_no_test_count_replays_every_user():
    data = _demo().model_dump(mode="json")
    data["dataset"]["split"]["test_users"] = None
    w = load_world(scenario_from_dict(data))
    assert w.train_users == [] and len(w.test_users) == 20 and w.test_users == sorted(w.test_users)


def test_time_alignment_splits_by_real_user_first():
    w = load_world(_demo("dataset.time_align=start"))
    owner = w.extra["real_user"]
    assert set(owner) == set(w.traces["user"].astype(str))
    train_real = {owner[c] for c in w.train_users}
    test_real = {owner[c] for c in w.test_users}
    assert len(train_real) == len(test_real) == 10 and train_real.isdisjoint(test_real)
    assert w.traces["t"].min() == 0.0  # each client starts at time 0


def test_day_alignment_keeps_all_days_of_a_user_on_one_side(tmp_path):
    rows = ["user,t,lat,lon"]
    rows += [f"u{u},{day * 86400 + 3600 + k * 30},{36.37 + 0.01 * u},127.36"
             for u in range(4) for day in range(3) for k in range(5)]
    p = tmp_path / "days.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    w = load_world(scenario_from_dict({
        "name": "days",
        "dataset": {"kind": "table", "root": str(p), "interval_s": 30, "time_align": "day",
                    "split": {"test_users": 2, "seed": 7},
                    "columns": {"user": "user", "t": "t", "lat": "lat", "lon": "lon"}},
    }))
    owner = w.extra["real_user"]
    assert len(w.train_users) == len(w.test_users) == 6  # 2 real users x 3 days on each side
    assert {owner[c] for c in w.train_users}.isdisjoint(owner[c] for c in w.test_users)


def test_a_region_with_no_points_is_a_dataset_error():
    with pytest.raises(DatasetError, match="demo: no trace points left after the region and resampling"):
        load_world(_demo("dataset.region='metric:1e7,1e7,1.1e7,1.1e7'"))


def test_default_out_dir_is_under_run_out(tmp_path):
    assert default_out_dir(_demo(f"run.out='{tmp_path}'")) == tmp_path / "topology-demo"


def _tiny_table(tmp_path: Path, interval_s: float | None = 30):
    """Two users in a table: `a` stays at A but one raw point at t=15 s jumps 1.4 km; `b` stays at B."""
    a, c, b = (36.370, 127.360), (36.380, 127.370), (36.390, 127.350)
    rows = ["user,t,lat,lon"]
    rows += [f"a,{t},{a[0]},{a[1]}" for t in (0, 10, 20, 30, 40, 50, 60, 90, 120)]
    rows += [f"a,15,{c[0]},{c[1]}"]
    rows += [f"b,{t},{b[0]},{b[1]}" for t in range(0, 130, 30)]
    p = tmp_path / "tiny.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return scenario_from_dict({
        "name": "tiny",
        "dataset": {"kind": "table", "root": str(p), "interval_s": interval_s,
                    "columns": {"user": "user", "t": "t", "lat": "lat", "lon": "lon"}},
        "topology": {"radius_m": 50},
    })


def test_raw_visited_cells_counts_the_points_before_resampling(tmp_path):
    w = load_world(_tiny_table(tmp_path))
    assert len(w.topology.servers) == 2  # resampled every 30 s: the jump at t=15 s is gone
    assert raw_visited_cells(w) == 3


def test_raw_visited_cells_is_none_without_resampling_or_for_synthetic_data(tmp_path):
    assert raw_visited_cells(load_world(_tiny_table(tmp_path, interval_s=None))) is None
    assert raw_visited_cells(load_world(_demo())) is None


def test_build_report_writes_layers_and_map_and_reports_each_step(tmp_path):
    seen = []
    world, summary = build_report(_tiny_table(tmp_path), out_dir=tmp_path / "out",
                                  progress=lambda step, done, total: seen.append((step, done, total)))
    assert [(d, t) for _, d, t in seen] == [(i, 5) for i in range(6)] and seen[-1][0] == "done"
    files = summary["files"]
    assert set(files) == {"layers", "map"}
    assert Path(files["map"]) == tmp_path / "out" / "map.png"
    assert Path(files["map"]).read_bytes().startswith(PNG)
    assert files["layers"]["paths"] and all(Path(f).parent == tmp_path / "out" and Path(f).exists()
                                            for f in files["layers"]["paths"])
    assert summary["servers"]["edge"] == len(world.topology.servers) == 2
    assert summary["cells"]["visited_raw_in_region"] == 3  # compare_raw is on by default


def test_build_report_without_files_writes_nothing(tmp_path):
    out = tmp_path / "out"
    _, summary = build_report(_tiny_table(tmp_path), out_dir=out, export=False, figure=False,
                              compare_raw=False)
    assert summary["files"] == {} and not out.exists()
    assert "visited_raw_in_region" not in summary["cells"]


def test_a_plot_path_draws_the_map_even_with_figure_off(tmp_path):
    target = tmp_path / "elsewhere" / "m.png"
    _, summary = build_report(_tiny_table(tmp_path), out_dir=tmp_path / "out", plot=target, export=False,
                              figure=False, compare_raw=False)
    assert summary["files"] == {"map": str(target)} and target.read_bytes().startswith(PNG)
