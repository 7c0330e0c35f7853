"""The one predictor registry: kind (scenario ``predictor.kind``, CLI ``--predictor``) -> class,
`make_predictor` and `load_predictor` (any saved predictor file, whatever its kind). The model modules import
`base`; only this module imports them all, so there is no cycle between `base` and the models.
"""

from __future__ import annotations

from pathlib import Path

from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Predictor, read_predictor_file
from edgeroam.predictors.baselines import ConstantVelocityPredictor, StayPredictor
from edgeroam.predictors.lstm import LSTMPredictor
from edgeroam.predictors.markov import MarkovPredictor
from edgeroam.predictors.modal import ModeAwareSVRPredictor
from edgeroam.predictors.svr import SVRPredictor

__all__ = ["PREDICTORS", "load_predictor", "make_predictor"]

#: predictor kind (scenario ``predictor.kind``, CLI ``--predictor``) -> class
PREDICTORS: dict[str, type[Predictor]] = {
    "markov": MarkovPredictor,
    "svr": SVRPredictor,
    "lstm": LSTMPredictor,
    "stay": StayPredictor,
    "velocity": ConstantVelocityPredictor,
    "svr-mode": ModeAwareSVRPredictor,  # beyond PerDNN (modal.py)
}


def make_predictor(kind: str, **params) -> Predictor:
    """A new predictor of `kind` with `params` (unknown kind or parameter names raise EdgeroamError)."""
    if kind not in PREDICTORS:
        raise EdgeroamError(f"unknown predictor {kind!r}; choose one of {', '.join(PREDICTORS)}")
    cls = PREDICTORS[kind]
    obj = cls()
    obj.set_params(**params)
    return obj


def load_predictor(path: str | Path) -> Predictor:
    """Read any predictor file written by `Predictor.save` (``.npz``) or the LSTM (``.safetensors``)."""
    meta, arrays = read_predictor_file(path)
    kind = meta.get("kind")
    if kind not in PREDICTORS:
        raise EdgeroamError(f"{path}: unknown predictor kind {kind!r}")
    return PREDICTORS[kind]._from_meta(meta, arrays)
