from __future__ import annotations

import os
import subprocess
import sys

from edgeroam.emulator.net.procs import alive, proc_start_time


def test_a_finished_child_is_neither_alive_nor_has_a_start_time():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = proc_start_time(child.pid)
    child.wait()
    assert isinstance(started, int) or started is None  # it may already be gone when we look
    assert not alive(child.pid) and proc_start_time(child.pid) is None


def test_this_process_is_alive_and_started_before_a_child_it_starts():
    me = proc_start_time(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert alive(os.getpid()) and alive(child.pid)
        assert me is not None and proc_start_time(child.pid) >= me
    finally:
        child.kill()
        child.wait()
