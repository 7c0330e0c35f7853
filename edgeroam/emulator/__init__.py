"""The emulator: DNN layer graphs and profiles (dnn), partitioning and upload order (planning), policies, and
the sim/net backends that execute them. Each subpackage re-exports its own public names.

`run_scenario` (edgeroam.emulator.run) and `make_policy` (edgeroam.emulator.policies) are re-exported here
lazily (PEP 562): importing any ``edgeroam.emulator.*`` module, or ``edgeroam --help``, does not load the
master, pandas or the planner, and no import cycle runs through this file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.policies import make_policy
    from edgeroam.emulator.run import run_scenario

__all__ = ["make_policy", "run_scenario"]

_LAZY = {"make_policy": "edgeroam.emulator.policies", "run_scenario": "edgeroam.emulator.run"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
