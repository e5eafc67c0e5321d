"""The lazy grid build (``pieces_from_units(..., lazy=True)``) against the full build.

Whole pieces carry no geometry in the lazy form; everything else — cells, unit codes, whole flags,
``area_m2`` to the last bit — is the full build's, and filling the hexagons from h3
(:mod:`gridmgr.grid.lazy`) gives back the full build's geometries exactly (tolerance 0).
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box
from test_grid import LAT0, LON0, _small_mixed_units, _units  # same directory (rootdir mode)

from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid import pieces_from_units
from gridmgr.grid.lazy import fill_geometries, is_lazy, materialize
from gridmgr.grid.pieces import pieces_of


def _union_of_cells() -> gpd.GeoDataFrame:
    """A unit that is exactly a union of res-10 cells: its border cells are whole but are not
    in h3's fully-contained set (the build's "whole_edge" cells)."""
    (centre,) = _h3.latlng_to_cell(LON0, LAT0, res=8)
    children = [h3.str_to_int(c) for c in h3.cell_to_children(h3.int_to_str(int(centre)), 10)]
    cells = np.asarray(children, dtype=np.uint64)
    return _units([shapely.union_all(_h3.cell_polygons(cells))], codes=["C"])


def _voronoi(n: int = 8) -> gpd.GeoDataFrame:
    """Irregular units sharing borders, some clipped pieces MultiPolygons (as bench_grid's)."""
    rng = np.random.default_rng(3)
    region = box(LON0, LAT0, LON0 + 0.08, LAT0 + 0.06)
    pts = shapely.multipoints(
        np.c_[rng.uniform(LON0, LON0 + 0.08, n), rng.uniform(LAT0, LAT0 + 0.06, n)]
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=region))
    parts = [c.intersection(region) for c in cells]
    return _units([p for p in parts if not p.is_empty], codes=[f"V{i:02d}" for i in range(n)])


def _pentagon() -> gpd.GeoDataFrame:
    """Two units around an h3 pentagon: rings of 6 to 11 vertices at odd resolutions."""
    disk = Point(10.5362, 64.7).buffer(0.03)
    half = box(0, 0, 10.5362, 90)
    return _units([disk.intersection(half), disk.difference(half)], codes=["P0", "P1"])


LAYOUTS: dict[str, Callable[[], gpd.GeoDataFrame]] = {
    "square": lambda: _units([box(LON0, LAT0, LON0 + 0.03, LAT0 + 0.02)]),
    "two-units": lambda: _units(
        [
            box(LON0, LAT0, LON0 + 0.02, LAT0 + 0.02),
            box(LON0 + 0.02, LAT0, LON0 + 0.04, LAT0 + 0.02),
        ],
        codes=["B", "A"],
    ),
    "mixed": _small_mixed_units,
    "union-of-cells": _union_of_cells,
    "far-north": lambda: _units(
        [box(122.30, 53.30, 122.33, 53.32), box(125.30, 43.80, 125.33, 43.82)]
    ),
    "pentagon": _pentagon,
    "voronoi": _voronoi,
}
CASES = [
    ("square", 9),
    ("square", 10),
    ("two-units", 11),
    ("mixed", 7),
    ("mixed", 9),
    ("mixed", 12),
    ("union-of-cells", 10),
    ("far-north", 10),
    ("pentagon", 9),
    ("pentagon", 10),
    ("pentagon", 11),
    ("voronoi", 9),
    ("voronoi", 10),
]


def assert_same_pieces(full: gpd.GeoDataFrame, filled: gpd.GeoDataFrame) -> None:
    assert list(filled.columns) == list(full.columns)
    assert filled["cell"].tolist() == full["cell"].tolist()
    assert filled["unit_code"].tolist() == full["unit_code"].tolist()
    assert (filled["whole"].to_numpy() == full["whole"].to_numpy()).all()
    assert (filled["area_m2"].to_numpy() == full["area_m2"].to_numpy()).all()  # exactly
    assert shapely.equals_exact(filled.geometry.values, full.geometry.values, tolerance=0).all()


def _filled(lazy: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The lazy frame with whole pieces' hexagons filled as the grid build makes them (Polygons)."""
    out = lazy.copy()
    out["geometry"] = fill_geometries(
        lazy["cell"].to_numpy(), lazy.geometry.values, lazy["whole"].to_numpy(), multi=False
    )
    return out


@pytest.mark.parametrize(("layout", "res"), CASES)
def test_lazy_build_equals_full_build(layout: str, res: int) -> None:
    units = LAYOUTS[layout]()
    full = pieces_from_units(units, res=res)
    lazy = pieces_from_units(units, res=res, lazy=True)
    whole = lazy["whole"].to_numpy()
    missing = lazy.geometry.isna().to_numpy()
    assert (missing == whole).all()  # exactly the whole pieces lost their geometry
    assert is_lazy(lazy) == bool(whole.any())
    assert_same_pieces(full, _filled(lazy))


@pytest.mark.parametrize(("layout", "res"), [("square", 10), ("mixed", 11), ("pentagon", 11)])
def test_materialize_gives_the_full_build(layout: str, res: int) -> None:
    # layouts whose border pieces come first as Polygons: materialize infers the Polygon form
    # from the first present geometry (the store's frames are all MultiPolygons)
    units = LAYOUTS[layout]()
    assert_same_pieces(
        pieces_from_units(units, res=res), materialize(pieces_from_units(units, res=res, lazy=True))
    )


def test_union_of_cells_has_whole_edge_cells() -> None:
    units = _union_of_cells()
    lazy = pieces_from_units(units, res=10, lazy=True)
    inside = _h3.cells_to_str(
        _h3.cells_from_geometry(units.geometry.iloc[0], res=10, contain="full")
    )
    whole_edge = lazy["whole"] & ~lazy["cell"].isin(set(inside))
    assert whole_edge.sum() > 0 and lazy.loc[whole_edge, "geometry"].isna().all()


def test_pieces_of_lazy_and_chunked_orders_agree() -> None:
    units = _voronoi()
    codes = units["code"].to_numpy(dtype=object)
    geoms = np.asarray(units.geometry.values, dtype=object)
    whole = pieces_of(codes, geoms, 10, lazy=True)
    order = np.argsort(codes)
    parts = [
        pieces_of(codes[order][i : i + 3], geoms[order][i : i + 3], 10, lazy=True)
        for i in (0, 3, 6)
    ]
    joined = pd.concat(parts, ignore_index=True)
    assert joined["cell"].tolist() == whole["cell"].tolist()
    assert (joined["area_m2"].to_numpy() == whole["area_m2"].to_numpy()).all()


def test_pieces_of_refuses_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="2 codes for 1 geometries"):
        pieces_of(np.array(["A", "B"], dtype=object), np.array([box(0, 0, 1, 1)]), 9)


@pytest.mark.parametrize("arrow", [True, False])
@pytest.mark.parametrize("res", [9, 10, 11])
def test_cell_rings_are_shapely_coordinates(
    res: int, arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not arrow:
        monkeypatch.setattr(_h3, "_arrow_rows", lambda _wkb: None)
    disk = Point(10.5362, 64.7).buffer(0.02)  # pentagon and distorted hexagons at odd res
    cells = np.concatenate(
        [
            _h3.cells_from_geometry(disk, res=res),
            _h3.cells_from_geometry(box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01), res=res),
        ]
    )
    xy, idx = _h3.cell_rings(cells)
    shapes = _h3.CellShapes(cells)
    polys = shapes.polygons()
    assert shapely.equals_exact(polys, _h3.cell_polygons(cells), tolerance=0).all()
    shapes_xy, shapes_idx = shapes.rings()  # after the bytes were read: same values
    assert (shapes_xy == xy).all() and (shapes_idx == idx).all()
    want_xy, want_idx = shapely.get_coordinates(_h3.cell_polygons(cells), return_index=True)
    assert (xy == want_xy).all() and (idx == want_idx).all()
    wkb_xy, wkb_idx = _h3.wkb_rings(_h3.cells_to_wkb(cells))
    assert (wkb_xy == want_xy).all() and (wkb_idx == want_idx).all()


def test_wkb_rings_reads_other_wkb_through_shapely() -> None:
    polys = np.array(
        [box(0, 0, 1, 1).difference(box(0.2, 0.2, 0.4, 0.4)), Polygon([(0, 0), (1, 0), (0, 1)])]
    )
    xy, idx = _h3.wkb_rings(shapely.to_wkb(polys, byte_order=0))  # big-endian, a hole
    want_xy, want_idx = shapely.get_coordinates(polys, return_index=True)
    assert (xy == want_xy).all() and (idx == want_idx).all()
    empty_xy, empty_idx = _h3.cell_rings(np.empty(0, dtype=np.uint64))
    assert empty_xy.shape == (0, 2) and len(empty_idx) == 0


@pytest.mark.parametrize("layout", ["voronoi", "empty"])
def test_string_columns_from_arrow_equal_pandas_own(
    layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gridmgr.grid.pieces as pieces_mod

    units = _voronoi() if layout == "voronoi" else _voronoi().iloc[:0]
    codes = units["code"].to_numpy(dtype=object)
    geoms = np.asarray(units.geometry.values, dtype=object)
    fast = pieces_of(codes, geoms, 10, lazy=True)
    monkeypatch.setattr(pieces_mod, "_arrow_str_dtype", lambda: None)
    plain = pieces_of(codes, geoms, 10, lazy=True)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    for col in ("cell", "unit_code"):
        assert fast[col].dtype == plain[col].dtype
        assert pd.api.types.is_string_dtype(fast[col]) or len(fast) == 0
