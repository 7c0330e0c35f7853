"""What the C allocators keep resident: handing freed memory back to the system, and glibc's threshold for
giving large blocks their own mappings. Both change where memory comes from, never a result; each is a no-op
(False) where the C library lacks the knob (not glibc). And work done apart (`run_apart`): in a forked child
whose imports and temporaries go when it exits, where a module once imported would otherwise stay resident.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import Any

from edgeroam.errors import EdgeroamError

__all__ = ["HEAP_LARGE_BLOCKS", "map_large_blocks", "release_free_memory", "run_apart", "trim_heap"]

#: glibc's mallopt parameter of the size from which a block is its own mapping (``M_MMAP_THRESHOLD``)
_M_MMAP_THRESHOLD = -3
#: the most glibc's moving threshold grows to on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``): where it settles
#: once large blocks have been freed, so that later ones come from the heap
HEAP_LARGE_BLOCKS = 32 * 2**20


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Hand the heap memory freed so far back to the system: glibc keeps freed blocks of the main and of each
    thread's arena resident otherwise, and the next peak grows by them; a no-op without glibc."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def map_large_blocks(threshold: int = 128 * 1024) -> bool:
    """Have glibc's malloc give every block of `threshold` bytes or more its own mapping, returned to the
    system when freed (True where it could be set: Linux with glibc).

    By default glibc raises this threshold each time such a block is freed, up to 32 MB, so that later large
    blocks (numpy arrays, a growing dict's table, the transfer records) come from the heap instead; a pass
    frees and makes them all the time, among millions of small live objects, so the heap only grows: the
    10,000-user pass peaked at 0.59 GB with the moving threshold and 0.52 GB with it fixed here. Once set,
    glibc never moves it again: set `HEAP_LARGE_BLOCKS` after such work, since numpy code that makes and
    frees large temporaries in a loop pays a fresh mapping (zeroed pages) for each under a small threshold
    (perdnn-prob's fit on Geolife: 1.7 s CPU with the heap, 7.9 s with 128 KiB mappings).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):  # no C library to load, or one without mallopt (musl)
        return False


def release_free_memory() -> None:
    """Hand back to the system the memory freed so far that the allocators keep resident: glibc's heap pages
    (`trim_heap`) and the free pages of pyarrow's pool (where pyarrow is loaded: a dataset read leaves ~20 MB
    there). Before a pass, what loading, fitting and replaying freed goes back rather than sit under the
    pass's peak."""
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()
    trim_heap()


def run_apart(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn(*args)`` in a forked child process and wait for it; its effect must be what it writes (a
    file), since its memory goes when it exits.

    Python never unloads a module: scikit-learn with the parts of scipy and pandas it pulls in stays ~60-85 MB
    resident once imported, and a run that imported it to fit once carries it through its pass. A forked
    child shares this process's pages as they are (nothing is copied or sent); only what it imports and
    allocates is its own. Raises `EdgeroamError` naming `what` with the child's error where it fails, and
    where processes cannot be forked (not Linux) or this one may not have children (a daemonic process).
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        raise EdgeroamError(f"{what} apart needs fork, which this platform lacks")
    if multiprocessing.current_process().daemon:  # a Dask worker's process, for one: multiprocessing refuses
        raise EdgeroamError(f"{what} apart: this process is daemonic and may not start children")
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    try:
        child.start()
        send.close()
        try:
            error = recv.recv()
        except EOFError:  # it died before it could say (killed, out of memory)
            error = "no word from it"
        child.join()
    finally:
        recv.close()
    if error or child.exitcode != 0:
        raise EdgeroamError(f"{what} apart failed (exit {child.exitcode}): {error}")


def _child(done: Any, fn: Callable[..., Any], args: tuple) -> None:
    """The child's side of `run_apart`: call `fn`, then send "" (or its error) on `done`."""
    try:
        fn(*args)
    except Exception as exc:  # any error goes back to the parent, which raises it
        done.send(f"{type(exc).__name__}: {exc}")
    else:
        done.send("")
