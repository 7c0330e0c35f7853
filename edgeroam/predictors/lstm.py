"""An LSTM that reads the z-scored recent positions and outputs the next one (PerDNN §III.D, "RNN").

One LSTM layer (latent size 16–32), a linear output layer without activation, MAE loss, Adam (lr 0.001),
early stopping on a held-out validation split. Like the SVR it reads positions relative to the last one and
predicts the displacement (``target="displacement"``; see svr.py for why), and can be switched to absolute
positions.

CPU-friendly: torch runs with ``num_threads`` threads (default 1) during fit and predict and the previous
setting is restored afterwards; randomness (initial weights, shuffling, the validation split) comes from a
``torch.Generator`` seeded from ``random_state``, never from torch's global RNG. Saved as one safetensors
file whose metadata holds the parameters and scalers as JSON (no pickle). torch is imported only when used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeroam._rng import as_generator
from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Interval, Options, Predictor
from edgeroam.predictors.features import Standardizer

__all__ = ["LSTMPredictor"]

ProgressCallback = Callable[[int, int, float], None]


def _build_module(hidden: int):
    import torch
    from torch import nn

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size=2, hidden_size=hidden, num_layers=1, batch_first=True)
            self.out = nn.Linear(hidden, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, _ = self.lstm(x)
            return self.out(h[:, -1, :])

    # built on the meta device (no global-RNG draws for the default init), then given real, empty storage;
    # the caller initialises the weights from its own generator or loads them
    with torch.device("meta"):
        net = _Net()
    return net.to_empty(device="cpu")


class _Threads:
    """Run torch with a given number of intra-op threads, restoring the previous value."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        import torch

        self.prev = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.prev)


class LSTMPredictor(Predictor):
    """Next position from an LSTM over the recent positions.

    Parameters
    ----------
    hidden_size : int, default 32
        Latent size (PerDNN: 32 for KAIST, 16 for Geolife).
    target : {"displacement", "absolute"}, default "displacement"
    learning_rate : float, default 1e-3
    batch_size : int, default 256
    max_epochs : int, default 100
    patience : int, default 5
        Epochs without validation improvement before stopping; the best weights are kept.
    validation_fraction : float, default 0.1
    num_threads : int, default 1
    random_state : int or None, default None

    Attributes
    ----------
    window_ : int
    module_ : torch.nn.Module
    x_scale_, y_scale_ : Standardizer
    n_epochs_ : int
        Epochs run before stopping.
    best_val_loss_ : float
        Best validation MAE (z-units).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(40.0)
    >>> walk = np.stack([3 * t, 4 * t], axis=1)
    >>> w = np.stack([walk[i:i + 3] for i in range(37)]); y = walk[3:40]
    >>> p = LSTMPredictor(max_epochs=2, random_state=0).fit(w, y)
    >>> p.predict(w[:2]).shape
    (2, 2)
    """

    kind: ClassVar[str] = "lstm"
    _fitted_attr: ClassVar[str] = "module_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_size": [Interval(int, 1, 1024)],
        "target": [Options(frozenset({"displacement", "absolute"}))],
        "learning_rate": [Interval(float, 0.0, 1.0, "right")],
        "batch_size": [Interval(int, 1, None)],
        "max_epochs": [Interval(int, 1, None)],
        "patience": [Interval(int, 1, None)],
        "validation_fraction": [Interval(float, 0.0, 0.5, "neither")],
        "num_threads": [Interval(int, 1, 64)],
        "random_state": [None, Interval(int, 0, None)],
    }

    def __init__(
        self,
        hidden_size: int = 32,
        target: str = "displacement",
        learning_rate: float = 1e-3,
        batch_size: int = 256,
        max_epochs: int = 100,
        patience: int = 5,
        validation_fraction: float = 0.1,
        num_threads: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.hidden_size = hidden_size
        self.target = target
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.num_threads = num_threads
        self.random_state = random_state

    def _sequences(self, w: np.ndarray) -> np.ndarray:
        return w - w[:, -1:, :] if self.target == "displacement" else w

    def _outputs(self, w: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y - w[:, -1, :] if self.target == "displacement" else y

    def fit(self, windows: Any, targets: Any, *, callback: ProgressCallback | None = None) -> LSTMPredictor:
        """Train with early stopping; `callback(epoch, max_epochs, val_loss)` is called after each epoch.

        Returns self.
        """
        import torch

        w, y = self._check_fit_input(windows, targets)
        if len(w) < 4:
            raise EdgeroamError(f"LSTMPredictor needs at least 4 training windows, got {len(w)}")
        seq = self._sequences(w)
        out = self._outputs(w, y)
        # one scaler for the 2 input coordinates (over all steps), one for the 2 outputs
        x_scale = Standardizer.fit(seq.reshape(-1, 2))
        if self.target == "displacement":  # the last step is always 0; scale by the spread of the others
            others = seq[:, :-1, :].reshape(-1, 2)
            x_scale = Standardizer(np.zeros(2), Standardizer.fit(others).scale) if len(others) else x_scale
        y_scale = Standardizer.fit(out)
        X = x_scale.transform(seq).astype(np.float32)
        Y = y_scale.transform(out).astype(np.float32)

        seed = int(as_generator(self.random_state).integers(2**62))
        gen = torch.Generator().manual_seed(seed)
        n_val = max(1, int(round(self.validation_fraction * len(X))))
        perm = torch.randperm(len(X), generator=gen).numpy()
        val_idx, tr_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])

        with _Threads(self.num_threads):
            module = _build_module(self.hidden_size)
            with torch.no_grad():
                for p in module.parameters():
                    k = 1.0 / math.sqrt(self.hidden_size)
                    p.uniform_(-k, k, generator=gen)
            opt = torch.optim.Adam(module.parameters(), lr=self.learning_rate)
            loss_fn = torch.nn.L1Loss()
            Xt, Yt = torch.from_numpy(X[tr_idx]), torch.from_numpy(Y[tr_idx])
            Xv, Yv = torch.from_numpy(X[val_idx]), torch.from_numpy(Y[val_idx])
            best = math.inf
            best_state = {k: v.clone() for k, v in module.state_dict().items()}
            bad = 0
            epoch = 0
            for epoch in range(1, self.max_epochs + 1):
                module.train()
                order = torch.randperm(len(Xt), generator=gen)
                for start in range(0, len(Xt), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(module(Xt[idx]), Yt[idx])
                    loss.backward()
                    opt.step()
                module.eval()
                with torch.no_grad():
                    val = float(loss_fn(module(Xv), Yv))
                if callback is not None:
                    callback(epoch, self.max_epochs, val)
                if val < best - 1e-6:
                    best, bad = val, 0
                    best_state = {k: v.clone() for k, v in module.state_dict().items()}
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
            module.load_state_dict(best_state)
            module.eval()
        self.x_scale_, self.y_scale_ = x_scale, y_scale
        self.n_epochs_ = epoch
        self.best_val_loss_ = best
        self.window_ = int(w.shape[1])
        self.module_ = module
        return self

    def predict(self, windows: Any) -> np.ndarray:
        """Predicted next positions ``[N, 2]`` in metres."""
        import torch

        w = self._check_predict_windows(windows)
        X = self.x_scale_.transform(self._sequences(w)).astype(np.float32)
        with _Threads(self.num_threads), torch.no_grad():
            Yz = (
                np.concatenate(
                    [
                        self.module_(torch.from_numpy(X[s : s + 65536])).numpy()
                        for s in range(0, len(X), 65536)
                    ]
                )
                if len(X)
                else np.zeros((0, 2), np.float32)
            )
        Y = self.y_scale_.inverse(Yz.astype(np.float64))
        return Y + w[:, -1, :] if self.target == "displacement" else Y

    # -- persistence -------------------------------------------------------------------------------
    def _scalers(self) -> dict[str, list[float]]:
        return {
            "x_mean": self.x_scale_.mean.tolist(),
            "x_scale": self.x_scale_.scale.tolist(),
            "y_mean": self.y_scale_.mean.tolist(),
            "y_scale": self.y_scale_.scale.tolist(),
        }

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {k: v.detach().numpy() for k, v in self.module_.state_dict().items()}
        learned = {
            "window_": int(self.window_),
            "n_epochs_": int(self.n_epochs_),
            "best_val_loss_": float(self.best_val_loss_),
            **self._scalers(),
        }
        return arrays, learned

    def save(self, path: str | Path) -> Path:
        """Write weights (safetensors) with parameters and scalers in its JSON metadata; returns the path."""
        from safetensors.torch import save_file

        self._check_is_fitted()
        path = Path(path)
        tensors = {k: v.detach().contiguous() for k, v in self.module_.state_dict().items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"edgeroam": json.dumps(self._meta(), sort_keys=True)})
        tmp.replace(path)
        return path

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        import torch

        module = _build_module(self.hidden_size)
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise EdgeroamError(f"LSTM weights do not match hidden_size={self.hidden_size}: {exc}") from None
        module.eval()
        self.x_scale_ = Standardizer(np.asarray(meta["x_mean"]), np.asarray(meta["x_scale"]))
        self.y_scale_ = Standardizer(np.asarray(meta["y_mean"]), np.asarray(meta["y_scale"]))
        self.n_epochs_ = int(meta["n_epochs_"])
        self.best_val_loss_ = float(meta["best_val_loss_"])
        self.window_ = int(meta["window_"])
        self.module_ = module
