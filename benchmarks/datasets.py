"""Benchmark: loading the shared Geolife selection with edgeroam, cold and warm, beside trackintel's reader.

One run prints one table. Every measurement runs in its own subprocess, so times and peak memory are
independent: wall time of the load call, of the whole process (interpreter start and imports included: what
the goals compare), the process's peak RSS (``ru_maxrss``) and the peak's growth over the RSS right before the
call (libraries already imported). A cold process imports nothing before its load call, as a user's does;
edgeroam's bytecode is compiled once first, as an install compiles it. Rows:

- edgeroam ``read_geolife`` straight from the zip, no cache (cold);
- the same from the zip extracted under ``.cache/`` (the files trackintel reads);
- ``load`` through the Parquet cache on a miss (read + write) and on a hit (warm);
- ``load_dataset("geolife", region="perdnn-geolife", interval_s=20)`` cold (no cache), on a first run (the
  cache on and empty: it parses, cuts, resamples and writes both entries) and warm (the final table cached);
- the whole ``edgeroam datasets info geolife --region perdnn-geolife`` process, ``--no-cache`` and warm;
- trackintel's ``read_geolife`` on the extracted ``Data`` folder (the ``bench`` extra; ``--trackintel-repeat``
  runs, 3 unless told, each bounded): the median, the goals' denominator (one run of it varies by ~10 % here).

The runs go in rounds: every edgeroam row once, then trackintel once, so that both meet the machine's drift.

Goals (issue 23, printed met / NOT met at the end): cold read >= 10x trackintel, cold CLI >= 8x trackintel,
warm load_dataset < 0.1 s, warm CLI < 1 s whole process, peak memory < 0.4 GB everywhere. A last table splits
the cold work into its stages in one fresh process, wall and CPU seconds each: imports; the zip's inflation
alone on one thread for reference; ``load_dataset``'s read, cut to the region, projection of the cut and
resampling; then ``datasets info``'s own path (the read into plain arrays, no pandas, with every batch placed
and projected by a worker; statistics on the columns they read, resampling in the region).

Usage: ``python benchmarks/datasets.py [--zip PATH] [--repeat N] [--trackintel-repeat N]
[--trackintel-timeout S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

# a measuring process (``--measure``) is this module run again: what only the driver needs (compileall,
# shutil, statistics, subprocess, zipfile; the Parquet cache for the cache rows) is imported where it is
# used, so that a cold row's whole-process time holds its own imports, not the driver's (~10-20 ms)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ZIP = REPO.parent / "shared" / "traces" / "geolife_perdnn_box.zip"
EXTRACTED = REPO / ".cache" / "geolife-extracted"
BENCH_CACHE = REPO / ".cache" / "bench-datasets"


def extract(zip_path: Path) -> Path:
    """The zip extracted once under .cache/ (kept while the zip's size and mtime are unchanged)."""
    import shutil
    import zipfile

    st = zip_path.stat()
    stamp = f"{st.st_size}-{st.st_mtime_ns}"
    marker = EXTRACTED / ".complete"
    if not (marker.exists() and marker.read_text() == stamp):
        tmp = EXTRACTED.with_name(EXTRACTED.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        (tmp / ".complete").write_text(stamp)
        shutil.rmtree(EXTRACTED, ignore_errors=True)
        os.replace(tmp, EXTRACTED)
    return EXTRACTED


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def measure(kind: str, zip_path: Path) -> dict:
    """Run one load in this process and return its numbers (called in a fresh subprocess)."""
    if kind.startswith("cli"):  # before any import: the child's peak RSS must not start from ours
        return _measure_cli(kind, zip_path)
    if kind.endswith("-hit") or kind.endswith("-warm"):
        # a warm load's call is timed without pandas's import (what every load returns); a cold process
        # imports nothing first, as a user's does: the Geolife reader imports pandas while its workers read
        import pandas  # noqa: F401

    from edgeroam.datasets.geolife import read_geolife

    data = EXTRACTED / "Geolife Trajectories 1.3" / "Data"
    if kind == "trackintel":
        import trackintel as ti

        before, c0 = _rss_mb(), _cpu_s()
        t0 = time.perf_counter()
        pfs, labels = ti.io.read_geolife(str(data))
        seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
        rows, users = len(pfs), int(pfs["user_id"].nunique())
    else:
        if kind == "zip":
            load = lambda: read_geolife(zip_path)  # noqa: E731
        elif kind == "folder":
            load = lambda: read_geolife(EXTRACTED)  # noqa: E731
        elif kind.startswith("load"):  # the scenario's table; load-warm finds it cached whole

            def load():
                from edgeroam.datasets.load import load_dataset

                return load_dataset("geolife", zip_path, region="perdnn-geolife", interval_s=20, max_gap_s=60,
                                    cache=kind != "load-cold")
        else:  # cache-miss / cache-hit: the same call; the driver empties the cache before the miss
            from edgeroam.datasets.cache import cached_read

            def load():
                return cached_read(
                    "geolife",
                    [zip_path],
                    {"labels": True},
                    lambda: read_geolife(zip_path),
                    cache_dir=BENCH_CACHE,
                )

        before, c0 = _rss_mb(), _cpu_s()
        t0 = time.perf_counter()
        df = load()
        seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
        rows, users = len(df), int(df["user"].nunique())
        if kind.startswith("cache"):
            assert df.attrs["cache"]["hit"] is (kind == "cache-hit"), df.attrs["cache"]
        if kind in ("load-first", "load-warm"):
            assert df.attrs["cache"]["hit"] is (kind == "load-warm"), df.attrs["cache"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_mb": peak,
        "delta_mb": peak - before,
        "rows": rows,
        "users": users,
    }


def breakdown(zip_path: Path) -> list[dict]:
    """Where the cold time goes, stage by stage in one fresh process (wall and CPU s): `load_dataset`'s path
    (read, cut to the region, project the cut, resample) and then `datasets info`'s (the read projecting
    every row in its workers, statistics, resampling in the region)."""
    rows: list[dict] = []

    def stage(name: str, fn, *args, **kwargs):
        c0, t0 = _cpu_s(), time.perf_counter()
        out = fn(*args, **kwargs)
        rows.append({"stage": name, "seconds": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0})
        return out

    def imports():
        from edgeroam.datasets import geolife, load, project, resample, stats  # noqa: F401

    stage("imports (edgeroam.datasets, pandas, pyarrow, pyproj, shapely)", imports)
    from edgeroam.datasets.geolife import _open_store
    from edgeroam.datasets.load import _cut_to_region, _statistics_columns, resolve_region
    from edgeroam.datasets.project import project
    from edgeroam.datasets.regions import region_mask
    from edgeroam.datasets.resample import resample
    from edgeroam.datasets.stats import dataset_info

    def inflate():
        with _open_store(zip_path) as store:
            return sum(len(store.read(m)) for m in store.plt)

    def cut_to_region(raw, reg):
        return _cut_to_region(raw, region_mask(raw, reg), 60.0)

    load, info = "load_dataset:", "datasets info:"
    stage("  reference: inflate + CRC the .plt entries alone, 1 thread (the reader's inflater)", inflate)
    raw = stage(f"{load} read_geolife (inflate, parse, check, join modes; thread pool)", read_geolife_zip,
                zip_path)
    reg = resolve_region("geolife", "perdnn-geolife", raw)
    cut, crs = stage(f"{load} cut to the region (mask, segments on every row)", cut_to_region, raw, reg)
    cut = stage(f"{load} project the cut rows", project, cut, crs)
    stage(f"{load} resample the cut at 20 s", resample, cut, 20, max_gap_s=60)
    del raw, cut
    xy = stage(f"{info} read_geolife_columns: each batch placed and projected by a worker, no modes, arrays",
               read_geolife_columns_zip, zip_path)
    inside = region_mask(xy, reg)
    xy, spare = _statistics_columns(xy)  # what the statistics read: lat/lon and mode let go
    stage(f"{info} statistics, all rows and in the region (steps in the lat/lon memory; region's beside)",
          dataset_info, xy, reg, kind="geolife", inside=inside, spare=spare)
    del spare
    res = stage(f"{info} resample in the region at 20 s", resample, xy, 20, max_gap_s=60, region=reg,
                inside=inside)
    stage(f"{info} statistics of the resampled table", dataset_info, res, None, max_gap_s=60)
    return rows


def read_geolife_zip(zip_path: Path, *, xy: bool = False):
    """`read_geolife` on the zip (imported here so that the stage above times the imports alone)."""
    from edgeroam.datasets.geolife import read_geolife

    return read_geolife(zip_path, xy=xy)


def read_geolife_columns_zip(zip_path: Path):
    """`read_geolife_columns` on the zip, every row projected: what a cold `datasets info` reads (it imports
    no pandas; this process has, for the stages before)."""
    from edgeroam.datasets.geolife import read_geolife_columns

    return read_geolife_columns(zip_path, xy=True)


def _measure_cli(kind: str, zip_path: Path) -> dict:
    """The whole `edgeroam datasets info` process (interpreter start and imports included) as a child."""
    import subprocess

    exe = Path(sys.executable).with_name("edgeroam")
    cmd = [str(exe), "datasets", "info", "geolife", "--root", str(zip_path), "--region", "perdnn-geolife"]
    cmd += ["--json", *(["--no-cache"] if kind == "cli-cold" else [])]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    info = json.loads(out.stdout)
    peak = use.ru_maxrss / 1024
    return {"seconds": seconds, "cpu_s": use.ru_utime + use.ru_stime, "peak_mb": peak, "delta_mb": peak,
            "rows": info["points"], "users": info["users"]}


def _run(kind: str, zip_path: Path, timeout: float) -> dict:
    import subprocess

    cmd = [sys.executable, __file__, "--measure", kind, "--zip", str(zip_path)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             env={**os.environ, "EDGEROAM_CACHE": str(BENCH_CACHE)})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:120]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if isinstance(result, dict):  # the whole process: interpreter start, imports, the load, exit
        result["process_s"] = result["seconds"] if kind.startswith("cli") else wall
    return result


def _median_row(runs: list[dict]) -> dict:
    """One row of `runs` of a kind: median times, the highest peaks; the first error where none ran."""
    import statistics

    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    return {
        "seconds": statistics.median(r["seconds"] for r in ok),
        "process_s": statistics.median(r["process_s"] for r in ok),
        "cpu_s": statistics.median(r["cpu_s"] for r in ok),
        "peak_mb": max(r["peak_mb"] for r in ok),
        "delta_mb": max(r["delta_mb"] for r in ok),
        "rows": ok[0]["rows"],
        "users": ok[0]["users"],
        "runs": len(ok),
    }


def _round_ratios(ours: list[dict], reference: list[dict]) -> list[float]:
    """The reference's whole process over ours, round by round: how far a verdict stands from the drift."""
    return [t["process_s"] / o["process_s"] for o, t in zip(ours, reference, strict=False)
            if "error" not in o and "error" not in t]


def _trackintel_installed() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("trackintel") is not None
    except (ImportError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="the Geolife zip (default: shared)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per edgeroam row (median time, max peak)")
    parser.add_argument("--trackintel-timeout", type=float, default=1200.0,
                        help="seconds for each trackintel run")
    parser.add_argument("--trackintel-repeat", type=int, default=3,
                        help="trackintel runs (median: the goals' reference)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        out = breakdown(args.zip) if args.measure == "breakdown" else measure(args.measure, args.zip)
        print(json.dumps(out))
        return 0

    import compileall
    import shutil

    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    if not args.zip.exists():
        console.print(f"[red]no Geolife zip at {args.zip}[/]; pass --zip")
        return 1
    with console.status("extracting the zip under .cache/ (once)"):
        extract(args.zip)
    # edgeroam's bytecode written first, as an install writes it: with PYTHONDONTWRITEBYTECODE set (as on
    # this machine) every measured process would compile the package's modules from source (30-40 ms) while
    # trackintel, pandas and the rest load theirs from site-packages
    compileall.compile_dir(REPO / "edgeroam", quiet=1)
    plan = [
        ("zip", "cold, no cache"),
        ("folder", "cold, no cache"),
        ("cache-miss", "cache miss"),
        ("cache-hit", "warm"),
        ("load-cold", "cold, no cache"),
        ("load-first", "first run"),
        ("load-warm", "warm"),
        ("cli-cold", "cold, no cache"),
        ("cli-warm", "warm"),
    ]
    # in rounds, each kind once a round and trackintel after them, so that our runs and the reference's
    # meet the same state of the machine (a shared VM's speed drifts by 10-30 % within minutes)
    ti = _trackintel_installed()
    runs: dict[str, list[dict]] = {kind: [] for kind, _ in plan} | {"trackintel": []}
    rounds = max(args.repeat, args.trackintel_repeat if ti else 0)
    for i in range(rounds):
        for kind, _ in plan if i < args.repeat else ():
            if kind in ("cache-miss", "load-first"):
                shutil.rmtree(BENCH_CACHE, ignore_errors=True)
            if kind.endswith("-warm"):  # fill the cache first (not timed): this round's miss emptied it
                _run(kind, args.zip, 600)
            with console.status(f"round {i + 1}/{rounds}: edgeroam {kind}"):
                runs[kind].append(_run(kind, args.zip, 600))
        if ti and i < args.trackintel_repeat:
            with console.status(f"round {i + 1}/{rounds}: trackintel read_geolife (at most "
                                f"{args.trackintel_timeout:.0f} s)"):
                runs["trackintel"].append(_run("trackintel", args.zip, args.trackintel_timeout))
    results = {kind: _median_row(r) for kind, r in runs.items() if r}
    if not ti:
        results["trackintel"] = {"error": "not installed (pip install -e '.[bench]')"}

    ti_s = results["trackintel"].get("seconds")
    table = Table(
        title=f"Loading the shared Geolife selection ({args.zip.name}); medians of {args.repeat} runs "
        f"(trackintel: of {args.trackintel_repeat})"
    )
    table.add_column("reader")
    table.add_column("source")
    table.add_column("load")
    for col in (
        "time s",
        "process s",
        "CPU s",
        "peak RSS MB",
        "Δ RSS MB",
        "rows",
        "users",
        "× faster (time)",
        "× less CPU",
    ):
        table.add_column(col, justify="right")
    rows = [
        ("edgeroam read_geolife", "zip", "zip", "cold (no cache)"),
        ("edgeroam read_geolife", "extracted .cache/", "folder", "cold (no cache)"),
        ("edgeroam cached_read", "zip", "cache-miss", "cache miss: parse + write Parquet"),
        ("edgeroam cached_read", "zip", "cache-hit", "warm (Parquet cache hit)"),
        ("edgeroam load_dataset", "zip", "load-cold", "region + 20 s resampling, no cache"),
        ("edgeroam load_dataset", "zip", "load-first", "first run: cache on, empty (both entries written)"),
        ("edgeroam load_dataset", "zip", "load-warm", "warm (the final table cached)"),
        ("edgeroam datasets info", "zip", "cli-cold", "whole process, --no-cache"),
        ("edgeroam datasets info", "zip", "cli-warm", "whole process, warm"),
        (
            "trackintel 1.x read_geolife",
            "extracted .cache/",
            "trackintel",
            "cold (reads every file with pandas)",
        ),
    ]
    for reader, source, kind, load in rows:
        r = results[kind]
        if "error" in r:
            table.add_row(reader, source, load, r["error"], "", "", "", "", "", "", "", "")
            continue
        speed = f"{ti_s / r['seconds']:.1f}" if ti_s and kind != "trackintel" else ""
        ti_cpu = results["trackintel"].get("cpu_s")
        less_cpu = f"{ti_cpu / r['cpu_s']:.1f}" if ti_cpu and kind != "trackintel" else ""
        table.add_row(
            reader, source, load, f"{r['seconds']:.2f}", f"{r['process_s']:.2f}", f"{r['cpu_s']:.2f}",
            f"{r['peak_mb']:.0f}",
            f"{r['delta_mb']:.0f}", f"{r['rows']:,}", str(r["users"]), speed, less_cpu,
        )  # fmt: skip
    console.print(table)
    goals = Table(title="issue 23 goals")
    for col in ("measure", "ours", "goal", "verdict"):
        goals.add_column(col)

    def goal(measure: str, value: float | None, text: str, goal_text: str, ok: bool) -> None:
        if value is None:
            goals.add_row(measure, "not measured", goal_text, "")
        else:
            goals.add_row(measure, text, goal_text, "met" if ok else "NOT met")

    ti_proc = results["trackintel"].get("process_s")
    for kind, label, want in (("zip", "cold read from the zip", 10.0), ("cli-cold", "CLI --no-cache", 8.0)):
        sec, proc, cpu = (results[kind].get(k) for k in ("seconds", "process_s", "cpu_s"))
        x = ti_proc / proc if proc and ti_proc else None  # whole process against whole process
        ti_cpu = results["trackintel"].get("cpu_s")
        by_call = f"; the load call alone {ti_s / sec:.1f}x" if ti_s and sec and kind == "zip" else ""
        by_cpu = f"; by CPU {ti_cpu / cpu:.1f}x" if ti_cpu and cpu else ""
        each = _round_ratios(runs[kind], runs["trackintel"])
        met = sum(r >= want for r in each)
        spread = f"; rounds {min(each):.1f}-{max(each):.1f}x, {met} of {len(each)} met" if each else ""
        goal(f"{label} vs trackintel (whole process {ti_proc or 0:.1f} s)", x,
             f"{x or 0:.1f}x ({proc or 0:.2f} s{by_call}{by_cpu}{spread})", f">= {want:.0f}x",
             bool(x and x >= want))
    for kind, label, limit in (("load-warm", "warm load_dataset", 0.1), ("cli-warm", "warm CLI", 1.0)):
        sec, cpu = results[kind].get("seconds"), results[kind].get("cpu_s")
        goal(label, sec, f"{sec or 0:.3f} s (CPU {cpu or 0:.3f} s)", f"< {limit} s",
             bool(sec is not None and sec < limit))
    for kind in ("zip", "load-cold", "load-first", "cli-cold", "load-warm", "cli-warm"):
        peak = results[kind].get("peak_mb")
        goal(f"peak memory, {kind}", peak, f"{(peak or 0) / 1024:.2f} GB", "< 0.4 GB",
             bool(peak is not None and peak < 0.4 * 1024))
    console.print(goals)
    stages = _run("breakdown", args.zip, 600)
    split = Table(title="where the cold time goes (one fresh process, stage by stage)")
    for col in ("stage", "time s", "CPU s"):
        split.add_column(col, justify="right" if col != "stage" else "left")
    for r in stages if isinstance(stages, list) else []:
        split.add_row(r["stage"], f"{r['seconds']:.2f}", f"{r['cpu_s']:.2f}")
    if isinstance(stages, dict):
        split.add_row(stages.get("error", "failed"), "", "")
    console.print(split)
    load1, load5, _ = os.getloadavg()
    console.print(
        f"machine: {os.cpu_count()} CPUs, load average {load1:.1f} (1 min) / {load5:.1f} (5 min) at the end"
    )
    console.print(
        "Notes: time s = the load call (the whole process for the CLI rows); process s = the whole measuring "
        "process (interpreter start, imports, load, exit), which the goals compare. "
        "CPU s = user + system time of the measuring process during the load (all threads). edgeroam "
        "also joins the labels.txt modes onto the points; trackintel returns them apart and "
        "builds a shapely point per fix. Peak RSS = ru_maxrss of the measuring process (imports included); "
        "Δ RSS = that peak minus the RSS just before the load call."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
