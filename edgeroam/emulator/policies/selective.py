"""Selective forward-on-arrival: send layers ahead only to users predicted to leave their cell (docs/
reproductions/beat-the-paper.md).

``perdnn-forward`` breaks PerDNN's miss cascade but spends many backhaul bytes on targets the user never
reaches. About half of the ticks are futile (the user stays in its cell at the next tick), and a migration
made then is mostly wasted. The variants here keep the relay and pick fewer targets:

- ``perdnn-gated[-top<k>]`` (relay): no target at all when the prediction stays in the current server's
  cell (the nearest server to the predicted point is the current one); otherwise the `k` servers nearest to
  the predicted point other than the current one (every server within r when k is unset).
- ``perdnn-speed`` (relay): the same gate, and the number of targets set by the user's speed over the last
  interval: ``k_slow`` targets under ``v_split`` m/s, ``k_fast`` above (a fast user's prediction errs more).

The policies are pure: the speed comes from the tick's history, the gate from the master's list of servers
near the predicted point (nearest first). What it leaves to others: relaying (the backend, ``relay = True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgeroam.emulator.actions import Action, Migrate
from edgeroam.emulator.policies.base import MasterView, current_plans

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.mobility.replay import Tick

__all__ = ["GatedForwardPolicy", "SpeedForwardPolicy", "speeds"]


def speeds(tick: Tick, interval_s: float) -> np.ndarray:
    """Speed of each user over the last interval in m/s (0 where the history holds one position only).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> h = np.array([[[0.0, 0.0], [0.0, 0.0], [30.0, 40.0]]])
    >>> speeds(SimpleNamespace(history=h, history_len=np.array([3])), 10.0).tolist()
    [5.0]
    """
    h = np.asarray(tick.history, dtype=np.float64)
    if h.shape[1] < 2:
        return np.zeros(len(h))
    step = np.hypot(*(h[:, -1] - h[:, -2]).T) / float(interval_s)
    return np.where(np.asarray(tick.history_len) >= 2, step, 0.0)


class GatedForwardPolicy:
    """Forward-on-arrival to the `top_k` nearest servers of the prediction, for users predicted to move.

    Parameters
    ----------
    top_k : int or None
        Targets per moving user, the current server not counted (None: every server within r).

    Examples
    --------
    >>> GatedForwardPolicy().name, GatedForwardPolicy(2).name, GatedForwardPolicy().relay
    ('perdnn-gated', 'perdnn-gated-top2', True)
    """

    relay = True
    everywhere = False
    base = "perdnn-gated"

    gate = True

    def __init__(self, top_k: int | None = None) -> None:
        self.top_k = top_k

    @property
    def name(self) -> str:
        """Registry name: the base name plus ``-top<k>`` when k is set."""
        return self.base if self.top_k is None else f"{self.base}-top{self.top_k}"

    def budget(self, view: MasterView, tick: Tick) -> np.ndarray:
        """Targets per user (-1: no limit)."""
        return np.full(len(tick.server), -1 if self.top_k is None else self.top_k, np.int64)

    def decide(self, view: MasterView, tick: Tick) -> list[Action]:
        """SetPlan for arrivals, then relay orders to the chosen targets of each user predicted to move."""
        out = current_plans(view, tick)
        k_of = self.budget(view, tick)
        for i in np.flatnonzero(tick.server >= 0).tolist():
            src = int(tick.server[i])
            near = view.near_predicted(i)
            if len(near) == 0 or k_of[i] == 0 or (self.gate and int(near[0]) == src):
                continue  # predicted to stay (or nowhere): nothing goes ahead
            targets = [int(s) for s in near.tolist() if s != src]
            if k_of[i] > 0:
                targets = targets[: int(k_of[i])]
            client = int(tick.user_code[i])
            for dst in targets:
                entry = view.future_plan(dst)
                if entry.layers:
                    out.append(Migrate(client, src, dst, entry.layers, relay=True))
        return out


class SpeedForwardPolicy(GatedForwardPolicy):
    """`GatedForwardPolicy` with a target count by speed: `k_slow` under `v_split` m/s, else `k_fast`.

    The defaults were chosen on KAIST and on a split of the Geolife train users, never on the Geolife test
    users (docs/reproductions/beat-the-paper.md). The gate is off by default: it costs hits on both.

    Examples
    --------
    >>> p = SpeedForwardPolicy()
    >>> p.name, (p.k_slow, p.k_fast, p.v_split)
    ('perdnn-speed', (1, 2, 1.5))
    """

    base = "perdnn-speed"

    def __init__(self, k_slow: int = 1, k_fast: int = 2, v_split: float = 1.5, gate: bool = False) -> None:
        super().__init__(None)
        self.k_slow, self.k_fast, self.v_split = int(k_slow), int(k_fast), float(v_split)
        self.gate = bool(gate)

    @property
    def name(self) -> str:
        """Registry name."""
        return self.base

    def budget(self, view: MasterView, tick: Tick) -> np.ndarray:
        """`k_slow` or `k_fast` targets per user by speed over the last interval."""
        v = speeds(tick, view.interval_s)
        return np.where(v < self.v_split, self.k_slow, self.k_fast).astype(np.int64)
