"""Device presets: documented, calibrated references reproduce their published times."""

from __future__ import annotations

import pytest

from edgeroam.emulator.dnn import devices
from edgeroam.emulator.dnn.profiles import profile
from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.errors import PlanningError


@pytest.mark.parametrize("name", list(devices.DEVICES))
def test_every_preset_is_documented_and_positive(name):
    d = devices.DEVICES[name]
    assert d.description and d.source
    assert d.conv_flops > 0 and d.fc_flops > 0 and d.eltwise_flops > 0 and d.mem_bw > 0 and d.overhead_s >= 0
    assert name in devices.__doc__ or d.name.startswith("eosdnn") or "x" in d.source


@pytest.mark.parametrize("model", list(devices.CALIBRATION_DARKNET))
def test_reference_presets_reproduce_published_times(model):
    g = model_graph(model)
    for dev, published in devices.CALIBRATION_DARKNET[model].items():
        ours = profile(g, dev).sum()
        assert abs(ours / published - 1) < 0.15, (model, dev, ours, published)


def test_required_presets_and_ordering():
    for name in ("odroid-xu4", "titan-xp", "i7-7700", "rpi-3b", "rtx-2080ti"):
        assert name in devices.DEVICES
    g = model_graph("resnet50")
    t = {d: profile(g, d).sum() for d in ("rpi-3b", "odroid-xu4", "i7-7700", "titan-xp", "rtx-2080ti")}
    assert t["rpi-3b"] > t["odroid-xu4"] > t["i7-7700"] > t["titan-xp"] > t["rtx-2080ti"]


def test_aliases_and_unknown():
    assert devices.get_device("xu4").name == "odroid-xu4"
    with pytest.raises(PlanningError, match="unknown device 'tpu'"):
        devices.get_device("tpu")
