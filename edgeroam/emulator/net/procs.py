"""What the net backend records about the processes it starts, and how it tells them apart later.

A PID alone is not an identity (the kernel reuses them), so a record keeps each PID with its start time;
`clean` and the OVS daemon bookkeeping ask :func:`alive` and :func:`proc_start_time` before they act on one.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RECORD_DIR", "alive", "proc_start_time"]

#: where a live network records what it created, so that `edgeroam clean` can finish a killed run
RECORD_DIR = Path("/run/edgeroam")


def proc_start_time(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (tells a recorded PID from a reused one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int) -> bool:
    """Whether a process with this PID exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
