"""The h3 adapter: axis order converted exactly once, vectorised helpers agree with h3-py."""

from __future__ import annotations

import re

import h3
import numpy as np
import pytest
import shapely

from gridmgr.grid import h3_adapter as _h3


def test_latlng_order_matches_h3py() -> None:
    lng = np.array([125.2524, 125.30, 124.9])
    lat = np.array([43.7863, 43.81, 44.2])
    cells = _h3.latlng_to_cell(lng, lat, res=10)
    expected = [h3.latlng_to_cell(la, ln, 10) for ln, la in zip(lng, lat, strict=True)]
    assert list(_h3.cells_to_str(cells)) == expected


def test_cell_polygon_contains_its_own_point_and_is_lnglat() -> None:
    cells = _h3.latlng_to_cell([125.2524], [43.7863], res=9)
    poly = _h3.cell_polygons(cells)[0]
    assert shapely.contains_xy(poly, 125.2524, 43.7863)
    minx, miny, maxx, maxy = poly.bounds
    assert 125 < minx < maxx < 126 and 43 < miny < maxy < 44  # x is longitude
    lng, lat = _h3.cell_centers(cells)
    la, ln = h3.cell_to_latlng(_h3.cells_to_str(cells)[0])
    assert np.isclose(lng[0], ln) and np.isclose(lat[0], la)


def test_neighbour_pairs_match_grid_ring() -> None:
    centre = _h3.latlng_to_cell([125.3], [43.8], res=10)
    cells = _h3.grid_disk(centre, 3)
    i, j = _h3.neighbour_pairs(cells)
    strs = _h3.cells_to_str(cells)
    got = {frozenset((strs[a], strs[b])) for a, b in zip(i, j, strict=True)}
    expected = {frozenset((c, n)) for c in strs for n in h3.grid_ring(c, 1) if n in set(strs)}
    assert got == expected


def test_str_round_trip_and_bad_string() -> None:
    cells = _h3.grid_disk(_h3.latlng_to_cell([125.3], [43.8], res=8), 1)
    assert np.array_equal(_h3.str_to_cells(_h3.cells_to_str(cells)), cells)
    try:
        _h3.str_to_cells(["not-a-cell"])
    except ValueError as exc:
        assert "not-a-cell" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("bad cell string accepted")


def test_cells_to_str_matches_h3py_at_every_grid_res() -> None:
    for res in range(7, 13):
        cells = _h3.grid_disk(_h3.latlng_to_cell([125.3], [43.8], res=res), 2)
        strs = _h3.cells_to_str(cells)
        assert strs.dtype == object
        assert list(strs) == [h3.int_to_str(int(c)) for c in cells]
    assert _h3.cells_to_str(np.empty(0, dtype=np.uint64)).shape == (0,)


def test_str_to_cells_is_as_strict_as_h3py() -> None:
    cells = _h3.grid_disk(_h3.latlng_to_cell([125.3], [43.8], res=10), 1)
    strs = list(_h3.cells_to_str(cells))
    # h3-py accepts upper-case hex; so do we
    assert np.array_equal(_h3.str_to_cells([s.upper() for s in strs]), cells)
    assert _h3.str_to_cells([]).dtype == np.uint64
    # h3ronpy alone would parse decimal and "x,y,res" strings: they are not cell indexes here
    decimal = str(int(cells[0]))
    for bad in (decimal, "125.3,43.8,10", strs[0][:-1] + "0", "0", ""):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            _h3.str_to_cells([*strs, bad])


def test_point_to_cell_takes_lng_first() -> None:
    assert _h3.point_to_cell(125.2524, 43.7863, res=10) == h3.latlng_to_cell(43.7863, 125.2524, 10)
    assert (
        _h3.point_to_cell(125.2524, 43.7863, res=10)
        == _h3.cells_to_str(_h3.latlng_to_cell([125.2524], [43.7863], res=10))[0]
    )
