"""Mobility: the replay clock over the test users, its time alignment, sliding windows for predictors, futile
predictions."""

from edgeroam.mobility.align import DAY_S, TIME_ALIGNS, align_traces, clients_of
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
    "DAY_S",
    "PERDNN_INTERVALS",
    "TIME_ALIGNS",
    "Clock",
    "Replay",
    "Tick",
    "VirtualClock",
    "WallClock",
    "Windows",
    "align_traces",
    "benefit_cost",
    "benefit_cost_table",
    "clients_of",
    "futile_counts",
    "handover_counts",
    "infer_interval",
    "service_range_accuracy",
    "windows",
]
