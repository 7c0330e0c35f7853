"""Layer execution time under server load (PerDNN III.C.1, Fig. 4): data, estimators and their comparison.

`generate_load_dataset` runs a model's conv layers here while k concurrent clients (threads running the same
layers back to back) load this machine, and records per execution the layer's hyperparameters and the load
features a server can read: number of clients, CPU utilisation over the last sample period (/proc/stat, like
NVML's kernel utilisation), runnable processes and the 1-minute load average; GPU statistics through NVML when
``pynvml`` and a GPU exist (`gpu_stats_available` says which). `ExecutionTimeEstimator` is PerDNN's random
forest per layer type; `compare_estimators` puts it beside NeuroSurgeon-style linear/log regression on
hyperparameters only (one model per load level, "LL") and the same with load features ("LL w/ load").
Plotting and tables of the comparison are the CLI's and docs' job.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam._rng import as_generator
from edgeroam.errors import NotFittedError, PlanningError

__all__ = [
    "HYPER_FEATURES",
    "LOAD_FEATURES",
    "EstimatorComparison",
    "ExecutionTimeEstimator",
    "compare_estimators",
    "generate_load_dataset",
    "gpu_stats_available",
    "layer_features",
]

#: layer hyperparameter features (from the LayerGraph row)
HYPER_FEATURES = ["in_ch", "out_ch", "kernel", "stride", "in_hw", "groups", "flops", "in_bytes", "out_bytes",
                  "weight_bytes"]
#: server load features recorded with every execution
LOAD_FEATURES = ["clients", "cpu_util", "procs_running", "loadavg1"]


def gpu_stats_available() -> tuple[bool, str]:
    """Whether NVML GPU statistics can be read here, and why not."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return False, "pynvml is not installed (no NVML); using CPU load features only"
    try:
        pynvml.nvmlInit()
        n = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    except Exception as exc:  # noqa: BLE001 - any NVML failure means no GPU statistics
        return False, f"NVML unavailable: {exc}"
    return (n > 0), f"{n} GPU(s) via NVML"


def layer_features(graph: Any) -> pd.DataFrame:
    """Hyperparameter features (`HYPER_FEATURES`) and ``op`` for every layer of a LayerGraph."""
    rows = []
    in_bytes = graph.in_bytes
    for i, row in enumerate(graph.layers.itertuples()):
        p = json.loads(row.params)
        ins = p.get("in_shape") or []
        ins = ins[0] if ins and isinstance(ins[0], list) else ins
        k = p.get("kernel", [1, 1])
        s = p.get("stride", [1, 1])
        rows.append({
            "layer": row.name, "op": row.op,
            "in_ch": p.get("in_ch", ins[1] if len(ins) > 1 else 0), "out_ch": p.get("out_ch", 0),
            "kernel": k[0] if isinstance(k, list) else k, "stride": s[0] if isinstance(s, list) else s,
            "in_hw": ins[2] if len(ins) > 2 else 1, "groups": p.get("groups", 1), "flops": row.flops,
            "in_bytes": int(in_bytes[i]), "out_bytes": row.out_bytes, "weight_bytes": row.weight_bytes,
        })
    return pd.DataFrame(rows)


# ====================================================================== load sampling


def _proc_stat() -> tuple[int, int, int]:
    """(busy jiffies, total jiffies, procs_running) from /proc/stat."""
    busy = total = running = 0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                total = sum(v[:8])
                busy = total - idle
            elif line.startswith("procs_running"):
                running = int(line.split()[1])
    return busy, total, running


class _LoadSampler:
    """Background thread: CPU utilisation over each `period_s` (the statistic a server reads when asked)."""

    def __init__(self, period_s: float = 0.1):
        self.period_s = period_s
        self.util = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        b0, t0, _ = _proc_stat()
        while not self._stop.wait(self.period_s):
            b1, t1, _ = _proc_stat()
            if t1 > t0:
                self.util = (b1 - b0) / (t1 - t0)
            b0, t0 = b1, t1

    def __enter__(self) -> _LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cache_path(model: str, max_clients: int, reps: int, seed: int) -> Path:
    root = os.environ.get("EDGEROAM_CACHE_DIR")
    base = (Path(root) if root else Path.cwd() / ".cache") / "dnn"
    return base / f"load-{model}-c{max_clients}-r{reps}-s{seed}.parquet"


def generate_load_dataset(
    model: str = "resnet18",
    max_clients: int = 4,
    reps: int = 5,
    seed: int = 0,
    op: str = "conv",
    cache: bool = True,
    progress: Any = None,
) -> pd.DataFrame:
    """Execution times of `model`'s `op` layers while 1..`max_clients` clients load this machine.

    Client 1 is the measuring client alone; client k adds k-1 threads that run the same layers back to back
    (single-threaded torch each, so contention shows on few cores). Each row is one execution: ``clients``,
    the load features, the layer's hyperparameters and ``seconds``. Cached under ``.cache/dnn/``.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(done, total)`` after each load level.
    """
    import torch

    from edgeroam.emulator.dnn.zoo import build_model, model_graph

    path = _cache_path(model, max_clients, reps, seed)
    if cache and path.exists():
        return pd.read_parquet(path)
    if max_clients < 1 or reps < 1:
        raise PlanningError(f"max_clients and reps must be >= 1 (got {max_clients}, {reps})")
    graph = model_graph(model)
    feats = layer_features(graph)
    feats = feats[feats["op"] == op].reset_index(drop=True)
    if feats.empty:
        raise PlanningError(f"model {graph.name!r} has no {op!r} layers")
    net = build_model(graph.name, seed=seed)
    mods = dict(net.named_modules())
    gen = torch.Generator().manual_seed(seed)
    rng = as_generator(seed)
    layers = []
    for r in feats.itertuples():
        p = graph.param(int(np.flatnonzero(graph.layers["name"].to_numpy() == r.layer)[0]))
        layers.append((mods[r.layer], torch.randn(p["in_shape"], generator=gen)))
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    try:
        with _LoadSampler() as sampler, torch.no_grad():
            for k in range(1, max_clients + 1):
                stop = threading.Event()

                def client(i: int, stop: threading.Event = stop) -> None:
                    j = i
                    with torch.no_grad():
                        while not stop.is_set():
                            m, x = layers[j % len(layers)]
                            m(x)
                            j += 1

                threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(k - 1)]
                for t in threads:
                    t.start()
                time.sleep(0.25)  # let the load and the utilisation sampler settle
                order = np.concatenate([rng.permutation(len(layers)) for _ in range(reps)])
                for li in order:
                    m, x = layers[li]
                    _, _, running = _proc_stat()
                    util = sampler.util
                    t0 = time.perf_counter()
                    m(x)
                    dt = time.perf_counter() - t0
                    rows.append({"clients": k, "cpu_util": util, "procs_running": running,
                                 "loadavg1": os.getloadavg()[0], "layer_idx": int(li), "seconds": dt})
                stop.set()
                for t in threads:
                    t.join()
                if progress is not None:
                    progress(k, max_clients)
    finally:
        torch.set_num_threads(old_threads)
    df = pd.DataFrame(rows)
    df = df.join(feats, on="layer_idx").drop(columns=["layer_idx"])
    df.attrs = {"model": graph.name, "gpu_stats": gpu_stats_available()[1], "cpus": os.cpu_count()}
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        df.to_parquet(tmp)
        os.replace(tmp, path)
    return df


# ====================================================================== estimators


class ExecutionTimeEstimator:
    """PerDNN's estimator: one random forest per layer type over hyperparameters + load features.

    Parameters
    ----------
    n_estimators : int
        Trees per forest.
    use_load : bool
        Include `LOAD_FEATURES` (PerDNN) or only hyperparameters.
    random_state : int or None
        Seed of the forests.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({c: rng.uniform(1, 4, 200) for c in ["flops", "clients"]})
    >>> df["op"] = "conv"; df["seconds"] = df["flops"] * df["clients"]
    >>> est = ExecutionTimeEstimator(n_estimators=20, features=["flops", "clients"], random_state=0).fit(df)
    >>> float(np.abs(est.predict(df) - df["seconds"]).mean()) < 0.3
    True
    """

    def __init__(self, n_estimators: int = 100, use_load: bool = True, features: list[str] | None = None,
                 random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.use_load = use_load
        self.features = features
        self.random_state = random_state

    def _features(self) -> list[str]:
        if self.features is not None:
            return list(self.features)
        return HYPER_FEATURES + (LOAD_FEATURES if self.use_load else [])

    def fit(self, samples: pd.DataFrame) -> ExecutionTimeEstimator:
        """Fit one forest per ``op`` in `samples` (columns: features, ``op``, ``seconds``)."""
        from sklearn.ensemble import RandomForestRegressor

        cols = self._features()
        missing = [c for c in [*cols, "op", "seconds"] if c not in samples.columns]
        if missing:
            raise PlanningError(f"estimator samples lack columns {missing}")
        self.forests_ = {}
        for op, part in samples.groupby("op", sort=True):
            rf = RandomForestRegressor(
                n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
            )
            rf.fit(part[cols].to_numpy(np.float64), part["seconds"].to_numpy(np.float64))
            self.forests_[str(op)] = rf
        self.features_ = cols
        return self

    def predict(self, samples: pd.DataFrame) -> np.ndarray:
        """Predicted seconds per row; a row whose op has no forest raises PlanningError."""
        if not hasattr(self, "forests_"):
            raise NotFittedError("ExecutionTimeEstimator is not fitted; call fit first")
        out = np.full(len(samples), np.nan)
        ops = samples["op"].to_numpy().astype(str)
        for op in map(str, np.unique(ops)):
            if op not in self.forests_:
                raise PlanningError(f"no execution-time model for layer type {op!r} (trained: "
                                    f"{', '.join(self.forests_)})")
            mask = ops == op
            out[mask] = self.forests_[op].predict(samples.loc[mask, self.features_].to_numpy(np.float64))
        return out

    def feature_importances(self, op: str = "conv") -> pd.Series:
        """Impurity importances of the forest for `op`, largest first."""
        if not hasattr(self, "forests_"):
            raise NotFittedError("ExecutionTimeEstimator is not fitted; call fit first")
        rf = self.forests_[op]
        return pd.Series(rf.feature_importances_, index=self.features_).sort_values(ascending=False)


def _ll_design(df: pd.DataFrame, load: bool) -> np.ndarray:
    """NeuroSurgeon-style linear + logarithmic terms of the hyperparameters (and optionally load features)."""
    cols = [df["flops"], np.log1p(df["flops"]), df["in_bytes"], df["out_bytes"], df["weight_bytes"],
            np.log1p(df["out_bytes"])]
    if load:
        cols += [df[c] for c in LOAD_FEATURES]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


def _fit_ll(train: pd.DataFrame, load: bool) -> dict[int, Any]:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        int(k): make_pipeline(StandardScaler(), LinearRegression()).fit(
            _ll_design(part, load), part["seconds"]
        )
        for k, part in train.groupby("clients")
    }


@dataclass(frozen=True)
class EstimatorComparison:
    """MAE (seconds) per number of clients for each method, the forest's importances and the split sizes."""

    mae: pd.DataFrame  # index clients; columns LL, LL w/ load, RF w/ load, RF (no load), mean_seconds
    importances: pd.Series
    n_train: int
    n_test: int


def compare_estimators(samples: pd.DataFrame, test_fraction: float = 0.3, seed: int = 0,
                       n_estimators: int = 100) -> EstimatorComparison:
    """PerDNN Fig. 4 on `samples`: MAE per number of clients of LL, LL w/ load, RF w/ load (and RF w/o load).

    LL models are fitted per number of clients as NeuroSurgeon does; the forests see all load levels.
    """
    rng = as_generator(seed)
    test = rng.random(len(samples)) < test_fraction
    train_df, test_df = samples[~test], samples[test]
    if len(train_df) < 10 or len(test_df) < 5:
        raise PlanningError(f"too few samples to compare estimators ({len(samples)})")
    preds: dict[str, np.ndarray] = {}
    for name, load in (("LL", False), ("LL w/ load", True)):
        models = _fit_ll(train_df, load)
        p = np.full(len(test_df), np.nan)
        for k, m in models.items():
            mask = (test_df["clients"] == k).to_numpy()
            if mask.any():
                p[mask] = m.predict(_ll_design(test_df[mask], load))
        preds[name] = p
    rf = ExecutionTimeEstimator(n_estimators=n_estimators, use_load=True, random_state=seed).fit(train_df)
    preds["RF w/ load"] = rf.predict(test_df)
    rf0 = ExecutionTimeEstimator(n_estimators=n_estimators, use_load=False, random_state=seed).fit(train_df)
    preds["RF w/o load"] = rf0.predict(test_df)
    y = test_df["seconds"].to_numpy()
    frame = pd.DataFrame({k: np.abs(v - y) for k, v in preds.items()})
    frame["clients"] = test_df["clients"].to_numpy()
    mae = frame.groupby("clients").mean()
    mae["mean_seconds"] = test_df.groupby("clients")["seconds"].mean()
    op = "conv" if "conv" in rf.forests_ else next(iter(rf.forests_))
    return EstimatorComparison(mae, rf.feature_importances(op), len(train_df), len(test_df))
