"""DNNs as movable layers: the model zoo, layer graphs, device profiles and the execution-time estimator.

Importing this package does not import torch; functions that need it import it when called.
"""

from edgeroam.emulator.dnn.devices import DEVICES, Device, get_device
from edgeroam.emulator.dnn.estimator import (
    EstimatorComparison,
    ExecutionTimeEstimator,
    compare_estimators,
    generate_load_dataset,
)
from edgeroam.emulator.dnn.graph import (
    BYTES_PER_ELEMENT,
    LAYER_COLUMNS,
    OPS,
    LayerGraph,
    caffe_layer_count,
    layer_graph,
)
from edgeroam.emulator.dnn.profiles import load_profile_csv, measure_profile, profile, profile_table
from edgeroam.emulator.dnn.zoo import (
    ALIASES,
    INPUT_SHAPES,
    PERDNN_TABLE1,
    ZOO,
    build_model,
    example_input,
    model_graph,
    model_info,
    resolve_name,
)

__all__ = [
    "ALIASES",
    "BYTES_PER_ELEMENT",
    "DEVICES",
    "INPUT_SHAPES",
    "LAYER_COLUMNS",
    "OPS",
    "PERDNN_TABLE1",
    "ZOO",
    "Device",
    "EstimatorComparison",
    "ExecutionTimeEstimator",
    "LayerGraph",
    "build_model",
    "caffe_layer_count",
    "compare_estimators",
    "example_input",
    "generate_load_dataset",
    "get_device",
    "layer_graph",
    "load_profile_csv",
    "measure_profile",
    "model_graph",
    "model_info",
    "profile",
    "profile_table",
    "resolve_name",
]
