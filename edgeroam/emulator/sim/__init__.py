"""The embedded `sim` backend: a discrete-event engine in virtual time, fluid flows and processor sharing."""

from edgeroam.emulator.sim.compute import JobRecord, PSServer
from edgeroam.emulator.sim.engine import (
    LATE,
    NORMAL,
    URGENT,
    Condition,
    Engine,
    Event,
    Interrupt,
    Process,
    Timeout,
)
from edgeroam.emulator.sim.fluid import (
    FlowRecord,
    FluidNetwork,
    Transfer,
    backhaul_links,
    max_min_rates,
    path_links,
)

__all__ = [
    "LATE",
    "NORMAL",
    "URGENT",
    "Condition",
    "Engine",
    "Event",
    "FlowRecord",
    "FluidNetwork",
    "Interrupt",
    "JobRecord",
    "PSServer",
    "Process",
    "Timeout",
    "Transfer",
    "backhaul_links",
    "max_min_rates",
    "path_links",
]
