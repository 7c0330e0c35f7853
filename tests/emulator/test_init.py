"""edgeroam.emulator re-exports run_scenario and make_policy lazily (no heavy imports, no cycles)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import edgeroam.emulator as emulator
from edgeroam.emulator.policies import make_policy
from edgeroam.emulator.run import run_scenario


def test_reexports_are_the_real_functions():
    assert set(emulator.__all__) == {"make_policy", "run_scenario"}
    assert emulator.run_scenario is run_scenario and emulator.make_policy is make_policy
    assert "run_scenario" in dir(emulator)
    with pytest.raises(AttributeError, match="no_such_name"):
        emulator.no_such_name  # noqa: B018


def test_importing_the_package_loads_neither_the_master_nor_pandas():
    code = ("import sys, edgeroam.emulator; "
            "print(sorted(m for m in ('pandas', 'edgeroam.emulator.master', 'edgeroam.emulator.run') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
