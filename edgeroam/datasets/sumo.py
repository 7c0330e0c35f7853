"""Read SUMO floating-car data (``sumo --fcd-output``) into a Traces table, and run SUMO to make it.

An FCD file is ``<fcd-export><timestep time="…"><vehicle id x y …/>…</timestep>…</fcd-export>``. It is
streamed (lxml ``iterparse``, one ``<timestep>`` at a time, then freed), and each step's ids and coordinates
come out of one XPath call each, so memory stays at one step plus the columns and there is no Python loop
per vehicle. One user per vehicle (trajectory 0; resampling splits at gaps), ``t`` the simulation time in
seconds (relative, as KAIST), positions in the network's metres (``metric_frame`` "local", no CRS) or, where
SUMO wrote geo coordinates (``--fcd-output.geo``; found in the file's header comment, or `coords` says so),
lon/lat. A bad value raises one `TraceFormatError` naming file, line and attribute, or is skipped and
counted under ``lenient``; a file cut short (SUMO stopped) keeps the steps before the cut under ``lenient``.

`simulate` runs a SUMO configuration (``.sumocfg``) with the ``eclipse-sumo`` package (``pip install
'edgeroam[sumo]'``): it copies the configuration's folder to a work folder, builds every network described
by a ``netgenerate`` configuration (``*.netgcfg``) there, and writes the FCD output. Projection, regions and
caching are left to ``load``.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from edgeroam.datasets._lines import short_reason, warn
from edgeroam.datasets._values import BadRows, count_backwards_by_user, to_float, to_strings
from edgeroam.datasets.traces import empty_read_report, make_traces
from edgeroam.errors import DatasetError, TraceFormatError

__all__ = ["fcd_is_geo", "read_fcd", "simulate", "sumo_binary", "sumo_missing_reason"]

Coords = Literal["auto", "xy", "lonlat"]
_GEO = re.compile(rb"""fcd-output\.geo\s+value=["'](true|1|yes|on)["']""", re.IGNORECASE)
_HEAD_BYTES = 1 << 16
_ATTRS = ("id", "x", "y")
_SUMO_TIMEOUT_S = 600


def _open(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _head(path: Path) -> bytes:
    try:
        with _open(path) as fh:
            return fh.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:
        why = getattr(exc, "strerror", None) or short_reason(exc)
        raise DatasetError(f"{path}: cannot read ({why})") from None


def fcd_is_geo(path: str | Path) -> bool:
    """True when SUMO's header comment says the file was written with ``--fcd-output.geo``."""
    return _GEO.search(_head(Path(path))) is not None


def _steps(path: Path) -> Any:
    """Iterate over the ``<timestep>`` elements, freeing each one's predecessors."""
    from lxml import etree

    with _open(path) as fh:
        for _, step in etree.iterparse(fh, events=("end",), tag="timestep", resolve_entities=False,
                                       no_network=True, huge_tree=True):
            yield step
            step.clear(keep_tail=True)
            parent = step.getparent()
            while step.getprevious() is not None and parent is not None:
                del parent[0]


class _Lines:
    """Row → line of its ``<vehicle>``, found by one more pass over the file for just the rows asked."""

    def __init__(self, path: Path, starts: list[int]) -> None:
        self.path = path
        self.starts = np.asarray(starts, dtype=np.int64)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        step = np.searchsorted(self.starts, rows, side="right") - 1
        wanted: dict[int, list[tuple[int, int]]] = {}
        for i, (s, r) in enumerate(zip(step.tolist(), rows.tolist(), strict=True)):
            wanted.setdefault(s, []).append((i, r - int(self.starts[s])))
        from lxml import etree

        out = np.zeros(len(rows), dtype=np.int64)
        last = max(wanted) if wanted else -1
        try:
            for k, el in enumerate(_steps(self.path)):
                for i, j in wanted.get(k, []):
                    vehicles = el.xpath("vehicle")
                    out[i] = vehicles[j].sourceline if j < len(vehicles) else el.sourceline
                if k >= last:
                    break
        except (etree.XMLSyntaxError, OSError, EOFError):  # the steps asked for were read before; keep them
            pass
        return out


def read_fcd(path: str | Path, *, coords: Coords = "auto", lenient: bool = False) -> pd.DataFrame:
    """Read one SUMO FCD file (``.xml`` or ``.xml.gz``) into a Traces table.

    Parameters
    ----------
    path
        The file SUMO wrote with ``--fcd-output``.
    coords
        ``"xy"``: x, y are the network's metres; ``"lonlat"``: they are lon, lat (``--fcd-output.geo``);
        ``"auto"``: lon/lat when the file's header comment says ``fcd-output.geo``, else metres.
    lenient
        Skip vehicles with bad values, and keep the steps before a cut or malformed part of the file,
        counting both in ``attrs["read_report"]``, instead of raising.

    Raises
    ------
    DatasetError
        No such file, or `coords` unknown.
    TraceFormatError
        Not an FCD file, malformed XML, or a vehicle without a valid id, x, y (names file, line, attribute).
    """
    path = Path(path).expanduser()
    if coords not in ("auto", "xy", "lonlat"):
        raise DatasetError(f"coords must be 'auto', 'xy' or 'lonlat', got {coords!r}")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (expected SUMO FCD output, sumo --fcd-output FILE)")
    head = _head(path)
    if b"<fcd-export" not in head:
        raise TraceFormatError(path, "not SUMO FCD output: no <fcd-export> element at the start", line=1)
    geo = coords == "lonlat" or (coords == "auto" and _GEO.search(head) is not None)
    report = empty_read_report()
    columns: dict[str, list[Any]] = {a: [] for a in _ATTRS}
    times: list[Any] = []
    counts: list[int] = []
    starts: list[int] = []
    rows = 0
    from lxml import etree

    # compiled once; plain strings (lxml's "smart" ones keep every element alive, and the memory with it)
    attr_paths = [etree.XPath(f"vehicle/@{a}", smart_strings=False) for a in _ATTRS]
    count = etree.XPath("count(vehicle)")
    try:
        for step in _steps(path):
            values = [xp(step) for xp in attr_paths]
            n = int(count(step))
            if any(len(v) != n for v in values):  # some vehicle lacks an attribute: read them one by one
                vehicles = step.xpath("vehicle")
                values = [[v.get(a) for v in vehicles] for a in _ATTRS]
            for a, v in zip(_ATTRS, values, strict=True):
                columns[a] += v
            times.append(step.get("time"))
            counts.append(n)
            starts.append(rows)
            rows += n
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        error = TraceFormatError(path, f"malformed XML ({short_reason(exc)})", line=line)
        if not lenient:
            raise error from None
        warn(report, f"kept the {len(counts)} steps before {error}")
        report["bad_lines_skipped"] += 1
    except (OSError, EOFError) as exc:
        error = TraceFormatError(path, f"cannot read to the end ({short_reason(exc)})")
        if not lenient:
            raise error from None
        warn(report, f"kept the {len(counts)} steps before {error}")
        report["bad_lines_skipped"] += 1
    report["files"] = 1
    report["lines"] = rows
    if not counts and report["bad_lines_skipped"] == 0:
        raise TraceFormatError(path, "no <timestep> elements (did the simulation write any vehicle?)")
    line_of = _Lines(path, starts)
    bad = BadRows(str(path), line_of)
    step_t, t_missing, t_bad = to_float(np.asarray(times, dtype=object))
    t = np.repeat(step_t, counts)
    bad.flag(np.repeat(t_missing | t_bad, counts), "time", "timestep without a valid time",
             lambda i: times[int(np.searchsorted(line_of.starts, i, side="right") - 1)])
    ids, id_missing = to_strings(np.asarray(columns["id"], dtype=object))
    bad.flag(id_missing, "id", "vehicle without an id")
    out: dict[str, np.ndarray] = {}
    for a in ("x", "y"):
        values, missing, wrong = to_float(np.asarray(columns[a], dtype=object))
        bad.flag(missing, a, f"vehicle without {a}")
        bad.flag(wrong, a, "not a finite number", columns[a].__getitem__)
        out[a] = values
    if geo:
        bad.flag(np.abs(out["x"]) > 180, "x", "not a longitude (geo output)", columns["x"].__getitem__)
        bad.flag(np.abs(out["y"]) > 90, "y", "not a latitude (geo output)", columns["y"].__getitem__)
    keep = bad.resolve(rows, lenient=lenient, report=report)
    user, t = ids[keep], t[keep]
    count_backwards_by_user(str(path), user, t, None, report)
    frame = pd.DataFrame({"user": user, "traj": np.zeros(len(user), dtype=np.int32), "t": t})
    if geo:
        frame["lon"], frame["lat"] = out["x"][keep], out["y"][keep]
        return make_traces(frame, crs=None, source=str(path), metric_frame=None, read_report=report)
    frame["x"], frame["y"] = out["x"][keep], out["y"][keep]
    return make_traces(frame, crs=None, source=str(path), metric_frame="local", read_report=report)


def sumo_binary(name: str = "sumo") -> Path | None:
    """Where SUMO's program `name` (sumo, netgenerate, duarouter) is: ``$SUMO_HOME/bin``, the
    ``eclipse-sumo`` package, then ``PATH``; None when SUMO is not installed."""
    homes = [os.environ.get("SUMO_HOME")]
    try:
        import sumo  # the eclipse-sumo wheel

        homes.append(getattr(sumo, "SUMO_HOME", None))
    except ImportError:
        pass
    for home in homes:
        if home and (Path(home) / "bin" / name).is_file():
            return Path(home) / "bin" / name
    found = shutil.which(name)
    return Path(found) if found else None


def sumo_missing_reason() -> str | None:
    """Why SUMO cannot run here (None when sumo and netgenerate are found)."""
    missing = [n for n in ("sumo", "netgenerate") if sumo_binary(n) is None]
    if missing:
        return (f"SUMO is not installed ({', '.join(missing)} not found): pip install 'edgeroam[sumo]' "
                "(the eclipse-sumo package) or set SUMO_HOME")
    return None


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_SUMO_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise DatasetError(f"{what}: SUMO did not finish within {_SUMO_TIMEOUT_S} s") from None
    except OSError as exc:
        raise DatasetError(f"{what}: cannot start {cmd[0]} ({exc.strerror or exc})") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        tail = " | ".join(lines[-3:]) or f"exit status {proc.returncode}"
        raise DatasetError(f"{what}: {Path(cmd[0]).name} failed: {tail}")


def simulate(config: str | Path, work_dir: str | Path, *, geo: bool = False) -> Path:
    """Run the SUMO configuration `config` in `work_dir` and return the FCD file it wrote.

    The configuration's folder (its small text files) is copied to `work_dir`; each ``*.netgcfg`` there is
    first run through ``netgenerate -c`` (so a network is built, not stored); then ``sumo -c`` writes
    ``fcd.xml`` (``--fcd-output.geo`` when `geo`).

    Raises
    ------
    DatasetError
        SUMO is not installed, the configuration is missing, or netgenerate/sumo fail (their last lines).
    """
    config = Path(config).expanduser()
    if not config.is_file():
        raise DatasetError(f"{config}: no such SUMO configuration")
    reason = sumo_missing_reason()
    if reason:
        raise DatasetError(f"{config}: {reason}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    for f in sorted(config.parent.iterdir()):
        if f.is_file() and f.stat().st_size < (1 << 24):
            shutil.copy2(f, work / f.name)
    for netg in sorted(work.glob("*.netgcfg")):
        _run([str(sumo_binary("netgenerate")), "-c", netg.name], work, f"{config.parent / netg.name}")
    fcd = work / "fcd.xml"
    cmd = [str(sumo_binary("sumo")), "-c", config.name, "--fcd-output", fcd.name, "--no-step-log", "true"]
    if geo:
        cmd += ["--fcd-output.geo", "true"]
    _run(cmd, work, str(config))
    if not fcd.is_file():
        raise DatasetError(f"{config}: sumo finished but wrote no FCD output")
    return fcd
