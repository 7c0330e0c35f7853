"""A deterministic, seeded train/test split of a Traces table by user, with PerDNN's test sizes as presets.

Presets
-------
``perdnn-kaist``
    31 test users (PerDNN §IV.B). With the 92 shared KAIST traces (user = one participant-day file) this is
    31 test / 61 train.
``perdnn-geolife``
    138 test users out of the full dataset's 182. Our shared selection has only 121 users (those with a point
    in the Beijing box), so when the table has fewer than 182 users the preset keeps the paper's *ratio*
    138 / 182 ≈ 75.8 % and takes ``round(138 / 182 · n)`` test users (92 of 121), with a warning.

Users are sorted, shuffled with ``as_generator(seed)`` and the first k go to the test set; both lists are
returned sorted. Training the predictors is left to ``edgeroam.predictors``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from edgeroam._rng import as_generator
from edgeroam.errors import DatasetError

__all__ = ["SPLIT_PRESETS", "apply_split", "preset_test_users", "split_users"]

#: preset -> (test users in the paper, users in the paper's dataset or None when not stated)
SPLIT_PRESETS: dict[str, tuple[int, int | None]] = {
    "perdnn-kaist": (31, None),
    "perdnn-geolife": (138, 182),
}


def _users(traces_or_users: pd.DataFrame | list[str] | np.ndarray) -> list[str]:
    if isinstance(traces_or_users, pd.DataFrame):
        vals = traces_or_users["user"].unique()
    else:
        vals = np.unique(np.asarray(traces_or_users))
    return sorted(str(v) for v in vals)


def preset_test_users(name: str, n_users: int) -> int:
    """Number of test users the preset `name` gives for a table of `n_users` users (warns when scaled)."""
    if name not in SPLIT_PRESETS:
        raise DatasetError(f"unknown split preset {name!r}; known: {', '.join(sorted(SPLIT_PRESETS))}")
    k, total = SPLIT_PRESETS[name]
    if total is not None and n_users < total:
        scaled = int(round(k / total * n_users))
        warnings.warn(
            f"split preset {name!r}: the paper tests {k} of {total} users but this table has {n_users}; "
            f"using the paper's ratio {k / total:.3f} -> {scaled} test users",
            UserWarning,
            stacklevel=3,
        )
        return scaled
    if k >= n_users:
        raise DatasetError(f"split preset {name!r} needs more than {k} users, the table has {n_users}")
    return k


def split_users(
    traces: pd.DataFrame | list[str] | np.ndarray,
    *,
    test_users: int | float | str,
    seed: int | np.random.Generator | None,
) -> tuple[list[str], list[str]]:
    """Split users into (train, test), deterministically for a given seed.

    Parameters
    ----------
    traces : DataFrame or list of str
        A Traces table (its ``user`` column) or the user names.
    test_users : int, float or str
        A count (int), a fraction in (0, 1) (float; ``round(f · n)`` users), or a preset name
        (see `SPLIT_PRESETS`).
    seed : int or Generator
        Seed for `edgeroam._rng.as_generator`.

    Returns
    -------
    (train, test) : two sorted, disjoint lists of user names covering every user.

    Examples
    --------
    >>> split_users(["a", "b", "c", "d"], test_users=1, seed=0)[1]
    ['c']
    """
    users = _users(traces)
    n = len(users)
    if isinstance(test_users, str):
        k = preset_test_users(test_users, n)
    elif isinstance(test_users, float | np.floating) and not float(test_users).is_integer():
        if not 0.0 < test_users < 1.0:
            raise DatasetError(f"dataset.split.test_users: a fraction must be in (0, 1), got {test_users}")
        k = int(round(float(test_users) * n))
    else:
        k = int(test_users)
    if not 0 < k < n:
        raise DatasetError(f"dataset.split.test_users: {k} test users out of {n} leaves an empty train or "
                           "test set")
    perm = as_generator(seed).permutation(n)
    test = sorted(users[i] for i in perm[:k])
    train = sorted(users[i] for i in perm[k:])
    return train, test


def apply_split(traces: pd.DataFrame, train: list[str], test: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of `traces` of the train users and of the test users (attrs kept)."""
    user = traces["user"].astype(str)
    parts = []
    for names in (train, test):
        part = traces.loc[user.isin(names).to_numpy()].reset_index(drop=True)
        part.attrs = dict(traces.attrs)
        parts.append(part)
    return parts[0], parts[1]
