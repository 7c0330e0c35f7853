"""A DNN as a layer graph: one row per layer (op, hyperparameters, weight/output bytes, FLOPs) and the
tensor-flow edges between layers.

`layer_graph` extracts a `LayerGraph` from any torch module with torch.fx and shape propagation (the module
may live on the ``meta`` device, so no weights need to exist); module forward hooks are the fallback for
models fx cannot trace. `LayerGraph.from_chain` builds a chain by hand. The model zoo (zoo.py),
execution-time profiles (profiles.py) and the partitioner (emulator.planning) are left to others.

Conventions
-----------
- Bytes are float32 (4 bytes per element); ``weight_bytes`` counts parameters and buffers (BN running mean and
  variance travel with the layer), not ``num_batches_tracked``. ``out_bytes`` is one output tensor at batch 1.
- FLOPs count a multiply-accumulate as 2 (conv, fc), one per element for elementwise ops, ``k*k`` per output
  element for pooling; concat, flatten and dropout are free.
- Rows are in a topological order: every edge (src, dst) has src < dst.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import torch

__all__ = [
    "BYTES_PER_ELEMENT",
    "CAFFE_LAYERS_PER_OP",
    "LAYER_COLUMNS",
    "OPS",
    "LayerGraph",
    "caffe_layer_count",
    "layer_graph",
]

BYTES_PER_ELEMENT = 4
LAYER_COLUMNS = ["name", "op", "params", "weight_bytes", "out_bytes", "flops"]
#: the op vocabulary of the `op` column (anything else a model contains is ``other``)
OPS = (
    "conv", "fc", "bn", "relu", "pool", "concat", "add", "mul",
    "flatten", "dropout", "softmax", "lrn", "other",
)


@dataclass(frozen=True, eq=False)
class LayerGraph:
    """Layers of one DNN (rows in topological order) and the tensors flowing between them.

    Parameters
    ----------
    name : str
        Model name (a zoo name such as ``"inception_21k"``).
    layers : pandas.DataFrame
        Index 0..L-1; columns ``name`` (str), ``op`` (str), ``params`` (JSON str of hyperparameters),
        ``weight_bytes`` (int64), ``out_bytes`` (int64), ``flops`` (float64).
    edges : numpy.ndarray
        int64 ``[E, 2]`` of (src, dst) layer indices; src < dst.
    input_bytes : int
        Bytes of the model input tensor (sent by the client when layer 0 runs remotely).

    Examples
    --------
    >>> g = LayerGraph.from_chain("toy", [0, 40], [400, 40], [100.0, 80.0], input_bytes=400)
    >>> g.n_layers, g.is_chain, g.predecessors(1).tolist()
    (2, True, [0])
    """

    name: str
    layers: pd.DataFrame
    edges: np.ndarray
    input_bytes: int

    def __post_init__(self) -> None:
        missing = [c for c in LAYER_COLUMNS if c not in self.layers.columns]
        if missing:
            raise PlanningError(f"model {self.name!r}: layer table lacks columns {missing}")
        n = len(self.layers)
        if n == 0:
            raise PlanningError(f"model {self.name!r}: no layers")
        if not self.layers.index.equals(pd.RangeIndex(n)):
            raise PlanningError(f"model {self.name!r}: layer index must be 0..{n - 1}")
        edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise PlanningError(f"model {self.name!r}: an edge names a layer outside 0..{n - 1}")
        bad = edges[edges[:, 0] >= edges[:, 1]]
        if len(bad):
            s, d = bad[0]
            raise PlanningError(
                f"model {self.name!r}: edge {s}->{d} breaks the topological order (layers {s} "
                f"{self.layers['name'].iat[s]!r} and {d} {self.layers['name'].iat[d]!r})"
            )
        for col, dtype in (("weight_bytes", np.int64), ("out_bytes", np.int64), ("flops", np.float64)):
            if self.layers[col].dtype != dtype:
                object.__setattr__(self, "layers", self.layers.astype({col: dtype}))
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "input_bytes", int(self.input_bytes))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_chain(
        cls,
        name: str,
        weight_bytes: Any,
        out_bytes: Any,
        flops: Any,
        input_bytes: int,
        ops: list[str] | None = None,
    ) -> LayerGraph:
        """Build a chain (edges i -> i+1) from per-layer arrays; `ops` defaults to ``"other"``.

        Examples
        --------
        >>> LayerGraph.from_chain("c", [4, 0, 8], [16, 16, 4], [1.0, 2.0, 3.0], 12).edges.tolist()
        [[0, 1], [1, 2]]
        """
        w = np.asarray(weight_bytes, dtype=np.int64).ravel()
        o = np.asarray(out_bytes, dtype=np.int64).ravel()
        f = np.asarray(flops, dtype=np.float64).ravel()
        if not (len(w) == len(o) == len(f)):
            raise PlanningError(f"model {name!r}: weight_bytes, out_bytes and flops differ in length")
        n = len(w)
        op = list(ops) if ops is not None else ["other"] * n
        if len(op) != n:
            raise PlanningError(f"model {name!r}: {len(op)} ops for {n} layers")
        layers = pd.DataFrame(
            {
                "name": [f"layer{i}" for i in range(n)],
                "op": op,
                "params": ["{}"] * n,
                "weight_bytes": w,
                "out_bytes": o,
                "flops": f,
            }
        )
        idx = np.arange(n - 1, dtype=np.int64)
        return cls(name, layers, np.stack([idx, idx + 1], axis=1), input_bytes)

    # ------------------------------------------------------------------ helpers
    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self.layers)

    @property
    def total_weight_bytes(self) -> int:
        """Bytes of all weights (what a full upload moves)."""
        return int(self.layers["weight_bytes"].sum())

    @property
    def total_flops(self) -> float:
        """FLOPs of one inference."""
        return float(self.layers["flops"].sum())

    @property
    def is_chain(self) -> bool:
        """True when the edges are exactly (i, i+1) for every i."""
        n = self.n_layers
        if len(self.edges) != n - 1:
            return False
        return bool(np.array_equal(self.edges, np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)))

    def predecessors(self, i: int) -> np.ndarray:
        """Indices of the layers whose output layer `i` reads (empty for a layer reading the model input)."""
        return np.sort(self.edges[self.edges[:, 1] == i, 0])

    def successors(self, i: int) -> np.ndarray:
        """Indices of the layers that read layer `i`'s output."""
        return np.sort(self.edges[self.edges[:, 0] == i, 1])

    @property
    def in_bytes(self) -> np.ndarray:
        """Bytes each layer reads: its predecessors' outputs summed, or `input_bytes` for a source layer."""
        out = self.layers["out_bytes"].to_numpy()
        res = np.zeros(self.n_layers, dtype=np.int64)
        np.add.at(res, self.edges[:, 1], out[self.edges[:, 0]])
        has_pred = np.zeros(self.n_layers, dtype=bool)
        has_pred[self.edges[:, 1]] = True
        res[~has_pred] = self.input_bytes
        return res

    def param(self, i: int) -> dict[str, Any]:
        """Hyperparameters of layer `i` as a dict."""
        return json.loads(self.layers["params"].iat[i])

    def op_counts(self) -> dict[str, int]:
        """Number of layers per op, sorted by op name."""
        return {k: int(v) for k, v in sorted(self.layers["op"].value_counts().items())}

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a networkx DiGraph; node = layer index with the layer's columns as attributes."""
        import networkx as nx

        g = nx.DiGraph(name=self.name, input_bytes=self.input_bytes)
        for row in self.layers.itertuples():
            g.add_node(
                int(row.Index), name=row.name, op=row.op, weight_bytes=int(row.weight_bytes),
                out_bytes=int(row.out_bytes), flops=float(row.flops),
            )
        g.add_edges_from((int(s), int(d)) for s, d in self.edges)
        return g

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by the on-disk cache and ``--json`` outputs)."""
        return {
            "name": self.name,
            "input_bytes": self.input_bytes,
            "layers": {c: self.layers[c].tolist() for c in LAYER_COLUMNS},
            "edges": self.edges.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerGraph:
        """Inverse of `to_dict`."""
        layers = pd.DataFrame({c: d["layers"][c] for c in LAYER_COLUMNS})
        layers = layers.astype({"weight_bytes": np.int64, "out_bytes": np.int64, "flops": np.float64})
        edges = np.asarray(d["edges"], dtype=np.int64).reshape(-1, 2)
        return cls(d["name"], layers, edges, int(d["input_bytes"]))


#: caffe layers one of our layers becomes: BatchNorm + Scale for bn; InnerProduct flattens by itself
CAFFE_LAYERS_PER_OP: dict[str, int] = {"bn": 2, "flatten": 0}


def caffe_layer_count(graph: LayerGraph) -> dict[str, int]:
    """Count `graph`'s layers the way a caffe prototxt does (PerDNN profiled caffe models).

    caffe splits BN into ``BatchNorm`` + ``Scale`` (2 layers), has no flatten layer, adds an ``Input``
    layer and inserts one ``Split`` layer for every blob read by more than one layer. Returns the parts and
    their ``total``.

    Examples
    --------
    >>> g = LayerGraph.from_chain("c", [4, 8], [16, 4], [1.0, 2.0], 12, ops=["conv", "bn"])
    >>> caffe_layer_count(g)["total"]
    4
    """
    ops = graph.layers["op"].to_numpy()
    per_op = sum(CAFFE_LAYERS_PER_OP.get(str(op), 1) for op in ops)
    out_deg = np.bincount(graph.edges[:, 0], minlength=graph.n_layers) if len(graph.edges) else np.zeros(1)
    has_pred = np.zeros(graph.n_layers, dtype=bool)
    has_pred[graph.edges[:, 1]] = True
    input_readers = int((~has_pred).sum())
    splits = int((out_deg > 1).sum()) + int(input_readers > 1)
    return {"layers": int(per_op), "input": 1, "splits": splits, "total": int(per_op) + 1 + splits}


# ====================================================================== extraction with torch.fx


def _shape(meta: Any) -> list[int] | None:
    tm = getattr(meta, "shape", None) if meta is not None else None
    return None if tm is None else [int(s) for s in tm]


def _numel(shape: list[int] | None) -> int:
    return 0 if shape is None else int(math.prod(shape))


def _pair(v: Any) -> list[int]:
    if isinstance(v, (tuple, list)):
        return [int(x) for x in v]
    return [int(v), int(v)]


def _module_weight_bytes(mod: torch.nn.Module) -> int:
    n = sum(p.numel() for p in mod.parameters(recurse=True))
    bufs = mod.named_buffers(recurse=True)
    n += sum(b.numel() for name, b in bufs if not name.endswith("num_batches_tracked"))
    return int(n) * BYTES_PER_ELEMENT


def _describe_module(mod: torch.nn.Module, in_shapes: list[list[int] | None], out: list[int] | None) -> tuple:
    """(op, params, flops) of a leaf module."""
    from torch import nn

    x = in_shapes[0] if in_shapes else None
    n_out = _numel(out)
    p: dict[str, Any] = {}
    if isinstance(mod, nn.Conv2d):
        k = _pair(mod.kernel_size)
        p = {
            "in_ch": mod.in_channels, "out_ch": mod.out_channels, "kernel": k, "stride": _pair(mod.stride),
            "padding": _pair(mod.padding) if not isinstance(mod.padding, str) else mod.padding,
            "groups": mod.groups, "bias": mod.bias is not None,
        }
        macs = n_out * (mod.in_channels // mod.groups) * k[0] * k[1]
        flops = 2.0 * macs + (n_out if mod.bias is not None else 0)
        return "conv", p, flops
    if isinstance(mod, nn.Linear):
        p = {"in_features": mod.in_features, "out_features": mod.out_features, "bias": mod.bias is not None}
        rows = n_out // max(mod.out_features, 1)
        return "fc", p, 2.0 * rows * mod.in_features * mod.out_features
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "bn", {"features": mod.num_features, "eps": mod.eps}, 2.0 * n_out
    if isinstance(mod, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU)):
        fn = type(mod).__name__.lower()
        p = {"fn": fn}
        if isinstance(mod, nn.LeakyReLU):
            p["slope"] = mod.negative_slope
        return "relu", p, float(n_out)
    if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
        k = _pair(mod.kernel_size)
        p = {
            "kind": "max" if isinstance(mod, nn.MaxPool2d) else "avg", "kernel": k,
            "stride": _pair(mod.stride), "padding": _pair(mod.padding), "ceil_mode": bool(mod.ceil_mode),
        }
        return "pool", p, float(n_out * k[0] * k[1])
    if isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        kind = "avg" if isinstance(mod, nn.AdaptiveAvgPool2d) else "max"
        p = {"kind": kind, "adaptive": True, "output_size": _pair(mod.output_size)}
        return "pool", p, float(_numel(x))
    if isinstance(mod, nn.Flatten):
        return "flatten", {"start_dim": mod.start_dim}, 0.0
    if isinstance(mod, (nn.Dropout, nn.Dropout2d)):
        return "dropout", {"p": mod.p}, 0.0
    if isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
        return "softmax", {"dim": mod.dim}, 3.0 * n_out
    if isinstance(mod, nn.LocalResponseNorm):
        p = {"size": mod.size, "alpha": mod.alpha, "beta": mod.beta, "k": mod.k}
        return "lrn", p, float(n_out * (2 * mod.size + 3))
    op = getattr(mod, "edgeroam_op", None)  # zoo modules that are leaves declare their op
    if op is not None:
        params = dict(getattr(mod, "edgeroam_params", {}))
        if op == "pool":
            k = params.get("kernel", [1, 1])
            return op, params, float(n_out * k[0] * k[1])
        return op, params, float(n_out)
    return "other", {"module": type(mod).__name__}, float(n_out)


def _describe_function(target: Any, in_shapes: list[list[int] | None], out: list[int] | None) -> tuple | None:
    """(op, params, flops) of a call_function/call_method node; None for an op that only reads or selects."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    n_out = _numel(out)
    if target in (torch.add, operator.add, operator.iadd) or name in ("add", "add_", "__add__", "__iadd__"):
        if sum(s is not None for s in in_shapes) < 2:
            return None  # adding a Python scalar: not a layer
        return "add", {}, float(n_out)
    if target in (torch.mul, operator.mul) or name in ("mul", "mul_"):
        if sum(s is not None for s in in_shapes) < 2:
            return None
        return "mul", {}, float(n_out)
    if target is torch.cat or name in ("cat", "concat"):
        return "concat", {}, 0.0
    if target is torch.flatten or name in ("flatten", "view", "reshape"):
        return "flatten", {}, 0.0
    if target in (F.relu, torch.relu, F.relu6, F.leaky_relu) or name in ("relu", "relu_", "relu6"):
        return "relu", {"fn": name}, float(n_out)
    if target in (F.softmax, torch.softmax) or name == "softmax":
        return "softmax", {}, 3.0 * n_out
    if target in (F.dropout,) or name == "dropout":
        return "dropout", {}, 0.0
    if target in (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        return "pool", {"kind": name}, float(_numel(in_shapes[0] if in_shapes else None))
    if name in ("getitem", "getattr", "size", "contiguous", "to", "clone", "dim", "detach", "type_as", "pad"):
        return None
    return "other", {"function": name}, float(n_out)


def _layers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=LAYER_COLUMNS)
    return df.astype({"weight_bytes": np.int64, "out_bytes": np.int64, "flops": np.float64})


def _row(name: str, op: str, params: dict, in_shapes: list,
         out: list[int] | None, w: int, flops: float) -> dict:
    params = {**params, "in_shape": in_shapes[0] if len(in_shapes) == 1 else in_shapes, "out_shape": out}
    return {
        "name": name, "op": op, "params": json.dumps(params, sort_keys=True), "weight_bytes": int(w),
        "out_bytes": _numel(out) * BYTES_PER_ELEMENT, "flops": float(flops),
    }


def layer_graph(model: torch.nn.Module, example_input: torch.Tensor, name: str) -> LayerGraph:
    """Extract the `LayerGraph` of `model` for one input like `example_input`.

    Nodes are the leaf modules and the functional ops that compute (add, concat, flatten, relu, ...); ops
    that only read shapes or select items are looked through. Works on the ``meta`` device (no weights
    needed). When torch.fx cannot trace the model, forward hooks on leaf modules give a chain in execution
    order.

    Parameters
    ----------
    model : torch.nn.Module
        The network, put in eval mode for the trace.
    example_input : torch.Tensor
        A batch-1 input (a ``meta`` tensor is enough).
    name : str
        Name stored in the graph.
    """
    import torch
    import torch.fx as fx
    from torch.fx.passes.shape_prop import ShapeProp

    model.eval()
    try:
        tracer = _ZooTracer()
        graph = tracer.trace(model)
        gm = fx.GraphModule(tracer.root, graph)
    except Exception:  # noqa: BLE001 - any tracing failure falls back to hooks
        return _hooks_graph(model, example_input, name)
    with torch.no_grad():
        ShapeProp(gm).propagate(example_input)
    modules = dict(gm.named_modules())
    rows: list[dict[str, Any]] = []
    layer_of: dict[fx.Node, list[int]] = {}  # node -> the layer(s) whose output it carries
    edges: list[tuple[int, int]] = []
    input_bytes = 0
    for node in gm.graph.nodes:
        out = _shape(node.meta.get("tensor_meta"))
        srcs = [a for a in node.all_input_nodes]
        producers = sorted({p for a in srcs for p in layer_of.get(a, [])})
        in_shapes = [_shape(a.meta.get("tensor_meta")) for a in srcs]
        if node.op == "placeholder":
            input_bytes += _numel(out) * BYTES_PER_ELEMENT
            layer_of[node] = []
            continue
        if node.op == "output":
            continue
        if node.op == "get_attr":
            layer_of[node] = []
            continue
        if node.op == "call_module":
            mod = modules[node.target]
            if type(mod).__name__ == "Identity":
                layer_of[node] = producers
                continue
            op, params, flops = _describe_module(mod, in_shapes, out)
            w = _module_weight_bytes(mod)
        else:
            # python scalars are not inputs of shape: count only tensor args
            tensor_args = [s for s in in_shapes if s is not None]
            desc = _describe_function(node.target, tensor_args if len(tensor_args) > 0 else in_shapes, out)
            if desc is None or out is None:
                layer_of[node] = producers
                continue
            op, params, flops = desc
            if op in ("add", "mul") and len(producers) < 2 and len(tensor_args) < 2:
                layer_of[node] = producers
                continue
            w = 0
        idx = len(rows)
        # a module's dotted path ("3.conv1") names its layer; a function keeps its fx node name ("add_1")
        label = str(node.target) if node.op == "call_module" else str(node.name)
        rows.append(_row(label, op, params, in_shapes, out, w, flops))
        edges.extend((p, idx) for p in producers)
        layer_of[node] = [idx]
    if not rows:
        raise PlanningError(f"model {name!r}: no layers found")
    e = np.asarray(sorted(set(edges)), dtype=np.int64).reshape(-1, 2)
    return LayerGraph(name, _layers_frame(rows), e, input_bytes)


class _ZooTracer:
    """An fx Tracer that keeps modules declaring ``edgeroam_op`` as leaves (built lazily: torch is heavy)."""

    def __new__(cls):  # type: ignore[misc]
        import torch.fx as fx

        class Tracer(fx.Tracer):
            def is_leaf_module(self, m, qualname):  # noqa: ANN001, ANN202
                return hasattr(m, "edgeroam_op") or super().is_leaf_module(m, qualname)

        return Tracer()


def _hooks_graph(model: torch.nn.Module, example_input: torch.Tensor, name: str) -> LayerGraph:
    """Fallback: leaf modules in execution order as a chain (functional ops are not seen)."""
    import torch

    rows: list[dict[str, Any]] = []
    handles = []

    def hook(mod, inputs, output):  # noqa: ANN001, ANN202
        ins = [list(t.shape) for t in inputs if isinstance(t, torch.Tensor)]
        out = list(output.shape) if isinstance(output, torch.Tensor) else None
        op, params, flops = _describe_module(mod, ins, out)
        rows.append(_row(f"{mod_names[id(mod)]}", op, params, ins, out, _module_weight_bytes(mod), flops))

    mod_names = {}
    for mname, mod in model.named_modules():
        if len(list(mod.children())) == 0 and type(mod).__name__ != "Identity":
            mod_names[id(mod)] = mname
            handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example_input)
    except Exception as exc:  # noqa: BLE001
        raise PlanningError(f"model {name!r}: cannot run the model to extract its layers: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
    if not rows:
        raise PlanningError(f"model {name!r}: no leaf modules ran")
    n = len(rows)
    idx = np.arange(n - 1, dtype=np.int64)
    input_bytes = int(example_input.numel()) * BYTES_PER_ELEMENT
    return LayerGraph(name, _layers_frame(rows), np.stack([idx, idx + 1], axis=1), input_bytes)
