"""PerDNN with a perfect predictor: migrate towards the true next location (an upper bound of prediction).

Comparing it with `perdnn` separates what prediction error costs from what migration itself costs. Where the
true next position is unknown (the user is not seen one interval later) nothing is migrated for that user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans, migrate_to

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["OraclePolicy"]


class OraclePolicy:
    """PerDNN's migration to every server within r of the *true* next location."""

    name = "oracle"
    everywhere = False

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, then Migrate to the servers near each true next position."""
        return current_plans(view, tick) + migrate_to(view, tick, view.near_actual)
