"""The unit hierarchy (行政单元): district → street/township → community/village (→ grid).

Checks that children tile their parents: the area of a parent covered by no child (死角, dead
corner) and the area claimed by two siblings (重叠, overlap), each in m² with its geometry, plus
the parts of children lying outside their parent. Nothing is silently dropped (DESIGN invariant 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from gridmgr import settings
from gridmgr.errors import HierarchyError, UnitNotFoundError
from gridmgr.i18n import t

#: Edges longer than this (degrees) are densified before projecting, so that a straight lon/lat
#: edge keeps its shape in the equal-area CRS (a long edge would otherwise become a chord).
DENSIFY_DEG = 0.001

#: Slivers below this area (m²) come from floating-point noise on shared edges, not from data.
NOISE_AREA_M2 = 1e-3


@lru_cache(maxsize=4)
def _to_equal_area(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def to_equal_area(geoms: NDArray[np.object_] | gpd.GeoSeries) -> NDArray[np.object_]:
    """Project lng/lat geometries to the equal-area CRS (vectorised, one pyproj call).

    Edges longer than :data:`DENSIFY_DEG` are densified first: the data's edges are straight in
    lon/lat, and areas must not depend on how many vertices an edge happens to carry.
    """
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    tr = _to_equal_area(settings.EQUAL_AREA_CRS)

    def _fwd(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    dense = shapely.segmentize(arr, DENSIFY_DEG)
    return np.asarray(shapely.transform(dense, _fwd), dtype=object)


def area_m2(geoms: NDArray[np.object_] | gpd.GeoSeries | shapely.Geometry) -> NDArray[np.float64]:
    """Areas in m² of lng/lat geometries, computed in an equal-area projection.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> float(area_m2([box(125.0, 43.0, 125.01, 43.01)])[0]) > 0
    True
    """
    if isinstance(geoms, shapely.Geometry):
        geoms = np.array([geoms], dtype=object)
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if len(arr) == 0:
        return np.empty(0, dtype=np.float64)
    return np.asarray(shapely.area(to_equal_area(arr)), dtype=np.float64)


def ring_area_m2(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Areas in m² of simple polygons without holes (e.g. H3 hexagons), by the shoelace formula.

    Same projection as :func:`area_m2` but no densifying and no geometry objects created: the
    vertices are projected in one pyproj call and summed with numpy. Use only for polygons whose
    edges are no longer than :data:`DENSIFY_DEG` (hexagon edges at res ≥ 10 in China).
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0, dtype=np.float64)
    xy, idx = shapely.get_coordinates(arr, return_index=True)
    return shoelace_m2(xy, idx, len(arr))


def shoelace_m2(xy: NDArray[np.float64], idx: NDArray[np.intp], n: int) -> NDArray[np.float64]:
    """Equal-area m² of ``n`` single rings given as lng/lat vertices ``xy`` with owner ``idx``.

    ``xy, idx`` are what ``shapely.get_coordinates(geoms, return_index=True)`` returns for
    polygons without holes (closed rings, vertices of one ring consecutive).
    """
    x, y = _to_equal_area(settings.EQUAL_AREA_CRS).transform(xy[:, 0], xy[:, 1])
    # Shift each ring to its own first vertex: projected coordinates are ~10⁶ m, so the shoelace
    # products on absolute coordinates (~10¹³ m²) would lose ~10⁻³ m² to rounding, a relative
    # error of 10⁻⁵ on a res-12 cell (~300 m²).
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    counts = np.diff(np.r_[starts, len(idx)])
    x = np.asarray(x) - np.repeat(np.asarray(x)[starts], counts)
    y = np.asarray(y) - np.repeat(np.asarray(y)[starts], counts)
    # shoelace over consecutive vertices of the same ring (rings are closed: last == first)
    same = idx[1:] == idx[:-1]
    cross = (x[:-1] * y[1:] - x[1:] * y[:-1]) * same
    return np.abs(np.bincount(idx[:-1], weights=cross, minlength=n)) / 2.0


def lowest_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Units that no other unit names as parent (the ones pieces are cut from)."""
    parents = set(units["parent"].dropna().astype(str))
    return units[~units["code"].astype(str).isin(parents)]


def ancestors(units: pd.DataFrame, code: str) -> list[str]:
    """Codes from the top of the hierarchy down to ``code`` (inclusive)."""
    parent = dict(zip(units["code"].astype(str), units["parent"], strict=True))
    if code not in parent:
        raise UnitNotFoundError(
            t(
                f"单元 {code!r} 不存在；用 `gridmgr units` 查看单元代码",
                f"unit {code!r} does not exist; `gridmgr units` lists the codes",
            )
        )
    chain = [code]
    seen = {code}
    while (p := parent.get(chain[-1])) is not None and isinstance(p, str) and p in parent:
        if p in seen:
            raise HierarchyError(f"unit {code!r}: parent cycle through {p!r}")
        chain.append(p)
        seen.add(p)
    return chain[::-1]


def descendants(units: pd.DataFrame, code: str) -> list[str]:
    """``code`` and every unit below it."""
    children: dict[str, list[str]] = {}
    for c, p in zip(units["code"].astype(str), units["parent"], strict=True):
        if isinstance(p, str):
            children.setdefault(p, []).append(c)
    if code not in set(units["code"].astype(str)):
        raise UnitNotFoundError(
            t(
                f"单元 {code!r} 不存在；用 `gridmgr units` 查看单元代码",
                f"unit {code!r} does not exist; `gridmgr units` lists the codes",
            )
        )
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(children.get(c, []))
    return out


@dataclass(frozen=True)
class HierarchyReport:
    """Result of :func:`check_hierarchy`.

    ``gaps``: per parent, the part covered by no child (死角); ``overlaps``: per sibling pair, the
    part both claim (重叠); ``outside``: per child, the part outside its parent. Each frame has
    columns ``parent`` (and ``codes`` / ``code``), ``area_m2`` and geometry (EPSG:4326).
    """

    gaps: gpd.GeoDataFrame
    overlaps: gpd.GeoDataFrame
    outside: gpd.GeoDataFrame
    parents_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def gap_area_m2(self) -> float:
        return float(self.gaps["area_m2"].sum()) if len(self.gaps) else 0.0

    @property
    def overlap_area_m2(self) -> float:
        return float(self.overlaps["area_m2"].sum()) if len(self.overlaps) else 0.0

    @property
    def outside_area_m2(self) -> float:
        return float(self.outside["area_m2"].sum()) if len(self.outside) else 0.0

    @property
    def ok(self) -> bool:
        return not (len(self.gaps) or len(self.overlaps) or len(self.outside))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygonal part of ``geom`` (intersections may yield lines/points)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _frame(rows: list[dict[str, object]], columns: list[str]) -> gpd.GeoDataFrame:
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def check_hierarchy(
    units: gpd.GeoDataFrame, *, min_area_m2: float = NOISE_AREA_M2
) -> HierarchyReport:
    """Check that every parent is tiled by its children.

    For each unit with children: gap = parent − ⋃children, overlap = pairwise intersections of
    siblings, outside = child − parent. Parts smaller than ``min_area_m2`` (floating-point noise
    on shared edges) are ignored. Areas in m², equal-area projection.
    """
    geom = dict(zip(units["code"].astype(str), units.geometry.values, strict=True))
    kids: dict[str, list[str]] = {}
    for c, p in zip(units["code"].astype(str), units["parent"], strict=True):
        if isinstance(p, str) and p in geom:
            kids.setdefault(p, []).append(c)
    gaps: list[dict[str, object]] = []
    overlaps: list[dict[str, object]] = []
    outside: list[dict[str, object]] = []
    for parent, children in sorted(kids.items()):
        pg = geom[parent]
        cg = np.array([geom[c] for c in children], dtype=object)
        gap = _polygonal(shapely.difference(pg, shapely.union_all(cg)))
        if not gap.is_empty and area_m2(gap)[0] >= min_area_m2:
            gaps.append({"parent": parent, "area_m2": float(area_m2(gap)[0]), "geometry": gap})
        out = np.array([_polygonal(g) for g in shapely.difference(cg, pg)], dtype=object)
        out_area = area_m2(out)
        for c, g, a in zip(children, out, out_area, strict=True):
            if a >= min_area_m2:
                outside.append({"parent": parent, "code": c, "area_m2": float(a), "geometry": g})
        tree = shapely.STRtree(cg)
        left, right = tree.query(cg, predicate="intersects")
        pairs = left < right
        left, right = left[pairs], right[pairs]
        if len(left):
            inter = shapely.intersection(cg[left], cg[right])
            inter = np.array([_polygonal(g) for g in inter], dtype=object)
            inter_area = area_m2(inter)
            for i, j, g, a in zip(left, right, inter, inter_area, strict=True):
                if a >= min_area_m2:
                    overlaps.append(
                        {
                            "parent": parent,
                            "codes": f"{children[i]},{children[j]}",
                            "area_m2": float(a),
                            "geometry": g,
                        }
                    )
    return HierarchyReport(
        gaps=_frame(gaps, ["parent", "area_m2"]),
        overlaps=_frame(overlaps, ["parent", "codes", "area_m2"]),
        outside=_frame(outside, ["parent", "code", "area_m2"]),
        parents_checked=len(kids),
    )
