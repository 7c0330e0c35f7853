"""Shared fixture of the emulator tests: a scripted world of users standing on cell centres along a row."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from edgeroam.emulator.prepare import prepare
from edgeroam.scenario import scenario_from_dict
from edgeroam.topology.build import build_topology
from edgeroam.world import World

#: centre distance of neighbouring pointy cells of R = 50 m
STEP = math.sqrt(3) * 50.0


def _walks(paths: Mapping[str, Sequence[int]], interval_s: float) -> pd.DataFrame:
    rows = [(u, i * interval_s, c * STEP) for u, cells in paths.items() for i, c in enumerate(cells)]
    user, t, x = zip(*rows, strict=True)
    n = len(rows)
    return pd.DataFrame({"user": pd.Categorical(user), "traj": np.zeros(n, np.int32), "t": np.array(t),
                         "x": np.array(x, float), "y": np.zeros(n), "lat": np.nan, "lon": np.nan})


@pytest.fixture
def scripted() -> Callable[..., object]:
    """Prepare a scripted world: ``scripted({"a": (0, 0, 1, 1)}, ...)`` -> the prepared world.

    Each user stands on the centres of cells ``(c, 0)`` (one cell per tick, t = 30 s); the servers are the
    cells in `server_cells` (default: every visited cell, numbered in x order from 0). The predictor is
    `stay`; `policy` and `dnn` settings go to the scenario.
    """

    def make(paths: Mapping[str, Sequence[int]], *, model: str = "mobilenet", policy: str = "perdnn",
             server_cells: Sequence[int] | None = None, **policy_kw) -> object:
        sc = scenario_from_dict({
            "name": "scripted", "seed": 1,
            "dataset": {"kind": "synthetic", "interval_s": 30.0, "split": {"test_users": None}},
            "topology": {"radius_m": 50.0},
            "dnn": {"model": model},
            "predictor": {"kind": "stay", "history": 2},
            "policy": {"kind": policy, "radius_m": 100.0, "ttl_intervals": 5, **policy_kw},
        })
        tr = _walks(paths, 30.0)
        cells = sorted({c for p in paths.values() for c in p}) if server_cells is None else server_cells
        topo = build_topology(sc, _walks({"servers": list(cells)}, 30.0))
        return prepare(sc, World(sc, tr, [], sorted(paths), topo))

    return make
