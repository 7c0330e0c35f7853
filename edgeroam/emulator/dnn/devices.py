"""Device presets: roofline-style constants that turn a layer's FLOPs and bytes into seconds.

A layer takes ``overhead_s + max(flops / rate[class], bytes / mem_bw)`` where class is dense ``conv``,
depthwise ``dwconv``, ``fc`` or ``eltwise`` (bn, relu, pool, add, concat, softmax, lrn, ...); bytes =
weights + input + output. flatten and dropout cost nothing (no kernel runs). Evaluating a graph is
profiles.py's job.

Calibration (never against PerDNN Table II, which the planning package reproduces)
-----------------------------------------------------------------------------------
Source [D]: J. Redmon, "ImageNet Classification" model table, https://pjreddie.com/darknet/imagenet/ (darknet
framework, batch 1): "GPU timing is measured on a Titan X, CPU timing on an Intel i7-4790K (4 GHz) run on a
single core", AlexNet 3.1 ms / 0.29 s, Darknet19 6.2 ms / 0.87 s, ResNet-18 4.6 ms / 0.57 s, ResNet-50
11.4 ms / 1.13 s, ResNet-101 20.0 ms / 2.23 s. Non-negative least squares of those five times over our
graphs of the same models (conv FLOPs, other FLOPs, layer count) gave the two reference presets:

- ``titan-x`` (Maxwell GTX Titan X, the GPU of the darknet page, 6.69 TFLOP/s, 336.5 GB/s spec): dense conv
  1.142 TFLOP/s effective, fc/elementwise 155 GFLOP/s, 19.6 us per layer. Reproduces [D] within 5 %.
- ``i7-4790k-1core``: conv/fc 6.96 GFLOP/s effective (the fit gave other ops no cost of their own; we charge
  them the same rate, which adds < 1 %), 60 us per layer;
  within 14 % (AlexNet) and 8 % (the others).

The other presets scale a reference by spec-sheet ratios (assumption, stated per preset): GPU compute by peak
fp32 FLOP/s, CPU compute by cores x GHz x fp32 FLOPs/cycle, bandwidth = spec (GPU) or half the spec (CPU,
achievable), per-layer overhead kept (GPU: the framework launches kernels) or scaled by single-thread speed
(ARM). Depthwise convs run at ``dw_efficiency`` (0.25) of dense-conv speed (assumption: memory-bound).
``rpi-3b`` and ``odroid-xu4`` are therefore spec-scaled, not fitted to a measured time of those boards.
EosDNN's presets follow its Eq. (1) T = P/Q with P = FLOPs (one FLOP per cycle, a reading) and the
midpoints of its CPU ranges (client 1.1-2.3 GHz, edge 4.2-18.3 GHz, cloud 40-120 GHz; EosDNN Sec. VII.A).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeroam.errors import PlanningError

__all__ = ["CALIBRATION_DARKNET", "DEVICES", "Device", "get_device"]

#: published whole-model seconds used for the fit: model -> {device: seconds} (source [D] in the docstring)
CALIBRATION_DARKNET: dict[str, dict[str, float]] = {
    "alexnet": {"titan-x": 3.1e-3, "i7-4790k-1core": 0.29},
    "darknet19": {"titan-x": 6.2e-3, "i7-4790k-1core": 0.87},
    "resnet18": {"titan-x": 4.6e-3, "i7-4790k-1core": 0.57},
    "resnet50": {"titan-x": 11.4e-3, "i7-4790k-1core": 1.13},
    "resnet101": {"titan-x": 20.0e-3, "i7-4790k-1core": 2.23},
}


@dataclass(frozen=True)
class Device:
    """Roofline constants of one device.

    Attributes
    ----------
    conv_flops, fc_flops : float
        Effective FLOP/s of dense convolutions and fully connected layers.
    eltwise_flops : float
        Effective FLOP/s of elementwise layers (bn, relu, pool, add, ...); ``inf`` = bandwidth only.
    mem_bw : float
        Bytes per second the layer's weights, input and output stream at.
    overhead_s : float
        Fixed seconds per layer (kernel launch, framework dispatch).
    dw_efficiency : float
        Depthwise conv speed as a fraction of ``conv_flops``.
    gpu : bool
        Whether the device is a GPU (used by the estimator's load features).
    source : str
        Where the constants come from.
    """

    name: str
    description: str
    conv_flops: float
    fc_flops: float
    eltwise_flops: float
    mem_bw: float
    overhead_s: float
    dw_efficiency: float = 0.25
    gpu: bool = False
    source: str = ""
    aliases: tuple[str, ...] = field(default=())


def _scaled(ref: Device, name: str, description: str, compute: float, mem_bw: float, overhead: float | None,
            gpu: bool, source: str, aliases: tuple[str, ...] = ()) -> Device:
    return Device(
        name, description, ref.conv_flops * compute, ref.fc_flops * compute, ref.eltwise_flops * compute,
        mem_bw, ref.overhead_s if overhead is None else overhead, ref.dw_efficiency, gpu, source, aliases,
    )


_TITAN_X = Device(
    "titan-x", "NVIDIA GTX Titan X (Maxwell), darknet: the reference GPU of [D]",
    conv_flops=1.142e12, fc_flops=155e9, eltwise_flops=155e9, mem_bw=336.5e9, overhead_s=19.6e-6, gpu=True,
    source="fitted to [D] GPU times (5 models)",
)
_I7_1CORE = Device(
    "i7-4790k-1core", "Intel i7-4790K, 1 core at 4 GHz, darknet: the reference CPU of [D]",
    conv_flops=6.96e9, fc_flops=6.96e9, eltwise_flops=6.96e9, mem_bw=12.8e9, overhead_s=60e-6,
    source="fitted to [D] CPU times (5 models); bandwidth = half of dual-channel DDR3-1600",
)
_HASWELL_CORE_PEAK = 4.0e9 * 32  # 4 GHz x 32 fp32 FLOPs/cycle (2 AVX2 FMA units)

DEVICES: dict[str, Device] = {
    d.name: d
    for d in [
        _TITAN_X,
        _I7_1CORE,
        _scaled(
            _TITAN_X, "titan-xp", "NVIDIA Titan Xp (PerDNN's edge server GPU, with an i7-7700 host)",
            compute=12.15 / 6.69, mem_bw=547.7e9, overhead=None, gpu=True,
            source="titan-x x peak fp32 ratio 12.15/6.69 TFLOP/s; 547.7 GB/s spec", aliases=("titanxp",),
        ),
        _scaled(
            _TITAN_X, "rtx-2080ti", "NVIDIA RTX 2080 Ti (S3's cloud GPU, with an i7-9700K host)",
            compute=13.45 / 6.69, mem_bw=616e9, overhead=None, gpu=True,
            source="titan-x x peak fp32 ratio 13.45/6.69 TFLOP/s; 616 GB/s spec",
        ),
        _scaled(
            _I7_1CORE, "i7-7700", "Intel i7-7700, 4 cores (PerDNN's server CPU)",
            compute=4 * 3.6e9 * 32 / _HASWELL_CORE_PEAK, mem_bw=19.2e9, overhead=None, gpu=False,
            source="i7-4790k-1core x 4 cores x 3.6/4.0 GHz; half of dual-channel DDR4-2400",
        ),
        _scaled(
            _I7_1CORE, "odroid-xu4", "ODROID-XU4, Exynos 5422, 4x Cortex-A15 2.0 GHz (PerDNN's client)",
            compute=4 * 2.0e9 * 8 / _HASWELL_CORE_PEAK, mem_bw=7.45e9, overhead=180e-6, gpu=False,
            source="i7-4790k-1core x (4 cores x 2 GHz x 8 NEON FLOPs/cycle) / 128 GFLOP/s; half of 14.9 GB/s "
            "LPDDR3; overhead x3 (single-thread speed); spec-scaled, not fitted to a measured XU4 time",
            aliases=("odroid", "xu4"),
        ),
        _scaled(
            _I7_1CORE, "rpi-3b", "Raspberry Pi 3B, 4x Cortex-A53 1.2 GHz (S3's edge)",
            compute=4 * 1.2e9 * 4 / _HASWELL_CORE_PEAK, mem_bw=1.8e9, overhead=360e-6, gpu=False,
            source="i7-4790k-1core x (4 cores x 1.2 GHz x 4 NEON FLOPs/cycle) / 128 GFLOP/s; "
            "half of 3.6 GB/s LPDDR2; overhead x6; spec-scaled, not fitted to a measured Pi time",
            aliases=("rpi3", "raspberry-pi-3b"),
        ),
        *[
            Device(
                f"eosdnn-{role}", f"EosDNN {role}: {ghz:g} GHz, T = FLOPs / Hz (Eq. 1)",
                conv_flops=ghz * 1e9, fc_flops=ghz * 1e9, eltwise_flops=ghz * 1e9, mem_bw=float("inf"),
                overhead_s=0.0, dw_efficiency=1.0, source=f"EosDNN Sec. VII.A range midpoint {rng}",
            )
            for role, ghz, rng in [("client", 1.7, "1.1-2.3 GHz"), ("edge", 11.25, "4.2-18.3 GHz"),
                                   ("cloud", 80.0, "40-120 GHz")]
        ],
    ]
}


def get_device(name: str | Device) -> Device:
    """The preset called `name` (or one of its aliases); PlanningError lists the presets otherwise."""
    if isinstance(name, Device):
        return name
    key = name.strip().lower()
    if key in DEVICES:
        return DEVICES[key]
    for d in DEVICES.values():
        if key in d.aliases:
            return d
    raise PlanningError(f"unknown device {name!r}; presets: {', '.join(DEVICES)}")
