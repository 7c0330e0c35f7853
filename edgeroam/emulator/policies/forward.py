"""PerDNN variants that go past the paper: forward-on-arrival relays and top-k targets (docs/reproductions/
beat-the-paper.md).

- ``perdnn-forward``: the migrations of PerDNN, but each one is a standing order until the next tick: the
  current server relays every planned layer to the targets as soon as it lands there (from the client's
  upload or from an earlier migration) instead of waiting for the next tick. It breaks PerDNN's miss cascade:
  a user who changes server every interval arrives where a miss left nothing to send, so PerDNN sends nothing
  ahead and the next server misses too. The backend carries the relays out (``relay = True``).
- ``perdnn-top<k>`` / ``perdnn-forward-top<k>``: only the k servers nearest to the predicted point (the
  current server counts among them) are targets, which cuts the bytes sent to servers the user rarely reaches.

What it leaves to others: executing the relay (the backend), the targets' order (the master's CSR, nearest
first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeroam.emulator.actions import Action
from edgeroam.emulator.policies.base import MasterView, current_plans, migrate_to

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["PerDNNForwardPolicy", "PerDNNTopKPolicy"]


class PerDNNTopKPolicy:
    """PerDNN's migration to the `top_k` servers nearest to the predicted point (all within r).

    Parameters
    ----------
    top_k : int or None
        Targets per user and tick (None: every server within r, i.e. `perdnn`).

    Examples
    --------
    >>> PerDNNTopKPolicy(2).name, PerDNNTopKPolicy(2).relay
    ('perdnn-top2', False)
    """

    relay = False
    everywhere = False
    base = "perdnn"

    def __init__(self, top_k: int | None = None) -> None:
        self.top_k = top_k

    @property
    def name(self) -> str:
        """Registry name: the base name plus ``-top<k>`` when k is set."""
        return self.base if self.top_k is None else f"{self.base}-top{self.top_k}"

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, then Migrate to the nearest `top_k` servers of each prediction."""
        return current_plans(view, tick) + migrate_to(view, tick, view.near_predicted, top_k=self.top_k,
                                                      relay=self.relay)


class PerDNNForwardPolicy(PerDNNTopKPolicy):
    """PerDNN with forward-on-arrival: the current server relays planned layers as soon as they land.

    Examples
    --------
    >>> PerDNNForwardPolicy().name, PerDNNForwardPolicy(3).name, PerDNNForwardPolicy().relay
    ('perdnn-forward', 'perdnn-forward-top3', True)
    """

    relay = True
    base = "perdnn-forward"
