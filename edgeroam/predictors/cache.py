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

A fit that is not in the cache can run apart (``apart=True``, what `prepare` asks for): a forked child
process fits and writes the entry, and this process reads it as a cached one. scikit-learn and the parts of
scipy and pandas it pulls in stay resident once imported (~60-85 MB), so a first run that fitted in-process
carried them through its pass: the 10,000-user first run peaked at 0.51-0.52 GB against 0.44-0.46 GB with
the fit apart (the child's own pages, ~115 MB, are gone before the pass). The entry holds the fit's float64
arrays as they are, so a fit made apart, made here or read gives the same predictions.
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

__all__ = ["CACHED_KINDS", "FIT_FORMAT", "cached_fit", "fit_apart", "fit_key"]

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


def cached_fit(predictor: Predictor, windows: Any, targets: Any, *, cache_dir: Path | None,
               apart: bool = False) -> Predictor:
    """``predictor.fit(windows, targets)``, or the same fit read from `cache_dir` (None: no cache).

    `apart`: a fit not found in the cache runs in a child interpreter that writes the entry (`fit_apart`),
    then is read from it; where that fails (logged) it runs here. Returns the fitted predictor: `predictor`
    itself after a fit here, a new object of its class when read.
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
    if apart:
        from edgeroam.predictors.registry import load_predictor

        try:
            fit_apart(predictor, w, y, path)
            return load_predictor(path)
        except (EdgeroamError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("fitting in this process: the fit apart failed: %s", exc)
    fitted = predictor.fit(w, y)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # its own name: runs in parallel write alike
    try:
        fitted.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        log.debug("predictor cache not written (%s): %s", path, exc)
    return fitted


def fit_apart(predictor: Predictor, windows: np.ndarray, targets: np.ndarray, out: Path) -> Path:
    """Fit an unfitted `predictor` on `windows` and `targets` in a forked child process that writes the
    fitted predictor to `out` (`Predictor.save`); returns `out`. Raises `EdgeroamError` where the child
    fails or cannot be forked (`edgeroam._memory.run_apart`)."""
    from edgeroam._memory import run_apart

    out = Path(out)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        run_apart(f"fitting {predictor.kind}", _fit_save, predictor, windows, targets, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _fit_save(predictor: Predictor, windows: np.ndarray, targets: np.ndarray, out: Path) -> None:
    """Fit and save to `out` (the child's side of `fit_apart`)."""
    predictor.fit(windows, targets).save(out)
