"""A cache of fitted predictors, keyed by everything that shapes a fit (`cached_fit`).

Fitting PerDNN's linear SVR on the Geolife train users' 9,041 windows takes 0.02 s; importing scikit-learn
to do it takes 0.5 s, a tenth of the whole experiment outside its pass. So a fitted SVR is kept as a
predictor file (`Predictor.save`: ``.npz``, no pickle) beside the dataset cache, and the next run with the
same fit loads it, without scikit-learn.

The key is a SHA-256 over the predictor's kind and parameters (its seed included), the training windows and
targets (dtype, shape and bytes), the source files of ``edgeroam.predictors`` and of ``edgeroam._rng`` (the
code that fits and predicts) and the installed versions of numpy, scipy and scikit-learn; any change gives a
new key, so a stale fit is never read. Only the kinds in `CACHED_KINDS` are kept: a file of theirs predicts
exactly what the fitted object did (tests/predictors/test_cache.py). An unreadable entry is refitted and
rewritten; an unwritable cache folder only costs the next run its fit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeroam._digest import package_versions, source_digest
from edgeroam.errors import EdgeroamError
from edgeroam.predictors.base import Predictor

__all__ = ["CACHED_KINDS", "FIT_FORMAT", "cached_fit", "fit_key"]

log = logging.getLogger(__name__)

#: predictor kinds whose fits are cached (the ones scikit-learn fits)
CACHED_KINDS = frozenset({"svr", "svr-mode"})
FIT_FORMAT = 1  # bump when what a key covers changes
_PACKAGES = ("numpy", "scipy", "scikit-learn")


def _code_digest() -> str:
    """SHA-256 of the code that fits and predicts: ``edgeroam/predictors/*.py`` and ``edgeroam/_rng.py``."""
    return source_digest("predictors", "_rng.py")


def _versions() -> dict[str, str | None]:
    """Installed versions of the packages a fit runs on (None: not installed)."""
    return package_versions(*_PACKAGES)


def fit_key(predictor: Predictor, windows: np.ndarray, targets: np.ndarray) -> str:
    """The hex key of fitting `predictor` (unfitted, with its parameters) on `windows` and `targets`."""
    head = json.dumps({"format": FIT_FORMAT, "kind": predictor.kind, "params": predictor._json_params(),
                       "code": _code_digest(), "versions": _versions()}, sort_keys=True, default=str)
    h = hashlib.sha256(head.encode())
    for a in (windows, targets):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def cached_fit(predictor: Predictor, windows: Any, targets: Any, *, cache_dir: Path | None) -> Predictor:
    """``predictor.fit(windows, targets)``, or the same fit read from `cache_dir` (None: no cache).

    Returns the fitted predictor: `predictor` itself after a fit, a new object of its class when read.
    """
    if cache_dir is None or predictor.kind not in CACHED_KINDS:
        return predictor.fit(windows, targets)
    w, y = np.asarray(windows), np.asarray(targets)
    path = Path(cache_dir) / f"predictor-{predictor.kind}-{fit_key(predictor, w, y)[:32]}.npz"
    if path.is_file():
        from edgeroam.predictors.registry import load_predictor

        try:
            return load_predictor(path)
        except (EdgeroamError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("refitting: %s: %s", path, exc)
    fitted = predictor.fit(w, y)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # its own name: runs in parallel write alike
    try:
        fitted.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        log.debug("predictor cache not written (%s): %s", path, exc)
    return fitted
