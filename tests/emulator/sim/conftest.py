"""Shared fixtures of the sim backend tests: a three-server line s0 - s1 - s2 with 1 MB/s links."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest

from edgeroam.emulator.sim.backend import SimBackend

MB = 1_000_000


@pytest.fixture
def make_backend() -> Callable[..., SimBackend]:
    """A factory of `SimBackend` on s0 - s1 - s2 (8 Mbit/s links, no delay), layers a, b, c of 1, 1, 2 MB.

    Keyword arguments override the defaults (interval 10 s, TTL 2 intervals, 8 Mbit/s Wi-Fi, 1 MB chunks).
    """

    def make(**kw) -> SimBackend:
        G = nx.Graph()
        G.add_edge("s0", "s1", capacity_bps=8e6, delay_s=0.0)  # 1 MB/s
        G.add_edge("s1", "s2", capacity_bps=8e6, delay_s=0.0)
        args = dict(interval_s=10.0, ttl_intervals=2, up_bps=8e6, chunk_bytes=1 * MB)
        args.update(kw)
        return SimBackend(G, [0, 1, 2], [MB, MB, 2 * MB], ["a", "b", "c"], **args)

    return make
