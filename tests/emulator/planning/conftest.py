"""Small random chains and DAGs with profiles for the planning tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam._rng import as_generator
from edgeroam.emulator.dnn.graph import LayerGraph


def random_chain(seed: int, n: int) -> tuple[LayerGraph, np.ndarray, np.ndarray]:
    """A chain of `n` layers with random sizes and a client 2-50x slower than the server."""
    rng = as_generator(seed)
    w = rng.integers(0, 4000, n) * (rng.random(n) < 0.7)
    out = rng.integers(1, 3000, n)
    g = LayerGraph.from_chain(f"chain{seed}", w, out, rng.random(n), input_bytes=int(rng.integers(1, 3000)))
    server = rng.random(n) * 0.05
    client = server * rng.uniform(2, 50, n) + rng.random(n) * 0.02
    return g, client, server


def random_dag(seed: int, n: int) -> tuple[LayerGraph, np.ndarray, np.ndarray]:
    """A random DAG (each layer reads 1-3 earlier layers, some read the input) with random profiles."""
    rng = as_generator(seed)
    edges = set()
    for d in range(1, n):
        if rng.random() < 0.15:
            continue  # reads the model input
        k = int(rng.integers(1, min(3, d) + 1))
        for s in rng.choice(d, size=k, replace=False):
            edges.add((int(s), d))
    e = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    layers = pd.DataFrame(
        {
            "name": [f"l{i}" for i in range(n)],
            "op": ["other"] * n,
            "params": ["{}"] * n,
            "weight_bytes": rng.integers(0, 4000, n).astype(np.int64),
            "out_bytes": rng.integers(1, 3000, n).astype(np.int64),
            "flops": rng.random(n),
        }
    )
    g = LayerGraph(f"dag{seed}", layers, e, int(rng.integers(1, 3000)))
    server = rng.random(n) * 0.05
    client = server * rng.uniform(2, 50, n) + rng.random(n) * 0.02
    return g, client, server


def all_placements(n: int) -> np.ndarray:
    """Every bool placement of `n` layers, [2**n, n]."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


class Makers:
    """The builders above, handed to tests through the `planning` fixture (conftest is not importable)."""

    chain = staticmethod(random_chain)
    dag = staticmethod(random_dag)
    all_placements = staticmethod(all_placements)


@pytest.fixture
def mk() -> type[Makers]:
    """Random chain/DAG builders and the all-placements enumerator."""
    return Makers
