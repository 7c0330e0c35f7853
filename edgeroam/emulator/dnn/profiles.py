"""Per-layer execution times: from a device preset (`profile`), measured with torch here (`measure_profile`),
or imported from a CSV (`load_profile_csv`, e.g. EosDNN's per-layer size tables).

The roofline constants live in devices.py; estimating times under load is estimator.py's job.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgeroam.emulator.dnn.devices import Device, get_device
from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.errors import PlanningError, TraceFormatError

__all__ = [
    "cpu_quota_support",
    "layer_classes",
    "load_profile_csv",
    "measure_profile",
    "profile",
    "profile_table",
]

_FREE_OPS = ("flatten", "dropout")


def layer_classes(graph: LayerGraph) -> np.ndarray:
    """Roofline class per layer: ``conv``, ``dwconv`` (groups == in_ch > 1), ``fc``, ``eltwise``, ``free``."""
    ops = graph.layers["op"].to_numpy().astype(str)
    cls = np.full(len(ops), "eltwise", dtype=object)
    cls[ops == "fc"] = "fc"
    cls[np.isin(ops, _FREE_OPS)] = "free"
    for i in np.flatnonzero(ops == "conv"):
        p = json.loads(graph.layers["params"].iat[i])
        groups = int(p.get("groups", 1))
        cls[i] = "dwconv" if groups > 1 and groups == int(p.get("in_ch", 0)) else "conv"
    return cls


def profile(graph: LayerGraph, device: str | Device) -> np.ndarray:
    """Seconds per layer of `graph` on preset `device` (float64 array of length L).

    Examples
    --------
    >>> from edgeroam.emulator.dnn.graph import LayerGraph
    >>> g = LayerGraph.from_chain("c", [0, 0], [8, 8], [1e9, 2e9], 8, ops=["conv", "conv"])
    >>> t = profile(g, "titan-xp")
    >>> bool(t[1] > t[0] > 0)
    True
    """
    d = get_device(device)
    cls = layer_classes(graph)
    rate = np.select(
        [cls == "conv", cls == "dwconv", cls == "fc"],
        [d.conv_flops, d.conv_flops * d.dw_efficiency, d.fc_flops],
        default=d.eltwise_flops,
    ).astype(np.float64)
    flops = graph.layers["flops"].to_numpy(np.float64)
    nbytes = (graph.layers["weight_bytes"].to_numpy() + graph.in_bytes + graph.layers["out_bytes"].to_numpy())
    compute = np.where(np.isinf(rate), 0.0, flops / rate)
    memory = nbytes.astype(np.float64) / d.mem_bw
    t = d.overhead_s + np.maximum(compute, memory)
    t[cls == "free"] = 0.0
    return t


def profile_table(
    graph_or_name: LayerGraph | str, device_or_seconds: str | Device | np.ndarray
) -> pd.DataFrame:
    """The layer table with a ``seconds`` column, from a preset or from given seconds (``attrs["model"]``)."""
    from edgeroam.emulator.dnn.zoo import model_graph

    graph = model_graph(graph_or_name) if isinstance(graph_or_name, str) else graph_or_name
    if isinstance(device_or_seconds, (str, Device)):
        seconds = profile(graph, device_or_seconds)
    else:
        seconds = np.asarray(device_or_seconds, dtype=np.float64)
        if seconds.shape != (graph.n_layers,):
            raise PlanningError(f"model {graph.name!r}: {seconds.shape} seconds for {graph.n_layers} layers")
    df = graph.layers[["name", "op", "weight_bytes", "out_bytes", "flops"]].assign(seconds=seconds)
    df.attrs["model"] = graph.name
    return df


# ====================================================================== measured on this machine


def cpu_quota_support() -> tuple[bool, str]:
    """Whether this process can be put under a cgroup v2 ``cpu.max`` limit, and why not if it cannot."""
    root = Path("/sys/fs/cgroup")
    if not (root / "cgroup.controllers").exists():
        return False, "no cgroup v2 hierarchy at /sys/fs/cgroup"
    if "cpu" not in (root / "cgroup.controllers").read_text().split():
        return False, "the cgroup v2 cpu controller is not available"
    if not os.access(root, os.W_OK):
        return False, "/sys/fs/cgroup is not writable (needs root)"
    return True, "cgroup v2 cpu.max available"


class _CpuQuota:
    """Move this process into a child cgroup with ``cpu.max = quota period`` for the duration of a block."""

    def __init__(self, fraction: float, period_us: int = 100_000):
        self.fraction = fraction
        self.period_us = period_us
        self.path = Path("/sys/fs/cgroup") / f"edgeroam-measure-{os.getpid()}"
        self.parent_procs = Path("/sys/fs/cgroup/cgroup.procs")

    def __enter__(self) -> _CpuQuota:
        ok, why = cpu_quota_support()
        if not ok:
            raise PlanningError(f"cannot limit the CPU for measuring: {why}")
        try:
            sub = Path("/sys/fs/cgroup/cgroup.subtree_control")
            if "cpu" not in sub.read_text().split():
                sub.write_text("+cpu")
            self.path.mkdir(exist_ok=True)
            quota = max(1000, int(self.fraction * self.period_us))
            (self.path / "cpu.max").write_text(f"{quota} {self.period_us}")
            (self.path / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:
            raise PlanningError(f"cannot limit the CPU with cgroup cpu.max: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.parent_procs.write_text(str(os.getpid()))
            self.path.rmdir()
        except OSError:
            pass


def measure_profile(
    graph_or_name: LayerGraph | str,
    reps: int = 5,
    warmup: int = 1,
    cpu_quota: float | None = None,
    threads: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Run each layer of a zoo model with torch on this machine; median seconds per layer.

    Every leaf layer runs on a random input of its recorded input shape (`reps` times after `warmup`); the
    functional layers (add, concat, flatten) run their torch op. `cpu_quota` (fraction of one CPU, e.g. 0.25)
    limits this process with cgroup v2 ``cpu.max`` to stand for a slower client; PlanningError says why when
    that is not possible here.
    """
    import torch

    from edgeroam.emulator.dnn.zoo import build_model, model_graph

    name = graph_or_name if isinstance(graph_or_name, str) else graph_or_name.name
    graph = model_graph(name) if isinstance(graph_or_name, str) else graph_or_name
    model = build_model(name, seed=seed)
    import torch.fx as fx

    from edgeroam.emulator.dnn.graph import _ZooTracer

    tracer = _ZooTracer()
    traced = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, traced)
    modules = dict(gm.named_modules())
    by_name = {n.name: n for n in gm.graph.nodes}
    by_target = {str(n.target): n for n in gm.graph.nodes if n.op == "call_module"}
    gen = torch.Generator().manual_seed(seed)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    quota = _CpuQuota(cpu_quota) if cpu_quota else None
    times = np.zeros(graph.n_layers)
    try:
        if quota:
            quota.__enter__()
        with torch.no_grad():
            for i, row in enumerate(graph.layers.itertuples()):
                node = by_name.get(row.name) or by_target.get(row.name)
                if node is None:
                    raise PlanningError(f"model {name!r}: layer {row.name!r} not found when measuring")
                p = json.loads(row.params)
                shapes = p["in_shape"]
                if not (shapes and isinstance(shapes[0], list)):
                    shapes = [shapes]
                args = [torch.randn(s, generator=gen) for s in shapes if s is not None]
                fn = _layer_callable(node, modules, args)
                samples = []
                for k in range(warmup + reps):
                    t0 = time.perf_counter()
                    fn()
                    if k >= warmup:
                        samples.append(time.perf_counter() - t0)
                times[i] = float(np.median(samples))
    finally:
        if quota:
            quota.__exit__()
        torch.set_num_threads(old_threads)
    return times


def _layer_callable(node: Any, modules: dict, args: list) -> Any:
    import torch

    if node.op == "call_module":
        mod = modules[node.target]
        x = args[0]
        return lambda: mod(x)
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    if name in ("cat", "concat"):
        return lambda: torch.cat(args, dim=1)
    if name in ("add", "iadd", "__add__"):
        return lambda: torch.add(args[0], args[1])
    if name in ("flatten", "view", "reshape"):
        return lambda: torch.flatten(args[0], 1)
    target = node.target
    return lambda: (getattr(args[0], target)() if isinstance(target, str) else target(*args))


# ====================================================================== imported


def load_profile_csv(path: str | Path) -> pd.DataFrame:
    """Read a per-layer table: a ``layer`` column plus ``size_MB`` (EosDNN Tables V/VI) and/or ``seconds``.

    Returns columns ``layer`` (int), ``weight_bytes`` (int64, from ``size_MB`` x 2**20: the tables' MB are
    MiB, see the reference README) and ``seconds`` (float64, NaN where the file has none).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TraceFormatError(path, f"cannot read profile CSV: {exc}") from exc
    if "layer" not in df.columns:
        raise TraceFormatError(path, "missing column", line=1, column="layer")
    if "size_MB" not in df.columns and "seconds" not in df.columns:
        raise TraceFormatError(path, "needs a size_MB or a seconds column", line=1, column="size_MB")
    out = pd.DataFrame({"layer": pd.to_numeric(df["layer"], errors="coerce")})
    for col in ("size_MB", "seconds"):
        if col in df.columns:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = np.flatnonzero(vals.isna().to_numpy() | (vals.to_numpy() < 0))
            if len(bad):
                raise TraceFormatError(path, f"not a non-negative number: {df[col].iat[bad[0]]!r}",
                                       line=int(bad[0]) + 2, column=col)
            df[col] = vals
    if out["layer"].isna().any():
        raise TraceFormatError(path, "layer is not a number", line=int(out["layer"].isna().argmax()) + 2,
                               column="layer")
    out["layer"] = out["layer"].astype(int)
    size = df["size_MB"] if "size_MB" in df.columns else pd.Series(np.zeros(len(df)))
    out["weight_bytes"] = np.rint(size.to_numpy(np.float64) * 2**20).astype(np.int64)
    out["seconds"] = df["seconds"].to_numpy(np.float64) if "seconds" in df.columns else np.nan
    return out
