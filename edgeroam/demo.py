"""`run_demo`: the main job on the embedded default (no downloads), as a library function.

Summarises the demo scenario's synthetic Levy-walk traces and draws their map, then runs the scenario
(``scenarios/demo.toml``) with every demo policy on its backend and writes the report of those runs
(``<out>/runs/`` and ``<out>/report/``). ``edgeroam demo`` is a thin shell that renders what it returns.

What it leaves to others: the datasets summary (datasets), the runs (emulator.run), the report (report).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEMO_POLICIES", "DemoResult", "default_scenario", "run_demo"]

#: the policies the demo compares, baseline first
DEMO_POLICIES = ("ionn", "perdnn", "oracle", "fractional", "optimal")


def default_scenario() -> Path:
    """``scenarios/demo.toml`` under the working directory, else the one beside the edgeroam package."""
    here = Path("scenarios/demo.toml")
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


@dataclass(frozen=True)
class DemoResult:
    """What `run_demo` made: the dataset summary and its files, the run directories and the report."""

    info: dict[str, Any]
    info_path: Path
    map_path: Path
    runs: list[Path]
    report: Any


def run_demo(
    out: str | Path = "runs/demo",
    *,
    scenario: str | Path | None = None,
    users: int | None = None,
    seed: int | None = None,
    policies: Sequence[str] = DEMO_POLICIES,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Summarise and map the demo traces, run every policy in `policies` and write their report under `out`.

    `users` and `seed` change the synthetic walkers of the summary (default: the scenario's); `progress(step,
    done, total)` is called before each run and once at the end.
    """
    from edgeroam.datasets import describe_dataset, plot_traces
    from edgeroam.emulator.prepare import prepare
    from edgeroam.emulator.run import run_scenario
    from edgeroam.report import make_report
    from edgeroam.scenario import load_scenario

    out = Path(out)
    say = progress or (lambda _step, _done, _total: None)
    base = load_scenario(scenario if scenario is not None else default_scenario())
    # summarise and map the walkers the runs replay (the scenario's synthetic traces)
    synthetic = {**base.dataset.synthetic.model_dump(), "area_m": tuple(base.dataset.synthetic.area_m)}
    synthetic.update({k: v for k, v in (("users", users), ("seed", seed)) if v is not None})
    info, traces, reg = describe_dataset("synthetic", synthetic=synthetic)
    out.mkdir(parents=True, exist_ok=True)
    map_path = Path(plot_traces(traces, out / "synthetic_traces.png", reg, clip_to_region=True))
    info_path = out / "datasets_info.json"
    info_path.write_text(json.dumps(info, indent=2, default=str) + "\n")
    say(f"{base.name}: preparing", 0, len(policies))
    prep = prepare(base)
    runs = []
    for j, pol in enumerate(policies):
        say(f"{base.name}: {pol}", j, len(policies))
        runs.append(run_scenario(base, out / "runs", progress=False, overrides=[f'policy.kind="{pol}"'],
                                 prepared=prep, overwrite=True))  # the demo's own runs; files you added stay
    say(f"{base.name}: done", len(policies), len(policies))
    return DemoResult(info, info_path, map_path, runs, make_report(runs, out / "report"))
