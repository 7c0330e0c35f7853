"""Model inputs made from windows of recent positions: relative or absolute features, and a z-scorer.

Windows (``[N, n, 2]`` metres) are cut from trajectories by `edgeroam.mobility.windows`; cells, futility and
scoring are evaluate.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Standardizer", "absolute_features", "relative_features"]


def relative_features(windows: np.ndarray) -> np.ndarray:
    """Positions relative to the last one, flattened: ``[N, 2 (n - 1)]`` (the last, always zero, is dropped).

    Translation-invariant: a walk in one corner of the region looks the same as the same walk elsewhere, so
    the model generalises to test users in parts of the map no training user visited.
    """
    rel = windows[:, :-1, :] - windows[:, -1:, :]
    return rel.reshape(len(windows), -1)


def absolute_features(windows: np.ndarray) -> np.ndarray:
    """Absolute positions flattened: ``[N, 2 n]``."""
    return windows.reshape(len(windows), -1)


@dataclass
class Standardizer:
    """Per-column z-scores (a column with zero spread keeps scale 1)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """Learn mean and standard deviation of each column of `X`."""
        if X.shape[1] == 0:
            return cls(np.zeros(0), np.ones(0))
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(mean, scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Z-scores of `X`."""
        return (X - self.mean) / self.scale

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        """Back from z-scores."""
        return Z * self.scale + self.mean
