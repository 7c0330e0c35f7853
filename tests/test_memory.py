"""The allocator knobs: set where glibc has them, a no-op elsewhere, and never a change of result."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

from edgeroam import _memory
from edgeroam.errors import EdgeroamError

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_large_blocks_get_their_own_mappings_on_linux_glibc(monkeypatch):
    try:
        assert _memory.map_large_blocks() is GLIBC
    finally:  # the tests after this one: large blocks from the heap again
        assert _memory.map_large_blocks(_memory.HEAP_LARGE_BLOCKS) is GLIBC
    with monkeypatch.context() as m:
        m.setattr(_memory.sys, "platform", "darwin")
        assert _memory.map_large_blocks() is False  # only glibc has the knob


def test_trimming_and_releasing_keep_live_memory_intact(monkeypatch):
    a = np.arange(1_000_000, dtype=np.int64)
    garbage = [bytes(1000) for _ in range(10_000)]
    del garbage
    _memory.trim_heap()
    _memory.release_free_memory()
    assert a.sum() == 999_999 * 1_000_000 // 2  # what is alive stays as it was
    calls = []
    trim = lambda: calls.append("trim") or calls.append  # noqa: E731 - malloc_trim(pad) records its pad
    monkeypatch.setattr(_memory, "_malloc_trim", trim)
    _memory.release_free_memory()
    assert calls == ["trim", 0]
    monkeypatch.setattr(_memory, "_malloc_trim", lambda: None)  # no glibc: nothing to call
    _memory.trim_heap()


def _write_imported(path, name):
    """A child's work: import `name` and write whether it is loaded there."""
    import importlib

    importlib.import_module(name)
    path.write_text(str(name in sys.modules))


def test_work_apart_leaves_its_effect_not_its_imports(tmp_path):
    name = "wave"  # a module nothing here imports
    if name in sys.modules:  # pragma: no cover
        pytest.skip("wave is loaded already")
    _memory.run_apart("writing", _write_imported, tmp_path / "out", name)
    assert (tmp_path / "out").read_text() == "True" and name not in sys.modules


def test_work_apart_raises_the_child_error(monkeypatch):
    with pytest.raises(EdgeroamError, match=r"dividing apart failed \(exit 0\): ZeroDivisionError"):
        _memory.run_apart("dividing", divmod, 1, 0)
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with pytest.raises(EdgeroamError, match="needs fork"):
        _memory.run_apart("dividing", divmod, 1, 1)


def _apart_in_daemon(out) -> None:
    """In a daemonic process (as a Dask worker's): what `run_apart` raised, or "" where it ran."""
    try:
        _memory.run_apart("writing", _write_imported, out, "wave")
        error = ""
    except EdgeroamError as exc:
        error = str(exc)
    out.with_suffix(".err").write_text(error)


def test_work_apart_refused_in_a_daemonic_process(tmp_path):
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=_apart_in_daemon, args=(tmp_path / "out",),
                                                       daemon=True)
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert "daemonic" in (tmp_path / "out.err").read_text() and not (tmp_path / "out").exists()
