"""HexGrid: point -> cell round trips, neighbours, rings, distances, the within-r query; both orientations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroam.errors import TopologyError
from edgeroam.topology.hexgrid import AXIAL_DIRECTIONS, HexGrid, cell_id, unpack_cell_id

ORIENTS = ["pointy", "flat"]


def _grid(orientation: str) -> HexGrid:
    return HexGrid(radius=50.0, origin=(123.4, -56.7), orientation=orientation)


@pytest.mark.parametrize("orientation", ORIENTS)
def test_centre_maps_to_its_cell(orientation):
    g = _grid(orientation)
    q, r = np.meshgrid(np.arange(-20, 21), np.arange(-20, 21))
    q, r = q.ravel(), r.ravel()
    x, y = g.center(q, r)
    q2, r2 = g.cell_of(x, y)
    assert np.array_equal(q, q2) and np.array_equal(r, r2)


@pytest.mark.parametrize("orientation", ORIENTS)
def test_random_points_map_to_nearest_centre(orientation):
    g = _grid(orientation)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1000, 1000, 5000) + g.origin[0]
    y = rng.uniform(-1000, 1000, 5000) + g.origin[1]
    q, r = g.cell_of(x, y)
    # brute force: nearest centre among a big block of cells (Voronoi cell of a hex lattice = the hexagon)
    bq, br = np.meshgrid(np.arange(-20, 21), np.arange(-20, 21))
    bq, br = bq.ravel(), br.ravel()
    cx, cy = g.center(bq, br)
    d = np.hypot(x[:, None] - cx[None, :], y[:, None] - cy[None, :])
    best = d.argmin(axis=1)
    dmin = d[np.arange(len(x)), best]
    mx, my = g.center(q, r)
    dours = np.hypot(x - mx, y - my)
    assert np.allclose(dours, dmin, atol=1e-9)  # ties on cell edges may pick either side
    clear = np.sort(d, axis=1)[:, 1] - dmin > 1e-6
    assert np.array_equal(q[clear], bq[best][clear]) and np.array_equal(r[clear], br[best][clear])


@pytest.mark.parametrize("orientation", ORIENTS)
def test_point_lies_in_its_polygon(orientation):
    g = _grid(orientation)
    rng = np.random.default_rng(1)
    x = rng.uniform(-300, 300, 300) + g.origin[0]
    y = rng.uniform(-300, 300, 300) + g.origin[1]
    q, r = g.cell_of(x, y)
    polys = g.polygon(q, r)
    assert shapely.intersects_xy(polys, x, y).all()
    assert math.isclose(g.polygon(0, 0).area, g.cell_area, rel_tol=1e-9)


@pytest.mark.parametrize("orientation", ORIENTS)
def test_neighbours_are_adjacent_centres(orientation):
    g = _grid(orientation)
    nq, nr = g.neighbours(3, -2)
    assert len(set(zip(nq.tolist(), nr.tolist(), strict=True))) == 6
    cx, cy = g.center(3, -2)
    nx_, ny_ = g.center(nq, nr)
    assert np.allclose(np.hypot(nx_ - cx, ny_ - cy), g.spacing)
    assert (g.distance(3, -2, nq, nr) == 1).all()
    # neighbour polygons share an edge with the cell
    p = g.polygon(3, -2)
    for poly in g.polygon(nq, nr):
        assert math.isclose(p.exterior.intersection(poly.buffer(1e-6)).length, g.radius, rel_tol=1e-3)


@pytest.mark.parametrize("orientation", ORIENTS)
def test_distance_matches_bfs_steps(orientation):
    g = _grid(orientation)
    # BFS over the neighbour relation from (0, 0)
    dist = {(0, 0): 0}
    frontier = [(0, 0)]
    for step in range(1, 6):
        nxt = []
        for q, r in frontier:
            for dq, dr in AXIAL_DIRECTIONS.tolist():
                c = (q + dq, r + dr)
                if c not in dist:
                    dist[c] = step
                    nxt.append(c)
        frontier = nxt
    cells = np.array(list(dist))
    assert np.array_equal(g.distance(0, 0, cells[:, 0], cells[:, 1]), np.array(list(dist.values())))


def test_ring_and_disk():
    for k in range(0, 5):
        q, r = HexGrid.ring(k, 2, -1)
        assert len(q) == max(1, 6 * k)
        assert len(set(zip(q.tolist(), r.tolist(), strict=True))) == len(q)
        assert (HexGrid.distance(2, -1, q, r) == k).all()
        if k:  # the ring is a closed walk of unit steps
            steps = HexGrid.distance(q, r, np.roll(q, -1), np.roll(r, -1))
            assert (steps == 1).all()
        dq, dr = HexGrid.disk(k, 2, -1)
        assert len(dq) == 1 + 3 * k * (k + 1)
        assert (HexGrid.distance(2, -1, dq, dr) <= k).all()
    with pytest.raises(ValueError):
        HexGrid.ring(-1)


@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_cell_id_round_trip(q, r):
    c = cell_id(q, r)
    assert unpack_cell_id(c) == (q, r)


def test_cell_id_vectorized_and_distinct():
    q, r = HexGrid.disk(6)
    ids = cell_id(q, r)
    assert ids.dtype == np.int64 and len(np.unique(ids)) == len(ids)
    q2, r2 = unpack_cell_id(ids)
    assert np.array_equal(q, q2) and np.array_equal(r, r2)


@pytest.mark.parametrize("orientation", ORIENTS)
@pytest.mark.parametrize("r_m", [0.0, 30.0, 50.0, 100.0, 180.0])
def test_cells_within_equals_brute_force(orientation, r_m):
    g = _grid(orientation)
    rng = np.random.default_rng(2)
    x = rng.uniform(-500, 500, 400) + g.origin[0]
    y = rng.uniform(-500, 500, 400) + g.origin[1]
    offsets, cells, dist = g.cells_within(x, y, r_m, chunk=97)  # small chunks exercise the chunking
    bq, br = np.meshgrid(np.arange(-15, 16), np.arange(-15, 16))
    bq, br = bq.ravel(), br.ravel()
    cx, cy = g.center(bq, br)
    bid = cell_id(bq, br)
    assert len(offsets) == len(x) + 1
    for i in range(len(x)):
        d = np.hypot(cx - x[i], cy - y[i])
        want = set(bid[d <= r_m].tolist())
        got = cells[offsets[i] : offsets[i + 1]]
        assert set(got.tolist()) == want
        seg = dist[offsets[i] : offsets[i + 1]]
        assert (np.diff(seg) >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-1e5, 1e5),
    st.floats(-1e5, 1e5),
    st.floats(0, 300),
    st.sampled_from(ORIENTS),
)
def test_cells_within_property(x, y, r_m, orientation):
    g = HexGrid(40.0, (0.0, 0.0), orientation)
    offsets, cells, dist = g.cells_within([x], [y], r_m)
    q0, r0 = g.cell_of([x], [y])
    k = int(r_m // (1.5 * 40.0)) + 3
    bq, br = HexGrid.disk(k, int(q0[0]), int(r0[0]))
    cx, cy = g.center(bq, br)
    want = set(cell_id(bq, br)[np.hypot(cx - x, cy - y) <= r_m].tolist())
    assert set(cells.tolist()) == want


def test_invalid_grid_and_nan():
    with pytest.raises(ValueError):
        HexGrid(radius=0)
    with pytest.raises(ValueError):
        HexGrid(orientation="round")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HexGrid().cell_of([np.nan], [0.0])


def test_cells_covering_contains_box_cells():
    g = HexGrid(50.0)
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1000, 2000)
    y = rng.uniform(0, 700, 2000)
    q, r = g.cells_covering(0, 0, 1000, 700)
    have = set(cell_id(q, r).tolist())
    assert set(g.cell_ids_of(x, y).tolist()) <= have


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_cells_covering_holds_every_cell_touching_the_box(orientation):
    """Brute force: every cell whose hexagon overlaps the box (on any of its four sides) is listed."""
    g = HexGrid(50.0, origin=(3.0, -7.0), orientation=orientation)
    rng = np.random.default_rng(11)
    q, r = np.meshgrid(np.arange(-30, 31), np.arange(-30, 31), indexing="ij")
    q, r = q.ravel(), r.ravel()
    polys = g.polygon(q, r)
    for _ in range(40):
        minx, miny = rng.uniform(-400, 200, 2)
        maxx, maxy = minx + rng.uniform(1, 400), miny + rng.uniform(1, 400)
        touching = shapely.intersects(polys, shapely.box(minx, miny, maxx, maxy))
        got = set(cell_id(*g.cells_covering(minx, miny, maxx, maxy)).tolist())
        assert set(cell_id(q[touching], r[touching]).tolist()) <= got


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_cells_covering_is_exactly_the_centres_within_r_of_the_box(orientation):
    g = HexGrid(50.0, origin=(3.0, -7.0), orientation=orientation)
    q, r = np.meshgrid(np.arange(-40, 41), np.arange(-40, 41), indexing="ij")
    q, r = q.ravel(), r.ravel()
    cx, cy = g.center(q, r)
    rng = np.random.default_rng(5)
    for _ in range(30):
        minx, miny = rng.uniform(-600, 300, 2)
        maxx, maxy = minx + rng.uniform(1, 500), miny + rng.uniform(1, 500)
        inside = (cx >= minx - 50) & (cx <= maxx + 50) & (cy >= miny - 50) & (cy <= maxy + 50)
        got_q, got_r = g.cells_covering(minx, miny, maxx, maxy)
        assert got_q.dtype == np.int64 and got_r.dtype == np.int64
        assert sorted(cell_id(got_q, got_r).tolist()) == sorted(cell_id(q[inside], r[inside]).tolist())


def test_cells_covering_includes_centres_exactly_on_the_padded_edge():
    # flat hexes of R = 50: centres of row r = 0 at x = 75 q, y = 86.6 q; a box from x = 200 reaches the
    # centre x = 150 (q = 2) exactly at its padded edge, and one up to x = 250 the centre x = 300 (q = 4)
    g = HexGrid(50.0, orientation="flat")
    qs, rs = g.cells_covering(200.0, -1000.0, 250.0, 1000.0)
    assert {2, 3, 4} <= set(qs.tolist()) and min(qs.tolist()) == 2 and max(qs.tolist()) == 4
    # pointy hexes: row y = 75 r, so a box from y = 125 to 175 reaches rows r = 1 (y = 75) to 3 (y = 225)
    rs_pointy = HexGrid(50.0).cells_covering(-10.0, 125.0, 10.0, 175.0)[1]
    assert sorted(set(rs_pointy.tolist())) == [1, 2, 3]


def test_scalars_stay_python_ints_and_arrays_int64():
    assert cell_id(3, -2) == (3 << 32) | ((-2) & 0xFFFFFFFF) and isinstance(cell_id(3, -2), int)
    ids = cell_id(np.array([3, -1]), np.array([-2, 5]))
    assert ids.dtype == np.int64 and unpack_cell_id(ids)[1].dtype == np.int64
    assert unpack_cell_id(cell_id(-7, -9)) == (-7, -9) and isinstance(unpack_cell_id(cell_id(1, 2))[0], int)
    d = HexGrid.distance(np.array([0, 3]), np.array([0, -1]), np.array([1, 0]), np.array([0, 0]))
    assert d.dtype == np.int64 and d.tolist() == [1, 3]
    assert isinstance(HexGrid.distance(0, 0, 2, -1), int) and HexGrid.distance(0, 0, -3, 1) == 3
    q, r = HexGrid.ring(0, 4, -5)
    assert (q.tolist(), r.tolist(), q.dtype, r.dtype) == ([4], [-5], np.int64, np.int64)
    q, r = HexGrid.ring(2, 4, -5)  # default centre elsewhere: every cell 2 away from (4, -5)
    assert set(HexGrid.distance(q, r, 4, -5).tolist()) == {2} and q.dtype == np.int64
    assert HexGrid.ring(1)[0].tolist() == HexGrid.ring(1, 0, 0)[0].tolist()
    g = HexGrid(50.0, origin=(1, 2))
    assert g.origin == (1.0, 2.0) and isinstance(g.origin[0], float)
    qq, rr = g.cell_of([1.0], [2.0])
    assert (qq.tolist(), rr.tolist(), qq.dtype, rr.dtype) == ([0], [0], np.int64, np.int64)


def test_corners_start_at_30_degrees_and_go_counter_clockwise():
    pointy = HexGrid(50.0).corners(0, 0)[0]
    np.testing.assert_allclose(pointy[0], [50 * math.cos(math.pi / 6), 25.0], atol=1e-9)
    np.testing.assert_allclose(pointy[1], [0.0, 50.0], atol=1e-9)  # the corner on top
    assert pointy.shape == (6, 2)
    flat = HexGrid(50.0, orientation="flat", origin=(10.0, 0.0)).corners(0, 0)[0]
    np.testing.assert_allclose(flat[0], [60.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(flat[1], [10.0 + 25.0, 50 * math.sin(math.pi / 3)], atol=1e-9)
    g = HexGrid(50.0)
    assert g.polygon(0, 0).geom_type == "Polygon"
    assert len(g.polygon(np.array([0]), 0)) == 1 and len(g.polygon(0, np.array([0, 1]))) == 2


def test_error_messages_name_the_value():
    with pytest.raises(TopologyError, match=r"radius must be a positive number of metres, got -0\.5"):
        HexGrid(radius=-0.5)
    with pytest.raises(TopologyError, match="orientation must be 'pointy' or 'flat', got 'round'"):
        HexGrid(orientation="round")  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="ring radius must be >= 0, got -1"):
        HexGrid.ring(-1)
    with pytest.raises(TopologyError, match="disk radius must be >= 0, got -2"):
        HexGrid.disk(-2)
    with pytest.raises(TopologyError, match="r_m must be >= 0, got -1"):
        HexGrid().cells_within([0.0], [0.0], -1.0)
    with pytest.raises(TopologyError, match=r"^cell_of: x and y must be finite \(drop NaN positions first\)"):
        HexGrid().cell_of([np.nan], [0.0])
    assert HexGrid(radius=0.5).radius == 0.5  # a small radius is fine


def test_other_integer_and_float_types_give_the_same_int64_cells():
    # coordinates or ids as integral floats (e.g. from rint) or unsigned ids (e.g. read back from a file)
    assert cell_id(np.array([3.0]), np.array([-2.0])).tolist() == [cell_id(3, -2)]
    assert cell_id(np.array([3]), np.array([-2.0])).tolist() == [cell_id(3, -2)]
    ids = cell_id(np.array([3, -1]), np.array([-2, 5]))
    q, r = unpack_cell_id(ids.astype(np.uint64))
    assert (q.tolist(), r.tolist(), q.dtype) == ([3, -1], [-2, 5], np.int64)
    for args in [(np.array([0.0]), np.array([0]), np.array([2]), np.array([-1])),
                 (np.array([0]), np.array([0]), np.array([2.0]), np.array([-1])),
                 (np.array([0]), np.array([0.0]), np.array([2]), np.array([-1])),
                 (np.array([0]), np.array([0]), np.array([2]), np.array([-1.0]))]:
        d = HexGrid.distance(*args)
        assert d.dtype == np.int64 and d.tolist() == [2]
    for k in (0, 2):
        q, r = HexGrid.ring(k, np.int32(4), np.int32(-5))
        assert q.dtype == np.int64 and r.dtype == np.int64
        assert set(HexGrid.distance(q, r, 4, -5).tolist()) == {k}


def test_ring_defaults_to_the_origin_cell():
    q, r = HexGrid.ring(1)
    assert set(zip(q.tolist(), r.tolist(), strict=True)) == {tuple(d) for d in AXIAL_DIRECTIONS.tolist()}


def test_cells_within_of_no_points_is_empty_csr():
    offsets, cells, dist = HexGrid(50.0).cells_within(np.zeros(0), np.zeros(0), 100.0)
    assert offsets.tolist() == [0] and offsets.dtype == np.int64
    assert cells.shape == (0,) and cells.dtype == np.int64 and dist.shape == (0,) and dist.dtype == np.float64


def test_points_on_a_cell_edge_go_to_one_cell_by_cube_rounding():
    # fractional (q, r) exactly between two cells: cube rounding fixes the coordinate furthest from an
    # integer, and on a tie the later one of q, r, s (binary fractions, so the ties are exact)
    q, r = HexGrid.round_axial(np.array([0.375, 0.375, 0.25]), np.array([0.375, 0.25, 0.375]))
    assert list(zip(q.tolist(), r.tolist(), strict=True)) == [(0, 1), (0, 0), (0, 0)]


@pytest.mark.parametrize("orientation", ORIENTS)
def test_cells_covering_is_sorted_by_q_then_r(orientation):
    q, r = _grid(orientation).cells_covering(0.0, 0.0, 400.0, 250.0)
    assert len(q) > 20
    assert np.all(np.diff(q) >= 0) and np.all((np.diff(q) > 0) | (np.diff(r) > 0))


def test_float32_positions_are_computed_in_float64():
    g = HexGrid(50.0, origin=(0.1, 0.2))
    x, y = np.array([1234.5], np.float32), np.array([-987.25], np.float32)
    fq, fr = g.fractional(x, y)
    assert fq.dtype == np.float64 and fr.dtype == np.float64
    np.testing.assert_array_equal(fq, g.fractional(x.astype(np.float64), y.astype(np.float64))[0])
    for grid in (g, HexGrid(50.0, orientation="flat")):
        cx, cy = grid.center(np.array([3], np.float32), np.array([-2], np.float32))
        assert cx.dtype == np.float64 and cy.dtype == np.float64
    cx, cy = g.center(np.array([3], np.float32), np.array([-2], np.float32))
    assert (cx.tolist(), cy.tolist()) == tuple([float(a)] for a in g.center(3, -2))
