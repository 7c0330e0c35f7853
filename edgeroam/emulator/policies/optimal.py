"""The optimal bound: every server always holds every layer of every client (PerDNN's "Optimal", 100 % hits).

The backend sees ``everywhere = True`` and moves no layer; queries always run with the full current plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["OptimalPolicy"]


class OptimalPolicy:
    """All layers everywhere, nothing to migrate or upload."""

    name = "optimal"
    everywhere = True

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """Only the current plans (the layers are already there)."""
        return current_plans(view, tick)
