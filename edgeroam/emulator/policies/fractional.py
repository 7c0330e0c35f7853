"""PerDNN's fractional migration (§IV.B.5): crowded servers send and receive only a budgeted prefix.

The crowded servers (the top x % by peak backhaul uplink in a first `perdnn` pass, chosen by the master) are
given in the view; a migration from or to one of them carries only the longest prefix of the future plan's
efficiency order within ``view.fraction_bytes``. The other servers migrate the whole set, as `perdnn`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans, migrate_to

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["FractionalPolicy"]


class FractionalPolicy:
    """PerDNN with a byte budget on migrations that touch a crowded server."""

    name = "fractional"
    everywhere = False
    needs_crowded = True

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, then (possibly cut) Migrate to the servers near each prediction."""
        return current_plans(view, tick) + migrate_to(view, tick, view.near_predicted, fractional=True)
