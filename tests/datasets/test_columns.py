"""_columns: a Traces table's arrays without pandas, read alike from either kind of table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgeroam.datasets._columns import (
    TraceColumns,
    column,
    has_column,
    is_sorted,
    sort_order,
    user_codes,
    user_count,
)
from edgeroam.datasets.traces import make_traces


def test_columns_read_alike_from_a_table_and_its_arrays():
    df = make_traces(pd.DataFrame({"user": ["b", "a", "a"], "traj": [0, 0, 1], "t": [5.0, 1.0, 2.0],
                                   "x": [1.0, 2.0, 3.0], "y": 0.0}), metric_frame="local")
    cols = TraceColumns(df["user"].cat.codes.to_numpy(), ["a", "b"],
                        {c: df[c].to_numpy() for c in ("traj", "t", "x", "y")}, dict(df.attrs))
    for table in (df, cols):
        assert user_codes(table).tolist() == [0, 0, 1] and user_count(table) == 2 and len(table) == 3
        assert column(table, "t").tolist() == [1.0, 2.0, 5.0] and column(table, "traj", float).dtype == float
        assert has_column(table, "x") and not has_column(table, "mode")
    back = cols.take(np.array([2, 0]))
    assert back.codes.tolist() == [1, 0] and back.data["x"].tolist() == [1.0, 2.0]
    assert back.attrs is cols.attrs


def test_sort_order_is_make_traces_order():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, 200)
    traj = rng.integers(0, 4, 200).astype(np.int32)
    t = rng.uniform(0, 10, 200).round()
    order = sort_order(codes, traj, t)
    assert order is not None and order.tolist() == np.lexsort((t, traj, codes)).tolist()
    ordered = codes[order], traj[order], t[order]
    assert is_sorted(*ordered) and sort_order(*ordered) is None
    assert sort_order(codes[:1], traj[:1], t[:1]) is None
