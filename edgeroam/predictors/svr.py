"""Support vector regression of the next position from the ``n`` most recent ones (PerDNN §III.D).

Choices, with the reasons:

* **Linear by default, fitted with ``LinearSVR(loss="squared_epsilon_insensitive", dual=False)``.** PerDNN
  chose a linear kernel. ``SVR(kernel="linear")`` (libsvm) scales about as N²: measured here 0.21 s for
  2,000 windows, 2.5 s for 8,000 and minutes for the ~10⁵ windows of Geolife; liblinear's primal solver fits
  32,000 windows in 0.01 s with the same training MAE (0.0789 vs 0.0789 in z-units on a random-walk test),
  and the dual L1 (``epsilon_insensitive``) solver took 3.7 s and did not converge within 10,000 iterations.
  The L1 loss stays selectable (``loss="epsilon_insensitive"``).
* **Polynomial and RBF kernels** use libsvm's ``SVR`` on at most ``max_samples`` training windows (drawn
  with ``random_state``) because their cost grows as N².
* **Target = displacement from the last position, inputs = positions relative to the last one**
  (``target="displacement"``, the default). Z-scoring absolute coordinates of a 7 km region makes a 30 m
  step a 0.01-unit change, so the ε-tube, regularisation and kernel widths act at the scale of the map
  instead of the scale of motion, and an RBF model would memorise places instead of motion. Relative inputs
  are translation invariant, so test users in parts of the map no training user visited are predicted as
  well as the others. ``target="absolute"`` (PerDNN's literal description) is kept for comparison;
  docs/reproductions/table3.md reports both.
* **No sklearn object is kept after fit**: the linear model is ``coef_``/``intercept_``; kernel models keep
  support vectors and dual coefficients and predict with numpy. So save/load is a plain ``.npz`` and a
  batched prediction for all users of a tick is one small matrix product.

One regressor per output coordinate (SVR is single-output).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from edgeroam._rng import as_generator
from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Interval, Options, Predictor
from edgeroam.predictors.features import Standardizer, absolute_features, relative_features

__all__ = ["SVRPredictor"]


class SVRPredictor(Predictor):
    """Next position by support vector regression on z-scored recent positions.

    Parameters
    ----------
    kernel : {"linear", "poly", "rbf"}, default "linear"
    C : float, default 1.0
        Regularisation (inverse strength).
    epsilon : float, default 0.0
        Width of the insensitive tube, in z-units of the target.
    loss : {"squared_epsilon_insensitive", "epsilon_insensitive"}, default "squared_epsilon_insensitive"
        Linear kernel only (see the module docstring).
    target : {"displacement", "absolute"}, default "displacement"
    degree : int, default 3
        Polynomial degree (``kernel="poly"``).
    gamma : float or "scale", default "scale"
        Kernel coefficient for poly/rbf; "scale" = 1 / (n_features · var(X)) as in scikit-learn.
    coef0 : float, default 0.0
        Independent term of the polynomial kernel.
    tol : float, default 1e-4
    max_iter : int, default 10000
        liblinear iterations (linear); poly/rbf kernels get 100x as many libsvm iterations.
    max_samples : int, default 5000
        Training windows used by poly/rbf kernels (a seeded random subset when there are more).
    random_state : int or None, default None

    Attributes
    ----------
    window_ : int
    x_scale_, y_scale_ : Standardizer
        Input and target z-scorers.
    coef_ : ndarray [2, F], intercept_ : ndarray [2]
        Linear kernel.
    support_vectors_ : list of 2 ndarrays, dual_coef_ : list of 2 ndarrays, gamma_ : float
        Poly/rbf kernels, one set per output coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(12.0)
    >>> walk = np.stack([3 * t, 4 * t], axis=1)
    >>> w = np.stack([walk[i:i + 3] for i in range(9)]); y = walk[3:12]
    >>> p = SVRPredictor().fit(w, y)
    >>> np.round(p.predict(w[:1]), 1)
    array([[ 9., 12.]])
    """

    kind: ClassVar[str] = "svr"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "kernel": [Options(frozenset({"linear", "poly", "rbf"}))],
        "C": [Interval(float, 0.0, None, "neither")],
        "epsilon": [Interval(float, 0.0, None, "left")],
        "loss": [Options(frozenset({"squared_epsilon_insensitive", "epsilon_insensitive"}))],
        "target": [Options(frozenset({"displacement", "absolute"}))],
        "degree": [Interval(int, 1, None, "left")],
        "gamma": [Options(frozenset({"scale"})), Interval(float, 0.0, None, "neither")],
        "coef0": [Interval(float, None, None)],
        "tol": [Interval(float, 0.0, None, "neither")],
        "max_iter": [Interval(int, 1, None, "left")],
        "max_samples": [Interval(int, 2, None, "left")],
        "random_state": [None, Interval(int, 0, None, "left")],
    }

    def __init__(
        self,
        kernel: str = "linear",
        C: float = 1.0,
        epsilon: float = 0.0,
        loss: str = "squared_epsilon_insensitive",
        target: str = "displacement",
        degree: int = 3,
        gamma: float | str = "scale",
        coef0: float = 0.0,
        tol: float = 1e-4,
        max_iter: int = 10000,
        max_samples: int = 5000,
        random_state: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.C = C
        self.epsilon = epsilon
        self.loss = loss
        self.target = target
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.max_iter = max_iter
        self.max_samples = max_samples
        self.random_state = random_state

    # -- features ----------------------------------------------------------------------------------
    def _inputs(self, w: np.ndarray) -> np.ndarray:
        return relative_features(w) if self.target == "displacement" else absolute_features(w)

    def _outputs(self, w: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return targets - w[:, -1, :] if self.target == "displacement" else targets

    # -- fit / predict -----------------------------------------------------------------------------
    def fit(self, windows: Any, targets: Any) -> SVRPredictor:
        """Fit one regressor per coordinate; returns self."""
        w, y = self._check_fit_input(windows, targets)
        if len(w) < 2:
            raise EdgeroamError(f"SVRPredictor needs at least 2 training windows, got {len(w)}")
        X = self._inputs(w)
        Y = self._outputs(w, y)
        x_scale = Standardizer.fit(X)
        y_scale = Standardizer.fit(Y)
        Xz, Yz = x_scale.transform(X), y_scale.transform(Y)
        for attr in ("coef_", "intercept_", "support_vectors_", "dual_coef_", "gamma_"):
            if hasattr(self, attr):
                delattr(self, attr)
        if self.kernel == "linear":
            self._fit_linear(Xz, Yz)
        else:
            self._fit_kernel(Xz, Yz)
        self.x_scale_, self.y_scale_ = x_scale, y_scale
        self.window_ = int(w.shape[1])
        return self

    def _fit_linear(self, Xz: np.ndarray, Yz: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVR

        coef = np.zeros((2, Xz.shape[1]))
        intercept = np.zeros(2)
        seed = int(as_generator(self.random_state).integers(2**31 - 1))
        if Xz.shape[1] == 0:  # n = 1, relative inputs: nothing to regress on; predict the mean displacement
            self.coef_, self.intercept_ = coef, intercept
            return
        for j in range(2):
            model = LinearSVR(
                C=self.C,
                epsilon=self.epsilon,
                loss=self.loss,
                dual=self.loss == "epsilon_insensitive",
                tol=self.tol,
                max_iter=self.max_iter,
                random_state=seed,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(Xz, Yz[:, j])
            coef[j] = model.coef_
            intercept[j] = float(np.ravel(model.intercept_)[0])
        self.coef_, self.intercept_ = coef, intercept

    def _fit_kernel(self, Xz: np.ndarray, Yz: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import SVR

        rng = as_generator(self.random_state)
        if len(Xz) > self.max_samples:
            idx = np.sort(rng.choice(len(Xz), size=self.max_samples, replace=False))
            Xz, Yz = Xz[idx], Yz[idx]
        n_features = max(Xz.shape[1], 1)
        if self.gamma == "scale":
            var = float(Xz.var()) if Xz.size else 0.0
            gamma = 1.0 / (n_features * var) if var > 0 else 1.0
        else:
            gamma = float(self.gamma)
        svs, duals, intercept = [], [], np.zeros(2)
        for j in range(2):
            model = SVR(
                kernel=self.kernel,
                C=self.C,
                epsilon=self.epsilon,
                degree=self.degree,
                gamma=gamma,
                coef0=self.coef0,
                tol=self.tol,
                max_iter=100 * self.max_iter,  # libsvm iterations; poly kernels can crawl without a cap
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(Xz, Yz[:, j])
            svs.append(np.asarray(model.support_vectors_, dtype=np.float64))
            duals.append(np.asarray(model.dual_coef_, dtype=np.float64).ravel())
            intercept[j] = float(model.intercept_[0])
        self.support_vectors_, self.dual_coef_, self.intercept_, self.gamma_ = svs, duals, intercept, gamma

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        if self.kernel == "rbf":
            d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
            return np.exp(-self.gamma_ * np.maximum(d2, 0.0))
        return (self.gamma_ * (A @ B.T) + self.coef0) ** self.degree

    def predict(self, windows: Any) -> np.ndarray:
        """Predicted next positions ``[N, 2]`` in metres."""
        w = self._check_predict_windows(windows)
        Xz = self.x_scale_.transform(self._inputs(w))
        if self.kernel == "linear":
            Yz = Xz @ self.coef_.T + self.intercept_
        else:
            Yz = np.empty((len(w), 2))
            for j in range(2):
                K = self._kernel(Xz, self.support_vectors_[j])
                Yz[:, j] = K @ self.dual_coef_[j] + self.intercept_[j]
        Y = self.y_scale_.inverse(Yz)
        return Y + w[:, -1, :] if self.target == "displacement" else Y

    # -- persistence -------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "x_mean": self.x_scale_.mean,
            "x_scale": self.x_scale_.scale,
            "y_mean": self.y_scale_.mean,
            "y_scale": self.y_scale_.scale,
            "intercept": self.intercept_,
        }
        learned: dict[str, Any] = {"window_": int(self.window_)}
        if self.kernel == "linear":
            arrays["coef"] = self.coef_
        else:
            for j in range(2):
                arrays[f"sv{j}"] = self.support_vectors_[j]
                arrays[f"dual{j}"] = self.dual_coef_[j]
            learned["gamma_"] = float(self.gamma_)
        return arrays, learned

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.x_scale_ = Standardizer(arrays["x_mean"], arrays["x_scale"])
        self.y_scale_ = Standardizer(arrays["y_mean"], arrays["y_scale"])
        self.intercept_ = arrays["intercept"]
        if self.kernel == "linear":
            self.coef_ = arrays["coef"]
        else:
            self.support_vectors_ = [arrays["sv0"], arrays["sv1"]]
            self.dual_coef_ = [arrays["dual0"], arrays["dual1"]]
            self.gamma_ = float(meta["gamma_"])
        self.window_ = int(meta["window_"])
