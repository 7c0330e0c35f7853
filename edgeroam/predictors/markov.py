"""A variable-order Markov model over cell (= edge server) ids as a prediction suffix tree (PerDNN §III.D).

Positions are discretised to the hex cell that contains them (one edge server per cell). From the training
windows the model counts, for every context (the last L cells, L = 1 … depth) the cell visited one interval
later; the set of contexts is suffix-closed, i.e. a prediction suffix tree flattened into a dictionary keyed
by the context. To predict, it finds the longest context of the recent cells present in the tree (length m),
shortens it to ``max(1, round(a · m))`` cells (the "subsequence ratio" a = 0.7 of PerDNN, rounding half up:
m = 5 → 4, 4 → 3, 3 → 2, 2 → 1, 1 → 1), and ranks the cells that followed that shorter context by frequency
(ties by cell id). The paper leaves the rounding unstated; this is our reading.

A recent cell never seen in training has no context: the model then predicts the current cell (stay) with
probability 1. When a context has fewer than ``k`` successors the ranking is padded with cell id -1 and
probability 0 (the paper's top-2 counts only servers the model actually ranks).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Interval, Predictor
from edgeroam.topology.hexgrid import HexGrid, unpack_cell_id

__all__ = ["MarkovPredictor", "NO_CELL"]

#: padding cell id for ranks a context does not fill
NO_CELL = -1


def _grid_to_json(grid: HexGrid | None) -> dict[str, Any] | None:
    if grid is None:
        return None
    return {"radius": grid.radius, "origin": list(grid.origin), "orientation": grid.orientation}


def _grid_from_json(data: dict[str, Any] | None) -> HexGrid | None:
    if data is None:
        return None
    origin = (float(data["origin"][0]), float(data["origin"][1]))
    return HexGrid(radius=float(data["radius"]), origin=origin, orientation=data["orientation"])


class MarkovPredictor(Predictor):
    """Variable-order Markov predictor of the next cell with PerDNN's subsequence ratio.

    Parameters
    ----------
    grid : HexGrid or None, default None
        The cells (None = ``HexGrid(radius=50)`` around the origin). Must be the scenario's grid.
    ratio : float, default 0.7
        Subsequence ratio a (0 < a ≤ 1).
    max_depth : int or None, default None
        Longest context stored (None = the window length).
    min_count : int, default 1
        Contexts seen fewer times are pruned (1 keeps all).

    Attributes
    ----------
    window_ : int
    grid_ : HexGrid
    depth_ : int
    tree_ : dict[tuple[int, ...], tuple[ndarray, ndarray]]
        Context (oldest … newest cell id) → (next cells ranked, their probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> g = HexGrid(radius=50.0)
    >>> loop = np.array([g.center(q, 0) for q in (0, 1, 2, 3)] * 5)
    >>> w = np.stack([loop[i:i + 3] for i in range(16)]); y = loop[3:19]
    >>> cells, prob = MarkovPredictor(grid=g).fit(w, y).predict_cells(w[:1], k=2)
    >>> int(cells[0, 0]) == int(g.cell_ids_of(*loop[3])), float(prob[0, 0])
    (True, 1.0)
    """

    kind: ClassVar[str] = "markov"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "grid": [None, HexGrid],
        "ratio": [Interval(float, 0.0, 1.0, "right")],
        "max_depth": [None, Interval(int, 1, None)],
        "min_count": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        grid: HexGrid | None = None,
        ratio: float = 0.7,
        max_depth: int | None = None,
        min_count: int = 1,
    ) -> None:
        self.grid = grid
        self.ratio = ratio
        self.max_depth = max_depth
        self.min_count = min_count

    def _cells(self, w: np.ndarray) -> np.ndarray:
        return self.grid_.cell_ids_of(w[..., 0], w[..., 1]).reshape(w.shape[:-1])

    def fit(self, windows: Any, targets: Any) -> MarkovPredictor:
        """Count next cells after every context of the training windows; returns self."""
        w, y = self._check_fit_input(windows, targets)
        self.grid_ = self.grid if self.grid is not None else HexGrid(radius=50.0)
        n = w.shape[1]
        depth = n if self.max_depth is None else min(self.max_depth, n)
        cells = self._cells(w)
        nxt = self.grid_.cell_ids_of(y[:, 0], y[:, 1])
        tree: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        for L in range(1, depth + 1):
            rows = np.concatenate([cells[:, n - L :], nxt[:, None]], axis=1)
            uniq, counts = np.unique(rows, axis=0, return_counts=True)
            ctx = uniq[:, :-1]
            # group rows by context (np.unique sorted them lexicographically, so contexts are contiguous)
            change = np.any(ctx[1:] != ctx[:-1], axis=1)
            starts = np.concatenate([[0], np.flatnonzero(change) + 1, [len(uniq)]])
            for a, b in zip(starts[:-1], starts[1:], strict=True):
                c = counts[a:b]
                total = int(c.sum())
                if total < self.min_count:
                    continue
                succ = uniq[a:b, -1]
                order = np.lexsort((succ, -c))
                tree[tuple(int(v) for v in ctx[a])] = (succ[order], c[order] / total)
        self.depth_ = depth
        self.tree_ = tree
        self.window_ = int(n)
        return self

    def _context(self, seq: np.ndarray) -> tuple[int, ...] | None:
        """The shortened context used for `seq` (cell ids, oldest first), or None when nothing matches."""
        m = 0
        for L in range(1, min(self.depth_, len(seq)) + 1):
            if tuple(int(v) for v in seq[len(seq) - L :]) in self.tree_:
                m = L
            else:
                break  # suffix-closed: no longer context can match
        if m == 0:
            return None
        use = max(1, math.floor(self.ratio * m + 0.5))
        return tuple(int(v) for v in seq[len(seq) - use :])

    def predict_cells(self, histories: Any, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most probable next cells and their probabilities, ``([N, k] int64, [N, k] float64)``."""
        w = self._check_predict_windows(histories)
        if k < 1:
            raise EdgeroamError(f"k must be >= 1, got {k}")
        cells = self._cells(w)
        out_c = np.full((len(w), k), NO_CELL, dtype=np.int64)
        out_p = np.zeros((len(w), k))
        for i, seq in enumerate(cells):
            ctx = self._context(seq)
            if ctx is None:
                out_c[i, 0], out_p[i, 0] = seq[-1], 1.0
                continue
            succ, prob = self.tree_[ctx]
            j = min(k, len(succ))
            out_c[i, :j], out_p[i, :j] = succ[:j], prob[:j]
        return out_c, out_p

    def predict(self, windows: Any) -> np.ndarray:
        """Centre of the most probable next cell, ``[N, 2]`` metres."""
        cells, _ = self.predict_cells(windows, k=1)
        q, r = unpack_cell_id(cells[:, 0])
        x, y = self.grid_.center(q, r)
        return np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=1)

    # -- persistence -------------------------------------------------------------------------------
    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        params["grid"] = _grid_to_json(self.grid)
        return params

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        params["grid"] = _grid_from_json(params["grid"])
        return params

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        keys = sorted(self.tree_, key=lambda c: (len(c), c))
        ctx = np.zeros((len(keys), max(self.depth_, 1)), dtype=np.int64)
        lens = np.array([len(c) for c in keys], dtype=np.int64)
        for i, c in enumerate(keys):
            ctx[i, : len(c)] = c
        succ = [self.tree_[c][0] for c in keys]
        prob = [self.tree_[c][1] for c in keys]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in succ])]).astype(np.int64)
        arrays = {
            "ctx": ctx,
            "ctx_len": lens,
            "offsets": offsets,
            "next": np.concatenate(succ) if succ else np.zeros(0, np.int64),
            "prob": np.concatenate(prob) if prob else np.zeros(0),
        }
        learned = {
            "window_": int(self.window_),
            "depth_": int(self.depth_),
            "grid_": _grid_to_json(self.grid_),
        }
        return arrays, learned

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        ctx, lens, off = arrays["ctx"], arrays["ctx_len"], arrays["offsets"]
        nxt, prob = arrays["next"], arrays["prob"]
        self.tree_ = {
            tuple(int(v) for v in ctx[i, : lens[i]]): (nxt[off[i] : off[i + 1]], prob[off[i] : off[i + 1]])
            for i in range(len(lens))
        }
        self.depth_ = int(meta["depth_"])
        self.grid_ = _grid_from_json(meta["grid_"])
        self.window_ = int(meta["window_"])
