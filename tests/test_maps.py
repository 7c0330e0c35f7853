"""edgeroam._maps: readable map axes (km from a rounded corner, the frame named) and CRS labels."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from edgeroam import _maps
from edgeroam._maps import crs_label, km_axes, lonlat_axes


def _axes():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def test_doctests_run():
    result = doctest.testmod(_maps)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize(
    ("crs", "want"),
    [
        ("EPSG:4326", "EPSG:4326, WGS 84"),
        ("EPSG:32652", "EPSG:32652, WGS 84 / UTM zone 52N"),
        (32650, "EPSG:32650, WGS 84 / UTM zone 50N"),  # any input pyproj takes
        (["not", "a", "crs"], "['not', 'a', 'crs']"),  # TypeError inside pyproj: shown as given
    ],
)
def test_crs_label(crs, want):
    assert crs_label(crs) == want


def test_crs_label_of_a_custom_projection_without_a_centre_names_its_method():
    label = crs_label("+proj=merc +lon_0=10 +datum=WGS84 +units=m")
    assert "Mercator" in label and "EPSG" not in label


def test_km_axes_rounds_the_corner_down_and_says_where_it_is():
    ax = _axes()
    ax.set_xlim(448_123.0, 452_000.0)
    ax.set_ylim(4_420_987.0, 4_423_000.0)
    corner = km_axes(ax, (448_123.0, 4_420_987.0), "EPSG:32650")
    assert corner == (448_100.0, 4_420_900.0)
    xlabel = ax.get_xlabel()
    assert "448,100" in xlabel and "4,420,900" in xlabel and "EPSG:32650, WGS 84 / UTM zone 50N" in xlabel
    assert ax.get_ylabel() == "km north"


def test_km_axes_ticks_are_round_km_from_the_corner():
    ax = _axes()
    ax.set_xlim(448_123.0, 452_000.0)
    ax.set_ylim(4_420_987.0, 4_423_000.0)
    x0, y0 = km_axes(ax, (448_123.0, 4_420_987.0), None)
    for axis, origin in ((ax.xaxis, x0), (ax.yaxis, y0)):
        ticks = np.asarray(axis.get_major_locator()())
        step = np.diff(ticks)[0]
        assert step in (250.0, 500.0, 1000.0)
        # ticks on multiples of the step counted from the corner, not from the frame's own zero
        np.testing.assert_allclose((ticks - origin) / step, np.round((ticks - origin) / step), atol=1e-9)
        fmt = axis.get_major_formatter()
        assert fmt(origin, 0) == "0" and fmt(origin + 1500.0, 1) == "1.5" and fmt(origin + 2000.0, 2) == "2"
    assert "local metric frame, no CRS" in ax.get_xlabel()


def test_a_corner_already_on_100_m_is_kept():
    assert km_axes(_axes(), (1200.0, -300.0), None) == (1200.0, -300.0)
    assert km_axes(_axes(), (-250.0, 99.9), None) == (-300.0, 0.0)


def test_lonlat_axes_name_wgs84():
    ax = _axes()
    lonlat_axes(ax)
    assert "longitude" in ax.get_xlabel() and "EPSG:4326" in ax.get_xlabel()
    assert ax.get_ylabel().startswith("latitude")
