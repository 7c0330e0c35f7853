"""`edgeroam clean`: find and remove what a killed net run left behind, only by our own names and recorded
PIDs.

What counts as ours: interfaces and OVS bridges named like `build` names them (``<prefix>s<i>``,
``<prefix>h<i>``, ``<prefix>c<i>``, ``<prefix>d<i>`` (delay nodes), with ``-eth<k>`` ports; ``erd<pid>…``
probes of `doctor`), Mininet host shells whose argument is exactly ``mininet:<one of those names>``, processes
inside those shells' network namespaces, and the PIDs a run recorded in ``/run/edgeroam/<prefix>-<owner
pid>.json`` (checked against their start time). Nothing is killed or deleted by a broad pattern, and nothing
of a run whose owner process is still alive unless ``force``. Mininet's global cleanup (``mn -c``) is never
used: it kills by name and deletes every OVS bridge."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgeroam.emulator.net.procs import RECORD_DIR, alive, proc_start_time

__all__ = ["Leftovers", "clean", "leftovers"]

_SYS_NET = Path("/sys/class/net")


@dataclass
class Leftovers:
    """What a prefix has on this machine: interfaces, OVS bridges, processes (pid, what), run records."""

    interfaces: list[str] = field(default_factory=list)
    ovs_bridges: list[str] = field(default_factory=list)
    processes: list[tuple[int, str]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    live: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing of ours is left."""
        return not (self.interfaces or self.ovs_bridges or self.processes or self.records)


def _name_re(prefix: str) -> re.Pattern[str]:
    doctor = r"|erd\d+(?:a|b|br|o)" if prefix == "er" else ""
    return re.compile(rf"^(?:{re.escape(prefix)}[shcd]\d+(?:-eth\d+)?{doctor})$")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _records(prefix: str) -> list[tuple[Path, dict]]:
    out = []
    for f in sorted(RECORD_DIR.glob(f"{prefix}-*.json")) if RECORD_DIR.exists() else []:
        with contextlib.suppress(OSError, ValueError):
            out.append((f, json.loads(f.read_text())))
    return out


def leftovers(prefix: str = "er") -> Leftovers:
    """Everything on this machine that carries `prefix` as `build` names it (see the module docstring)."""
    pat = _name_re(prefix)
    left = Leftovers()
    left.interfaces = sorted(n for n in (os.listdir(_SYS_NET) if _SYS_NET.exists() else []) if pat.match(n))
    left.ovs_bridges = _ovs_bridges(pat)
    shells = []
    for pid in _pids():
        args = _cmdline(pid)
        if args and args[-1].startswith("mininet:") and pat.match(args[-1][len("mininet:"):]):
            shells.append(pid)
            left.processes.append((pid, args[-1]))
    own = _netns(os.getpid())
    spaces = {ns for ns in (_netns(p) for p in shells) if ns and ns != own}
    if spaces:
        for pid in _pids():
            if pid not in shells and _netns(pid) in spaces:
                left.processes.append((pid, " ".join(_cmdline(pid))[:80] or "?"))
    for path, rec in _records(prefix):
        left.records.append(str(path))
        owner = int(rec.get("owner", 0))
        if owner > 0 and alive(owner):  # os.kill(-1, 0) would "find" every process
            left.live.append(owner)
        for pid, start in rec.get("pids", []):
            if proc_start_time(pid) == start and all(pid != p for p, _ in left.processes):
                left.processes.append((pid, " ".join(_cmdline(pid))[:80]))
    return left


def _ovs_bridges(pat: re.Pattern[str]) -> list[str]:
    if shutil.which("ovs-vsctl") is None:
        return []
    try:
        p = subprocess.run(["ovs-vsctl", "--timeout=2", "list-br"], capture_output=True, text=True, timeout=5,
                           check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted(b for b in p.stdout.split() if pat.match(b)) if p.returncode == 0 else []


def clean(prefix: str = "er", *, force: bool = False) -> Leftovers:
    """Remove the leftovers of `prefix` (processes, OVS bridges, interfaces, records); returns what was found.

    A prefix whose run is still alive (its owner PID answers) is left alone unless `force`.
    """
    left = leftovers(prefix)
    if left.live and not force:
        return left
    for pid, _what in left.processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p, _ in left.processes):
        time.sleep(0.05)
    if left.ovs_bridges:
        args = ["ovs-vsctl", "--timeout=10"]
        for b in left.ovs_bridges:
            args += ["--", "--if-exists", "del-br", b]
        subprocess.run(args, capture_output=True, timeout=30, check=False)
    remaining = leftovers(prefix).interfaces
    if remaining:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"link del {n}\n" for n in remaining),
                       text=True, capture_output=True, timeout=120, check=False)
    for path, rec in _records(prefix):
        workdir = rec.get("workdir")
        if workdir and Path(workdir).name.startswith(f"{prefix}-net-"):
            shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return left
