"""The IONN baseline: no proactive migration; the client uploads incrementally from scratch at every server.

Hit ratio 0 % by construction (PerDNN's "Baseline"): with ``from_scratch`` the backend drops a client's
layers from a server as soon as the client moves on, so even a return to a server starts from nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["IONNPolicy"]


class IONNPolicy:
    """Incremental upload at each new server, nothing sent between servers."""

    name = "ionn"
    everywhere = False
    from_scratch = True

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """Only the current plans of the users who arrived."""
        return current_plans(view, tick)
