"""The model zoo: the DNNs of PerDNN, EosDNN and S3 written in plain torch, with seeded random weights.

No downloads and no torchvision. `build_model` makes a model (weights drawn from a seeded generator, or
none on the ``meta`` device); `model_graph` returns its `LayerGraph`, traced on the meta device and cached as
JSON under ``.cache/dnn/`` (or ``$EDGEROAM_CACHE_DIR/dnn``). Classifiers end with a softmax as deploy nets do.

| name          | used by            | input   | notes                                                   |
|---------------|--------------------|---------|---------------------------------------------------------|
| mobilenet_v1  | PerDNN "MobileNet" | 224     | Howard et al. 2017, width 1.0, 1k classes               |
| inception_21k | PerDNN "Inception" | 224     | BN-Inception (Ioffe & Szegedy 2015) as MXNet's          |
|               |                    |         | Inception-21k (21841 classes)                           |
| resnet50      | PerDNN "ResNet"    | 224     | He et al. 2016, bottleneck v1 (stride on the 3x3)       |
| alexnet       | EosDNN, S3         | 227     | caffe AlexNet, ungrouped, LRN (EosDNN Table V)          |
| alexnet_      | S3 "AlexNet-       | 227     | Krizhevsky et al.'s two-tower AlexNet (a reading: S3    |
| parallel      | Parallel"          |         | does not define it): towers joined at conv3 and the fcs |
| vgg19         | EosDNN "VGG"       | 224     | VGG-19 (EosDNN Table VI)                                |
| googlenet     | EosDNN, S3         | 224     | caffe bvlc_googlenet, LRN, no auxiliary heads           |
| resnet18/101  | S3 / EosDNN        | 224     | basic / bottleneck blocks                               |
| tiny_yolo     | S3                 | 416     | tiny-yolo-voc v2: 9 convs, 125-channel head             |
| darknet19     | S3                 | 224     | YOLO9000's classifier backbone, 1k classes              |
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeroam.emulator.dnn.graph import LayerGraph, layer_graph
from edgeroam.errors import PlanningError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "ALIASES",
    "GRAPH_VERSION",
    "INPUT_SHAPES",
    "PERDNN_TABLE1",
    "ZOO",
    "build_model",
    "example_input",
    "model_graph",
    "model_info",
    "resolve_name",
]

#: bump when graph extraction or a model definition changes (invalidates the on-disk cache)
GRAPH_VERSION = 2

INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "mobilenet_v1": (3, 224, 224),
    "inception_21k": (3, 224, 224),
    "resnet50": (3, 224, 224),
    "alexnet": (3, 227, 227),
    "alexnet_parallel": (3, 227, 227),
    "vgg19": (3, 224, 224),
    "googlenet": (3, 224, 224),
    "resnet18": (3, 224, 224),
    "resnet101": (3, 224, 224),
    "tiny_yolo": (3, 416, 416),
    "darknet19": (3, 224, 224),
}
ZOO: tuple[str, ...] = tuple(INPUT_SHAPES)
#: PerDNN Table I (layers as caffe counts them; MB = MiB of float32 weights), printed beside ours
PERDNN_TABLE1: dict[str, dict[str, Any]] = {
    "mobilenet_v1": {"paper_name": "MobileNet", "layers": 110, "size_mb": 16},
    "inception_21k": {"paper_name": "Inception", "layers": 312, "size_mb": 128},
    "resnet50": {"paper_name": "ResNet", "layers": 245, "size_mb": 98},
}
ALIASES: dict[str, str] = {
    "mobilenet": "mobilenet_v1",
    "inception": "inception_21k",
    "resnet": "resnet50",
    "vgg": "vgg19",
    "tiny-yolo": "tiny_yolo",
    "tinyyolo": "tiny_yolo",
    "alexnet-parallel": "alexnet_parallel",
}


def resolve_name(name: str) -> str:
    """Canonical zoo name of `name` or an alias (case-insensitive); PlanningError names the choices."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, ALIASES.get(name.strip().lower(), key))
    if key not in INPUT_SHAPES:
        choices = f"{', '.join(ZOO)} (aliases {', '.join(ALIASES)})"
        raise PlanningError(f"unknown model {name!r}; choose one of {choices}")
    return key


# ====================================================================== building blocks


def _cbr(cin: int, cout: int, k: int, s: int = 1, p: int | None = None, groups: int = 1, act: str = "relu"):
    """conv (no bias) + BN + activation."""
    from torch import nn

    p = k // 2 if p is None else p
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "leaky":
        layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


def _cr(cin: int, cout: int, k: int, s: int = 1, p: int = 0):
    """conv (bias) + ReLU (caffe nets without BN)."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.ReLU(inplace=True))


def _head(cin: int, classes: int, dropout: float = 0.0):
    from torch import nn

    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(cin, classes), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def _mobilenet_v1(classes: int = 1000):
    from torch import nn

    cfg = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
    cfg += [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    blocks: list[nn.Module] = [_cbr(3, 32, 3, 2)]
    for cin, cout, s in cfg:
        blocks += [_cbr(cin, cin, 3, s, groups=cin), _cbr(cin, cout, 1)]
    return nn.Sequential(*blocks, _head(1024, classes))


def _concat_module():
    import torch
    from torch import nn

    class Branches(nn.Module):
        """Runs its branches on the same input and concatenates them on channels."""

        def __init__(self, *branches: nn.Module):
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([b(x) for b in self.branches], dim=1)

    return Branches


def _bn_inception(classes: int = 21841):
    """BN-Inception as MXNet's symbol_inception-bn.py (the Inception-21k model PerDNN used)."""
    from torch import nn

    Branches = _concat_module()

    def inc_a(cin, n1, n3r, n3, nd3r, nd3, pool, proj):  # noqa: ANN001, ANN202
        pl = nn.AvgPool2d(3, 1, 1) if pool == "avg" else nn.MaxPool2d(3, 1, 1)
        return Branches(
            _cbr(cin, n1, 1),
            nn.Sequential(_cbr(cin, n3r, 1), _cbr(n3r, n3, 3)),
            nn.Sequential(_cbr(cin, nd3r, 1), _cbr(nd3r, nd3, 3), _cbr(nd3, nd3, 3)),
            nn.Sequential(pl, _cbr(cin, proj, 1)),
        ), n1 + n3 + nd3 + proj

    def inc_b(cin, n3r, n3, nd3r, nd3):  # noqa: ANN001, ANN202
        return Branches(
            nn.Sequential(_cbr(cin, n3r, 1), _cbr(n3r, n3, 3, 2)),
            nn.Sequential(_cbr(cin, nd3r, 1), _cbr(nd3r, nd3, 3), _cbr(nd3, nd3, 3, 2)),
            nn.MaxPool2d(3, 2, 1),
        ), n3 + nd3 + cin

    mods: list[nn.Module] = [
        _cbr(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        _cbr(64, 64, 1), _cbr(64, 192, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
    ]
    c = 192
    spec: list[tuple] = [
        ("A", 64, 64, 64, 64, 96, "avg", 32), ("A", 64, 64, 96, 64, 96, "avg", 64), ("B", 128, 160, 64, 96),
        ("A", 224, 64, 96, 96, 128, "avg", 128), ("A", 192, 96, 128, 96, 128, "avg", 128),
        ("A", 160, 128, 160, 128, 160, "avg", 128), ("A", 96, 128, 192, 160, 192, "avg", 128),
        ("B", 128, 192, 192, 256),
        ("A", 352, 192, 320, 160, 224, "avg", 128), ("A", 352, 192, 320, 192, 224, "max", 128),
    ]
    for kind, *args in spec:
        m, c = inc_a(c, *args) if kind == "A" else inc_b(c, *args)
        mods.append(m)
    return nn.Sequential(*mods, _head(c, classes))


def _resnet(block: str, depths: list[int], classes: int = 1000):
    from torch import nn

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin: int, planes: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.down = _down(cin, planes, stride)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.relu(out + (self.down(x) if self.down is not None else x))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin: int, planes: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.down = _down(cin, planes * 4, stride)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.relu1(self.bn1(self.conv1(x)))
            out = self.relu2(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + (self.down(x) if self.down is not None else x))

    def _down(cin: int, cout: int, stride: int) -> nn.Module | None:
        if stride == 1 and cin == cout:
            return None
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    cls = Basic if block == "basic" else Bottleneck
    mods: list[nn.Module] = [_cbr(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (planes, n) in enumerate(zip([64, 128, 256, 512], depths, strict=True)):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 0) else 1
            mods.append(cls(cin, planes, stride))
            cin = planes * cls.expansion
    return nn.Sequential(*mods, _head(cin, classes))


def _alexnet(classes: int = 1000):
    from torch import nn

    return nn.Sequential(
        _cr(3, 96, 11, 4), nn.LocalResponseNorm(5, 1e-4, 0.75), nn.MaxPool2d(3, 2, ceil_mode=True),
        _cr(96, 256, 5, 1, 2), nn.LocalResponseNorm(5, 1e-4, 0.75), nn.MaxPool2d(3, 2, ceil_mode=True),
        _cr(256, 384, 3, 1, 1), _cr(384, 384, 3, 1, 1), _cr(384, 256, 3, 1, 1),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes), nn.Softmax(dim=1),
    )


def _alexnet_parallel(classes: int = 1000):
    """Krizhevsky et al. (2012)'s AlexNet on two GPUs as a DAG: each tower reads the image; conv2, conv4 and
    conv5 see only their own tower, conv3 and the fully connected layers both (60,965,224 weights)."""
    from torch import nn

    Branches = _concat_module()
    lrn = (5, 1e-4, 0.75)

    def front():  # noqa: ANN202
        return nn.Sequential(
            _cr(3, 48, 11, 4), nn.LocalResponseNorm(*lrn), nn.MaxPool2d(3, 2, ceil_mode=True),
            _cr(48, 128, 5, 1, 2), nn.LocalResponseNorm(*lrn), nn.MaxPool2d(3, 2, ceil_mode=True),
        )

    def back():  # noqa: ANN202
        return nn.Sequential(_cr(256, 192, 3, 1, 1), _cr(192, 192, 3, 1, 1), _cr(192, 128, 3, 1, 1),
                             nn.MaxPool2d(3, 2, ceil_mode=True))

    def fc(cin: int) -> nn.Module:
        return nn.Sequential(nn.Linear(cin, 2048), nn.ReLU(inplace=True), nn.Dropout(0.5))

    return nn.Sequential(
        Branches(front(), front()), Branches(back(), back()), nn.Flatten(),
        Branches(fc(256 * 6 * 6), fc(256 * 6 * 6)), Branches(fc(4096), fc(4096)),
        nn.Linear(4096, classes), nn.Softmax(dim=1),
    )


def _vgg19(classes: int = 1000):
    from torch import nn

    mods: list[nn.Module] = []
    cin = 3
    for width, n in [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]:
        for _ in range(n):
            mods.append(_cr(cin, width, 3, 1, 1))
            cin = width
        mods.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(
        *mods, nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes), nn.Softmax(dim=1),
    )


def _googlenet(classes: int = 1000):
    """caffe bvlc_googlenet (deploy: no auxiliary classifiers)."""
    from torch import nn

    Branches = _concat_module()

    def inc(cin, n1, n3r, n3, n5r, n5, proj):  # noqa: ANN001, ANN202
        return Branches(
            _cr(cin, n1, 1),
            nn.Sequential(_cr(cin, n3r, 1), _cr(n3r, n3, 3, 1, 1)),
            nn.Sequential(_cr(cin, n5r, 1), _cr(n5r, n5, 5, 1, 2)),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), _cr(cin, proj, 1)),
        ), n1 + n3 + n5 + proj

    mods: list[nn.Module] = [
        _cr(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5, 1e-4, 0.75),
        _cr(64, 64, 1), _cr(64, 192, 3, 1, 1), nn.LocalResponseNorm(5, 1e-4, 0.75),
        nn.MaxPool2d(3, 2, ceil_mode=True),
    ]
    c = 192
    spec = {
        "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
        "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
        "4c": (128, 128, 256, 24, 64, 64),
        "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
        "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
    }
    for key, args in spec.items():
        m, c = inc(c, *args)
        mods.append(m)
        if key in ("3b", "4e"):
            mods.append(nn.MaxPool2d(3, 2, ceil_mode=True))
    return nn.Sequential(*mods, _head(c, classes, dropout=0.4))


def _same_maxpool_s1():
    """darknet's 2x2 max pool with stride 1 that keeps the size (pads right and bottom)."""
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class MaxPoolSame(nn.Module):
        edgeroam_op = "pool"
        edgeroam_params = {"kind": "max", "kernel": [2, 2], "stride": [1, 1], "padding": "same"}

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.max_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2, 1)

    return MaxPoolSame()


def _tiny_yolo(anchors: int = 5, classes: int = 20):
    """tiny-yolo-voc (YOLOv2): the region layer (box decoding) runs on the client after the last conv."""
    from torch import nn

    mods: list[nn.Module] = []
    cin = 3
    for i, width in enumerate([16, 32, 64, 128, 256, 512]):
        mods.append(_cbr(cin, width, 3, act="leaky"))
        mods.append(nn.MaxPool2d(2, 2) if i < 5 else _same_maxpool_s1())
        cin = width
    mods += [_cbr(512, 1024, 3, act="leaky"), _cbr(1024, 1024, 3, act="leaky")]
    mods.append(nn.Conv2d(1024, anchors * (5 + classes), 1))
    return nn.Sequential(*mods)


def _darknet19(classes: int = 1000):
    from torch import nn

    cfg: list[Any] = [32, "M", 64, "M", 128, (64, 1), 128, "M", 256, (128, 1), 256, "M",
                      512, (256, 1), 512, (256, 1), 512, "M", 1024, (512, 1), 1024, (512, 1), 1024]
    mods: list[nn.Module] = []
    cin = 3
    for item in cfg:
        if item == "M":
            mods.append(nn.MaxPool2d(2, 2))
            continue
        width, k = item if isinstance(item, tuple) else (item, 3)
        mods.append(_cbr(cin, width, k, act="leaky"))
        cin = width
    mods += [nn.Conv2d(cin, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Softmax(dim=1)]
    return nn.Sequential(*mods)


_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "mobilenet_v1": _mobilenet_v1,
    "inception_21k": _bn_inception,
    "resnet50": lambda: _resnet("bottleneck", [3, 4, 6, 3]),
    "alexnet": _alexnet,
    "alexnet_parallel": _alexnet_parallel,
    "vgg19": _vgg19,
    "googlenet": _googlenet,
    "resnet18": lambda: _resnet("basic", [2, 2, 2, 2]),
    "resnet101": lambda: _resnet("bottleneck", [3, 4, 23, 3]),
    "tiny_yolo": _tiny_yolo,
    "darknet19": _darknet19,
}


def _init_weights(model: nn.Module, seed: int) -> None:
    """He-normal conv/fc weights, zero biases, unit BN, from a generator seeded with `seed`."""
    import math

    import torch
    from torch import nn

    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=g)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()


def build_model(name: str, seed: int = 0, device: str = "cpu") -> torch.nn.Module:
    """Build zoo model `name` in eval mode; weights are seeded (none are drawn on the ``meta`` device).

    Parameters
    ----------
    name : str
        Zoo name or alias (see `ZOO`, `ALIASES`).
    seed : int
        Seed of the weight generator.
    device : str
        ``"cpu"`` or ``"meta"`` (shapes only: instant, no memory).
    """
    import torch

    key = resolve_name(name)
    with torch.device(device):
        model = _BUILDERS[key]()
    if device != "meta":
        _init_weights(model, seed)
    return model.eval()


def example_input(name: str, device: str = "cpu") -> torch.Tensor:
    """A batch-1 input of the right shape for model `name` (zeros)."""
    import torch

    return torch.zeros((1, *INPUT_SHAPES[resolve_name(name)]), device=device)


def _cache_dir() -> Path:
    root = os.environ.get("EDGEROAM_CACHE_DIR")
    return (Path(root) if root else Path.cwd() / ".cache") / "dnn"


def model_graph(name: str, cache: bool = True) -> LayerGraph:
    """The `LayerGraph` of zoo model `name`, traced on the meta device and cached on disk.

    Examples
    --------
    >>> g = model_graph("mobilenet", cache=False)
    >>> g.name, g.n_layers > 80
    ('mobilenet_v1', True)
    """
    key = resolve_name(name)
    path = _cache_dir() / f"{key}-v{GRAPH_VERSION}.json"
    if cache and path.exists():
        try:
            return LayerGraph.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            pass  # a corrupt cache entry is rebuilt below
    model = build_model(key, device="meta")
    graph = layer_graph(model, example_input(key, device="meta"), key)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(graph.to_dict()))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache is not an error: the graph is still returned
    return graph


def model_info(name: str) -> dict[str, Any]:
    """Summary of zoo model `name`: layers, weights, FLOPs, ops, caffe-granularity count, PerDNN Table I.

    ``weight_mib`` is bytes / 2**20 (PerDNN's "MB": its 98 MB ResNet-50 is 25.6 M float32 = 97.7 MiB);
    ``paper`` is None for models outside PerDNN Table I.
    """
    from edgeroam.emulator.dnn.graph import caffe_layer_count

    g = model_graph(name)
    caffe = caffe_layer_count(g)
    return {
        "model": g.name,
        "input_shape": list(INPUT_SHAPES[g.name]),
        "layers": g.n_layers,
        "edges": len(g.edges),
        "chain": g.is_chain,
        "weight_bytes": g.total_weight_bytes,
        "weight_mib": g.total_weight_bytes / 2**20,
        "gflops": g.total_flops / 1e9,
        "input_bytes": g.input_bytes,
        "max_out_bytes": int(g.layers["out_bytes"].max()),
        "ops": g.op_counts(),
        "caffe_layers": caffe,
        "paper": PERDNN_TABLE1.get(g.name),
    }
