"""Mobility predictors: where each user will be one interval from now (PerDNN §III.D) and how well they do.

All predictors share one scikit-learn-style interface (base.py): ``fit(windows[N, n, 2], targets[N, 2])``,
``predict(windows) -> [N, 2]`` metres, and, for the Markov model, ``predict_cells(histories, k)``; ``save``/
`load_predictor` without pickle. torch and scikit-learn are imported only when a model needs them.
"""

from edgeroam.predictors.base import Predictor, clone
from edgeroam.predictors.baselines import ConstantVelocityPredictor, StayPredictor
from edgeroam.predictors.lstm import LSTMPredictor
from edgeroam.predictors.markov import MarkovPredictor
from edgeroam.predictors.modal import ModeAwareSVRPredictor
from edgeroam.predictors.registry import PREDICTORS, load_predictor, make_predictor
from edgeroam.predictors.svr import SVRPredictor

__all__ = [
    "PREDICTORS",
    "ConstantVelocityPredictor",
    "LSTMPredictor",
    "MarkovPredictor",
    "ModeAwareSVRPredictor",
    "Predictor",
    "SVRPredictor",
    "StayPredictor",
    "clone",
    "load_predictor",
    "make_predictor",
]
