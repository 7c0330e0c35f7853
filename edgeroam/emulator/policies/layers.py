"""Which server-side layers a policy sends and in what order: one choice per load level, memoised.

PerDNN's default is the planner's optimal plan in efficiency order (`Planner.entry`). Two other papers'
planners plug in as parameters of the same policy: ``order="lmu"`` sends the plan's layers in EosDNN's Layer
Merge Uploading order (planning.lmu.lmu_order); ``split="single"`` / ``"queue"`` replace the plan by S3's
prefix cut (Single Cutting; Scheduling with Queuing, which moves the cut toward the client as the server's
load grows: planning.scheduling.split_mask). Where servers compute on tier slots (``view.cloud_bps`` set),
S3's split is three-way instead (`LayerChoice.three_way`): client | edge | cloud, the cut read from the
waits the edge's queries measured. The backend still runs each query on the best placement of what the
server holds; the choice decides what is sent.

What it leaves to others: the planners (planning), targets and actions (targets.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.emulator.planning.planner import Planner

__all__ = ["ORDERS", "SPLITS", "LayerChoice"]

#: upload orders of the plan's layers
ORDERS = ("efficiency", "lmu")
#: which layers run on the server: the planner's optimal plan or S3's cut
SPLITS = ("optimal", "single", "queue")


class LayerChoice:
    """The layers (names and indices, in upload order) a client's server should hold at a load level.

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> from edgeroam.emulator.planning.planner import Planner
    >>> g = LayerGraph.from_chain("toy", [8000, 8000], [1000, 10], [1.0, 1.0], input_bytes=1000)
    >>> pl = Planner(g, [1.0, 2.0], [0.1, 0.1], up_bps=8000.0, down_bps=8000.0, query_gap_s=0.5)
    >>> LayerChoice("lmu", "single").layers(pl, 1)[0]
    ('layer1', 'layer0')
    """

    def __init__(self, order: str = "efficiency", split: str = "optimal") -> None:
        self.order, self.split = order, split
        self._planner: Planner | None = None
        self._memo: dict[object, Any] = {}

    @property
    def default(self) -> bool:
        """PerDNN's choice (the planner's entry as it is)."""
        return self.order == "efficiency" and self.split == "optimal"

    def layers(self, planner: Planner, load: int) -> tuple[tuple[str, ...], np.ndarray]:
        """Names and indices of the server-side layers at `load` clients, in upload order."""
        from edgeroam.emulator.planning.scheduling import split_mask

        if planner is not self._planner:
            self._planner, self._memo = planner, {}
        k = planner.level(load)
        hit = self._memo.get(k)
        if hit is not None:
            return hit
        entry = planner.entry(k)
        if self.default:
            out = (entry.layers, entry.index)
        else:
            target = entry.target if self.split == "optimal" else \
                split_mask(planner.base, planner.slowdown(k), self.split)
            out = self._ordered(planner, planner.problem(k), target)
        self._memo[k] = out
        return out

    def three_way(self, planner: Planner, cloud_bps: float, waits: tuple[float, float]) -> tuple[
            tuple[str, ...], np.ndarray, int]:
        """S3's split on slots (``split`` single or queue): the edge's layers (names and indices, in upload
        order) and the first layer the cloud runs (the layer count: none), from the measured (edge, cloud)
        `waits` (Scheduling with Queuing) or none (Single Cutting); `planning.scheduling.ThreeTierCuts`."""
        from edgeroam.emulator.planning.scheduling import ThreeTierCuts

        if planner is not self._planner:
            self._planner, self._memo = planner, {}
        cuts = self._memo.get(("cuts", cloud_bps))
        if cuts is None:
            cuts = self._memo[("cuts", cloud_bps)] = ThreeTierCuts(planner.base, cloud_bps)
        i, j = cuts.best(*(waits if self.split == "queue" else (0.0, 0.0)))
        hit = self._memo.get((i, j))
        if hit is None:
            target = np.zeros(planner.n_layers, bool)
            target[i:j] = True
            hit = self._memo[(i, j)] = self._ordered(planner, planner.base, target)
        return hit[0], hit[1], j

    def _ordered(self, planner: Planner, prob: object,
                 target: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        """The `target` layers' names and indices in this choice's upload order."""
        from edgeroam.emulator.planning.lmu import lmu_order
        from edgeroam.emulator.planning.upload import efficiency_order

        if self.order == "lmu":
            idx = lmu_order(prob, target)
        else:
            groups = efficiency_order(prob, target=target).groups
            idx = np.concatenate(groups).astype(np.int64) if groups else np.zeros(0, np.int64)
        idx = idx[target[idx]] if len(idx) else idx
        return tuple(planner.names[idx].tolist()), idx
