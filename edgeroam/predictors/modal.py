"""Beyond PerDNN: a transport-mode-aware linear SVR (speed classes, heading frame).

PerDNN expected Geolife accuracy to improve "with advanced prediction techniques such as transportation mode
inference" (§IV.B.3). Geolife's mode labels cannot train such a model here: under the scenario's user split
only 4 % of the training windows carry a label (30 % of the test windows), and a deployed predictor has no
label either. So the mode is *inferred from speed*: each window is put in a speed class by its mean step
length (metres per interval; default edges 10, 40, 120 m, i.e. at t = 20 s about 0.5, 2 and 6 m/s:
standing/slow walk, walk/bike, bike/bus, car/subway) and each class gets its own linear SVR, with a global
SVR for classes with too few training windows. Each window is also rotated into the frame of its last
heading before fitting (rotation back after predicting), so "keep going, slow down, turn" are learned once
for every compass direction. The SVR itself is svr.py's; docs/reproductions/table3.md reports the gain.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Interval, Predictor
from edgeroam.predictors.svr import SVRPredictor

__all__ = ["ModeAwareSVRPredictor", "heading_rotation", "speed_classes"]


def speed_classes(windows: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Class of each window by its mean step length (metres per interval): 0 … len(edges)."""
    if windows.shape[1] < 2:
        return np.zeros(len(windows), dtype=np.int64)
    steps = np.hypot(*np.diff(windows, axis=1).transpose(2, 0, 1)).mean(axis=1)
    return np.digitize(steps, np.asarray(edges, dtype=np.float64)).astype(np.int64)


def heading_rotation(windows: np.ndarray, min_step_m: float = 0.5) -> np.ndarray:
    """Rotations ``[N, 2, 2]`` turning each window's last heading to +x (identity when nearly still)."""
    if windows.shape[1] < 2:
        return np.tile(np.eye(2), (len(windows), 1, 1))
    step = windows[:, -1] - windows[:, -2]
    ang = np.where(np.hypot(step[:, 0], step[:, 1]) > min_step_m, np.arctan2(step[:, 1], step[:, 0]), 0.0)
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def _rotate(R: np.ndarray, origin: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Rotate points ``[N, ..., 2]`` about ``origin [N, 2]`` by ``R [N, 2, 2]``."""
    o = origin.reshape(len(origin), *([1] * (pts.ndim - 2)), 2)
    return np.einsum("nij,n...j->n...i", R, pts - o) + o


class ModeAwareSVRPredictor(Predictor):
    """Linear SVR per inferred transport mode (speed class), in each window's heading frame.

    Parameters
    ----------
    speed_edges : tuple of float, default (10.0, 40.0, 120.0)
        Class edges of the mean step length, metres per interval.
    heading_frame : bool, default True
    min_class_windows : int, default 200
        Classes with fewer training windows use the global model.
    C, epsilon : float
        Passed to each `SVRPredictor`.
    random_state : int or None

    Attributes
    ----------
    window_ : int
    global_ : SVRPredictor
    models_ : list of SVRPredictor or None
        One per speed class (None = use ``global_``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(12.0)
    >>> walk = np.stack([3 * t, 4 * t], axis=1)
    >>> w = np.stack([walk[i:i + 3] for i in range(9)]); y = walk[3:12]
    >>> np.round(ModeAwareSVRPredictor(min_class_windows=2).fit(w, y).predict(w[:1]), 1)
    array([[ 9., 12.]])
    """

    kind: ClassVar[str] = "svr-mode"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "speed_edges": [tuple],
        "heading_frame": [bool],
        "min_class_windows": [Interval(int, 2, None)],
        "C": [Interval(float, 0.0, None, "neither")],
        "epsilon": [Interval(float, 0.0, None)],
        "random_state": [None, Interval(int, 0, None)],
    }

    def __init__(
        self,
        speed_edges: tuple[float, ...] = (10.0, 40.0, 120.0),
        heading_frame: bool = True,
        min_class_windows: int = 200,
        C: float = 1.0,
        epsilon: float = 0.0,
        random_state: int | None = None,
    ) -> None:
        self.speed_edges = speed_edges
        self.heading_frame = heading_frame
        self.min_class_windows = min_class_windows
        self.C = C
        self.epsilon = epsilon
        self.random_state = random_state

    def _svr(self) -> SVRPredictor:
        return SVRPredictor(C=self.C, epsilon=self.epsilon, random_state=self.random_state)

    def _to_frame(self, w: np.ndarray, y: np.ndarray | None = None):
        if not self.heading_frame:
            return w, y, None
        R = heading_rotation(w)
        last = w[:, -1]
        return _rotate(R, last, w), (None if y is None else _rotate(R, last, y)), R

    def _validate_params(self) -> None:
        super()._validate_params()
        if any(not isinstance(e, int | float) for e in self.speed_edges) or list(self.speed_edges) != sorted(
            self.speed_edges
        ):
            raise EdgeroamError(f"speed_edges must be increasing numbers, got {self.speed_edges!r}")

    def fit(self, windows: Any, targets: Any) -> ModeAwareSVRPredictor:
        """Fit the global and the per-class SVRs; returns self."""
        w, y = self._check_fit_input(windows, targets)
        wf, yf, _ = self._to_frame(w, y)
        cls = speed_classes(w, self.speed_edges)
        self.global_ = self._svr().fit(wf, yf)
        models: list[SVRPredictor | None] = []
        for c in range(len(self.speed_edges) + 1):
            sel = cls == c
            models.append(self._svr().fit(wf[sel], yf[sel]) if sel.sum() >= self.min_class_windows else None)
        self.models_ = models
        self.window_ = int(w.shape[1])
        return self

    def predict(self, windows: Any) -> np.ndarray:
        """Predicted next positions ``[N, 2]`` metres."""
        w = self._check_predict_windows(windows)
        wf, _, R = self._to_frame(w)
        cls = speed_classes(w, self.speed_edges)
        out = np.empty((len(w), 2))
        for c, model in enumerate(self.models_):
            sel = cls == c
            if sel.any():
                out[sel] = (model or self.global_).predict(wf[sel])
        if R is not None:
            out = _rotate(np.transpose(R, (0, 2, 1)), w[:, -1], out)
        return out

    # -- persistence ------------------------------------------------------------------------------------
    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        params["speed_edges"] = [float(e) for e in self.speed_edges]
        return params

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        params["speed_edges"] = tuple(params["speed_edges"])
        return params

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        learned: dict[str, Any] = {"window_": int(self.window_), "models": []}
        for name, model in [("g", self.global_)] + [(f"m{c}", m) for c, m in enumerate(self.models_)]:
            if model is None:
                learned["models"].append(None)
                continue
            a, meta = model._state()
            arrays.update({f"{name}_{k}": v for k, v in a.items()})
            learned["models"].append({"name": name, "learned": meta})
        return arrays, learned

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        loaded: list[SVRPredictor | None] = []
        for entry in meta["models"]:
            if entry is None:
                loaded.append(None)
                continue
            prefix = entry["name"] + "_"
            model = self._svr()
            model._set_state(
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}, entry["learned"]
            )
            loaded.append(model)
        self.global_ = loaded[0]
        self.models_ = loaded[1:]
        self.window_ = int(meta["window_"])
