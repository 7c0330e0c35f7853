"""Two baselines any mobility-prediction comparison needs: stay where you are, and keep the last velocity.

Both learn nothing but the window length; they bound what a trained model must beat (see evaluate.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from edgeroam.predictors.base import Interval, Predictor

__all__ = ["ConstantVelocityPredictor", "StayPredictor"]


class _Unlearned(Predictor):
    """A predictor whose fit only checks its input and records the window length."""

    def fit(self, windows: Any, targets: Any) -> Self:
        """Record the window length; returns self."""
        w, _ = self._check_fit_input(windows, targets)
        self.window_ = int(w.shape[1])
        return self


class StayPredictor(_Unlearned):
    """Predict the current (last) position.

    Attributes
    ----------
    window_ : int
        Positions per window seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[[0.0, 0.0], [1.0, 2.0]]])
    >>> StayPredictor().fit(w, np.array([[2.0, 4.0]])).predict(w)
    array([[1., 2.]])
    """

    kind: ClassVar[str] = "stay"

    def __init__(self) -> None:
        pass

    def predict(self, windows: Any) -> np.ndarray:
        """The last position of each window, ``[N, 2]``."""
        w = self._check_predict_windows(windows)
        return w[:, -1, :].copy()


class ConstantVelocityPredictor(_Unlearned):
    """Predict ``last + steps * (last - previous)``: the last step's velocity kept for one more interval.

    With windows of one position it predicts the current position (no velocity known).

    Parameters
    ----------
    steps : float, default 1.0
        Intervals to extrapolate (1 = the next tick).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[[0.0, 0.0], [1.0, 2.0]]])
    >>> ConstantVelocityPredictor().fit(w, np.array([[2.0, 4.0]])).predict(w)
    array([[2., 4.]])
    """

    kind: ClassVar[str] = "velocity"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"steps": [Interval(float, 0.0, None, "left")]}

    def __init__(self, steps: float = 1.0) -> None:
        self.steps = steps

    def predict(self, windows: Any) -> np.ndarray:
        """Extrapolated positions ``[N, 2]``."""
        w = self._check_predict_windows(windows)
        last = w[:, -1, :]
        if w.shape[1] < 2:
            return last.copy()
        return last + self.steps * (last - w[:, -2, :])
