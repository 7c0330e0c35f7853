"""`run_scenario`: one scenario, one policy, end to end into a run directory (DESIGN.md §5).

Loads the world, fits the predictor, replays the ticks through the master on the scenario's backend and writes
``runs/<name>-<hash>/``: ``scenario.toml`` (resolved), ``summary.json`` (deterministic; wall times under
``timing``), ``handovers``, ``queries``, ``transfers``, ``backhaul`` and ``predictions`` Parquet tables and
``log.jsonl``. `fractional` first runs a `perdnn` pass to find the crowded servers (top x % of the edge
servers by peak backhaul uplink), then its own pass.

What it leaves to others: the loop (master), the metrics (metrics), figures and reports (edgeroam.report).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from edgeroam.emulator.backend import make_backend, run_options
from edgeroam.emulator.master import PassResult, run_pass
from edgeroam.emulator.policies import TargetPolicy, make_policy, policy_from_scenario
from edgeroam.emulator.preflight import check_run
from edgeroam.emulator.prepare import Prepared, prepare
from edgeroam.emulator.rundir import RunDirWriter, run_dir_name, versions
from edgeroam.errors import RunError, ScenarioError
from edgeroam.scenario import Scenario

__all__ = ["crowded_servers", "run_prepared", "run_scenario"]

log = logging.getLogger(__name__)

#: PerDNN's fractional budget for Inception (43 MB of 128 MB), applied to our plan's bytes when unset
PERDNN_FRACTION = 43.0 / 128.0


def backend_options(sc: Scenario) -> dict[str, Any]:
    """Constructor options of the scenario's backend (``net``: ``run.speed`` and ``run.switch``)."""
    return run_options(sc.run)


def crowded_servers(backhaul: pd.DataFrame, n_servers: int, share: float) -> list[int]:
    """The top `share` of `n_servers` edge servers by peak backhaul uplink (ties: lower id first).

    Examples
    --------
    >>> bh = pd.DataFrame({"interval": [0, 0, 1], "server": [1, 2, 1], "up_bytes": [5.0, 9.0, 7.0]})
    >>> crowded_servers(bh, 10, 0.1)
    [2]
    """
    k = math.ceil(share * n_servers)
    if k <= 0 or len(backhaul) == 0:
        return []
    peak = backhaul.groupby("server")["up_bytes"].max()
    peak = peak[peak > 0]
    order = sorted(peak.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(int(s) for s, _ in order[:k])


def run_prepared(
    prep: Prepared, policy: str | TargetPolicy | None = None, *,
    callback: Callable[[str, int, int], None] | None = None,
) -> PassResult:
    """Run one policy over a prepared scenario on the scenario's backend; `callback(stage, done, total)`.

    `policy` is a policy, or a kind made with the prepared scenario's ``[policy]`` parameters (default: its
    own kind). A fractional policy first runs itself without the budget (``fractional = false``: perdnn for
    the ``fractional`` alias) to find the crowded servers.
    """
    sc = prep.scenario
    pol = policy if isinstance(policy, TargetPolicy) else policy_from_scenario(sc, policy)
    kind = pol.name

    def cb(stage: str):
        return None if callback is None else (lambda d, t: callback(stage, d, t))

    if pol.fractional:
        whole = make_policy(kind, **pol.get_params()).set_params(fractional=False)
        first = run_pass(prep, whole, backend=make_backend(sc.run.backend, **backend_options(sc)),
                         callback=cb("first pass (perdnn)"))
        n_edge = int((prep.world.topology.servers["tier"] == "edge").sum())
        crowded = crowded_servers(first.tables["backhaul"], n_edge, pol.crowded_fraction)
        budget = (pol.fraction_mb * 1e6 if pol.fraction_mb is not None
                  else PERDNN_FRACTION * prep.planner.entry(1).bytes)
        out = run_pass(prep, pol, backend=make_backend(sc.run.backend, **backend_options(sc)),
                       crowded=crowded, fraction_bytes=budget, callback=cb(kind))
        out.timing["first_pass_s"] = first.timing["pass_s"]
        out.summary["fractional"]["perdnn_peak_up_mbps"] = first.summary["backhaul"]["peak_up_mbps"]
        out.summary["fractional"]["perdnn_executed_queries"] = first.summary["executed_queries"]
        return out
    return run_pass(prep, pol, backend=make_backend(sc.run.backend, **backend_options(sc)), callback=cb(kind))


def _resolve(scenario: Scenario | str | Path, overrides: list[str] | tuple[str, ...]) -> Scenario:
    from edgeroam.scenario import load_scenario, scenario_from_dict

    if isinstance(scenario, Scenario):
        if not overrides:
            return scenario
        return scenario_from_dict(scenario.model_dump(mode="json"), overrides=overrides)
    return load_scenario(scenario, overrides)


def run_scenario(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    progress: bool = True,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    prepared: Prepared | None = None,
) -> Path:
    """Run a scenario on its backend (``run.backend``) and write its run directory; returns its path.

    Parameters
    ----------
    scenario : Scenario or path
        A validated scenario or a TOML file.
    out : path, optional
        Parent folder of the run directory (default: the scenario's ``run.out``).
    progress : bool
        Show a rich progress bar on stderr.
    overrides : list of str
        ``key.path=value`` overrides (as ``--set``).
    overwrite : bool
        Replace an existing run directory of the same scenario (``--force``); files in it that edgeroam did
        not write are moved into the new one, and a warning names them. Without it an existing run
        directory is an error raised before any work.
    prepared : Prepared, optional
        Reuse a prepared world (same scenario apart from the policy), e.g. in sweeps and benchmarks.

    Raises
    ------
    ScenarioError, RunError
        Also before any work: ``policy.radius_m`` beyond the region, or a run whose estimated memory does
        not fit the machine (`edgeroam.emulator.preflight`).
    """
    sc = _resolve(scenario, overrides)
    try:
        make_backend(sc.run.backend, **backend_options(sc))  # unknown or unbuilt: fails before any work
    except RunError as exc:
        raise ScenarioError(None, "run.backend", str(exc)) from None
    policy = policy_from_scenario(sc)  # so does an unknown policy or parameter
    resolved = sc.model_dump(mode="json")
    target = Path(out if out is not None else sc.run.out) / run_dir_name(sc.name, resolved)
    writer = RunDirWriter(target, overwrite=overwrite)
    writer.check()  # refuse before the work, not after it
    wall0 = time.perf_counter()
    bar = _Bar(progress)
    with bar:
        if prepared is None:
            from edgeroam.world import load_world

            bar.say("loading traces and topology")
            world = load_world(sc)
            check_run(sc, world)  # policy.radius_m within the region, the memory fits
            prepared = prepare(sc, world, progress=bar.say)
        prep = prepared
        result = run_prepared(prep, policy, callback=bar.update)
    with writer as w:
        w.write_scenario(resolved)
        w.log("start", scenario=sc.name, policy=sc.policy.kind, seed=sc.seed)
        for name, table in result.tables.items():
            w.write_table(name, table)
        summary = dict(result.summary)
        summary["versions"] = versions()
        timing = {**prep.timing, **result.timing, "wall_s": time.perf_counter() - wall0}
        w.log("end", cold_starts=summary["cold_starts"], hit_ratio=summary["hit_ratio"],
              executed_queries=summary["executed_queries"])
        w.write_summary(summary, timing=timing)
        if result.emulated is not None:  # net: switch, speed factor, execution, what was not emulated
            w.write_bytes("emulated.json", (json.dumps(result.emulated, indent=2, sort_keys=True, default=str)
                                            + "\n").encode())
    if writer.replaced:
        kept = f"; kept {len(writer.kept)} file(s) edgeroam did not write: {', '.join(writer.kept)}" \
            if writer.kept else ""
        log.warning("replaced the earlier run in %s%s", target, kept)
    return target


class _Bar:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        if self.enabled:
            from edgeroam._progress import progress_bar

            self._progress = progress_bar()
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def say(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.log(message)

    def update(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(f"ticks: {stage}", total=total)
        self._progress.update(task, completed=done)
