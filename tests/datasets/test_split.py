"""split: deterministic, seeded, disjoint user splits and the PerDNN presets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.datasets.split import apply_split, preset_test_users, split_users
from edgeroam.datasets.traces import make_traces
from edgeroam.errors import DatasetError

USERS = [f"{i:03d}" for i in range(121)]


def test_same_seed_same_split_and_disjoint_cover():
    a = split_users(USERS, test_users=30, seed=7)
    b = split_users(list(reversed(USERS)), test_users=30, seed=7)
    assert a == b
    train, test = a
    assert len(test) == 30 and len(train) == 91
    assert not set(train) & set(test) and set(train) | set(test) == set(USERS)
    assert train == sorted(train) and test == sorted(test)


def test_different_seeds_differ():
    assert split_users(USERS, test_users=30, seed=1)[1] != split_users(USERS, test_users=30, seed=2)[1]


def test_fraction_and_generator_seed():
    train, test = split_users(USERS, test_users=0.25, seed=np.random.default_rng(0))
    assert len(test) == round(0.25 * 121)


def test_accepts_a_traces_table():
    df = make_traces(pd.DataFrame({"user": ["b", "a", "c", "a"], "traj": 0, "t": [0.0, 0.0, 0.0, 1.0]}))
    train, test = split_users(df, test_users=1, seed=0)
    assert sorted(train + test) == ["a", "b", "c"]
    tr, te = apply_split(df, train, test)
    assert len(tr) + len(te) == 4 and set(te["user"].astype(str)) == set(test)


def test_kaist_preset_is_31_of_92():
    users = [f"KAIST_{i:03d}" for i in range(1, 93)]
    train, test = split_users(users, test_users="perdnn-kaist", seed=7)
    assert (len(train), len(test)) == (61, 31)


def test_geolife_preset_scales_to_our_121_users_with_a_warning():
    with pytest.warns(UserWarning, match=r"138 of 182 .* 121; .* 0\.758 -> 92"):
        train, test = split_users(USERS, test_users="perdnn-geolife", seed=7)
    assert (len(train), len(test)) == (29, 92)
    # the full dataset gets exactly the paper's 138
    assert preset_test_users("perdnn-geolife", 182) == 138


def test_bad_requests_are_clear_errors():
    with pytest.raises(DatasetError, match="unknown split preset"):
        split_users(USERS, test_users="nope", seed=0)
    with pytest.raises(DatasetError, match="empty"):
        split_users(USERS, test_users=121, seed=0)
    with pytest.raises(DatasetError, match="fraction"):
        split_users(USERS, test_users=1.5, seed=0)
