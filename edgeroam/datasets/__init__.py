"""Mobility traces: readers (Geolife, KAIST family, synthetic; your own tables, GPX tracks and SUMO
vehicle traces), the Traces table, regions, projection, resampling, user splits, the Parquet cache,
statistics and map figures.

Everything returns or consumes the Traces table of DESIGN.md §3 (see `edgeroam.datasets.traces`).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeroam.datasets.cache import cached_read
    from edgeroam.datasets.fetch import fetch_geolife, kaist_instructions
    from edgeroam.datasets.geolife import read_geolife, read_geolife_labels
    from edgeroam.datasets.gpx import read_gpx
    from edgeroam.datasets.kaist import KAIST_SITES, read_kaist
    from edgeroam.datasets.load import (
        DATASET_KINDS,
        DEFAULT_INTERVAL_S,
        DEFAULT_REGION,
        default_root,
        describe_dataset,
        load_dataset,
    )
    from edgeroam.datasets.plot import plot_traces
    from edgeroam.datasets.project import project, unproject, utm_crs_for
    from edgeroam.datasets.regions import (
        KAIST_RECTANGLE,
        REGION_PRESETS,
        Region,
        filter_region,
        get_region,
        kaist_rectangle,
        region_mask,
    )
    from edgeroam.datasets.resample import resample
    from edgeroam.datasets.split import SPLIT_PRESETS, apply_split, split_users
    from edgeroam.datasets.stats import PERDNN_MEAN_SPEED, dataset_info
    from edgeroam.datasets.sumo import read_fcd
    from edgeroam.datasets.synthetic import synthetic_traces
    from edgeroam.datasets.table import read_table
    from edgeroam.datasets.traces import TRACE_COLUMNS, make_traces, to_geodataframe, validate_traces

# name -> the submodule defining it; imported on first use, so that `import edgeroam.datasets.cache` (or the
# warm `datasets info`) does not pay for pandas, pyarrow, shapely and pyproj
_EXPORTS: dict[str, str] = {
    "cached_read": "cache",
    "fetch_geolife": "fetch",
    "kaist_instructions": "fetch",
    "read_geolife": "geolife",
    "read_geolife_labels": "geolife",
    "read_gpx": "gpx",
    "KAIST_SITES": "kaist",
    "read_kaist": "kaist",
    "DATASET_KINDS": "load",
    "DEFAULT_INTERVAL_S": "load",
    "DEFAULT_REGION": "load",
    "default_root": "load",
    "describe_dataset": "load",
    "load_dataset": "load",
    "plot_traces": "plot",
    "project": "project",
    "unproject": "project",
    "utm_crs_for": "project",
    "KAIST_RECTANGLE": "regions",
    "REGION_PRESETS": "regions",
    "Region": "regions",
    "filter_region": "regions",
    "get_region": "regions",
    "kaist_rectangle": "regions",
    "region_mask": "regions",
    "resample": "resample",
    "SPLIT_PRESETS": "split",
    "apply_split": "split",
    "split_users": "split",
    "PERDNN_MEAN_SPEED": "stats",
    "dataset_info": "stats",
    "read_fcd": "sumo",
    "synthetic_traces": "synthetic",
    "read_table": "table",
    "TRACE_COLUMNS": "traces",
    "make_traces": "traces",
    "to_geodataframe": "traces",
    "validate_traces": "traces",
}

__all__ = [
    "DATASET_KINDS",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_REGION",
    "KAIST_RECTANGLE",
    "KAIST_SITES",
    "PERDNN_MEAN_SPEED",
    "REGION_PRESETS",
    "SPLIT_PRESETS",
    "TRACE_COLUMNS",
    "Region",
    "apply_split",
    "cached_read",
    "dataset_info",
    "default_root",
    "describe_dataset",
    "fetch_geolife",
    "filter_region",
    "get_region",
    "kaist_instructions",
    "kaist_rectangle",
    "load_dataset",
    "make_traces",
    "plot_traces",
    "project",
    "read_fcd",
    "read_geolife",
    "read_geolife_labels",
    "read_gpx",
    "read_kaist",
    "read_table",
    "region_mask",
    "resample",
    "split_users",
    "synthetic_traces",
    "to_geodataframe",
    "unproject",
    "utm_crs_for",
    "validate_traces",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
