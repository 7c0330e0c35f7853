"""Time alignment: exact times and clients on hand-made multi-day traces, split before rename, no-op."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroam.datasets.split import split_users
from edgeroam.errors import DatasetError, ScenarioError
from edgeroam.mobility.align import DAY_S, align_traces, clients_of
from edgeroam.scenario import scenario_from_dict

D = DAY_S
# 2008-10-23 00:00 UTC (a Geolife day)
DAY0 = 1224720000.0


def _table() -> pd.DataFrame:
    """User a: traj 0 on day 0 at 10:00, traj 1 on day 2 at 09:00, traj 2 on day 2 at 23:59:20 (crosses
    midnight); user b: traj 5 on day 1 at 10:00:20."""
    rows = [
        ("a", 0, DAY0 + 10 * 3600 + np.arange(3) * 20.0),
        ("a", 1, DAY0 + 2 * D + 9 * 3600 + np.arange(2) * 20.0),
        ("a", 2, DAY0 + 2 * D + D - 40 + np.arange(4) * 20.0),
        ("b", 5, DAY0 + D + 10 * 3600 + 20 + np.arange(3) * 20.0),
    ]
    user = np.concatenate([[u] * len(t) for u, _, t in rows])
    traj = np.concatenate([[j] * len(t) for _, j, t in rows]).astype(np.int32)
    t = np.concatenate([t for _, _, t in rows])
    df = pd.DataFrame(
        {"user": pd.Categorical(user), "traj": traj, "t": t, "x": np.arange(len(t), dtype=float), "y": 0.0}
    )
    df.attrs["crs"] = "EPSG:32650"
    return df


def test_day_alignment_exact():
    out, owner = align_traces(_table(), "day")
    assert owner == {"a@2008-10-23": "a", "a@2008-10-25": "a", "b@2008-10-24": "b"}
    assert out.attrs == {"crs": "EPSG:32650"}
    assert isinstance(out["user"].dtype, pd.CategoricalDtype)
    clients = ["a@2008-10-23"] * 3 + ["a@2008-10-25"] * 6 + ["b@2008-10-24"] * 3
    assert out["user"].astype(str).tolist() == clients
    assert out["traj"].tolist() == [0] * 3 + [1] * 2 + [2] * 4 + [5] * 3
    expected = np.r_[
        DAY0 + 10 * 3600 + np.arange(3) * 20.0,
        DAY0 + 9 * 3600 + np.arange(2) * 20.0,
        DAY0 + D - 40 + np.arange(4) * 20.0,  # crosses midnight: continuous, runs into the next day
        DAY0 + 10 * 3600 + 20 + np.arange(3) * 20.0,
    ]
    np.testing.assert_array_equal(out["t"].to_numpy(), expected)
    # the other columns follow their rows
    np.testing.assert_array_equal(out["x"].to_numpy(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    # a's day-0 and b's day-1 trajectories now overlap in time
    a0 = out[out["user"] == "a@2008-10-23"]["t"]
    b1 = out[out["user"] == "b@2008-10-24"]["t"]
    assert b1.min() < a0.max()


def test_day_start_moves_the_boundary():
    # cut at 20:00 UTC: a's traj 2 (23:59:20 on day 2) belongs to the day that began at 20:00 on day 2
    out, owner = align_traces(_table(), "day", day_start_s=20 * 3600.0)
    # days (start - 20 h): a0 -> day0-1 (2008-10-22), a1 -> day 1 (2008-10-24), a2 -> day 2, b -> day 0
    assert owner == {"a@2008-10-22": "a", "a@2008-10-24": "a", "a@2008-10-25": "a", "b@2008-10-23": "b"}
    t0 = out.groupby("user", observed=True)["t"].min()
    ref = DAY0 - D
    assert t0["a@2008-10-22"] == DAY0 + 10 * 3600
    assert t0["a@2008-10-24"] == ref + D + 9 * 3600  # 09:00 comes after 20:00 in a window starting at 20:00
    assert t0["a@2008-10-25"] == ref + D - 40
    assert t0["b@2008-10-23"] == DAY0 + 10 * 3600 + 20


def test_start_alignment_exact():
    out, owner = align_traces(_table(), "start")
    assert owner == {"a#0": "a", "a#1": "a", "a#2": "a", "b#5": "b"}
    assert out["user"].astype(str).tolist() == ["a#0"] * 3 + ["a#1"] * 2 + ["a#2"] * 4 + ["b#5"] * 3
    starts = np.r_[np.arange(3), np.arange(2), np.arange(4), np.arange(3)] * 20.0
    np.testing.assert_array_equal(out["t"].to_numpy(), starts)


def test_absolute_is_a_no_op():
    tr = _table()
    out, owner = align_traces(tr, "absolute")
    assert out is tr
    assert owner == {"a": "a", "b": "b"}


def test_default_scenario_has_absolute_and_dumps_unchanged():
    sc = scenario_from_dict({"name": "x"})
    assert sc.dataset.time_align == "absolute"
    assert sc.dataset.day_start_h == 0.0
    # left out of the resolved dict at the default: run hashes from before the option are unchanged
    assert "time_align" not in sc.model_dump(mode="json")["dataset"]
    sd = scenario_from_dict({"name": "x"}, overrides=["dataset.time_align=day", "dataset.day_start_h=20"])
    dumped = sd.model_dump(mode="json")
    assert dumped["dataset"]["time_align"] == "day" and dumped["dataset"]["day_start_h"] == 20.0
    assert scenario_from_dict(dumped) == sd
    with pytest.raises(ScenarioError, match="dataset.time_align"):
        scenario_from_dict({"name": "x"}, overrides=["dataset.time_align=week"])


def test_bad_arguments():
    with pytest.raises(DatasetError, match="one of"):
        align_traces(_table(), "week")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="day_start_s"):
        align_traces(_table(), "day", day_start_s=D)
    with pytest.raises(DatasetError, match="traj"):
        align_traces(_table().drop(columns="traj"), "day")


@st.composite
def _tables(draw):
    n_users = draw(st.integers(2, 6))
    parts = []
    for u in range(n_users):
        t = DAY0
        for j in range(draw(st.integers(1, 4))):
            t += draw(st.floats(60.0, 5 * D))
            n = draw(st.integers(1, 5))
            parts.append(pd.DataFrame({"user": f"u{u}", "traj": j, "t": t + np.arange(n) * 20.0}))
            t += n * 20.0
    df = pd.concat(parts, ignore_index=True)
    df["x"] = np.arange(len(df), dtype=float)
    df["y"] = 0.0
    return df


@settings(max_examples=60, deadline=None)
@given(_tables(), st.sampled_from(["day", "start"]), st.integers(0, 10))
def test_split_before_rename(tr, mode, seed):
    users = sorted(tr["user"].unique())
    train, test = split_users(users, test_users=1, seed=seed)
    out, owner = align_traces(tr, mode)
    ctrain, ctest = clients_of(owner, train), clients_of(owner, test)
    # no real user on both sides, every client on one side
    assert {owner[c] for c in ctrain}.isdisjoint({owner[c] for c in ctest})
    assert sorted(ctrain + ctest) == sorted(out["user"].astype(str).unique())
    # same rows per real user, durations kept inside each trajectory
    real = out["user"].astype(str).map(owner)
    assert real.value_counts().sort_index().to_dict() == tr["user"].value_counts().sort_index().to_dict()
    by_x = out.set_index("x")["t"]
    orig = tr.set_index("x")["t"]
    d_out = by_x.loc[tr["x"]].to_numpy() - orig.to_numpy()
    shift = pd.Series(d_out).groupby([tr["user"].to_numpy(), tr["traj"].to_numpy()]).nunique()
    assert (shift == 1).all()
    if mode == "day":
        assert np.all(np.mod(d_out, D) == 0)


def test_load_world_splits_by_real_user(monkeypatch):
    """load_world: split on the real users, then rename; the replayed clients are the test users' days."""
    import edgeroam.datasets.load as load_mod
    from edgeroam.world import load_world

    tr = _table()
    monkeypatch.setattr(load_mod, "load_dataset", lambda *a, **k: tr.copy())
    dataset = {"kind": "synthetic", "interval_s": 20, "split": {"test_users": 1, "seed": 3}}
    base = {"name": "x", "dataset": dataset}
    w0 = load_world(scenario_from_dict(base))
    wd = load_world(scenario_from_dict(base, overrides=["dataset.time_align=day"]))
    assert w0.extra == {}
    pd.testing.assert_frame_equal(w0.traces, tr)
    owner = wd.extra["real_user"]
    assert sorted({owner[c] for c in wd.test_users}) == w0.test_users
    assert sorted({owner[c] for c in wd.train_users}) == w0.train_users
    assert set(wd.test_traces["user"].astype(str)) == set(wd.test_users)
    assert len(wd.traces) == len(tr)


@pytest.mark.slow
def test_geolife_day_alignment_overlaps_users(shared_traces):
    """Real Geolife (PerDNN box): the day alignment keeps every row, splits by real user and makes users
    concurrent (about one active test user per tick on absolute time, over 20 after alignment)."""
    from pathlib import Path

    from edgeroam.scenario import load_scenario
    from edgeroam.world import load_world

    path = Path(__file__).resolve().parents[2] / "scenarios" / "perdnn-geolife.toml"
    w0 = load_world(load_scenario(path))
    wd = load_world(load_scenario(path, ["dataset.time_align=day"]))
    owner = wd.extra["real_user"]
    assert sorted({owner[c] for c in wd.test_users}) == w0.test_users
    assert sorted({owner[c] for c in wd.train_users}) == w0.train_users
    assert len(wd.traces) == len(w0.traces)
    assert len(wd.test_users) > len(w0.test_users)
    span = wd.traces["t"].max() - wd.traces["t"].min()
    assert span < 2 * DAY_S

    def active(w):
        return w.test_traces.groupby(np.round(w.test_traces["t"] / 20.0)).size().mean()

    assert active(w0) < 2 < 20 < active(wd)
