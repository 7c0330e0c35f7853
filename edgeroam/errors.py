"""The one exception tree of edgeroam.

Every error a user can cause is one of these; the CLI turns them into one red line and a non-zero exit.

    EdgeroamError
    ├── TraceFormatError       a trace file is malformed (names file, line, column)
    ├── DatasetError           a dataset root, zip or selection is unusable (names the path)
    ├── ScenarioError          a scenario file or --set override is invalid (names file and dotted key)
    ├── TopologyError          a cell, server or link is unknown or inconsistent (names the id)
    ├── PlanningError          a DNN model, profile or plan is invalid (names model/layer/device)
    ├── NotFittedError         a predictor is used before fit (also ValueError, AttributeError)
    ├── RunError               a run failed (names process, time and client)
    │   └── NetError           a net agent, peer or link failed (names the peer and frame seq)
    └── ProtocolError          a wire frame is malformed, forged, replayed or too large (names peer and seq)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DatasetError",
    "EdgeroamError",
    "NetError",
    "NotFittedError",
    "PlanningError",
    "ProtocolError",
    "RunError",
    "ScenarioError",
    "TopologyError",
    "TraceFormatError",
]


class EdgeroamError(Exception):
    """Root of every edgeroam error."""


class TraceFormatError(EdgeroamError):
    """A trace file is malformed; the message names the file and, where known, the line and column."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, column: str | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")


class DatasetError(EdgeroamError, ValueError):
    """A dataset root, archive or selection cannot be used (also a ValueError: it is about the input)."""


class ScenarioError(EdgeroamError):
    """A scenario file or override is invalid; names the file and the dotted key."""

    def __init__(self, path: str | Path | None, key: str | None, message: str):
        self.path = None if path is None else str(path)
        self.key = key
        self.message = message
        where = self.path or "scenario"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class TopologyError(EdgeroamError, ValueError):
    """A cell, server, link or grid parameter is unknown or inconsistent (also a ValueError)."""


class PlanningError(EdgeroamError):
    """A DNN model, profile or plan request is invalid."""


class NotFittedError(EdgeroamError, ValueError, AttributeError):
    """A predictor was used before `fit`."""


class RunError(EdgeroamError):
    """A run failed; names the process, simulated time and client."""


class NetError(RunError):
    """A net agent, peer or link failed; names the peer and, where known, the frame's seq."""


class ProtocolError(EdgeroamError):
    """A wire frame was rejected; `reason` is the counter it goes to (bad_mac, replay, oversize, ...)."""

    def __init__(self, reason: str, message: str, peer: str | None = None, seq: int | None = None):
        self.reason = reason
        self.peer = peer
        self.seq = seq
        where = f"frame from {peer}" if peer else "frame"
        if seq is not None:
            where += f" seq {seq}"
        super().__init__(f"{where}: {reason}: {message}")
