"""Shared fixtures: where the read-only shared traces live, and a skip when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEROAM_SHARED", REPO.parent / "shared"))
TRACES = SHARED / "traces"
GEOLIFE_ZIP = TRACES / "geolife_perdnn_box.zip"
KAIST_DIR = TRACES / "kaist" / "KAIST"


@pytest.fixture(scope="session")
def shared_traces() -> Path:
    """The shared traces folder; tests that need real data skip when it is missing."""
    if not GEOLIFE_ZIP.exists() or not KAIST_DIR.exists():
        pytest.skip(f"shared traces not found under {TRACES}")
    return TRACES


DEMO_POLICIES = ("ionn", "perdnn", "oracle", "fractional", "optimal")


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory) -> dict[str, Path]:
    """Run directories of the demo scenario (synthetic, 20 walkers, 1 h), one per policy, made once."""
    from edgeroam.emulator.prepare import prepare
    from edgeroam.emulator.run import run_scenario
    from edgeroam.scenario import load_scenario

    base = load_scenario(REPO / "scenarios" / "demo.toml")
    prep = prepare(base)
    root = tmp_path_factory.mktemp("runs")
    return {p: run_scenario(base, root, progress=False, overrides=[f'policy.kind="{p}"'], prepared=prep)
            for p in DEMO_POLICIES}
