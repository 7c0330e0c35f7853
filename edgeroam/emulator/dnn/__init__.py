"""DNNs as movable layers: the model zoo, layer graphs, device profiles and the execution-time estimator.

Importing this package does not import torch; functions that need it import it when called.
"""

from edgeroam.emulator.dnn.graph import (
    BYTES_PER_ELEMENT,
    LAYER_COLUMNS,
    OPS,
    LayerGraph,
    caffe_layer_count,
    layer_graph,
)
from edgeroam.emulator.dnn.zoo import ALIASES, INPUT_SHAPES, ZOO, build_model, model_graph, resolve_name

__all__ = [
    "ALIASES",
    "BYTES_PER_ELEMENT",
    "INPUT_SHAPES",
    "LAYER_COLUMNS",
    "OPS",
    "ZOO",
    "LayerGraph",
    "build_model",
    "caffe_layer_count",
    "layer_graph",
    "model_graph",
    "resolve_name",
]
