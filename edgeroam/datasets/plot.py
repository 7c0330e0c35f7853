"""A map figure of a Traces table: one colour per user, trajectories as lines, the region outlined.

Uses matplotlib's object API with the Agg canvas (no global pyplot state). Computing statistics is left to
`stats`, topology figures to ``edgeroam.topology.export``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edgeroam._maps import km_axes, lonlat_axes
from edgeroam.datasets.regions import Region, get_region
from edgeroam.errors import DatasetError

__all__ = ["plot_traces", "traces_figure"]


def _columns(traces: pd.DataFrame, region: Region | None) -> tuple[str, str, str]:
    has_xy = bool(np.isfinite(traces["x"].to_numpy(dtype=float)).any())
    has_ll = bool(np.isfinite(traces["lon"].to_numpy(dtype=float)).any())
    if region is not None and region.frame == "lonlat" and has_ll:
        return "lon", "lat", "degrees"
    if has_xy:
        return "x", "y", "m"
    if has_ll:
        return "lon", "lat", "degrees"
    raise DatasetError("cannot plot: the traces have neither x/y nor lat/lon")


def plot_traces(
    traces: pd.DataFrame,
    path: str | Path,
    region: Region | str | None = None,
    *,
    title: str | None = None,
    max_points: int = 400_000,
    clip_to_region: bool = True,
) -> Path:
    """Draw the traces (`traces_figure`) to an image file (format from the suffix: .png, .svg, .pdf).

    Parameters
    ----------
    traces : DataFrame
        A Traces table; x, y are used when filled, else lon, lat (a lon/lat region forces lon, lat).
    path : path
        Output file; parent folders are created.
    region : Region or str, optional
        Outlined in black; with `clip_to_region` the view is the region plus a 10 % margin.
    max_points : int
        Longer tables are thinned evenly (every k-th sample) before drawing.

    Returns
    -------
    Path of the written file.
    """
    fig = traces_figure(traces, region, title=title, max_points=max_points, clip_to_region=clip_to_region)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def traces_figure(
    traces: pd.DataFrame,
    region: Region | str | None = None,
    *,
    title: str | None = None,
    max_points: int = 400_000,
    clip_to_region: bool = True,
):
    """The map of `plot_traces` as a matplotlib Figure: metric frames in km from the map's corner with the
    CRS named, lon/lat in degrees on WGS 84 (edgeroam._maps)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reg = None if region is None else get_region(region)
    cx, cy, unit = _columns(traces, reg)
    step = max(1, int(np.ceil(len(traces) / max_points)))
    df = traces.iloc[::step]
    fig = Figure(figsize=(7.5, 7.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    users = df["user"].cat.codes.to_numpy() if len(df) else np.zeros(0, int)
    traj = df["traj"].to_numpy()
    x = df[cx].to_numpy(dtype=float)
    y = df[cy].to_numpy(dtype=float)
    cmap = __import__("matplotlib").colormaps["tab20"]
    # one line per user, NaN breaks between trajectories
    if len(df):
        brk = np.r_[True, (users[1:] != users[:-1]) | (traj[1:] != traj[:-1])]
        starts = np.nonzero(np.r_[True, users[1:] != users[:-1]])[0]
        ends = np.r_[starts[1:], len(df)]
        for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
            cut = np.nonzero(brk[a:b])[0][1:]
            xs = np.insert(x[a:b], cut, np.nan)
            ys = np.insert(y[a:b], cut, np.nan)
            ax.plot(xs, ys, lw=0.6, alpha=0.8, color=cmap(k % 20))
    if reg is not None:
        rx, ry = reg.polygon.exterior.xy
        same_frame = (reg.frame == "lonlat") == (cx == "lon")
        if same_frame:
            ax.plot(rx, ry, color="black", lw=1.5, label=f"region {reg.name}")
            if clip_to_region:
                minx, miny, maxx, maxy = reg.bounds
                mx, my = 0.1 * (maxx - minx), 0.1 * (maxy - miny)
                ax.set_xlim(minx - mx, maxx + mx)
                ax.set_ylim(miny - my, maxy + my)
            ax.legend(loc="upper right", fontsize=8)
    ax.set_aspect(
        "equal" if unit == "m" else 1.0 / max(np.cos(np.radians(np.nanmedian(y) if len(y) else 0)), 0.1)
    )
    if unit == "m":
        if clip_to_region and reg is not None and reg.frame != "lonlat":
            corner = (reg.bounds[0], reg.bounds[1])
        else:
            corner = (float(np.nanmin(x)), float(np.nanmin(y))) if len(x) else (0.0, 0.0)
        km_axes(ax, corner, traces.attrs.get("crs"))
    else:
        lonlat_axes(ax)
    n_users = int(traces["user"].nunique())
    name = Path(str(traces.attrs.get("source") or "traces")).name
    ax.set_title(title or f"{name}: {n_users} users, {len(traces):,} points")
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig
