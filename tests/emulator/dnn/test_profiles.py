"""Profiles: roofline monotone in FLOPs, free layers, measured times, the EosDNN CSV importer."""

from __future__ import annotations

import numpy as np
import pytest

from edgeroam.emulator.dnn.graph import LayerGraph
from edgeroam.emulator.dnn.profiles import (
    cpu_quota_support,
    layer_classes,
    load_profile_csv,
    measure_profile,
    profile,
    profile_table,
)
from edgeroam.emulator.dnn.zoo import model_graph
from edgeroam.errors import PlanningError, TraceFormatError

EOSDNN = "eosdnn_layer_profiles"


@pytest.mark.parametrize("device", ["odroid-xu4", "titan-xp", "i7-7700", "rpi-3b", "rtx-2080ti"])
@pytest.mark.parametrize("op", ["conv", "fc", "relu"])
def test_profile_is_monotone_in_flops_for_a_fixed_op(device, op):
    flops = np.geomspace(1e3, 1e11, 30)
    g = LayerGraph.from_chain("m", np.full(30, 4096), np.full(30, 4096), flops, 4096, ops=[op] * 30)
    t = profile(g, device)
    assert (np.diff(t) >= 0).all() and t[-1] > t[0] > 0


def test_free_layers_and_depthwise_class():
    g = model_graph("mobilenet")
    cls = layer_classes(g)
    assert (cls == "dwconv").sum() == 13 and (cls == "conv").sum() == 14
    t = profile(g, "odroid-xu4")
    assert (t[g.layers["op"].to_numpy() == "flatten"] == 0).all()
    assert t.shape == (g.n_layers,) and (t >= 0).all()


def test_profile_table_checks_length():
    g = model_graph("alexnet")
    df = profile_table(g, np.ones(g.n_layers))
    assert df["seconds"].sum() == g.n_layers and df.attrs["model"] == "alexnet"
    with pytest.raises(PlanningError, match="seconds for"):
        profile_table(g, np.ones(3))


def test_measure_profile_runs_every_layer_here():
    g = model_graph("resnet18")
    t = measure_profile(g, reps=1, warmup=0, threads=1)
    assert t.shape == (g.n_layers,) and (t > 0).all()
    conv = g.layers["op"].to_numpy() == "conv"
    assert t[conv].sum() > t[~conv].sum()  # convolutions dominate, as FLOPs say


def test_cpu_quota_is_detected_or_explained():
    ok, why = cpu_quota_support()
    assert isinstance(ok, bool) and why
    if not ok:
        with pytest.raises(PlanningError, match="cannot limit the CPU"):
            measure_profile("alexnet", reps=1, warmup=0, cpu_quota=0.5)


def test_eosdnn_vgg_table_matches_our_vgg19(shared_traces):
    path = shared_traces.parent / "reference" / EOSDNN / "eosdnn_table6_vgg_layer_sizes.csv"
    prof = load_profile_csv(path)
    g = model_graph("vgg19")
    ours = g.layers["weight_bytes"].to_numpy()
    ours = ours[ours > 0]
    theirs = prof["weight_bytes"].to_numpy()
    theirs = theirs[theirs > 0]
    assert len(ours) == len(theirs) == 19
    assert np.abs(ours - theirs).max() <= 4  # the table's MB have 9 decimals: exact to a float32


def test_eosdnn_alexnet_table_matches_our_alexnet(shared_traces):
    path = shared_traces.parent / "reference" / EOSDNN / "eosdnn_table5_alexnet_layer_sizes.csv"
    theirs = load_profile_csv(path)["weight_bytes"].to_numpy()
    ours = model_graph("alexnet").layers["weight_bytes"].to_numpy()
    assert np.abs(ours[ours > 0] - theirs[theirs > 0]).max() <= 4


def test_load_profile_csv_errors_name_line_and_column(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("layer,size_MB\n1,0.5\n2,abc\n")
    with pytest.raises(TraceFormatError, match=r"line 3, column size_MB"):
        load_profile_csv(p)
    p.write_text("size_MB\n1\n")
    with pytest.raises(TraceFormatError, match="column layer"):
        load_profile_csv(p)
    p.write_text("layer,seconds\n1,0.25\n")
    df = load_profile_csv(p)
    assert df["seconds"].tolist() == [0.25] and df["weight_bytes"].tolist() == [0]
