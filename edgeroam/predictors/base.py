"""The predictor interface: scikit-learn-style parameters, input checks and pickle-free save/load.

Every mobility predictor takes windows of the ``n`` most recent positions ``[N, n, 2]`` (metres) and
predicts the position one interval later ``[N, 2]``. This module holds what they share:
``get_params``/``set_params``/`clone`, declared parameter constraints checked in ``fit``, the fitted check,
and the file format. Models live in their own modules (markov, svr, lstm, baselines); evaluation lives in
`edgeroam.predictors.evaluate`.

File format (no pickle anywhere a user downloads): a predictor is saved as one ``.npz`` file written with
`numpy.savez` and read with ``allow_pickle=False``, holding its learned arrays and a ``__meta__`` entry
(UTF-8 JSON bytes: format version, kind, parameters and scalar learned state). The LSTM overrides this with
a safetensors file whose metadata holds the same JSON. `load_predictor` reads either and returns the right
class.
"""

from __future__ import annotations

import inspect
import json
import numbers
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeroam.errors import EdgeroamError, NotFittedError

__all__ = [
    "FORMAT_VERSION",
    "Interval",
    "Options",
    "Predictor",
    "check_targets",
    "check_windows",
    "clone",
    "read_predictor_file",
]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Interval:
    """A numeric range constraint; ``closed`` is one of "both", "left", "right", "neither"."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def ok(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if self.kind is float and not isinstance(value, numbers.Real):
            return False
        low_open = self.closed in ("right", "neither")
        high_open = self.closed in ("left", "neither")
        if self.low is not None and (value < self.low or (value == self.low and low_open)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and high_open)))

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{self.kind.__name__} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """A constraint to a fixed set of values."""

    values: frozenset

    def ok(self, value: Any) -> bool:
        return isinstance(value, str | bool | int | float | type(None)) and value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=repr))


def _constraint_ok(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint) and not (constraint is not bool and isinstance(value, bool))
    if callable(getattr(constraint, "ok", None)):
        return constraint.ok(value)
    raise TypeError(f"unknown constraint {constraint!r}")


def _constraint_str(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def check_windows(windows: Any, *, name: str = "windows") -> np.ndarray:
    """Return `windows` as a float64 array ``[N, n, 2]`` (a copy only when needed); raise on a wrong shape."""
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[-1] == 2:  # one window
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 2 or arr.shape[1] < 1:
        raise EdgeroamError(f"{name} must have shape [N, n, 2] (n >= 1), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise EdgeroamError(f"{name} contains NaN or infinite positions")
    return arr


def check_targets(targets: Any, n: int) -> np.ndarray:
    """Return `targets` as a float64 array ``[n, 2]``; raise on a wrong shape or non-finite value."""
    arr = np.asarray(targets, dtype=np.float64)
    if arr.shape != (n, 2):
        raise EdgeroamError(f"targets must have shape [{n}, 2] to match the windows, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise EdgeroamError("targets contains NaN or infinite positions")
    return arr


class Predictor:
    """Base of every mobility predictor.

    Subclasses store their constructor arguments unchanged (``__init__`` does nothing else), declare
    ``_parameter_constraints`` and ``kind``, implement ``fit`` (returning self) and ``predict``, and describe
    their learned state with ``_state()`` / ``_set_state()`` for saving.
    """

    kind: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    _fitted_attr: ClassVar[str] = "window_"

    # -- parameters --------------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Predictor:
        """Set constructor parameters; unknown names raise."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise EdgeroamError(f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def _validate_params(self) -> None:
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if not any(_constraint_ok(c, value) for c in constraints):
                allowed = " or ".join(_constraint_str(c) for c in constraints)
                raise EdgeroamError(
                    f"{type(self).__name__}: parameter {name!r} must be {allowed}; got {value!r}"
                )

    def _check_fit_input(self, windows: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate the parameters, then return windows ``[N, n, 2]`` and targets ``[N, 2]`` (float64)."""
        self._validate_params()
        w = check_windows(windows)
        return w, check_targets(targets, len(w))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state ------------------------------------------------------------------------------
    def _check_is_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(windows, targets) first."
            )

    def _check_predict_windows(self, windows: Any) -> np.ndarray:
        self._check_is_fitted()
        arr = check_windows(windows)
        if arr.shape[1] != self.window_:
            raise EdgeroamError(
                f"{type(self).__name__} was fitted on windows of {self.window_} positions, got {arr.shape[1]}"
            )
        return arr

    def fit(self, windows: Any, targets: Any) -> Predictor:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, windows: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence -------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays and JSON-able learned scalars."""
        return {}, {"window_": int(self.window_)}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.window_ = int(meta["window_"])

    def _json_params(self) -> dict[str, Any]:
        return self.get_params()

    def _meta(self) -> dict[str, Any]:
        arrays, learned = self._state()
        return {
            "format": "edgeroam-predictor",
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "params": self._json_params(),
            "learned": learned,
        }

    def save(self, path: str | Path) -> Path:
        """Write the fitted predictor to `path` (``.npz``, no pickle) and return the path."""
        self._check_is_fitted()
        path = Path(path)
        arrays, _ = self._state()
        meta = json.dumps(self._meta(), sort_keys=True).encode()
        payload = {f"a_{k}": np.ascontiguousarray(v) for k, v in arrays.items()}
        payload["__meta__"] = np.frombuffer(meta, dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)
        tmp.replace(path)
        return path

    @classmethod
    def _from_meta(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Predictor:
        obj = cls(**cls._params_from_json(meta["params"]))
        obj._set_state(arrays, meta["learned"])
        return obj

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        return dict(params)

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """Read a predictor written by `save`; the file must hold this class or a subclass (any kind:
        `edgeroam.predictors.load_predictor`)."""
        meta, arrays = read_predictor_file(path)
        kind = meta.get("kind")
        todo, found = [cls], None
        while todo and found is None:
            c = todo.pop()
            found = c if getattr(c, "kind", None) == kind else None
            todo.extend(c.__subclasses__())
        if found is None:
            raise EdgeroamError(f"{path}: holds a {kind!r} predictor, not a {cls.__name__}")
        return found._from_meta(meta, arrays)


def clone(predictor: Predictor) -> Predictor:
    """A new unfitted predictor with the same parameters."""
    return type(predictor)(**predictor.get_params())


def _read_meta(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeroamError(f"{path}: unreadable predictor metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != "edgeroam-predictor":
        raise EdgeroamError(f"{path}: not an edgeroam predictor file")
    if meta.get("version") != FORMAT_VERSION:
        got = meta.get("version")
        raise EdgeroamError(f"{path}: predictor format version {got!r}, expected {FORMAT_VERSION}")
    return meta


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata JSON and arrays of a safetensors predictor file (the LSTM's)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get("edgeroam")
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no iterator
    except (SafetensorError, OSError, ValueError) as exc:
        raise EdgeroamError(f"{path}: not a predictor file ({exc})") from None
    if raw is None:
        raise EdgeroamError(f"{path}: safetensors file without edgeroam metadata")
    return _read_meta(raw.encode(), path), arrays


def read_predictor_file(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays of a file written by `Predictor.save` (``.npz``) or the LSTM (``.safetensors``)."""
    path = Path(path)
    if not path.exists():
        raise EdgeroamError(f"{path}: no such predictor file")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head.startswith(b"PK"):  # not a zip: safetensors
        return _read_safetensors(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__meta__" not in data.files:
                raise EdgeroamError(f"{path}: not an edgeroam predictor file (no __meta__)")
            raw = data["__meta__"]  # a member that is no .npy comes back as bytes
            if not isinstance(raw, np.ndarray):
                raise EdgeroamError(f"{path}: not an edgeroam predictor file (__meta__ is not an array)")
            meta = _read_meta(raw.tobytes(), path)
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a_")}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # a zip cut short: BadZipFile
        raise EdgeroamError(f"{path}: unreadable predictor file ({exc})") from None
    return meta, arrays
