"""The full-coverage H3 grid and its pieces.

A *cell* is an H3 index at the grid resolution. A *piece* is a cell clipped to one lowest-level
unit: a cell inside one unit is one whole piece; a cell on a unit border is split, one piece per
unit, so territorial responsibility follows the official boundaries exactly (属地管理).

Coverage is "overlap" (every point of every unit lies in some cell), not h3's default centre rule,
which leaves slivers along every boundary uncovered. Only cells that cross a unit boundary are
clipped; interior cells are taken whole. No Python loop per cell: per unit, h3ronpy finds the
cells, shapely 2 clips the boundary ones in one vectorised call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gridmgr import settings
from gridmgr.errors import CoordinateRangeError, InputError
from gridmgr.grid import h3_adapter as _h3
from gridmgr.grid.units import (
    DENSIFY_DEG,
    HierarchyReport,
    area_m2,
    check_hierarchy,
    lowest_units,
    shoelace_m2,
)
from gridmgr.i18n import t

PIECE_COLUMNS = ["cell", "unit_code", "area_m2", "whole", "geometry"]

#: A clipped piece whose area is within this relative tolerance of its cell is treated as whole.
_WHOLE_RTOL = 1e-9


def check_res(res: int | None) -> int:
    """Validate an H3 resolution for grids (7–12); ``None`` gives the default (10)."""
    if res is None:
        return settings.DEFAULT_RES
    if (
        not isinstance(res, int | np.integer)
        or not settings.MIN_RES <= int(res) <= settings.MAX_RES
    ):
        msg = t(
            f"res={res!r}：网格分辨率须为 {settings.MIN_RES} 到 {settings.MAX_RES} 的整数"
            "（10 级每格约 15,000 m²）",
            f"res={res!r}: grid resolution must be an integer from {settings.MIN_RES} to "
            f"{settings.MAX_RES} (10 ≈ 15,000 m² per cell)",
        )
        raise InputError(msg)
    return int(res)


def _check_lnglat(codes: NDArray[np.object_], geoms: NDArray[np.object_]) -> None:
    """Refuse units that are not plain lng/lat polygons on one side of the antimeridian.

    h3 would otherwise silently return cells for a wrong area (a polygon whose longitudes jump
    from 179.9 to -179.9 is read as a band round the globe; longitudes past ±180 are wrapped).
    """
    if len(geoms) == 0:
        return
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        out_of_range = (b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90)
        too_wide = (b[:, 2] - b[:, 0]) >= 180
    bad = np.flatnonzero(out_of_range | too_wide)
    if len(bad) == 0:
        return
    i = int(bad[0])
    extent = f"lng {b[i, 0]:.6f}..{b[i, 2]:.6f}, lat {b[i, 1]:.6f}..{b[i, 3]:.6f}"
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    msg = t(
        f"单元 {codes[i]!r} 的坐标（{extent}）不是有效的 WGS-84 经纬度，或跨越了 180° 经线{more}；"
        "网格只支持不跨 180° 经线的经纬度面，请先用 gridmgr.io.layers 读取并检查图层",
        f"unit {codes[i]!r}: coordinates ({extent}) are not valid WGS-84 lng/lat or the unit "
        f"crosses the antimeridian{more}; grids support lng/lat polygons that do not cross "
        "180°, read the layer with gridmgr.io.layers to check it",
    )
    raise CoordinateRangeError(msg)


def _polygonal_parts(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Reduce intersection results to their polygonal part (empty when there is none)."""
    out = geoms.copy()
    tid = shapely.get_type_id(out)
    odd = np.flatnonzero((tid != 3) & (tid != 6))  # not Polygon / MultiPolygon
    for i in odd:  # rare: only collections / lines / points from touching boundaries
        parts = [p for p in shapely.get_parts(out[i]) if p.geom_type == "Polygon"]
        out[i] = (
            shapely.multipolygons(parts)
            if len(parts) > 1
            else (parts[0] if parts else shapely.Polygon())
        )
    return out


@dataclass(frozen=True)
class _UnitPieces:
    """One unit's pieces, in build order: whole cells first, then the clipped candidates."""

    cells: NDArray[np.uint64]
    geoms: NDArray[np.object_]  # None for whole pieces in the lazy build
    whole: NDArray[np.bool_]
    areas: NDArray[np.float64]


def _unit_pieces(geom: shapely.Geometry, res: int, *, lazy: bool = False) -> _UnitPieces:
    """Cells, piece geometries, whole flags and areas for one unit polygon.

    Areas are computed here, per unit; each piece's figure depends only on its own geometry
    (pointwise projection, per-ring sums), so it is the same whichever pieces share the batch.
    """
    over = _h3.cells_from_geometry(geom, res=res, contain="overlap")
    full = _h3.cells_from_geometry(geom, res=res, contain="full")
    edge = np.setdiff1d(over, full, assume_unique=True)
    # Guard against any disagreement between h3's and shapely's edge tests: also try the ring
    # around the boundary cells, keeping whatever shapely says intersects with positive area.
    ring = np.setdiff1d(_h3.grid_disk(edge, 1), over, assume_unique=True) if len(edge) else edge
    cand = np.concatenate([edge, ring])
    cand_wkb = _h3.cells_to_wkb(cand)
    cand_poly = _h3.polygons_from_wkb(cand_wkb)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, cand_poly)
    cand, cand_wkb, cand_poly = cand[hit], cand_wkb[hit], cand_poly[hit]
    clipped = _polygonal_parts(shapely.intersection(cand_poly, geom))
    a_clip = shapely.area(clipped)
    keep = a_clip > 0
    cand, cand_wkb, cand_poly = cand[keep], cand_wkb[keep], cand_poly[keep]
    clipped, a_clip = clipped[keep], a_clip[keep]
    whole_edge = a_clip >= shapely.area(cand_poly) * (1 - _WHOLE_RTOL)
    clipped[whole_edge] = None if lazy else cand_poly[whole_edge]
    cand_area = np.empty(len(cand), dtype=np.float64)
    edge_wkb, edge_poly = cand_wkb[whole_edge], cand_poly[whole_edge]
    cand_area[whole_edge] = _hexagon_areas(_h3.wkb_rings(edge_wkb), lambda m: edge_poly[m])
    cand_area[~whole_edge] = area_m2(clipped[~whole_edge])
    shapes = _h3.CellShapes(full)  # whole cells' vertices read from h3's WKB with numpy
    if lazy:  # shapely polygons only for hexagons measured by area_m2 (long edges)
        full_poly = np.empty(len(full), dtype=object)
        full_area = _hexagon_areas(shapes.rings(), shapes.polygons)
    else:
        full_poly = shapes.polygons()
        full_area = _hexagon_areas(shapes.rings(), lambda m: full_poly[m])
    return _UnitPieces(
        cells=np.concatenate([full, cand]),
        geoms=np.concatenate([full_poly, clipped]),
        whole=np.concatenate([np.ones(len(full), dtype=bool), whole_edge]),
        areas=np.concatenate([full_area, cand_area]),
    )


def _hexagon_areas(
    rings: _h3.Rings, polygons: Callable[[NDArray[np.bool_]], NDArray[np.object_]]
) -> NDArray[np.float64]:
    """Equal-area m² of whole cells from their ring vertices (``_h3.cell_rings``).

    :func:`~gridmgr.grid.units.area_m2` densifies edges longer than ``DENSIFY_DEG`` (Euclidean
    length in degrees, as ``shapely.segmentize`` measures it) before projecting. A hexagon whose
    edges are all no longer than that is left unchanged by densifying, so a numpy shoelace over
    its projected vertices gives the same figure; hexagons with a longer edge (res ≤ 9, or res 10
    far north) take ``area_m2`` itself on ``polygons(mask)``, judged per hexagon. Each figure
    depends only on its own hexagon, whichever others share the call.
    """
    xy, idx = rings
    n = int(idx[-1]) + 1 if len(idx) else 0
    areas = np.empty(n, dtype=np.float64)
    if n == 0:
        return areas
    counts = np.bincount(idx, minlength=n)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    seg[idx[1:] != idx[:-1]] = 0.0  # no segment between two rings
    longest = np.maximum.reduceat(seg, np.r_[0, np.cumsum(counts)[:-1]]) if len(seg) else seg
    short = (counts <= _MAX_FAST_COORDS) & (longest <= DENSIFY_DEG)
    if short.all():  # the usual case (res ≥ 10 in China): every vertex already read
        areas[:] = shoelace_m2(xy, idx, n)
        return areas
    if short.any():
        k = int(short.sum())
        areas[short] = shoelace_m2(
            xy[short[idx]], np.repeat(np.arange(k, dtype=np.intp), counts[short]), k
        )
    areas[~short] = area_m2(polygons(~short))
    return areas


#: A whole hexagon with more coordinates than this (an h3 cell distorted at an icosahedron edge)
#: is measured by ``area_m2``.
_MAX_FAST_COORDS = 11


def pieces_from_units(
    units: gpd.GeoDataFrame, *, res: int | None = None, progress: bool = False, lazy: bool = False
) -> gpd.GeoDataFrame:
    """Cut the lowest-level units into pieces of H3 cells at ``res`` (full coverage).

    Returns a GeoDataFrame with columns ``cell`` (h3 string), ``unit_code``, ``area_m2``
    (equal-area), ``whole`` and geometry (EPSG:4326), ordered by unit then cell. With
    ``lazy=True`` whole pieces have geometry ``None`` (their cell's hexagon, filled on demand by
    :mod:`gridmgr.grid.lazy`); every other value is the same as in the full build.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> u = gpd.GeoDataFrame({"code": ["A"], "name": ["a"], "level": ["community"],
    ...     "parent": [None]}, geometry=[box(125.30, 43.80, 125.31, 43.81)], crs="EPSG:4326")
    >>> p = pieces_from_units(u, res=9)
    >>> bool(abs(p["area_m2"].sum() / area_m2(u.geometry)[0] - 1) < 1e-6)
    True
    """
    res = check_res(res)
    low = lowest_units(units)
    if low.crs is not None and not low.crs.equals("EPSG:4326"):
        low = low.to_crs("EPSG:4326")
    codes = low["code"].astype(str).to_numpy()
    geoms = np.asarray(low.geometry.values, dtype=object)
    _check_lnglat(codes, geoms)
    if not progress:
        return pieces_of(codes, geoms, res, lazy=lazy)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("生成网格 / building grid", total=len(codes))
        return pieces_of(codes, geoms, res, lazy=lazy, on_unit=lambda _n: bar.advance(task))


def pieces_of(
    codes: NDArray[np.object_],
    geoms: NDArray[np.object_],
    res: int,
    *,
    on_unit: Callable[[int], object] | None = None,
    lazy: bool = False,
) -> gpd.GeoDataFrame:
    """Pieces of lowest-level units given as parallel arrays of codes and lng/lat polygons.

    The per-unit work of :func:`pieces_from_units` (which checks its input first): rows ordered
    by unit code then cell. Every value depends only on its own unit, so pieces of disjoint sets
    of units, concatenated and put in the same order, equal the pieces of all units at once
    (the chunked and distributed builds in :mod:`gridmgr.grid.chunked` rely on it).
    ``on_unit(n_pieces)`` is called after each unit. ``lazy=True`` gives the lazy form
    (:mod:`gridmgr.grid.lazy`): whole pieces have geometry ``None`` and the same ``area_m2``.
    """
    unit_codes = np.asarray(codes, dtype=object)
    if len(unit_codes) != len(geoms):
        raise ValueError(f"{len(unit_codes)} codes for {len(geoms)} geometries")
    parts: list[_UnitPieces] = []
    for geom in geoms:
        part = _unit_pieces(geom, res, lazy=lazy)
        parts.append(part)
        if on_unit is not None:
            on_unit(len(part.cells))
    counts = np.array([len(part.cells) for part in parts], dtype=np.intp)
    cells = _concat([part.cells for part in parts], np.uint64)
    pgeoms = _concat([part.geoms for part in parts], object)
    whole = _concat([part.whole for part in parts], bool)
    areas = _concat([part.areas for part in parts], np.float64)
    del parts
    # order by unit code then cell: codes compared once per unit, not once per piece
    if len(unit_codes):
        rank = np.unique(unit_codes, return_inverse=True)[1].reshape(-1)
    else:
        rank = np.empty(0, dtype=np.intp)
    unit_of = np.repeat(np.arange(len(counts), dtype=np.intp), counts)
    order = np.lexsort((cells, rank[unit_of]))
    cells, unit_of = cells[order], unit_of[order]
    return gpd.GeoDataFrame(
        {
            "cell": _str_column(_h3.cells_to_arrow_str(cells), lambda: _h3.cells_to_str(cells)),
            "unit_code": _str_column(_arrow_take(unit_codes, unit_of), lambda: unit_codes[unit_of]),
            "area_m2": areas[order],
            "whole": whole[order],
        },
        geometry=pgeoms[order],
        crs="EPSG:4326",
    )


@lru_cache(maxsize=1)
def _arrow_str_dtype() -> Any:
    """The dtype pandas gives a column of Python strings when it keeps them in pyarrow
    (pandas ≥ 3 with pyarrow installed); ``None`` otherwise."""
    import pandas as pd

    inferred = pd.Series(np.array(["x"], dtype=object)).dtype
    if isinstance(inferred, pd.StringDtype) and inferred.storage == "pyarrow":
        return inferred
    return None


def _str_column(arrow: Any, objects: Callable[[], NDArray[np.object_]]) -> Any:
    """A string column exactly as pandas would store ``objects()``, built from the ``arrow``
    strings when pandas keeps strings in pyarrow anyway (no Python string per piece)."""
    dtype = _arrow_str_dtype()
    if arrow is None or dtype is None or len(arrow) == 0:  # pandas infers nothing from none
        return objects()
    import pandas as pd

    return pd.array(arrow, dtype=dtype)


def _arrow_take(codes: NDArray[np.object_], index: NDArray[np.intp]) -> Any:
    """``codes[index]`` as a pyarrow ``large_string`` array, or ``None`` (no pyarrow, or a code
    that is not a ``str``)."""
    if not all(type(code) is str for code in codes):
        return None
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with the scale extra
        return None
    return pa.array(codes, type=pa.large_string()).take(pa.array(index))


def _concat(arrays: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


@dataclass(frozen=True)
class GridBuild:
    """A built grid: its pieces, the hierarchy check and a summary dict."""

    pieces: gpd.GeoDataFrame
    hierarchy: HierarchyReport
    summary: dict[str, Any]


def build_grid(
    units: gpd.GeoDataFrame, *, res: int | None = None, progress: bool = False
) -> GridBuild:
    """Check the hierarchy and build the pieces; summary has the figures ``grid build`` prints.

    Summary keys: ``res``, ``units`` (lowest-level units), ``cells`` (distinct cells), ``pieces``,
    ``whole_pieces``, ``split_cells`` (cells cut by a unit border), ``unit_area_m2`` (summed area of
    the lowest-level units), ``piece_area_m2``, ``gap_area_m2`` (死角: parent area covered by no
    child), ``overlap_area_m2`` (重叠: area two siblings claim), ``outside_area_m2`` (children outside
    their parent), ``mean_piece_area_m2``, ``seconds``.
    """
    res = check_res(res)
    t0 = time.perf_counter()
    hierarchy = check_hierarchy(units)
    pieces = pieces_from_units(units, res=res, progress=progress)
    low = lowest_units(units)
    unit_area = float(area_m2(low.geometry).sum())
    cell_counts = pieces["cell"].value_counts()
    summary = {
        "res": res,
        "units": len(low),
        "cells": len(cell_counts),
        "pieces": len(pieces),
        "whole_pieces": int(pieces["whole"].sum()),
        "split_cells": int((cell_counts > 1).sum()),
        "unit_area_m2": unit_area,
        "piece_area_m2": float(pieces["area_m2"].sum()),
        "gap_area_m2": hierarchy.gap_area_m2,
        "overlap_area_m2": hierarchy.overlap_area_m2,
        "outside_area_m2": hierarchy.outside_area_m2,
        "mean_piece_area_m2": float(pieces["area_m2"].mean()) if len(pieces) else 0.0,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return GridBuild(pieces=pieces, hierarchy=hierarchy, summary=summary)


def center_rule_uncovered_m2(
    units: gpd.GeoDataFrame, *, res: int | None = None
) -> dict[str, float]:
    """Area and cell count h3's default centre rule would leave uncovered (for comparison).

    Returns ``{"uncovered_area_m2", "cells_missing", "cells_center", "cells_overlap"}``: the unit
    area lying in no centre-rule cell of that unit.
    """
    res = check_res(res)
    low = lowest_units(units)
    uncovered = 0.0
    n_center = n_over = 0
    for geom in low.geometry.values:
        center = _h3.cells_from_geometry(geom, res=res, contain="center")
        over = _h3.cells_from_geometry(geom, res=res, contain="overlap")
        n_center += len(center)
        n_over += len(over)
        missing = np.setdiff1d(over, center, assume_unique=True)
        if len(missing):
            lost = shapely.intersection(_h3.cell_polygons(missing), geom)
            uncovered += float(area_m2(_polygonal_parts(lost)).sum())
    return {
        "uncovered_area_m2": uncovered,
        "cells_missing": float(n_over - n_center),
        "cells_center": float(n_center),
        "cells_overlap": float(n_over),
    }
