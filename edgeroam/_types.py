"""Names for the vocabulary types used across edgeroam."""

from __future__ import annotations

from typing import NewType

__all__ = ["CellId", "Metres", "Seconds", "ServerId"]

CellId = NewType("CellId", int)
ServerId = NewType("ServerId", int)
Seconds = float
Metres = float
