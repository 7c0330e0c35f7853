"""Synthetic mobility traces: a Levy walk with pauses and random waypoint, seeded and vectorized.

Levy walk (``kind="levy"``), after Rhee et al., "On the Levy-walk nature of human mobility" (INFOCOM 2008),
fitted in spirit to their KAIST statistics: flight lengths follow a truncated power law
``p(l) ∝ l^-(1+α)`` with α = 1.6 on [30 m, 1.5 km], pause times a truncated power law with α = 0.9 on
[30 s, 30 min], walking speed uniform in [0.8, 1.4] m/s, uniform direction; a flight that would leave the
area is reflected at its edges. Random waypoint (``kind="rwp"``): uniform destinations in the area, speed
uniform in [0.5, 1.5] m/s, pauses uniform in [0, 120] s.

Positions are in a local metric frame with the origin at the area's lower-left corner; lat/lon come from a
fixed azimuthal-equidistant projection centred on the KAIST campus (36.3721 N, 127.3604 E), so maps work.
t starts at 0 s (like KAIST's relative times). The replay and the scenario are left to other modules.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from edgeroam._rng import as_generator
from edgeroam.datasets.traces import make_traces
from edgeroam.errors import DatasetError

__all__ = ["LEVY_PARAMS", "RWP_PARAMS", "SYNTHETIC_ORIGIN", "synthetic_crs", "synthetic_traces"]

#: (lat, lon) of the area's centre used for lat/lon: the KAIST campus, Daejeon.
SYNTHETIC_ORIGIN = (36.3721, 127.3604)
LEVY_PARAMS = {
    "flight_alpha": 1.6,
    "flight_m": (30.0, 1500.0),
    "pause_alpha": 0.9,
    "pause_s": (30.0, 1800.0),
    "speed_mps": (0.8, 1.4),
}
RWP_PARAMS = {"speed_mps": (0.5, 1.5), "pause_s": (0.0, 120.0)}


def synthetic_crs(area_m: tuple[float, float] = (1500.0, 2000.0)) -> str:
    """The proj string of the synthetic frame: azimuthal equidistant around `SYNTHETIC_ORIGIN`, the area's
    centre at (width/2, height/2)."""
    lat0, lon0 = SYNTHETIC_ORIGIN
    w, h = area_m
    return (
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +x_0={w / 2:g} +y_0={h / 2:g} +datum=WGS84 +units=m +no_defs"
    )


def _truncated_power(rng: np.random.Generator, alpha: float, lo: float, hi: float, size) -> np.ndarray:
    """Samples of p(v) ∝ v^-(1+alpha) on [lo, hi] by inverse transform."""
    u = rng.random(size)
    a, b = lo**-alpha, hi**-alpha
    return (a - u * (a - b)) ** (-1.0 / alpha)


def _reflect(v: np.ndarray, size: float) -> np.ndarray:
    """Fold coordinates into [0, size] by mirror reflection at both edges."""
    period = 2.0 * size
    m = np.mod(v, period)
    return np.where(m > size, period - m, m)


def _legs(kind: str, rng: np.random.Generator, users: int, legs: int, area: tuple[float, float]):
    """Waypoints (users × legs+1 × 2), move durations and pause durations (users × legs)."""
    w, h = area
    start = rng.random((users, 1, 2)) * np.array([w, h])
    if kind == "levy":
        p = LEVY_PARAMS
        length = _truncated_power(rng, p["flight_alpha"], *p["flight_m"], (users, legs))
        theta = rng.uniform(0.0, 2.0 * np.pi, (users, legs))
        step = np.stack([length * np.cos(theta), length * np.sin(theta)], axis=-1)
        raw = start + np.cumsum(step, axis=1)
        pts = np.concatenate([start, np.stack([_reflect(raw[..., 0], w), _reflect(raw[..., 1], h)], -1)], 1)
        speed = rng.uniform(*p["speed_mps"], (users, legs))
        pause = _truncated_power(rng, p["pause_alpha"], *p["pause_s"], (users, legs))
    else:
        p = RWP_PARAMS
        dest = rng.random((users, legs, 2)) * np.array([w, h])
        pts = np.concatenate([start, dest], axis=1)
        length = np.linalg.norm(np.diff(pts, axis=1), axis=-1)
        speed = rng.uniform(*p["speed_mps"], (users, legs))
        pause = rng.uniform(*p["pause_s"], (users, legs))
    # straight-line distance between reflected waypoints: the walker moves along the chord at `speed`
    chord = np.linalg.norm(np.diff(pts, axis=1), axis=-1)
    move = chord / speed
    return pts, move, pause


def synthetic_traces(
    kind: Literal["levy", "rwp"] = "levy",
    users: int = 20,
    duration_s: float = 3600.0,
    interval_s: float = 30.0,
    area_m: tuple[float, float] = (1500.0, 2000.0),
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Generate a Traces table of `users` walkers sampled every `interval_s` for `duration_s`.

    Parameters
    ----------
    kind : {"levy", "rwp"}
        Levy walk with pauses, or random waypoint.
    users, duration_s, interval_s : int, float, float
        Walkers, length of the trace and sampling step (t = 0, interval_s, …, ≤ duration_s).
    area_m : (width, height)
        The rectangle [0, width] × [0, height] in metres that walkers stay in.
    seed : int or Generator
        Same seed, same table.

    Returns
    -------
    DataFrame
        Traces (users "syn_000", …; traj 0; x, y metres; lat, lon; attrs crs = `synthetic_crs(area_m)`,
        metric_frame "local", source "synthetic-<kind>").

    Examples
    --------
    >>> df = synthetic_traces(users=2, duration_s=60, seed=1)
    >>> len(df), sorted(df["user"].unique())
    (6, ['syn_000', 'syn_001'])
    """
    if kind not in ("levy", "rwp"):
        raise DatasetError(f"unknown synthetic kind {kind!r}; use 'levy' or 'rwp'")
    if users < 1 or not duration_s > 0 or not interval_s > 0:
        raise DatasetError(
            "synthetic: need users >= 1, duration_s > 0, interval_s > 0 "
            f"(got {users}, {duration_s}, {interval_s})"
        )
    w, h = (float(v) for v in area_m)
    if not (w > 0 and h > 0):
        raise DatasetError(f"synthetic: area_m must be positive, got {area_m}")
    rng = as_generator(seed)
    grid = np.arange(0.0, duration_s + 1e-9, interval_s)
    # enough legs that every walker outlasts duration_s (each leg takes at least its pause); extend if not
    legs = 16
    while True:
        pts, move, pause = _legs(kind, rng, users, legs, (w, h))
        # timeline per walker: leave p0 at 0, reach p1, pause, leave p1, ...; each walker starts at a random
        # phase within its first move and pause, so walkers do not all set off at t = 0
        seg = np.stack([move, pause], axis=-1).reshape(users, -1)
        times = np.concatenate([np.zeros((users, 1)), np.cumsum(seg, axis=1)], axis=1)
        phase = rng.random(users) * times[:, 2]
        if (times[:, -1] >= duration_s + phase).all():
            break
        legs *= 2
    # knots: leave p0 at 0, reach p1, leave p1, reach p2, ...; positions repeat over a pause
    knots = np.repeat(pts, 2, axis=1)[:, 1:, :]  # p0, p1, p1, p2, p2, ...
    knots = knots[:, : times.shape[1], :]
    x = np.empty((users, len(grid)))
    y = np.empty((users, len(grid)))
    for u in range(users):  # numpy per walker (np.interp has no batch axis)
        tq = grid + phase[u]
        x[u] = np.interp(tq, times[u], knots[u, :, 0])
        y[u] = np.interp(tq, times[u], knots[u, :, 1])
    names = [f"syn_{i:03d}" for i in range(users)]
    df = pd.DataFrame(
        {
            "user": pd.Categorical(np.repeat(names, len(grid)), categories=names),
            "traj": np.zeros(users * len(grid), dtype=np.int32),
            "t": np.tile(grid, users),
            "x": x.ravel(),
            "y": y.ravel(),
        }
    )
    crs = synthetic_crs((w, h))
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(df["x"].to_numpy(), df["y"].to_numpy())
    df["lat"] = lat
    df["lon"] = lon
    df = make_traces(df, crs=crs, source=f"synthetic-{kind}", metric_frame="local")
    df.attrs["synthetic"] = {
        "kind": kind,
        "users": users,
        "duration_s": float(duration_s),
        "interval_s": float(interval_s),
        "area_m": [w, h],
    }
    return df
