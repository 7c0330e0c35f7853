"""Network plans (pure) and real networks of 7 and 19 hex cells: build, reach every pair, leave nothing
behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgeroam.emulator.net.build import NetParams, Network, candidate_cells, plan_network
from edgeroam.emulator.net.clean import leftovers
from edgeroam.errors import RunError, TopologyError

from .conftest import PREFIX, hex_graph

REPO = Path(__file__).resolve().parents[3]


def _walk(plan, start: str, mac: str) -> list[str]:
    """Follow static forwarding from switch `start` to the host owning `mac`; the switches visited."""
    fwd = plan.forwarding()
    owner = {port: peer for (sw, peer), port in plan.port_to.items()}
    seen = [start]
    while True:
        peer = owner[fwd[seen[-1]][mac]]
        if peer in plan.hosts:
            return seen
        assert peer not in seen, f"forwarding loop at {peer}"
        seen.append(peer)


def test_plan_of_seven_cells():
    g = hex_graph(1)
    plan = plan_network(g, [candidate_cells(g, "s2")], NetParams(prefix=PREFIX))
    kinds = plan.link_table()["kind"].value_counts().to_dict()
    assert len(plan.switches) == 7 and len(plan.hosts) == 8
    assert kinds == {"backhaul": 12, "local": 7, "access": 7}  # the centre client reaches all 7 cells
    client = plan.hosts[f"{PREFIX}c0"]
    assert client.switches[0] == plan.switch_of["s2"] and len(set(client.ifaces)) == 7
    assert len({h.ip for h in plan.hosts.values()}) == 8 and len({h.mac for h in plan.hosts.values()}) == 8
    access = plan.link_table().query("kind == 'access'")
    assert set(access["rate_ab_bps"]) == {35e6} and set(access["rate_ba_bps"]) == {50e6}
    assert max(len(n) for link in plan.links for n in (link.a_if, link.b_if)) <= 15


def test_forwarding_follows_shortest_paths_without_loops():
    g = hex_graph(2)
    plan = plan_network(g, params=NetParams(prefix=PREFIX))
    hops = {}
    for h in plan.hosts.values():
        for sw in plan.switches:
            path = _walk(plan, sw, h.mac)
            assert path[-1] == h.switches[0]
            hops[(sw, h.name)] = len(path) - 1
    assert max(hops.values()) == 4  # the diameter of a 19-cell hex disk


def test_bad_plans_raise_typed_errors():
    g = hex_graph(1)
    with pytest.raises(TopologyError, match="prefix"):
        NetParams(prefix="xx")
    with pytest.raises(TopologyError, match="nope"):
        plan_network(g, [["nope"]])
    with pytest.raises(TopologyError, match="no cell"):
        plan_network(g, [[]])


@pytest.mark.net
@pytest.mark.timeout(240)
@pytest.mark.parametrize("rings", [1, 2])
def test_grid_builds_reaches_every_pair_and_leaves_nothing(net_ok, rings):
    g = hex_graph(rings)
    plan = plan_network(g, [candidate_cells(g, "s0"), candidate_cells(g, "s3")], NetParams(prefix=net_ok))
    with Network(plan) as net:
        assert not leftovers(net_ok).empty
        up, sent = net.ping_all(timeout_s=5)
        assert (up, sent) == (sent, len(plan.hosts) * (len(plan.hosts) - 1))
    left = leftovers(net_ok)
    assert left.empty, left


@pytest.mark.net
@pytest.mark.timeout(240)
def test_exception_inside_tears_down(net_ok):
    plan = plan_network(hex_graph(1), params=NetParams(prefix=net_ok))
    with pytest.raises(RuntimeError, match="boom"), Network(plan) as net:
        proc = net.popen(f"{net_ok}h0", ["sleep", "300"])
        raise RuntimeError("boom")
    assert proc.poll() is not None
    left = leftovers(net_ok)
    assert left.empty, left


@pytest.mark.net
@pytest.mark.timeout(240)
@pytest.mark.parametrize("switch", ["bridge", "ovs"])
def test_refuses_to_build_over_leftovers(net_ok, switch):
    """A refused build touches nothing of the network already there (an ovs one keeps its bridges)."""
    plan = plan_network(hex_graph(1), params=NetParams(prefix=net_ok, switch=switch))
    with Network(plan) as first:
        with pytest.raises(RunError, match="exist already"), Network(plan):
            pass
        answered, sent = first.ping_all()
        assert answered == sent > 0
        if switch == "ovs":
            for sw in plan.switches:
                assert subprocess.run(["ovs-vsctl", "br-exists", sw], check=False).returncode == 0, sw
    assert leftovers(net_ok).empty


# the child takes Ctrl-C as an interactive run does, even when its parent ignores SIGINT: a shell without job
# control starts a background job (``make test &``) with SIGINT ignored, and a Python started that way keeps
# ignoring it unless it installs a handler (before it did, the suite so launched hung here for 120 s)
_SCRIPT = textwrap.dedent("""
    import faulthandler, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it is, should it not end (_stuck)
    sys.path.insert(0, {tests!r})
    from conftest import hex_graph
    from edgeroam.emulator.net.build import NetParams, Network, plan_network
    with Network(plan_network(hex_graph(2), params=NetParams(prefix={prefix!r}))) as net:
        net.popen("{prefix}h1", ["sleep", "300"])
        print("ready", flush=True)
        time.sleep(300)
""")


def _start_child(prefix: str, err: Path) -> subprocess.Popen:
    """The child, once its network is up (started with SIGINT ignored, see `_SCRIPT`); its error output goes
    to `err` (a file: a pipe nobody reads could fill and stop it)."""
    code = _SCRIPT.format(tests=str(Path(__file__).parent), prefix=prefix)
    # always started as from a background job (SIGINT ignored, kept across exec): however the suite is run
    ignoring = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', sys.executable, "-c", code]
    with err.open("w") as f:
        proc = subprocess.Popen(ignoring, stdout=subprocess.PIPE, stderr=f, text=True, cwd=REPO)
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline and line.strip() != "ready":
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(err.read_text())
    assert line.strip() == "ready", err.read_text()
    return proc


def _stuck(proc: subprocess.Popen, err: Path) -> str:
    """Where a child that does not end is: its Python stacks (faulthandler) and every thread's kernel stack,
    its own and its children's."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGUSR1)
    time.sleep(2)
    out = [f"load {os.getloadavg()}"]
    kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
    for pid in [proc.pid, *map(int, kids.stdout.split())]:
        for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
            with contextlib.suppress(OSError):
                out.append(f"{pid}/{task.name} {(task / 'comm').read_text().strip()} "
                           f"{(task / 'stat').read_text().rsplit(')', 1)[1].split()[0]}\n"
                           f"{(task / 'stack').read_text()}")
    return "\n".join([*out, err.read_text()[-6000:]])


@pytest.mark.net
@pytest.mark.timeout(300)
def test_sigint_tears_down(net_ok, tmp_path):
    err = tmp_path / "child.err"
    proc = _start_child(net_ok, err)
    try:
        assert not leftovers(net_ok).empty
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the child did not end 120 s after Ctrl-C:\n{_stuck(proc, err)}") from None
        assert proc.returncode == -signal.SIGINT, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = leftovers(net_ok)
    assert left.empty, left


@pytest.mark.net
@pytest.mark.timeout(300)
def test_clean_removes_what_a_killed_run_left(net_ok, tmp_path):
    from edgeroam.emulator.net.clean import clean

    proc = _start_child(net_ok, tmp_path / "child.err")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = leftovers(net_ok)
    assert left.interfaces and left.processes and left.records and not left.live
    clean(net_ok)
    after = leftovers(net_ok)
    assert after.empty, after
