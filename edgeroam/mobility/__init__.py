"""Mobility: the replay clock over the test users, sliding windows for predictors, futile predictions."""

from edgeroam.mobility.futile import (
    PERDNN_INTERVALS,
    benefit_cost,
    benefit_cost_table,
    futile_counts,
    service_range_accuracy,
)
from edgeroam.mobility.replay import Clock, Replay, Tick, VirtualClock, WallClock, handover_counts
from edgeroam.mobility.windows import Windows, infer_interval, windows

__all__ = [
    "PERDNN_INTERVALS",
    "Clock",
    "Replay",
    "Tick",
    "VirtualClock",
    "WallClock",
    "Windows",
    "benefit_cost",
    "benefit_cost_table",
    "futile_counts",
    "handover_counts",
    "infer_interval",
    "service_range_accuracy",
    "windows",
]
