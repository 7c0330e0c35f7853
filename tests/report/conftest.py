"""Small real runs for the report tests: the demo scenario, prepared once, with every policy."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POLICIES = ("ionn", "perdnn", "oracle", "fractional", "optimal")


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory) -> dict[str, Path]:
    """Run directories of the demo scenario (synthetic, 20 walkers, 1 h), one per policy."""
    from edgeroam.emulator.master import prepare
    from edgeroam.emulator.run import run_scenario
    from edgeroam.scenario import load_scenario

    base = load_scenario(REPO / "scenarios" / "demo.toml")
    prep = prepare(base)
    root = tmp_path_factory.mktemp("runs")
    return {p: run_scenario(base, root, progress=False, overrides=[f'policy.kind="{p}"'], prepared=prep)
            for p in POLICIES}
