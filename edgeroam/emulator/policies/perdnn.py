"""PerDNN's proactive migration (§III.B, §IV.B.3): predict, then send the future plan's layers ahead.

Each interval, for each user: the servers within r of the predicted next position receive, from the user's
current server, the server-side layers of their future plan (made with their current load) in efficiency
order. The backend sends only what the source holds and the destination lacks, and refreshes the TTL of
what is already there. What happens on arrival (the current plan, the client's upload) is `current_plans`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans, migrate_to

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["PerDNNPolicy"]


class PerDNNPolicy:
    """Proactive migration to every server within r of the predicted location.

    Examples
    --------
    >>> PerDNNPolicy().name, PerDNNPolicy().everywhere
    ('perdnn', False)
    """

    name = "perdnn"
    everywhere = False

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, then Migrate to the servers near each prediction."""
        return current_plans(view, tick) + migrate_to(view, tick, view.near_predicted)
