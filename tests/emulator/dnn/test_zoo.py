"""The zoo: every model builds, its graph is a DAG whose bytes match the torch model, caching, aliases."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from edgeroam.emulator.dnn import zoo
from edgeroam.emulator.dnn.graph import caffe_layer_count
from edgeroam.errors import PlanningError

# float32 parameter counts of the reference definitions (torchvision / caffe model zoo / darknet cfgs)
PARAMS = {
    "mobilenet_v1": 4_231_976,
    "resnet50": 25_557_032,
    "resnet18": 11_689_512,
    "resnet101": 44_549_160,
    "alexnet": 62_378_344,  # EosDNN Table V summed (ungrouped caffe AlexNet)
    "vgg19": 143_667_240,  # EosDNN Table VI summed, torchvision vgg19
    "googlenet": 6_998_552,  # bvlc_googlenet without the auxiliary heads
    "alexnet_parallel": 60_965_224,  # Krizhevsky et al. 2012, two towers
}
#: layers that read the image (two-tower AlexNet: one first conv per tower)
SOURCES = {"alexnet_parallel": 2}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROAM_CACHE_DIR", str(tmp_path))


@pytest.mark.parametrize("name", zoo.ZOO)
def test_graph_is_a_dag_matching_the_model(name):
    model = zoo.build_model(name, device="meta")
    g = zoo.model_graph(name)
    assert g.name == name
    assert nx.is_directed_acyclic_graph(g.to_networkx())
    assert (g.edges[:, 0] < g.edges[:, 1]).all()
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked"))
    assert g.total_weight_bytes == 4 * (n_params + n_buffers)
    if name in PARAMS:
        assert n_params == PARAMS[name]
    # one source (the first conv; one per tower) and one sink (the output)
    has_pred = np.zeros(g.n_layers, bool)
    has_pred[g.edges[:, 1]] = True
    has_succ = np.zeros(g.n_layers, bool)
    has_succ[g.edges[:, 0]] = True
    assert (~has_pred).sum() == SOURCES.get(name, 1) and (~has_succ).sum() == 1 and not has_pred[0]
    assert (g.layers["flops"] >= 0).all() and (g.layers["out_bytes"] > 0).all()


def test_perdnn_models_match_table1_in_caffe_granularity():
    incep = zoo.model_graph("inception")
    fc = incep.layers[incep.layers["op"] == "fc"]
    assert fc["weight_bytes"].iat[0] == (1024 * 21841 + 21841) * 4  # the 21k-class fc dominates
    assert caffe_layer_count(incep)["total"] == 312
    assert caffe_layer_count(zoo.model_graph("resnet"))["total"] == 245
    assert round(zoo.model_graph("resnet").total_weight_bytes / 2**20) == 98
    assert round(zoo.model_graph("mobilenet").total_weight_bytes / 2**20) == 16


def test_weights_are_seeded_and_output_shape_matches_graph():
    a = zoo.build_model("resnet18", seed=3)
    b = zoo.build_model("resnet18", seed=3)
    c = zoo.build_model("resnet18", seed=4)
    wa, wb, wc = (m.layer1[0].conv1.weight if hasattr(m, "layer1") else m[2].conv1.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    with torch.no_grad():
        y = a(zoo.example_input("resnet18"))
    g = zoo.model_graph("resnet18")
    assert y.numel() * 4 == g.layers["out_bytes"].iat[-1]
    assert torch.allclose(y.sum(), torch.tensor(1.0), atol=1e-4)  # ends with a softmax


def test_tiny_yolo_keeps_13x13_after_the_stride1_pool():
    g = zoo.model_graph("tiny_yolo")
    assert g.param(g.n_layers - 1)["out_shape"] == [1, 125, 13, 13]


def test_cache_round_trip(tmp_path):
    g1 = zoo.model_graph("googlenet")
    assert (tmp_path / "dnn" / f"googlenet-v{zoo.GRAPH_VERSION}.json").exists()
    g2 = zoo.model_graph("googlenet")
    assert g1.layers.equals(g2.layers) and np.array_equal(g1.edges, g2.edges)


def test_aliases_and_unknown_names():
    assert zoo.resolve_name("Inception") == "inception_21k"
    assert zoo.resolve_name("resnet") == "resnet50"
    assert zoo.resolve_name("tiny-yolo") == "tiny_yolo"
    with pytest.raises(PlanningError, match="unknown model 'lenet'"):
        zoo.resolve_name("lenet")
