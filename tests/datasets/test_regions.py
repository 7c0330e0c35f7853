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


def test_region_descriptions():
    d = get_region("metric:10,20,110,70").to_dict()
    assert d == {"name": "metric:10,20,110,70", "frame": "metric", "bounds": [10.0, 20.0, 110.0, 70.0],
                 "width_m": 100.0, "height_m": 50.0}
    ll = get_region("lonlat:116.3,39.9,116.4,39.95").to_dict()
    assert list(ll) == ["name", "frame", "bounds"] and ll["frame"] == "lonlat"
    kaist = get_region("perdnn-kaist").to_dict()
    assert kaist["note"].startswith("most-points 1.5 km x 2 km window") and kaist["height_m"] == 2000.0
    for bad in ("metric:0,0,0,5", "metric:0,5,10,5", "metric:0,0,10", "lonlat:a,b,c,d", "box:0,0,1,1", "x"):
        with pytest.raises(DatasetError, match="region") as info:
            get_region(bad)
        assert bad in str(info.value)
    with pytest.raises(DatasetError, match=r"use a preset \(perdnn-geolife, perdnn-kaist, synthetic\) or "
                       r"'lonlat:minlon,minlat,maxlon,maxlat' or 'metric:minx,miny,maxx,maxy'"):
        get_region("nowhere")


def test_kaist_rule_uses_the_given_traces_and_ignores_nan_rows():
    # 40 points in one 50 m cell at (1000, 1000), a few NaN rows and a half-NaN row far away
    x = np.r_[np.full(40, 1010.0), [np.nan, 9e6, np.nan]]
    y = np.r_[np.full(40, 1020.0), [np.nan, np.nan, 9e6]]
    tr = _xy(x, y)
    # the window holding the cell, lowest then leftmost: 1.5 x 2 km ending at the cell's far corner
    assert kaist_rectangle(tr) == (-450.0, -950.0, 1050.0, 1050.0)
    region = get_region("perdnn-kaist", tr)
    assert region.bounds == (-450.0, -950.0, 1050.0, 1050.0) and region.frame == "metric"
    assert region.name == "perdnn-kaist" and region.note == get_region("perdnn-kaist").note
    assert get_region("perdnn-kaist").bounds == KAIST_RECTANGLE  # without traces: the stored preset
    with pytest.raises(DatasetError, match="cannot derive the KAIST rectangle: the traces have no metric"):
        kaist_rectangle(_xy([np.nan, 1.0], [2.0, np.nan]))
    # counts, not presence: 3 points in one cell beat 2 in another 5 km away
    tr = _xy([0.0, 0.0, 0.0, 5000.0, 5000.0], [0.0, 0.0, 0.0, 5000.0, 5000.0])
    assert kaist_rectangle(tr) == (-1450.0, -1950.0, 50.0, 50.0)
    tr = _xy([0.0, 0.0, 5000.0, 5000.0, 5000.0], [0.0, 0.0, 5000.0, 5000.0, 5000.0])
    assert kaist_rectangle(tr) == (3550.0, 3050.0, 5050.0, 5050.0)


def test_masks_with_half_missing_coordinates_and_polygons():
    tr = _xy([5.0, np.nan, 5.0, 50.0], [5.0, 5.0, np.nan, 5.0])
    assert region_mask(tr, "metric:0,0,10,10").tolist() == [True, False, False, False]
    tri = Region(name="tri", frame="metric", polygon=Polygon([(0, 0), (10, 0), (0, 10)]))
    assert region_mask(tr, tri).tolist() == [True, False, False, False]
    with pytest.raises(DatasetError, match=r"region 'tri' needs metric x/y \(project the traces first\)"):
        region_mask(_xy([np.nan], [np.nan]), tri)
    with pytest.raises(DatasetError, match="region 'perdnn-geolife' needs lat/lon, but the traces have none"):
        region_mask(_xy([1.0], [1.0]), "perdnn-geolife")
    out = filter_region(_xy([50.0, 5.0, 6.0], [5.0, 5.0, 6.0]), "metric:0,0,10,10")
    assert out.index.tolist() == [0, 1] and out["x"].tolist() == [5.0, 6.0] and "index" not in out.columns


def test_a_polygon_mask_is_boolean_and_selects_rows():
    tr = _xy([1.0, 9.0, 2.0], [1.0, 9.0, np.nan])
    tri = Region(name="tri", frame="metric", polygon=Polygon([(0, 0), (10, 0), (0, 10)]))
    mask = region_mask(tr, tri)
    assert mask.dtype == bool and tr[mask]["x"].tolist() == [1.0]
    assert tr[~mask]["x"].tolist() == [9.0, 2.0]


def test_a_region_needs_both_coordinates():
    # x is there but y is missing everywhere: no row can be placed, so the region cannot be applied
    with pytest.raises(DatasetError, match=r"^region 'metric:0,0,10,10' needs metric x/y"):
        region_mask(_xy([1.0, 2.0], [np.nan, np.nan]), "metric:0,0,10,10")
    with pytest.raises(DatasetError) as err:
        kaist_rectangle(_xy([np.nan], [np.nan]))
    assert str(err.value) == "cannot derive the KAIST rectangle: the traces have no metric x/y"


def test_kaist_rule_is_1500_by_2000_metres_at_any_lattice_step():
    # on a 1.9 m lattice the window is the whole number of cells nearest to 1500 m by 2000 m
    tr = _xy([0.5, 0.5], [0.5, 0.5])
    minx, miny, maxx, maxy = kaist_rectangle(tr, step_m=1.9)
    assert (maxx - minx, maxy - miny) == pytest.approx((789 * 1.9, 1053 * 1.9))
    minx, miny, maxx, maxy = kaist_rectangle(tr, step_m=1.996)  # 2000 m: 1002.004 cells -> 1002
    assert (maxx - minx, maxy - miny) == pytest.approx((752 * 1.996, 1002 * 1.996))


def test_a_rectangle_of_one_by_two_cells():
    # 3 points in cell (0, 0), 2 in (0, 1), 4 in (5, 0) and (6, 0): the 1 x 2 windows hold 5 (tall, over
    # x = 0) and 4 (wide, over x = 250..350): tall wins; with 3 in (6, 0) the wide one holds 7 and wins
    x = [10.0] * 5 + [260.0] * 2 + [310.0] * 2
    y = [10.0] * 3 + [60.0] * 2 + [10.0] * 4
    assert kaist_rectangle(_xy(x, y), step_m=50.0, short_m=50.0, long_m=100.0) == (0.0, 0.0, 50.0, 100.0)
    tr = _xy(x + [310.0] * 3, y + [10.0] * 3)
    assert kaist_rectangle(tr, step_m=50.0, short_m=50.0, long_m=100.0) == (250.0, 0.0, 350.0, 50.0)


def test_box_mask_in_chunks_is_the_whole_arrays_test():
    from edgeroam.datasets._columns import TraceColumns

    rng = np.random.default_rng(2)
    n = 200_003  # several chunks, the last one short
    x = rng.uniform(-10, 110, n).round(1)
    y = rng.uniform(-10, 110, n).round(1)
    x[::97] = np.nan
    table = TraceColumns(np.zeros(n, np.int8), ["a"], {"x": x, "y": y}, {})
    got = region_mask(table, "metric:0,0,100,50")
    assert got.tolist() == ((x >= 0) & (x <= 100) & (y >= 0) & (y <= 50)).tolist()
    assert got.any() and (~got).any() and not got[::97].any()
    nowhere = TraceColumns(np.zeros(3, np.int8), ["a"], {"x": np.full(3, np.nan), "y": np.zeros(3)}, {})
    with pytest.raises(DatasetError, match="needs metric x/y"):
        region_mask(nowhere, "metric:0,0,1,1")
