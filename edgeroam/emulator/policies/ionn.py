"""The IONN baseline: no proactive migration; the client uploads incrementally from scratch at every server.

Hit ratio 0 % by construction (PerDNN's "Baseline"): a `Drop` tells every other server that holds the
client's layers to forget them as soon as the client moves on, so even a return to a server starts from
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action, Drop
from edgeroam.emulator.policies.base import MasterView, current_plans

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["IONNPolicy"]


class IONNPolicy:
    """Incremental upload at each new server, nothing sent between servers."""

    name = "ionn"
    everywhere = False

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """The current plans of the users who arrived; a Drop at every other server holding their layers."""
        out = current_plans(view, tick)
        for a in list(out):
            out.extend(Drop(a.client, s) for s in sorted(view.held_by(a.client) - {a.server}))
        return out
