"""One resolver for seeds: None, an int, a SeedSequence or a Generator become a numpy Generator."""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "child_seeds"]

SeedLike = None | int | np.random.SeedSequence | np.random.Generator


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a numpy Generator for `seed` (a Generator is returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def child_seeds(seed: int, n: int) -> list[int]:
    """Derive `n` independent child seeds from a scenario seed (numpy SeedSequence spawning)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]
