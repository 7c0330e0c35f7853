"""Fixtures of the net tests: skip (with the reason) without root, Linux namespaces, mnexec or Mininet; a
small hex grid's backhaul graph; and a cleanup by the tests' own prefix after each test so one failure cannot
leak."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from edgeroam.topology import BackhaulParams, HexGrid, build_backhaul, cell_id, make_servers


def _own_prefix() -> str:
    """'er' plus two base-36 characters from this process id: test runs side by side (another pytest on the
    same machine) never share names, and one run's cleanup never touches another's network."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n = os.getpid() % (36 * 36)
    return "er" + digits[n // 36] + digits[n % 36]


PREFIX = _own_prefix()


def net_skip_reason() -> str | None:
    """Why real networks cannot be built here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (network namespaces, veth, tc)"
    if shutil.which("mnexec") is None:
        return "needs mnexec (apt-get install mininet)"
    if importlib.util.find_spec("mininet") is None:
        return "needs the mininet Python module (pip install -e '.[emulation]')"
    for tool in ("ip", "tc", "bridge"):
        if shutil.which(tool) is None:
            return f"needs {tool} (iproute2)"
    return None


def hex_graph(rings: int, **params):
    """Backhaul graph of a mesh over the 1 + 3k(k+1) cells within `rings` of the origin (loops everywhere)."""
    grid = HexGrid(radius=50)
    q, r = grid.disk(rings)
    return build_backhaul(grid, make_servers(grid, cell_id(q, r)), BackhaulParams(**params))


@pytest.fixture
def net_ok():
    """Skip unless real networks can be built; afterwards remove anything the test left under its prefix."""
    reason = net_skip_reason()
    if reason:
        pytest.skip(reason)
    from edgeroam.emulator.net.clean import clean

    clean(PREFIX)
    yield PREFIX
    clean(PREFIX, force=True)  # our own prefix only: whatever this test left
