"""Run a zoo model's layers one by one: with torch on real tensors, or by sleeping their profiled time.

`LayerRunner` traces the model on the ``meta`` device (no weights), maps each `LayerGraph` row to its fx node,
and runs a list of layers on an input: a layer's input is the previous output when the shapes agree, else a
seeded tensor of its recorded input shape (the other branches of a DAG). A module layer runs with the weights
it is given (`load`: the tensors a peer sent, checked against the module's shapes) or, for weights scaled down
by a speed factor, with freshly drawn weights of the right shapes. ``execution="profile"`` sleeps the profiled
seconds divided by the speed factor instead. `layer_payload` gives the tensors that travel for a layer.

What it leaves to others: which layers run where (the agents, the planner), the layer graph (dnn.graph).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from edgeroam.errors import NetError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["LayerRunner", "layer_payload"]

Execution = Literal["torch", "profile"]


def _skip(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def layer_payload(module: torch.nn.Module | None, layer: str, speed: float = 1.0) -> dict[str, torch.Tensor]:
    """The tensors that carry `layer`'s weights (``"<layer>/<param>"``); with ``speed > 1`` each is cut to
    ``ceil(numel / speed)`` elements (DESIGN §6: the speed factor scales bytes down, not link rates up)."""
    if module is None:
        return {}
    out = {}
    for key, t in module.state_dict().items():
        if _skip(key):
            continue
        t = t.detach()
        if speed > 1:
            t = t.reshape(-1)[: max(1, math.ceil(t.numel() / speed))]
        out[f"{layer}/{key}"] = t
    return out


class LayerRunner:
    """Runs the layers of zoo model `model`.

    Parameters
    ----------
    model : str
        Zoo name.
    execution : {"torch", "profile"}
        Run with torch, or sleep `seconds[i] / speed` per layer.
    seconds : sequence of float, optional
        Profiled seconds per layer (needed for ``"profile"``).
    speed : float
        Speed factor k.
    seed : int
        Seed of the inputs and of weights drawn when received weights are scaled down.
    weights : bool
        Build the model with real seeded weights (a client, which owns the model and uploads it).
    """

    def __init__(self, model: str, execution: Execution = "torch", seconds: Sequence[float] | None = None,
                 speed: float = 1.0, seed: int = 0, weights: bool = False) -> None:
        import torch
        import torch.fx as fx

        from edgeroam.emulator.dnn.graph import _ZooTracer
        from edgeroam.emulator.dnn.zoo import build_model, model_graph

        if execution not in ("torch", "profile"):
            raise NetError(f"execution must be 'torch' or 'profile', got {execution!r}")
        self.graph = model_graph(model)
        self.names = [str(n) for n in self.graph.layers["name"]]
        self.index = {n: i for i, n in enumerate(self.names)}
        if execution == "profile" and (seconds is None or len(seconds) != len(self.names)):
            raise NetError(f"execution 'profile' needs {len(self.names)} profiled seconds for {model!r}")
        self.seconds = None if seconds is None else np.asarray(seconds, dtype=np.float64)
        self.execution = execution
        self.speed = float(speed)
        self.seed = int(seed)
        self.model = build_model(model, seed=seed, device="cpu" if weights else "meta")
        tracer = _ZooTracer()
        traced = tracer.trace(self.model)
        gm = fx.GraphModule(tracer.root, traced)
        self._modules = dict(gm.named_modules())
        by_name = {n.name: n for n in gm.graph.nodes}
        by_target = {str(n.target): n for n in gm.graph.nodes if n.op == "call_module"}
        self._nodes = [by_name.get(n) or by_target.get(n) for n in self.names]
        self._params = [json.loads(p) for p in self.graph.layers["params"]]
        self._live: dict[str, Any] = {}  # layer -> module with weights, ready to run
        self._gen = torch.Generator().manual_seed(seed)
        self._torch = torch

    def module(self, layer: str) -> torch.nn.Module | None:
        """The leaf module of `layer` (None for a function layer such as add or concat)."""
        node = self._node(layer)
        return self._modules[node.target] if node.op == "call_module" else None

    def payload(self, layer: str) -> dict[str, torch.Tensor]:
        """What travels for `layer` (see `layer_payload`)."""
        return layer_payload(self.module(layer), layer, self.speed)

    def _node(self, layer: str) -> Any:
        i = self.index.get(layer)
        if i is None or self._nodes[i] is None:
            raise NetError(f"model {self.graph.name!r} has no layer {layer!r}")
        return self._nodes[i]

    def load(self, layer: str, tensors: Mapping[str, torch.Tensor]) -> None:
        """Make `layer` runnable with the received `tensors` (scaled tensors: fresh weights of the shapes)."""
        if self.execution == "profile":
            return
        mod = self.module(layer)
        if mod is None:
            return
        live = copy.deepcopy(mod)
        if any(p.is_meta for p in live.parameters()) or any(b.is_meta for b in live.buffers()):
            live = live.to_empty(device="cpu")
            for p in live.parameters():
                p.data.normal_(0.0, 0.01, generator=self._gen)
        prefix = f"{layer}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if self.speed <= 1 and state:
            try:
                live.load_state_dict(state, strict=False)
            except RuntimeError as exc:
                raise NetError(f"layer {layer!r}: received weights do not fit: {exc}") from None
        self._live[layer] = live.eval()

    def loaded(self, layer: str) -> bool:
        """Whether `layer` has a live module with received weights."""
        return layer in self._live

    def output_like(self, layer: str) -> torch.Tensor:
        """Zeros of `layer`'s recorded output size / k (what a result carries in profile mode)."""
        n = int(self.graph.layers["out_bytes"].iat[self.index[layer]]) // 4
        return self._torch.zeros(max(1, math.ceil(n / self.speed)))

    def input_like(self) -> torch.Tensor:
        """The model's input (seeded), cut to 1/k of its size when k > 1."""
        x = self._torch.randn(self.graph.input_bytes // 4, generator=self._gen)
        return x[: max(1, math.ceil(x.numel() / self.speed))]

    def input_for(self, layer: str) -> torch.Tensor:
        """A seeded tensor of `layer`'s recorded (first) input shape."""
        shape = self._params[self.index[layer]].get("in_shape")
        if shape and isinstance(shape[0], list):
            shape = shape[0]
        return self._torch.randn(shape or [1], generator=self._gen)

    def run_sync(self, layers: Sequence[str], x: torch.Tensor | None) -> tuple[torch.Tensor | None, float]:
        """Run `layers` in order on `x` with torch; the last output and the seconds it took."""
        torch = self._torch
        t0 = time.perf_counter()
        with torch.no_grad():
            for layer in layers:
                x = self._run_one(layer, x)
        return x, time.perf_counter() - t0

    async def run(self, layers: Sequence[str], x: torch.Tensor | None) -> tuple[torch.Tensor | None, float]:
        """Run `layers` (torch, or sleep their profiled seconds / k); the output (torch) and the seconds."""
        if not layers:
            return x, 0.0
        if self.execution == "profile":
            assert self.seconds is not None
            s = float(self.seconds[[self.index[n] for n in layers]].sum()) / self.speed
            t0 = time.perf_counter()
            await asyncio.sleep(s)
            return x, time.perf_counter() - t0
        return self.run_sync(layers, x)

    def _run_one(self, layer: str, x: torch.Tensor | None) -> torch.Tensor:
        torch = self._torch
        node = self._node(layer)
        p = self._params[self.index[layer]]
        shapes = p.get("in_shape") or []
        if shapes and not isinstance(shapes[0], list):
            shapes = [shapes]
        args = []
        for k, s in enumerate(shapes):
            if s is None:
                continue
            use = k == 0 and x is not None and list(x.shape) == list(s)
            args.append(x if use else torch.randn(s, generator=self._gen))
        if node.op == "call_module":
            mod = self._live.get(layer)
            if mod is None:
                mod = self.module(layer)
                if mod is None or any(t.is_meta for t in mod.state_dict().values()):
                    raise NetError(f"layer {layer!r} is not held here (no weights)")
            return mod(args[0])
        from edgeroam.emulator.dnn.profiles import _layer_callable

        return _layer_callable(node, self._modules, args)()
