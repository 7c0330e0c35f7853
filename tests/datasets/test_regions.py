"""regions: presets, inclusive bounds, polygon masks, and the KAIST rectangle rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon

from edgeroam.datasets.regions import (
    GEOLIFE_BOX,
    KAIST_RECTANGLE,
    Region,
    filter_region,
    get_region,
    kaist_rectangle,
    region_mask,
)
from edgeroam.datasets.traces import make_traces
from edgeroam.errors import DatasetError


def _xy(x, y) -> pd.DataFrame:
    n = len(x)
    return make_traces(
        pd.DataFrame({"user": ["u"] * n, "traj": [0] * n, "t": np.arange(n, dtype=float), "x": x, "y": y}),
        metric_frame="local",
    )


def _ll(lon, lat) -> pd.DataFrame:
    n = len(lon)
    return make_traces(
        pd.DataFrame(
            {"user": ["u"] * n, "traj": [0] * n, "t": np.arange(n, dtype=float), "lon": lon, "lat": lat}
        )
    )


def test_geolife_preset_bounds_are_inclusive():
    r = get_region("perdnn-geolife")
    assert r.frame == "lonlat" and r.bounds == GEOLIFE_BOX
    lon0, lat0, lon1, lat1 = GEOLIFE_BOX
    lon = [lon0, lon1, lon0, lon1, (lon0 + lon1) / 2, np.nextafter(lon0, 0), lon1 + 1e-9, lon0]
    lat = [lat0, lat1, lat1, lat0, (lat0 + lat1) / 2, lat0, lat0, np.nextafter(lat1, 90)]
    assert region_mask(_ll(lon, lat), r).tolist() == [True] * 5 + [False] * 3


def test_metric_box_inclusive_and_nan_outside():
    r = get_region("metric:0,0,10,20")
    m = region_mask(_xy([0, 10, 10, 5, -0.001, 10.001, np.nan], [0, 20, 0, 10, 5, 5, 5]), r)
    assert m.tolist() == [True, True, True, True, False, False, False]


def test_polygon_region_includes_boundary():
    tri = Region("tri", "metric", Polygon([(0, 0), (10, 0), (0, 10)]))
    assert not tri.is_box
    m = region_mask(_xy([0, 5, 1, 6, 10], [0, 5, 1, 6, 0]), tri)
    assert m.tolist() == [True, True, True, False, True]


def test_lonlat_region_on_local_frame_is_a_clear_error():
    with pytest.raises(DatasetError, match="perdnn-geolife.*lat/lon"):
        region_mask(_xy([0.0], [0.0]), "perdnn-geolife")
    with pytest.raises(DatasetError, match="project"):
        region_mask(_ll([116.4], [39.9]), "perdnn-kaist")


def test_unknown_region_names_the_presets():
    with pytest.raises(DatasetError, match="unknown region 'nowhere'.*perdnn-geolife"):
        get_region("nowhere")
    with pytest.raises(DatasetError, match="empty box"):
        get_region("metric:5,0,1,1")


def test_filter_region_keeps_attrs_and_fails_when_empty():
    tr = _xy([0.0, 50.0, 5.0], [0.0, 50.0, 5.0])
    out = filter_region(tr, "metric:0,0,10,10")
    assert out["x"].tolist() == [0.0, 5.0] and out.attrs["metric_frame"] == "local"
    assert out.attrs["region"] == "metric:0,0,10,10"
    with pytest.raises(DatasetError, match="no point"):
        filter_region(tr, "metric:100,100,200,200")


def test_kaist_rule_finds_the_dense_block_both_orientations():
    rng = np.random.default_rng(0)
    # a dense 2000 x 1500 (wide) block at x 1000..3000, y 500..2000, plus sparse noise around
    x = np.r_[rng.uniform(1000, 3000, 5000), rng.uniform(-5000, 8000, 300)]
    y = np.r_[rng.uniform(500, 2000, 5000), rng.uniform(-5000, 8000, 300)]
    minx, miny, maxx, maxy = kaist_rectangle(_xy(x, y))
    assert (maxx - minx, maxy - miny) == (2000.0, 1500.0)
    assert abs(minx - 1000) <= 50 and abs(miny - 500) <= 50
    # a tall block picks the 1.5 x 2 orientation
    r = kaist_rectangle(_xy(y, x))
    assert (r[2] - r[0], r[3] - r[1]) == (1500.0, 2000.0)


def test_kaist_rule_matches_brute_force_and_breaks_ties():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 4000, 400)
    y = rng.uniform(0, 4000, 400)
    tr = _xy(x, y)
    got = kaist_rectangle(tr, step_m=250, short_m=1500, long_m=2000)
    best = None
    for order, (w, h) in enumerate(((1500, 2000), (2000, 1500))):
        for cy in np.arange(-2000, 4250, 250):
            for cx in np.arange(-2000, 4250, 250):
                n = int(((x >= cx) & (x < cx + w) & (y >= cy) & (y < cy + h)).sum())
                cand = (-n, order, cy, cx)
                if best is None or cand < best:
                    best = cand
                    box = (cx, cy, cx + w, cy + h)
    assert got == tuple(float(v) for v in box)
    # a single point: every window holding it ties; the rule picks 1.5x2, lowest y, then lowest x
    assert kaist_rectangle(_xy([0.0], [0.0])) == (-1450.0, -1950.0, 50.0, 50.0)


def test_stored_kaist_preset_is_a_1500_by_2000_box():
    r = get_region("perdnn-kaist")
    minx, miny, maxx, maxy = r.bounds
    assert r.frame == "metric" and r.bounds == KAIST_RECTANGLE
    assert (maxx - minx, maxy - miny) == (1500.0, 2000.0)
    assert r.to_dict()["width_m"] == 1500.0


@pytest.mark.slow
def test_kaist_rule_on_shared_data_gives_the_stored_rectangle(shared_traces):
    from edgeroam.datasets.kaist import read_kaist

    tr = read_kaist(shared_traces / "kaist")
    rect = kaist_rectangle(tr)
    print("perdnn-kaist rectangle:", rect)
    assert rect == KAIST_RECTANGLE
    assert get_region("perdnn-kaist", tr).bounds == KAIST_RECTANGLE
    inside = int(region_mask(tr, get_region("perdnn-kaist")).sum())
    assert 110_000 < inside < 135_055


@pytest.mark.slow
def test_geolife_box_holds_822603_points(shared_traces):
    from edgeroam.datasets.geolife import read_geolife

    tr = read_geolife(shared_traces / "geolife_perdnn_box.zip")
    assert int(region_mask(tr, "perdnn-geolife").sum()) == 822_603
    assert len(filter_region(tr, "perdnn-geolife")) == 822_603


def test_kaist_tie_goes_to_the_lowest_window_before_the_leftmost():
    # two lone points far apart: every window holding one of them ties at 1 point. The rule takes the lowest
    # lower edge first (point A at the origin), not the leftmost window (point B, 10 km left but 10 km up).
    tr = _xy([0.0, -10_000.0], [0.0, 10_000.0])
    assert kaist_rectangle(tr) == (-1450.0, -1950.0, 50.0, 50.0)
    # mirrored: B now lower and to the right, so it wins on y even though A is further left
    tr = _xy([0.0, 10_000.0], [0.0, -10_000.0])
    assert kaist_rectangle(tr) == (8550.0, -11950.0, 10_050.0, -9950.0)
