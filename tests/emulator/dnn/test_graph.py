"""LayerGraph: extraction on tiny nets checked by hand, chains, validation, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from edgeroam.emulator.dnn.graph import LayerGraph, caffe_layer_count, layer_graph
from edgeroam.errors import PlanningError


class Chain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flat(self.relu(self.conv(x)) + 0.0))  # a scalar add is not a layer


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1, bias=False)
        self.relu = nn.ReLU()
        self.b = nn.Conv2d(3, 4, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.a(x))
        b = self.b(x)
        s = a + b
        return self.bn(torch.cat([s, b], dim=1))


def test_chain_counts_by_hand():
    g = layer_graph(Chain(), torch.zeros(1, 3, 8, 8), "chain")
    assert g.layers["op"].tolist() == ["conv", "relu", "flatten", "fc"]
    assert g.is_chain
    assert g.input_bytes == 3 * 8 * 8 * 4
    # conv: 4x3x3x3 weights + 4 biases; out 4x8x8; 2 FLOPs per MAC (27 MACs per output) + bias adds
    assert g.layers["weight_bytes"].tolist() == [(108 + 4) * 4, 0, 0, (2560 + 10) * 4]
    assert g.layers["out_bytes"].tolist() == [256 * 4, 256 * 4, 256 * 4, 10 * 4]
    assert g.layers["flops"].tolist() == [2 * 256 * 27 + 256, 256, 0, 2 * 256 * 10]
    p = g.param(0)
    assert p["kernel"] == [3, 3] and p["in_ch"] == 3 and p["out_ch"] == 4 and p["out_shape"] == [1, 4, 8, 8]
    assert g.in_bytes.tolist() == [768, 1024, 1024, 1024]


def test_branching_edges_and_bytes_by_hand():
    g = layer_graph(Branchy(), torch.zeros(1, 3, 4, 4), "branchy")
    assert g.layers["name"].tolist() == ["a", "relu", "b", "add", "cat", "bn"]
    assert g.layers["op"].tolist() == ["conv", "relu", "conv", "add", "concat", "bn"]
    assert sorted(map(tuple, g.edges.tolist())) == [(0, 1), (1, 3), (2, 3), (2, 4), (3, 4), (4, 5)]
    assert not g.is_chain
    assert g.layers["weight_bytes"].tolist() == [48, 0, 48, 0, 0, 4 * 8 * 4]  # bn: gamma, beta, mean, var
    assert g.layers["out_bytes"].tolist() == [256, 256, 256, 256, 512, 512]
    assert g.layers["flops"].tolist() == [2 * 64 * 3, 64, 2 * 64 * 3, 64, 0, 2 * 128]
    assert g.in_bytes.tolist() == [192, 256, 192, 512, 512, 512]
    assert g.predecessors(4).tolist() == [2, 3] and g.successors(2).tolist() == [3, 4]
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 6 and nxg.nodes[5]["op"] == "bn"
    # caffe: 5 layers + bn as 2, an Input layer, Splits for x (read by a and b) and b (read by add and cat)
    assert caffe_layer_count(g) == {"layers": 7, "input": 1, "splits": 2, "total": 10}


def test_meta_device_gives_the_same_graph():
    with torch.device("meta"):
        m = Branchy()
    g_meta = layer_graph(m, torch.zeros(1, 3, 4, 4, device="meta"), "branchy")
    g_cpu = layer_graph(Branchy(), torch.zeros(1, 3, 4, 4), "branchy")
    assert g_meta.layers.equals(g_cpu.layers)
    assert np.array_equal(g_meta.edges, g_cpu.edges)


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            x = -x
        return self.relu(self.conv(x))


def test_hooks_fallback_gives_a_chain():
    g = layer_graph(Untraceable(), torch.ones(1, 3, 2, 2), "u")
    assert g.layers["op"].tolist() == ["conv", "relu"]
    assert g.is_chain and g.layers["weight_bytes"].tolist() == [(6 + 2) * 4, 0]


def test_from_chain_and_round_trip():
    g = LayerGraph.from_chain("toy", [0, 10, 20], [5, 6, 7], [1.0, 2.0, 3.0], 9, ops=["conv", "relu", "fc"])
    assert g.edges.tolist() == [[0, 1], [1, 2]] and g.is_chain
    assert g.total_weight_bytes == 30 and g.n_layers == 3
    assert g.layers["weight_bytes"].dtype == np.int64 and g.layers["flops"].dtype == np.float64
    g2 = LayerGraph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert g2.layers.equals(g.layers) and np.array_equal(g2.edges, g.edges) and g2.input_bytes == 9
    assert g.op_counts() == {"conv": 1, "fc": 1, "relu": 1}


def test_validation_names_the_problem():
    with pytest.raises(PlanningError, match="differ in length"):
        LayerGraph.from_chain("x", [1, 2], [1], [1.0, 2.0], 4)
    g = LayerGraph.from_chain("x", [1, 2], [1, 2], [1.0, 2.0], 4)
    with pytest.raises(PlanningError, match="topological order"):
        LayerGraph("x", g.layers, np.array([[1, 0]]), 4)
    with pytest.raises(PlanningError, match="outside"):
        LayerGraph("x", g.layers, np.array([[0, 5]]), 4)
    with pytest.raises(PlanningError, match="lacks columns"):
        LayerGraph("x", g.layers.drop(columns=["flops"]), g.edges, 4)
