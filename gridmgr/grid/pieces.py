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
    ring_area_m2,
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


def _unit_pieces(
    geom: shapely.Geometry, res: int
) -> tuple[NDArray[np.uint64], NDArray[np.object_], NDArray[np.bool_]]:
    """Cells, piece geometries and whole flags for one unit polygon."""
    over = _h3.cells_from_geometry(geom, res=res, contain="overlap")
    full = _h3.cells_from_geometry(geom, res=res, contain="full")
    edge = np.setdiff1d(over, full, assume_unique=True)
    # Guard against any disagreement between h3's and shapely's edge tests: also try the ring
    # around the boundary cells, keeping whatever shapely says intersects with positive area.
    ring = np.setdiff1d(_h3.grid_disk(edge, 1), over, assume_unique=True) if len(edge) else edge
    cand = np.concatenate([edge, ring])
    cand_poly = _h3.cell_polygons(cand)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, cand_poly)
    cand, cand_poly = cand[hit], cand_poly[hit]
    clipped = _polygonal_parts(shapely.intersection(cand_poly, geom))
    a_clip = shapely.area(clipped)
    keep = a_clip > 0
    cand, cand_poly, clipped, a_clip = cand[keep], cand_poly[keep], clipped[keep], a_clip[keep]
    whole_edge = a_clip >= shapely.area(cand_poly) * (1 - _WHOLE_RTOL)
    clipped[whole_edge] = cand_poly[whole_edge]
    full_poly = _h3.cell_polygons(full)
    cells = np.concatenate([full, cand])
    geoms = np.concatenate([full_poly, clipped])
    whole = np.concatenate([np.ones(len(full), dtype=bool), whole_edge])
    return cells, geoms, whole


def _piece_areas(geoms: NDArray[np.object_], whole: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Equal-area m² of pieces: whole hexagons by a numpy shoelace, everything else by shapely.

    :func:`~gridmgr.grid.units.area_m2` densifies edges longer than ``DENSIFY_DEG`` (Euclidean length
    in degrees, as ``shapely.segmentize`` measures it) before projecting. A whole hexagon whose
    edges are all no longer than that is left unchanged by densifying, so the shoelace over its
    projected vertices gives the same figure; hexagons with a longer edge (res ≤ 9, or res 10
    far north) take the densifying path, judged per hexagon.
    """
    areas = np.empty(len(geoms), dtype=np.float64)
    fast = whole & (shapely.get_num_coordinates(geoms) <= 11)
    cand = np.flatnonzero(fast)
    if len(cand):
        xy, idx = shapely.get_coordinates(geoms[cand], return_index=True)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        seg[idx[1:] != idx[:-1]] = 0.0  # no segment between two rings
        starts = np.flatnonzero(np.r_[True, idx[1:-1] != idx[:-2]])
        longest = np.maximum.reduceat(seg, starts) if len(seg) else np.zeros(len(cand))
        is_short = longest <= DENSIFY_DEG
        short = cand[is_short]
        fast[:] = False
        fast[short] = True
        if is_short.all():  # the usual case: reuse the vertices already read
            areas[short] = shoelace_m2(xy, idx, len(cand))
        elif len(short):
            areas[short] = ring_area_m2(geoms[short])
    if (~fast).any():
        areas[~fast] = area_m2(geoms[~fast])
    return areas


def pieces_from_units(
    units: gpd.GeoDataFrame, *, res: int | None = None, progress: bool = False
) -> gpd.GeoDataFrame:
    """Cut the lowest-level units into pieces of H3 cells at ``res`` (full coverage).

    Returns a GeoDataFrame with columns ``cell`` (h3 string), ``unit_code``, ``area_m2``
    (equal-area), ``whole`` and geometry (EPSG:4326), ordered by unit then cell.

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
        return pieces_of(codes, geoms, res)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("生成网格 / building grid", total=len(codes))
        return pieces_of(codes, geoms, res, on_unit=lambda _n: bar.advance(task))


def pieces_of(
    codes: NDArray[np.object_],
    geoms: NDArray[np.object_],
    res: int,
    *,
    on_unit: Callable[[int], object] | None = None,
) -> gpd.GeoDataFrame:
    """Pieces of lowest-level units given as parallel arrays of codes and lng/lat polygons.

    The per-unit work of :func:`pieces_from_units` (which checks its input first): rows ordered
    by unit code then cell. Every value depends only on its own unit, so pieces of disjoint sets
    of units, concatenated and put in the same order, equal the pieces of all units at once
    (the chunked and distributed builds in :mod:`gridmgr.grid.chunked` rely on it).
    ``on_unit(n_pieces)`` is called after each unit.
    """
    all_cells: list[NDArray[np.uint64]] = []
    all_geoms: list[NDArray[np.object_]] = []
    all_whole: list[NDArray[np.bool_]] = []
    all_codes: list[NDArray[np.object_]] = []
    for code, geom in zip(codes, geoms, strict=True):
        cells, pgeoms, whole = _unit_pieces(geom, res)
        all_cells.append(cells)
        all_geoms.append(pgeoms)
        all_whole.append(whole)
        all_codes.append(np.full(len(cells), code, dtype=object))
        if on_unit is not None:
            on_unit(len(cells))
    cells = np.concatenate(all_cells) if all_cells else np.empty(0, dtype=np.uint64)
    pgeoms = np.concatenate(all_geoms) if all_geoms else np.empty(0, dtype=object)
    whole = np.concatenate(all_whole) if all_whole else np.empty(0, dtype=bool)
    ucodes = np.concatenate(all_codes) if all_codes else np.empty(0, dtype=object)
    order = np.lexsort((cells, ucodes))
    cells, pgeoms, whole, ucodes = cells[order], pgeoms[order], whole[order], ucodes[order]
    return gpd.GeoDataFrame(
        {
            "cell": _h3.cells_to_str(cells),
            "unit_code": ucodes,
            "area_m2": _piece_areas(pgeoms, whole),
            "whole": whole,
        },
        geometry=pgeoms,
        crs="EPSG:4326",
    )


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
