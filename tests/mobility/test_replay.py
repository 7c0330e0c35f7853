"""Replay clock: exact handovers on hand-built trajectories, histories, users appearing and leaving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeroam.errors import DatasetError
from edgeroam.mobility.replay import Replay, VirtualClock, WallClock, handover_counts
from edgeroam.topology.hexgrid import HexGrid
from edgeroam.topology.servers import servers_visited

G = HexGrid(50.0)


def _cells_to_xy(cells):
    q = np.array([c[0] for c in cells])
    r = np.array([c[1] for c in cells])
    x, y = G.center(q, r)
    return x + 5.0, y - 3.0  # off-centre, still inside


def _table():
    # user a: cells (0,0) (0,0) (1,0) (1,0) (2,0) (1,0): 3 handovers, ticks 0..5
    ax, ay = _cells_to_xy([(0, 0), (0, 0), (1, 0), (1, 0), (2, 0), (1, 0)])
    # user b: appears at tick 2, cells (5,5) (5,5), leaves, comes back at tick 6 in (6,5) as a new trajectory
    bx, by = _cells_to_xy([(5, 5), (5, 5), (6, 5)])
    return pd.DataFrame(
        {
            "user": pd.Categorical(["a"] * 6 + ["b"] * 3),
            "traj": [0] * 6 + [0, 0, 1],
            "t": np.r_[np.arange(6) * 30.0, [60.0, 90.0, 180.0]] + 1000.0,
            "x": np.r_[ax, bx],
            "y": np.r_[ay, by],
        }
    )


def test_handovers_exact():
    tr = _table()
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=3)
    ticks = list(rep)
    assert [t.index for t in ticks] == [0, 1, 2, 3, 4, 5, 6]
    assert [t.time for t in ticks][:2] == [1000.0, 1030.0]
    ho = {(t.index, u): bool(h) for t in ticks for u, h in zip(t.user, t.handover, strict=True)}
    assert [ho[(k, "a")] for k in range(6)] == [False, False, True, False, True, True]
    assert [ho[(k, "b")] for k in (2, 3, 6)] == [False, False, False]  # b's return is a join, not a handover
    joined = {(t.index, u): bool(j) for t in ticks for u, j in zip(t.user, t.joined, strict=True)}
    assert joined[(0, "a")] and joined[(2, "b")] and joined[(6, "b")] and not joined[(3, "b")]
    assert handover_counts(rep).to_dict() == {"a": 3, "b": 0}
    assert sum(int(t.handover.sum()) for t in ticks) == 3


def test_tick_contents_and_history():
    tr = _table()
    servers = servers_visited(G, tr)
    rep = Replay(tr, G, servers, interval_s=30.0, history=3)
    t3 = rep.tick(3)
    assert t3.user.tolist() == ["a", "b"] and len(t3) == 2
    assert t3.history.shape == (2, 3, 2)
    a_xy = tr[tr["user"] == "a"][["x", "y"]].to_numpy()
    assert np.allclose(t3.history[0], a_xy[1:4])
    assert np.allclose(t3.history[0, -1], [t3.x[0], t3.y[0]])
    # b joined at tick 2: history padded with its first position, history_len says 2
    b_xy = tr[tr["user"] == "b"][["x", "y"]].to_numpy()
    assert t3.history_len.tolist() == [3, 2]
    assert np.allclose(t3.history[1], [b_xy[0], b_xy[0], b_xy[1]])
    assert (t3.server >= 0).all() and t3.prev_server.tolist() == t3.server.tolist()
    t6 = rep.tick(6)
    assert t6.user.tolist() == ["b"] and t6.prev_server.tolist() == [-1] and t6.history_len.tolist() == [1]
    assert len(rep) == 7 and rep.rows == 9
    with pytest.raises(IndexError):
        rep.tick(99)


def test_users_filter_and_without_servers():
    tr = _table()
    rep = Replay(tr, G, interval_s=30.0, users=["a"])
    assert rep.users.tolist() == ["a"]
    assert (np.concatenate([t.server for t in rep]) == -1).all()
    assert sum(int(t.handover.sum()) for t in rep) == 3  # cell changes
    s = rep.samples()
    assert len(s) == 6 and s["handover"].sum() == 3
    with pytest.raises(DatasetError):
        Replay(tr, G, interval_s=30.0, users=["zzz"])


def test_unaligned_times_snap_to_ticks_and_dedupe():
    tr = _table()
    tr.loc[1, "t"] += 0.4  # float noise
    extra = tr.iloc[[1]].copy()
    extra["t"] += 2.0  # second sample within the same tick: the last one wins
    extra["x"] += 1.0
    tr2 = pd.concat([tr.iloc[:2], extra, tr.iloc[2:]], ignore_index=True)
    rep = Replay(tr2, G, interval_s=30.0)
    t1 = rep.tick(1)
    assert t1.x[0] == pytest.approx(extra["x"].iloc[0])


def test_clocks():
    VirtualClock().wait_until(1e9)  # returns at once
    c = WallClock(speed=1e6)
    c.wait_until(0.0)
    c.wait_until(1.0)  # 1 s at 1e6 x = 1 µs
    rep = Replay(_table(), G, interval_s=30.0)
    assert [t.index for t in rep.run(VirtualClock(), skip_empty=False)] == list(range(7))


def test_samples_go_to_the_nearest_tick():
    # samples 29 s and 61 s after the first, with t = 30 s: they belong to ticks 1 and 2 (nearest), so the
    # user is seen on three consecutive ticks and the cell change at tick 2 is a handover
    x, y = _cells_to_xy([(0, 0), (0, 0), (1, 0)])
    tr = pd.DataFrame({"user": ["a"] * 3, "traj": 0, "t": [1000.0, 1029.0, 1061.0], "x": x, "y": y})
    rep = Replay(tr, G, interval_s=30.0, history=2)
    assert [t.index for t in rep] == [0, 1, 2]
    assert [bool(t.handover[0]) for t in rep] == [False, False, True]
    assert rep.tick(2).history_len.tolist() == [2]
    assert rep.samples()["tick"].tolist() == [0, 1, 2]


def test_a_new_trajectory_on_the_next_tick_is_a_join():
    # trajectory 0 on ticks 0-1 in cell (0,0), trajectory 1 right on tick 2 in cell (3,0): consecutive ticks,
    # but a new trajectory starts a new run (a join with no history), never a handover
    x, y = _cells_to_xy([(0, 0), (0, 0), (3, 0), (3, 0)])
    tr = pd.DataFrame({"user": ["a"] * 4, "traj": [0, 0, 1, 1], "t": np.arange(4) * 30.0, "x": x, "y": y})
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=3)
    ticks = list(rep)
    assert [bool(t.handover[0]) for t in ticks] == [False, False, False, False]
    assert [bool(t.joined[0]) for t in ticks] == [True, False, True, False]
    assert rep.tick(2).prev_server.tolist() == [-1] and rep.tick(3).history_len.tolist() == [2]
    assert handover_counts(rep).to_dict() == {"a": 0}


def test_samples_table_and_handover_counts_are_named():
    tr = _table()
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=3)
    s = rep.samples()
    assert list(s.columns) == ["user", "traj", "tick", "t", "x", "y", "cell", "server", "handover", "joined"]
    assert s["t"].tolist() == [1000.0 + 30.0 * k for k in [0, 1, 2, 3, 4, 5, 2, 3, 6]]
    assert s["traj"].tolist() == [0] * 8 + [1] and s["user"].astype(str).tolist() == ["a"] * 6 + ["b"] * 3
    np.testing.assert_allclose(s["x"], tr["x"])
    np.testing.assert_allclose(s["y"], tr["y"])
    assert s["cell"].tolist() == G.cell_ids_of(tr["x"].to_numpy(), tr["y"].to_numpy()).tolist()
    assert s["joined"].tolist() == [True] + [False] * 5 + [True, False, True]
    counts = handover_counts(rep)
    assert counts.name == "handovers" and counts.index.name == "user"
    t2 = rep.tick(2)
    assert t2.traj.tolist() == [0, 0] and t2.cell.tolist() == s["cell"].iloc[[2, 6]].tolist()
    with pytest.raises(IndexError, match=r"tick 7 out of range 0\.\.6"):
        rep.tick(7)
    with pytest.raises(IndexError, match=r"tick -1 out of range"):
        rep.tick(-1)


def test_without_servers_handovers_are_cell_changes_and_nan_rows_are_dropped():
    x, y = _cells_to_xy([(0, 0), (1, 0), (1, 0)])
    tr = pd.DataFrame({"user": ["a"] * 4, "traj": 0, "t": [0.0, 30.0, 45.0, 60.0],
                       "x": [x[0], x[1], np.nan, x[2]], "y": [y[0], y[1], 0.0, y[2]]})
    rep = Replay(tr, G, interval_s=30.0)
    ticks = list(rep)
    assert [t.index for t in ticks] == [0, 1, 2] and rep.rows == 3  # the NaN row is gone
    assert [bool(t.handover[0]) for t in ticks] == [False, True, False]
    assert [int(t.server[0]) for t in ticks] == [-1, -1, -1] and ticks[2].prev_server.tolist() == [-1]
    assert rep.history == 5 and ticks[2].history.shape == (1, 5, 2)  # default history
    with pytest.raises(DatasetError, match="interval_s must be > 0, got 0"):
        Replay(tr, G, interval_s=0)
    with pytest.raises(DatasetError, match="history must be >= 1, got 0"):
        Replay(tr, G, interval_s=30.0, history=0)
    assert Replay(tr, G, interval_s=0.5, history=1).history == 1  # small values are fine
    with pytest.raises(DatasetError, match="nothing to replay: no rows with finite x/y"):
        Replay(tr.assign(x=np.nan), G, interval_s=30.0)


def test_wall_clock_waits_for_replay_time(monkeypatch):
    import edgeroam.mobility.replay as replay

    now, slept = [100.0], []
    monkeypatch.setattr(replay._time, "monotonic", lambda: now[0])
    monkeypatch.setattr(replay._time, "sleep", lambda s: slept.append(s))
    c = WallClock(speed=2.0)
    c.wait_until(10.0)  # starts the clock: replay time 10 s is now
    now[0] = 101.0
    c.wait_until(14.0)  # 4 s of replay at speed 2 = 2 s after the start, 1 s of it passed
    c.wait_until(12.0)  # already past: no sleep
    assert slept == [1.0]
    assert WallClock().speed == 1.0
    seen = []
    tr = _table()
    rep = Replay(tr, G, interval_s=30.0)
    for t in rep.run(type("C", (), {"wait_until": lambda self, t: seen.append(t)})()):
        assert t.index * 30.0 == seen[-1]
    assert seen == [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]


def test_run_skips_the_empty_ticks_only_when_asked():
    # one user seen on ticks 0 and 3 (a gap of two empty ticks, then a new run)
    x, y = _cells_to_xy([(0, 0), (1, 0)])
    tr = pd.DataFrame({"user": ["a"] * 2, "traj": 0, "t": [0.0, 90.0], "x": x, "y": y})
    rep = Replay(tr, G, interval_s=30.0)
    assert [t.index for t in rep.run()] == [0, 3]  # skipping is the default
    assert [t.index for t in rep.run(skip_empty=True)] == [0, 3]
    every = list(rep.run(skip_empty=False))
    assert [t.index for t in every] == [0, 1, 2, 3] and [len(t) for t in every] == [1, 0, 0, 1]
    assert len(rep) == 2 and rep.n_ticks == 4 and rep.grid is G


def test_history_reaches_back_to_the_first_position_of_a_run():
    # the very first row of the table starts a run: at tick 2 the history holds all three positions
    x, y = _cells_to_xy([(0, 0), (1, 0), (2, 0)])
    tr = pd.DataFrame({"user": ["a"] * 3, "traj": 0, "t": [0.0, 30.0, 60.0], "x": x, "y": y})
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=5)
    t2 = rep.tick(2)
    assert t2.history_len.tolist() == [3]
    np.testing.assert_allclose(t2.history[0], np.c_[x[[0, 0, 0, 1, 2]], y[[0, 0, 0, 1, 2]]])
    assert rep.tick(0).prev_server.tolist() == [-1]  # a join has no previous server
    assert rep.tick(1).prev_server.tolist() == rep.tick(0).server.tolist()


def test_every_user_keeps_only_its_last_sample_of_a_tick():
    # user b (not the first user of the table) has two samples on tick 1: the later one is replayed
    ax, ay = _cells_to_xy([(0, 0), (0, 0)])
    bx, by = _cells_to_xy([(4, 0), (5, 0), (6, 0)])
    tr = pd.DataFrame({"user": ["a", "a", "b", "b", "b"], "traj": 0, "t": [0.0, 30.0, 0.0, 25.0, 35.0],
                       "x": np.r_[ax, bx], "y": np.r_[ay, by]})
    rep = Replay(tr, G, interval_s=30.0)
    s = rep.samples()
    assert s["user"].astype(str).tolist() == ["a", "a", "b", "b"] and rep.rows == 4
    assert s["x"].tolist() == [ax[0], ax[1], bx[0], bx[2]]


def test_integer_columns_give_float_positions_and_integer_ticks():
    # a plain table with integer coordinates, times and trajectories (int32) is replayed as floats and int64
    tr = pd.DataFrame({"user": ["a"] * 3, "traj": np.zeros(3, np.int32), "t": [0, 30, 60],
                       "x": [5, 60, 130], "y": [3, 3, 3]})
    rep = Replay(tr, G, interval_s=30.0)
    s = rep.samples()
    assert s["x"].dtype == np.float64 and s["y"].dtype == np.float64
    assert s["tick"].dtype == np.int64 and s["traj"].dtype == np.int64 and s["tick"].tolist() == [0, 1, 2]
    t1 = rep.tick(1)
    assert t1.x.dtype == np.float64 and t1.traj.dtype == np.int64 and t1.x.tolist() == [60.0]


def test_nothing_to_replay_says_so_in_one_line():
    tr = pd.DataFrame({"user": ["a"], "traj": 0, "t": [0.0], "x": [np.nan], "y": [0.0]})
    with pytest.raises(DatasetError) as err:
        Replay(tr, G, interval_s=30.0)
    assert str(err.value) == "nothing to replay: no rows with finite x/y for the selected users"


def _random_table(seed=3):
    """Users walking at random with gaps and new trajectories (some ticks empty, some crowded)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(7):
        t = np.sort(rng.choice(90, size=int(rng.integers(5, 20)), replace=False)) * 30.0
        traj = np.cumsum(rng.random(len(t)) < 0.15)
        xy = np.cumsum(rng.normal(0, 40, (len(t), 2)), axis=0)
        rows.append(pd.DataFrame({"user": f"u{u}", "traj": traj, "t": t, "x": xy[:, 0], "y": xy[:, 1]}))
    tr = pd.concat(rows, ignore_index=True)
    tr["user"] = tr["user"].astype("category")
    return tr


@pytest.mark.parametrize("skip_empty", [True, False])
def test_run_gives_the_ticks_one_by_one(skip_empty):
    tr = _random_table()
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=4)
    fast = list(rep.run(skip_empty=skip_empty))
    ks = rep.active_ticks if skip_empty else range(rep.n_ticks)
    slow = [rep.tick(k) for k in ks]
    assert len(fast) == len(slow) and any(len(t) == 0 for t in slow) != skip_empty
    for a, b in zip(fast, slow, strict=True):
        assert (a.index, a.time) == (b.index, b.time)
        for f in ("user", "user_code", "traj", "x", "y", "cell", "server", "prev_server", "handover",
                  "joined", "history", "history_len"):
            x, y = getattr(a, f), getattr(b, f)
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f


def test_steps_hold_every_tick_in_order():
    tr = _random_table()
    rep = Replay(tr, G, servers_visited(G, tr), interval_s=30.0, history=2)
    tick, every = rep.steps()
    ticks = list(rep)
    assert tick.tolist() == [t.index for t in ticks for _ in range(len(t))]
    assert np.array_equal(every.history, np.concatenate([t.history for t in ticks]))
    assert every.user.tolist() == [u for t in ticks for u in t.user] and np.isnan(every.time)
