"""Run a sweep's runs on a Dask distributed cluster, resumably, and gather one Parquet table.

Each run is one task that writes its own run directory (`edgeroam.emulator.run.run_scenario`) under
``<out>/runs/``. A run whose directory is already complete (manifest checked) is skipped, so a killed sweep
restarts where it stopped. A run that fails (an error in it, or its worker dying) is recorded with its error
in the table and in ``<out>/errors/<run>.json`` and never stops the others; it is tried again
on the next start.
The cluster is a `LocalCluster` of process workers by default, or any scheduler address: the workers then need
this code and the same file system (run directories and traces are read and written by path).

A run directory is named by the hash of its resolved scenario (`run_dir_name`), so identical runs can be
shared: with a *store* (a folder of run directories, e.g. one per `reproduce` call) every run is written
there and ``<out>/runs/<run>`` is a link to it, and a run already complete in the store is linked, not run
again (status ``reused``), whichever sweep made it. The same scenario twice in one sweep runs once. A complete
run made by other code (its ``summary.versions.code`` is not this code's `code_digest`) is never skipped or
reused: it runs again and replaces the old directory.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from edgeroam.emulator.rundir import code_digest, open_run_dir, run_dir_name
from edgeroam.errors import EdgeroamError, RunError
from edgeroam.sweep.grid import RunSpec, Sweep

log = logging.getLogger(__name__)

__all__ = ["SweepResult", "execute_run", "flatten_summary", "open_client", "run_sweep"]

TABLE = "sweep.parquet"


@dataclass
class SweepResult:
    """What one `run_sweep` call did: the gathered table, where it is, and which runs ran, were skipped or
    failed (run ids = run directory names)."""

    table: pd.DataFrame
    path: Path
    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A run's ``summary.json`` as one flat row (dotted keys); a list becomes its length (``<key>.count``).

    Examples
    --------
    >>> flatten_summary({"hits": 3, "backhaul": {"peak_up_mbps": 1.5}, "fractional": {"crowded": [1, 2]}})
    {'hits': 3, 'backhaul.peak_up_mbps': 1.5, 'fractional.crowded.count': 2}
    """
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif isinstance(v, list):
                out[f"{prefix}{k}.count"] = len(v)
            else:
                out[prefix + k] = v

    walk(summary, "")
    return out


def execute_run(resolved: dict[str, Any], runs_dir: str, replace: bool = False) -> dict[str, Any]:
    """Run one resolved scenario into `runs_dir` (on a worker); never raises: a failure is returned with its
    error, so that the sweep goes on. A run that another process completed first (a shared store) is done.
    `replace`: the directory there holds a run made by other code; replace it."""
    from edgeroam.emulator.run import run_scenario
    from edgeroam.scenario import scenario_from_dict

    t0 = time.perf_counter()
    try:
        sc = scenario_from_dict(resolved)
        path = run_scenario(sc, runs_dir, progress=False, overwrite=replace)
    except EdgeroamError as exc:
        theirs = _complete(Path(runs_dir) / run_dir_name(resolved["name"], resolved), code_digest())
        if isinstance(exc, RunError) and theirs is not None:
            return {"status": "done", "run_dir": str(theirs.path), "error": None,
                    "wall_s": time.perf_counter() - t0}
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "wall_s": time.perf_counter() - t0,
        }
    except Exception as exc:  # a bug in one run must not stop the sweep; keep its traceback
        tb = traceback.format_exc(limit=8)
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}\n{tb}",
            "wall_s": time.perf_counter() - t0,
        }
    return {"status": "done", "run_dir": str(path), "error": None, "wall_s": time.perf_counter() - t0}


def open_client(scheduler: str | None = None, workers: int = 2, timeout_s: float = 20.0) -> Any:
    """A Dask client: on `scheduler` (an address such as ``tcp://host:8786``) or on a new `LocalCluster` of
    `workers` single-threaded processes (closed with the client); `timeout_s` to reach a scheduler."""
    from distributed import Client

    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise RunError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
    if workers < 1:
        raise RunError(f"--workers must be at least 1, got {workers}")
    import dask

    # a client made without an address starts its own LocalCluster and closes it with itself. With no
    # dashboard the workers' statistical profiler is of no use, and it samples the running run's stack every
    # 10 ms (CPU and the GIL, taken from the run); the nannies keep this setting for the workers they start
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return Client(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )


def _resolve(sweep: Sweep, spec: RunSpec) -> tuple[dict[str, Any] | None, str, str | None]:
    """The resolved scenario of a run, its id (run directory name) and None; on a scenario error (None, an
    id made of the grid values, the error)."""
    from edgeroam.scenario import load_scenario

    try:
        sc = load_scenario(sweep.scenario_path(), spec.overrides)
    except EdgeroamError as exc:
        rid = "invalid-" + "-".join(f"{k}={v}" for k, v in spec.params.items())
        return None, rid.replace("/", "_"), str(exc)
    resolved = sc.model_dump(mode="json")
    return resolved, run_dir_name(sc.name, resolved), None


def _complete(path: Path, code: str) -> Any:
    """The complete run directory at `path` (a `RunDir`) made by the code whose `code_digest` is `code`, or
    None (missing, partial, damaged or made by other code)."""
    try:
        rd = open_run_dir(path)
    except RunError:
        return None
    made_by = rd.summary.get("versions", {})
    return rd if isinstance(made_by, dict) and made_by.get("code") == code else None


def _stale(folder: Path, rid: str, code: str) -> bool:
    """Whether `folder` holds a complete run `rid` made by other code than `code` (to be replaced)."""
    try:
        rd = open_run_dir(folder / rid)
    except RunError:
        return False
    made_by = rd.summary.get("versions", {})
    return not (isinstance(made_by, dict) and made_by.get("code") == code)


def _link(link: Path, target: Path) -> None:
    """Make `link` a relative symlink to the run directory `target` (a stale link is replaced; a real
    directory there, e.g. a damaged run of an earlier layout, is left alone: the table names `target`)."""
    if link.is_symlink():
        if link.resolve() == target.resolve():
            return
        link.unlink()
    elif link.exists():
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def _atomic_parquet(table: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _write_error(errors_dir: Path, run_id: str, spec: RunSpec, error: str) -> None:
    errors_dir.mkdir(parents=True, exist_ok=True)
    body = json.dumps(
        {"run": run_id, "params": spec.params, "overrides": spec.overrides, "error": error},
        indent=2,
        default=str,
    )
    tmp = errors_dir / f".{run_id}.json.tmp"
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, errors_dir / f"{run_id}.json")


def run_sweep(
    sweep: Sweep,
    out: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    client: Any = None,
    progress: bool = True,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
    store: str | Path | None = None,
) -> SweepResult:
    """Run every run of `sweep` not yet complete under `out` (default ``runs/sweeps/<name>``) and write
    ``<out>/sweep.parquet``: one row per run with its grid values, ``run_id``, ``status`` (done, skipped,
    reused, failed), ``error``, ``run_dir`` and the flattened summary.

    `client` reuses a Dask client (else one is made from `scheduler`/`workers` and closed at the end);
    `on_result(run_id, outcome)` is called as each run finishes. `store`: a folder of run directories
    shared with other sweeps (see the module docstring); runs are written there and linked from
    ``<out>/runs``, and one complete there is reused.
    """
    t0 = time.perf_counter()
    out_dir = Path(out) if out is not None else Path("runs") / "sweeps" / sweep.name
    runs_dir, errors_dir = out_dir / "runs", out_dir / "errors"
    runs_dir.mkdir(parents=True, exist_ok=True)
    store_dir = Path(store) if store is not None else None
    if store_dir is not None:
        store_dir.mkdir(parents=True, exist_ok=True)
    specs = sweep.runs()
    rows: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, dict[str, Any], str, bool]] = []
    first: dict[str, int] = {}  # run id -> the first spec that makes it
    same: dict[int, int] = {}  # a later spec of the same run -> that first spec (it shares its row)
    result = SweepResult(table=pd.DataFrame(), path=out_dir / TABLE)
    code = code_digest()
    for i, spec in enumerate(specs):
        resolved, rid, error = _resolve(sweep, spec)
        if resolved is None or error is not None:  # a bad grid value: this run fails, the others go on
            error = error or "no scenario"
            rows[i] = {"run_id": rid, "status": "failed", "error": error}
            result.failed.append(rid)
            _write_error(errors_dir, rid, spec, error)
            continue
        if rid in first:
            same[i] = first[rid]
            continue
        first[rid] = i
        status, rd = "skipped", _complete(runs_dir / rid, code)
        if rd is None and store_dir is not None:
            status, rd = "reused", _complete(store_dir / rid, code)
            if rd is not None:
                _link(runs_dir / rid, rd.path)
        if rd is None:
            todo.append((i, resolved, rid, _stale(store_dir or runs_dir, rid, code)))
            continue
        rows[i] = {
            "run_id": rid,
            "status": status,
            "error": None,
            "run_dir": str(rd.path),
            **flatten_summary(rd.summary),
        }
        (result.skipped if status == "skipped" else result.reused).append(rid)
    if todo:
        own = client is None
        client = open_client(scheduler, workers) if own else client
        try:
            _gather(client, todo, specs, store_dir or runs_dir, errors_dir, rows, result, progress, on_result,
                    sweep.name)
        finally:
            if own:
                client.close()
    if store_dir is not None:
        for rid, i in first.items():
            if rows[i]["status"] == "done":
                _link(runs_dir / rid, Path(rows[i]["run_dir"]))
    table_rows = []
    for i, spec in enumerate(specs):
        table_rows.append({**rows[same.get(i, i)], **spec.params})
    result.table = pd.DataFrame(table_rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_parquet(result.table, result.path)
    result.wall_s = time.perf_counter() - t0
    return result


def _gather(
    client: Any,
    todo: list[tuple[int, dict[str, Any], str, bool]],
    specs: list[RunSpec],
    runs_dir: Path,
    errors_dir: Path,
    rows: dict[int, dict[str, Any]],
    result: SweepResult,
    progress: bool,
    on_result: Callable[[str, dict[str, Any]], None] | None,
    name: str,
) -> None:
    """Submit the runs in `todo`, collect them as they finish, with a live progress bar."""
    from contextlib import nullcontext

    from distributed import as_completed

    from edgeroam._progress import progress_bar

    futures = {}
    stale = sum(replace for *_, replace in todo)
    if stale:
        log.warning("%d complete run(s) were made by other code: running them again", stale)
    for i, resolved, rid, replace in todo:
        fut = client.submit(
            execute_run, resolved, str(runs_dir.resolve()), replace, key=f"edgeroam-run-{rid}", pure=False
        )
        futures[fut] = (i, rid)
    bar = progress_bar() if progress else None
    with bar if bar is not None else nullcontext():
        task = bar.add_task(f"sweep {name}: runs", total=len(todo)) if bar is not None else None
        for fut in as_completed(futures):
            i, rid = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # the worker died (KilledWorker) or the task was lost
                outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            if outcome["status"] == "done":
                row = {"run_id": rid, "status": "done", "error": None, "run_dir": outcome["run_dir"]}
                try:
                    row.update(flatten_summary(open_run_dir(outcome["run_dir"]).summary))
                    (errors_dir / f"{rid}.json").unlink(missing_ok=True)
                    result.executed.append(rid)
                except RunError as exc:
                    row.update(status="failed", error=str(exc))
            else:
                row = {"run_id": rid, "status": "failed", "error": outcome["error"]}
            if row["status"] == "failed":
                result.failed.append(rid)
                _write_error(errors_dir, rid, specs[i], row["error"])
            rows[i] = row
            if on_result is not None:
                on_result(rid, row)
            if bar is not None:
                bar.update(task, advance=1)
