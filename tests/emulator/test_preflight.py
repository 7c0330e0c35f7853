"""Before a run starts: policy.radius_m within the region, the estimated memory against the machine's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgeroam.emulator import preflight
from edgeroam.emulator.preflight import available_memory, check_run, estimate_memory, useful_radius_m
from edgeroam.errors import RunError, ScenarioError
from edgeroam.scenario import load_scenario
from edgeroam.world import load_world

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"


@pytest.fixture(scope="module")
def demo_world():
    sc = load_scenario(DEMO)
    return sc, load_world(sc)


def test_estimate_grows_with_r_squared_and_is_chunked():
    small, big = estimate_memory(40_000, 300, 100.0, 50.0), estimate_memory(40_000, 300, 1000.0, 50.0)
    assert small.disk_cells == 19 and big.disk_cells == 631  # k = 2 and 14: 3k² + 3k + 1
    assert big.candidates_bytes / small.candidates_bytes == pytest.approx(631 / 19)
    assert big.near_bytes == 40_000 * 300 * preflight.PAIR_BYTES  # capped by the number of servers
    huge = estimate_memory(10**7, 300, 100.0, 50.0)
    assert huge.candidates_bytes == preflight.CHUNK_POINTS * 19 * preflight.CANDIDATE_BYTES
    assert huge.total_bytes == huge.extra_bytes  # now_bytes 0


def test_useful_radius_is_the_box_diagonal():
    assert useful_radius_m([[0, 0], [300, 400], [float("nan"), 1]]) == 500.0
    assert useful_radius_m([]) == 0.0


def test_available_memory_reads_the_machine():
    avail = available_memory()
    assert avail is None or 0 < avail < 1 << 50


def test_radius_beyond_the_region_is_refused(demo_world):
    sc, world = demo_world
    ok = check_run(sc, world, available=1 << 40)
    assert ok.steps == len(world.test_traces)
    assert ok.servers == int((world.topology.servers["tier"] == "edge").sum())
    far = load_scenario(DEMO, ["policy.radius_m=1e9"])
    with pytest.raises(ScenarioError, match=r"policy\.radius_m: 1e\+09 m is beyond the region.*at most \d+"):
        check_run(far, world, available=1 << 40)


def test_a_run_that_would_not_fit_is_refused_naming_an_r_that_fits(demo_world):
    sc, world = demo_world
    big = load_scenario(DEMO, ["policy.radius_m=2000"])
    need = check_run(big, world, available=1 << 40).extra_bytes
    with pytest.raises(RunError, match=r"policy\.radius_m = 2000 m needs about .* GB more memory .* "
                                       r"policy\.radius_m = \d+ would fit"):
        check_run(big, world, available=need - 1)
    with pytest.raises(RunError, match="even r = 0 would not"):
        check_run(big, world, available=1)


def test_run_scenario_refuses_before_any_work(tmp_path, monkeypatch):
    from edgeroam.emulator import run as run_mod

    def no_prepare(*a, **k):
        raise AssertionError("prepare must not start")

    monkeypatch.setattr(run_mod, "prepare", no_prepare)
    monkeypatch.setattr(preflight, "available_memory", lambda: 1000)
    with pytest.raises(RunError, match="policy.radius_m = 100 m needs about"):
        run_mod.run_scenario(DEMO, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_cli_radius_1e9_is_one_error_line_not_an_out_of_memory_kill(tmp_path):
    # issue 17.6: `--set policy.radius_m=1e9` filled 23 GB and was killed after 100 s without a message.
    # The address-space cap makes the old behaviour fail fast here instead of eating the machine.
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        from edgeroam.cli import main
        sys.exit(main(["run", {str(DEMO)!r}, "--out", {str(tmp_path)!r}, "--no-progress",
                       "--set", "policy.radius_m=1e9"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "policy.radius_m" in proc.stderr
    assert "beyond the region" in proc.stderr


def test_docstring_example_runs():
    import doctest

    result = doctest.testmod(preflight)
    assert result.attempted > 0 and result.failed == 0
