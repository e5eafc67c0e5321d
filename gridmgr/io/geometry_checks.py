"""Geometry validation and repair of the layer readers (private; used by the ``gridmgr.io`` readers).

Raw GeoJSON ring checks (before any library closes rings), empty/unparseable/wrong-type
geometries, non-finite and implausible coordinates (swapped axes, projected data declared
geographic, wrong Gauss-Krüger zone) and polygon validity, with optional
:func:`shapely.make_valid` repair. Messages follow :mod:`gridmgr.io.validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from gridmgr.errors import (
    CoordinateRangeError,
    CRSMismatchError,
    EmptyGeometryError,
    GeometryTypeError,
    RingError,
    SelfIntersectionError,
    SwappedAxesError,
)
from gridmgr.i18n import t
from gridmgr.io.validate import code_at, feature_ref, first_bad, others_suffix

ObjArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]

#: Plausible area for lon/lat data: China's bounding box (lon 73–136°E, lat 3–54°N).
CHINA_BBOX = (73.0, 3.0, 136.0, 54.0)


# --- raw GeoJSON checks (before any library auto-closes rings) --------------------------------


@dataclass(frozen=True)
class RingProblem:
    """A ring problem found in the raw coordinates of one feature."""

    index: int
    ring: str
    positions: int
    closed: bool


def _ring_arrays(geom: dict[str, Any]) -> list[tuple[str, Any]]:
    kind = geom.get("type")
    coords = geom.get("coordinates")
    if not isinstance(coords, list):
        return []
    out: list[tuple[str, Any]] = []
    polys: list[tuple[str, Any]] = []
    if kind == "Polygon":
        polys = [("", coords)]
    elif kind == "MultiPolygon":
        polys = [(f"polygon {k} ", p) for k, p in enumerate(coords) if isinstance(p, list)]
    for prefix, rings in polys:
        for r, ring in enumerate(rings):
            label = f"{prefix}{'exterior ring' if r == 0 else f'hole {r}'}"
            out.append((label, ring))
    return out


def raw_ring_problems(geometries: Sequence[dict[str, Any] | None]) -> list[RingProblem]:
    """Unclosed rings and rings with fewer than 4 positions, from raw GeoJSON geometry dicts.

    GDAL and shapely close rings silently, so this runs on the parsed JSON before them. One
    small numpy comparison per ring; no Python loop over vertices.
    """
    problems: list[RingProblem] = []
    for i, geom in enumerate(geometries):
        if not isinstance(geom, dict):
            continue
        for label, ring in _ring_arrays(geom):
            if not isinstance(ring, list):
                problems.append(RingProblem(i, label, 0, False))
                continue
            n = len(ring)
            try:
                arr = np.asarray([p[:2] for p in ring], dtype=np.float64)
            except (TypeError, ValueError, IndexError):
                problems.append(RingProblem(i, label, n, False))
                continue
            closed = bool(n >= 2 and np.array_equal(arr[0], arr[-1]))
            if n < 4 or not closed:
                problems.append(RingProblem(i, label, n, closed))
    return problems


def check_rings(problems: Sequence[RingProblem], path: Path | str, codes: Sequence[object]) -> None:
    """Raise :class:`RingError` for the first raw ring problem."""
    if not problems:
        return
    p = problems[0]
    where = feature_ref(path, p.index, code_at(codes, p.index))
    idx = sorted({q.index for q in problems})
    if not p.closed:
        what = t(
            f"{p.ring} 未闭合（首尾坐标不同，{p.positions} 个坐标）",
            f"{p.ring} is not closed (first and last positions differ, {p.positions} positions)",
        )
        fix = t("请让最后一个坐标等于第一个坐标", "repeat the first position at the end")
    else:
        what = t(
            f"{p.ring} 只有 {p.positions} 个坐标（多边形环至少需要 4 个）",
            f"{p.ring} has only {p.positions} positions (a polygon ring needs at least 4)",
        )
        fix = t("请删除该退化环或补全边界", "remove the degenerate ring or complete the boundary")
    msg = f"{where}: {what}{others_suffix(idx)}; {fix}"
    raise RingError(msg)


# --- geometry checks --------------------------------------------------------------------------


def check_geometries(
    geoms: ObjArray,
    path: Path | str,
    codes: Sequence[object],
    allowed: Sequence[str],
    unparsed: BoolArray | None = None,
) -> None:
    """Empty/missing geometries, unparseable ones and wrong geometry types."""
    if unparsed is not None and unparsed.any():
        bad = np.flatnonzero(unparsed)
        i, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：几何无法解析（环未闭合或坐标过少）{others}；请在 QGIS 中检查并修复该要素",
            f"{where}: geometry cannot be parsed (a ring is "
            f"not closed or has too few points){others}; fix the feature in QGIS",
        )
        raise RingError(msg)
    missing = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms), dtype=bool)
    if missing.any():
        bad = np.flatnonzero(missing)
        i, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：几何为空{others}；请补绘边界或删除该要素",
            f"{where}: geometry is empty or missing"
            f"{others}; draw its boundary or remove the feature",
        )
        raise EmptyGeometryError(msg)
    types = shapely.get_type_id(geoms)
    names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ],
        dtype=object,
    )[types]
    wrong = ~np.isin(names, list(allowed))
    if wrong.any():
        bad = np.flatnonzero(wrong)
        i, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：几何类型为 {names[i]}，此图层只接受 "
            f"{'/'.join(allowed)}{others}；请导出正确类型的图层",
            f"{where}: geometry type is {names[i]}, this layer "
            f"accepts only {'/'.join(allowed)}{others}; export the right layer "
            f"(e.g. the boundary polygons, not their centroids or outlines)",
        )
        raise GeometryTypeError(msg)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def gk_hint(x: float, y: float) -> str:
    """Suggest a CGCS2000 Gauss-Krüger CRS for projected-looking coordinates (x east, y north)."""
    if 1.3e7 <= x < 4.6e7 and 0 < y < 6.5e6:
        zone = int(x // 1e6)
        if 25 <= zone <= 45:
            return f"EPSG:{4513 + zone - 25} (CGCS2000 3-degree GK zone {zone})"
    if 1.3e7 <= x < 2.4e7 and 0 < y < 6.5e6:
        zone = int(x // 1e6)
        return f"EPSG:{4491 + zone - 13} (CGCS2000 6-degree GK zone {zone})"
    if 0 < x < 1e6 and 0 < y < 6.5e6:
        return "EPSG:4551 (CGCS2000 3-degree GK CM 126E, Changchun) or the CM variant of your zone"
    return "the projected CRS of your data (EPSG code from its metadata / .prj)"


def _first_outside_index(xy: npt.NDArray[np.float64]) -> int:
    """Index of the first vertex not finite or outside China's bounding box (0 when none is)."""
    lo_x, lo_y, hi_x, hi_y = CHINA_BBOX
    inside = (
        np.isfinite(xy).all(axis=1)
        & (xy[:, 0] >= lo_x)
        & (xy[:, 0] <= hi_x)
        & (xy[:, 1] >= lo_y)
        & (xy[:, 1] <= hi_y)
    )
    out = np.flatnonzero(~inside)
    return int(out[0]) if out.size else 0


def first_vertex_outside(geom: shapely.Geometry) -> tuple[float, float]:
    """The first vertex of ``geom`` outside China's bounding box: the one an error should quote
    (a bounds corner mixes coordinates of different vertices and may quote a valid one).

    >>> first_vertex_outside(shapely.LineString([(125.3, 43.9), (125.4, 93.9), (125.5, 43.8)]))
    (125.4, 93.9)
    """
    xy = shapely.get_coordinates(geom)
    if len(xy) == 0:
        return float("nan"), float("nan")
    x, y = xy[_first_outside_index(xy)]
    return float(x), float(y)


def check_finite(geoms: ObjArray, path: Path | str, codes: Sequence[object]) -> None:
    """Raise :class:`CoordinateRangeError` when any coordinate is NaN or infinite."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_rows = ~np.isfinite(coords).all(axis=1)
    if bad_rows.any():
        bad = np.unique(index[bad_rows])
        _, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：坐标不是有限数（NaN 或无穷大）{others}；请修复该要素的坐标",
            f"{where}: coordinates are not finite (NaN or "
            f"infinite){others}; fix the feature's coordinates",
        )
        raise CoordinateRangeError(msg)


def check_lonlat(
    geoms: ObjArray,
    path: Path | str,
    codes: Sequence[object],
    crs_label: str,
) -> None:
    """Check lon/lat data in a geographic CRS lies in China, with specific errors for swapped axes
    and projected coordinates.
    """
    b = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    lo_x, lo_y, hi_x, hi_y = CHINA_BBOX
    in_china = (xmin >= lo_x) & (xmax <= hi_x) & (ymin >= lo_y) & (ymax <= hi_y)
    if in_china.all():
        return
    swapped = (ymin >= lo_x) & (ymax <= hi_x) & (xmin >= lo_y) & (xmax <= hi_y)
    lonlat = (xmin >= -180) & (xmax <= 180) & (ymin >= -90) & (ymax <= 90)
    bad = np.flatnonzero(~in_china)
    i, where, others = first_bad(bad, path, codes)
    x, y = first_vertex_outside(geoms[i])
    if swapped[i]:
        msg = t(
            f"{where}：经纬度顺序颠倒（x={_fmt(x)} 像纬度，y={_fmt(y)} 像经度）{others}；"
            f"请按 经度,纬度（x=经度）顺序导出",
            f"{where}: latitude and longitude look swapped (x={_fmt(x)} looks like a latitude, "
            f"y={_fmt(y)} like a longitude){others}; export as lon,lat (x = longitude)",
        )
        raise SwappedAxesError(msg)
    if not lonlat[i] and max(abs(x), abs(y), abs(float(xmax[i])), abs(float(ymax[i]))) > 1000:
        msg = t(
            f"{where}：坐标 x={_fmt(x)}, y={_fmt(y)} 是投影坐标（米），但文件声明为地理坐标 "
            f"{crs_label}{others}；请用 --crs 指定真实坐标系，例如 {gk_hint(x, y)}",
            f"{where}: coordinates x={_fmt(x)}, y={_fmt(y)} are projected (metres) but the file "
            f"is declared geographic ({crs_label}){others}; pass the real CRS with --crs / crs=, "
            f"e.g. {gk_hint(x, y)}",
        )
        raise CRSMismatchError(msg)
    msg = t(
        f"{where}：坐标 x={_fmt(x)}, y={_fmt(y)} 超出合理范围（中国：经度 73–136，纬度 3–54，"
        f"{crs_label}）{others}；请检查坐标系或经纬度顺序",
        f"{where}: coordinates x={_fmt(x)}, y={_fmt(y)} lie outside any plausible area "
        f"(China: lon 73–136, lat 3–54; {crs_label}){others}; check the CRS and the axis order",
    )
    raise CoordinateRangeError(msg)


def check_projected_source(
    geoms: ObjArray, path: Path | str, codes: Sequence[object], crs: pyproj.CRS
) -> None:
    """Lon/lat-looking coordinates in a file declared projected are a CRS mismatch."""
    b = shapely.bounds(geoms)
    looks_lonlat = (np.abs(b[:, [0, 2]]) <= 180).all(axis=1) & (np.abs(b[:, [1, 3]]) <= 90).all(
        axis=1
    )
    if looks_lonlat.all():
        i = 0
        where = feature_ref(path, i, code_at(codes, i))
        label = crs.to_string()
        msg = t(
            f"{where}：坐标 x={_fmt(b[i, 0])}, y={_fmt(b[i, 1])} 像经纬度，但文件声明为投影坐标系 "
            f"{label}；请用 --crs EPSG:4326（或 EPSG:4490）",
            f"{where}: coordinates x={_fmt(b[i, 0])}, y={_fmt(b[i, 1])} look like lon/lat but the "
            f"file is declared projected ({label}); pass --crs EPSG:4326 (or EPSG:4490)",
        )
        raise CRSMismatchError(msg)


def check_converted(
    geoms: ObjArray,
    raw: ObjArray,
    path: Path | str,
    codes: Sequence[object],
    crs_label: str,
) -> None:
    """After converting projected data to lon/lat, every feature must be finite and in China."""
    b = shapely.bounds(geoms)
    lo_x, lo_y, hi_x, hi_y = CHINA_BBOX
    ok = (
        np.isfinite(b).all(axis=1)
        & (b[:, 0] >= lo_x)
        & (b[:, 2] <= hi_x)
        & (b[:, 1] >= lo_y)
        & (b[:, 3] <= hi_y)
    )
    if ok.all():
        return
    bad = np.flatnonzero(~ok)
    i, where, others = first_bad(bad, path, codes)
    k = _first_outside_index(shapely.get_coordinates(geoms[i]))
    raw_xy = shapely.get_coordinates(raw[i])
    x, y = (float(v) for v in raw_xy[min(k, len(raw_xy) - 1)])
    lon, lat = first_vertex_outside(geoms[i])
    msg = t(
        f"{where}：按 {crs_label} 换算后位于 经度 {_fmt(lon)}, "
        f"纬度 {_fmt(lat)}，不在中国范围内{others}；坐标系或投影带可能有误，"
        f"原始坐标 x={_fmt(x)}, y={_fmt(y)} 建议 {gk_hint(x, y)}",
        f"{where}: converted from {crs_label} it lies at lon "
        f"{_fmt(lon)}, lat {_fmt(lat)}, outside China{others}; the CRS or the "
        f"Gauss-Krüger zone is probably wrong — raw x={_fmt(x)}, y={_fmt(y)} suggests "
        f"{gk_hint(x, y)}",
    )
    raise CoordinateRangeError(msg)


# --- validity and repair ----------------------------------------------------------------------


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygonal parts of a repaired geometry."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    keep = parts[np.isin(shapely.get_type_id(parts), [3, 6])]
    if keep.size == 0:
        return shapely.Polygon()
    return shapely.union_all(keep)


def check_validity(
    geoms: ObjArray,
    path: Path | str,
    codes: Sequence[object],
    *,
    repair: bool,
    area_crs: str,
) -> tuple[ObjArray, list[dict[str, Any]]]:
    """Raise :class:`SelfIntersectionError` for invalid polygons, or repair them.

    With ``repair=True`` invalid polygons go through :func:`shapely.make_valid` (``structure``
    method, collapsed parts dropped) and the returned list reports, per repaired feature, its
    index, code, the GEOS reason and the areas in m² (equal-area CRS) before and after. The
    "before" area is what GEOS reports for the invalid rings (the shoelace sum, where the lobes of
    a bow-tie cancel), so the change is what a user would see in a naive area table.
    """
    valid = np.asarray(shapely.is_valid(geoms), dtype=bool)
    if valid.all():
        return geoms, []
    bad = np.flatnonzero(~valid)
    reasons = shapely.is_valid_reason(geoms[bad])
    if not repair:
        i, where, others = first_bad(bad, path, codes)
        msg = t(
            f"{where}：多边形无效（{reasons[0]}，如自相交）"
            f"{others}；加 --repair 自动修复（报告面积变化），或在 QGIS 中用“修复几何”",
            f"{where}: polygon is invalid ({reasons[0]}, e.g. "
            f"self-intersecting){others}; run with --repair (repair=True, the area "
            f"change is reported) or fix it in QGIS (Fix Geometries)",
        )
        raise SelfIntersectionError(msg)
    import geopandas as gpd

    fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
    before = gpd.GeoSeries(geoms[bad], crs=4326).to_crs(area_crs).area.to_numpy()
    after = gpd.GeoSeries(fixed, crs=4326).to_crs(area_crs).area.to_numpy()
    empty = np.flatnonzero(shapely.is_empty(fixed))
    if empty.size:
        i = int(bad[empty[0]])
        msg = t(
            f"{feature_ref(path, i, code_at(codes, i))}：修复后几何为空（多边形退化为线或点）；请重绘边界",
            f"{feature_ref(path, i, code_at(codes, i))}: geometry is empty after repair (the "
            f"polygon collapses to lines or points); redraw its boundary",
        )
        raise EmptyGeometryError(msg)
    out = geoms.copy()
    out[bad] = fixed
    report = [
        {
            "index": int(i),
            "code": code_at(codes, int(i)),
            "reason": str(r),
            "area_before_m2": float(a0),
            "area_after_m2": float(a1),
            "area_change_m2": float(a1 - a0),
        }
        for i, r, a0, a1 in zip(bad, reasons, before, after, strict=True)
    ]
    return out, report


__all__ = [
    "CHINA_BBOX",
    "RingProblem",
    "check_converted",
    "check_finite",
    "check_geometries",
    "check_lonlat",
    "check_projected_source",
    "check_rings",
    "check_validity",
    "gk_hint",
    "raw_ring_problems",
]
