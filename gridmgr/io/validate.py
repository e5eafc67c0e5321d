"""Validation engine of the layer readers (private; used by :mod:`gridmgr.io.layers`).

Each check looks at a whole layer at once (shapely 2 / numpy), and on failure raises one specific
error from :mod:`gridmgr.errors` whose message names the file, the first offending feature (its
0-based position in the file), its code, the field, and the fix, plus how many other features
have the same problem. Nothing is returned partially: a reader either returns a fully valid frame
or raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gridmgr.errors import (
    CoordinateRangeError,
    CRSMismatchError,
    DuplicateCodeError,
    EmptyGeometryError,
    GeometryTypeError,
    HierarchyError,
    InvalidFieldError,
    MissingFieldError,
    RingError,
    SelfIntersectionError,
    SwappedAxesError,
    UnknownParentError,
)
from gridmgr.i18n import t

ObjArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]

#: Plausible area for lon/lat data: China's bounding box (lon 73–136°E, lat 3–54°N).
CHINA_BBOX = (73.0, 3.0, 136.0, 54.0)

#: Unit levels from the top down.
LEVELS = ("district", "street", "community", "grid")

_LEVEL_ALIASES = {
    "district": "district",
    "county": "district",
    "区": "district",
    "县": "district",
    "区县": "district",
    "县级": "district",
    "street": "street",
    "township": "street",
    "town": "street",
    "subdistrict": "street",
    "街道": "street",
    "乡": "street",
    "镇": "street",
    "乡镇": "street",
    "街道/乡镇": "street",
    "乡级": "street",
    "community": "community",
    "village": "community",
    "社区": "community",
    "村": "community",
    "社区/村": "community",
    "居委会": "community",
    "村委会": "community",
    "grid": "grid",
    "网格": "grid",
}

_POLYGONAL = ("Polygon", "MultiPolygon")


# --- message helpers -------------------------------------------------------------------------


def feature_ref(path: Path | str, index: int, code: object = None) -> str:
    """``"units.geojson: feature 3 (code='220173001')"`` in the current UI language."""
    name = str(path)
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return t(f"{name}：要素 {index}", f"{name}: feature {index}")
    return t(f"{name}：要素 {index}（code={code!r}）", f"{name}: feature {index} (code={code!r})")


def _others(indices: Sequence[int]) -> str:
    """``" (3 features in total: 0, 4, 9)"`` when more than one feature has the problem."""
    if len(indices) <= 1:
        return ""
    shown = ", ".join(str(i) for i in indices[:8]) + (" …" if len(indices) > 8 else "")
    return t(
        f"（共 {len(indices)} 个要素：{shown}）", f" ({len(indices)} features in total: {shown})"
    )


def _code_at(codes: Sequence[object] | None, i: int) -> object:
    if codes is None:
        return None
    code = codes[i]
    return None if code is None or (isinstance(code, float) and math.isnan(code)) else code


def _first_bad(
    bad: Sequence[int] | npt.NDArray[np.integer], path: Path | str, codes: Sequence[object] | None
) -> tuple[int, str, str]:
    """For the positions ``bad`` of failing features: the first one, its reference and the rest.

    Returns ``(i, where, others)``: ``where`` is :func:`feature_ref` of feature ``i`` and
    ``others`` the " (N features in total: …)" suffix (empty for a single feature).
    """
    i = int(bad[0])
    return i, feature_ref(path, i, _code_at(codes, i)), _others([int(b) for b in bad])


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
    where = feature_ref(path, p.index, _code_at(codes, p.index))
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
    msg = f"{where}: {what}{_others(idx)}; {fix}"
    raise RingError(msg)


def load_json(path: Path) -> Any:
    """Parse a JSON file as UTF-8 (BOM accepted), falling back to GB18030.

    Uses orjson when it is installed (about 4× faster on large layers); files orjson rejects
    (NaN/Infinity literals, GB18030 text) go through the standard library parser, which also
    gives the line/column of real syntax errors.
    """
    raw = path.read_bytes()
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        pass
    else:
        try:
            return orjson.loads(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return json.loads(text)


def dumps_geometry(geom: dict[str, Any]) -> str:
    """Serialise one GeoJSON geometry dict for GEOS (orjson when installed)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        return json.dumps(geom)
    try:
        return orjson.dumps(geom).decode()
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(geom)


# --- attribute checks -------------------------------------------------------------------------


def _blank(values: pd.Series) -> BoolArray:
    s = values.astype(object)
    isna = pd.isna(s).to_numpy(dtype=bool)
    as_str = s.where(~isna, "").astype(str).str.strip()
    return np.asarray(
        isna | (as_str == "").to_numpy(dtype=bool) | as_str.isin(["nan", "None"]).to_numpy()
    )


def normalise_codes(values: pd.Series) -> pd.Series:
    """Codes as stripped strings; integral floats lose their ``.0``; blanks become ``None``."""
    s = values.astype(object)

    def _one(v: object) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        text = str(v).strip()
        return text or None

    return pd.Series([_one(v) for v in s.tolist()], index=values.index, dtype=object)


def check_required(
    values: pd.Series, path: Path | str, field: str, codes: Sequence[object] | None, role: str
) -> None:
    """Raise :class:`MissingFieldError` when a feature leaves a required field empty."""
    blank = np.flatnonzero(_blank(values))
    if blank.size == 0:
        return
    i = int(blank[0])
    where = feature_ref(path, i, _code_at(codes, i))
    msg = t(
        f"{where}：字段 {field!r}（{role}）为空{_others(blank.tolist())}；请在 QGIS 或表格中补全",
        f"{where}: field {field!r} ({role}) is empty{_others(blank.tolist())}; fill it in "
        f"(QGIS attribute table) or drop the feature",
    )
    raise MissingFieldError(msg)


def check_unique(codes: pd.Series, path: Path | str, field: str) -> None:
    """Raise :class:`DuplicateCodeError` naming both features of the first duplicated code."""
    dup = codes.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    first = int(np.flatnonzero(dup)[0])
    code = codes.iloc[first]
    same = np.flatnonzero((codes == code).to_numpy()).tolist()
    n_codes = int(codes[dup].nunique())
    msg = t(
        f"{path}：字段 {field!r} 的编码 {code!r} 重复，出现在要素 {', '.join(map(str, same))}"
        f"（共 {n_codes} 个重复编码）；每个要素的编码必须唯一",
        f"{path}: code {code!r} in field {field!r} appears in features "
        f"{', '.join(map(str, same))} ({n_codes} duplicated codes in total); codes must be unique "
        f"— give each feature its own code or merge the features",
    )
    raise DuplicateCodeError(msg)


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
        i, where, others = _first_bad(bad, path, codes)
        msg = t(
            f"{where}：几何无法解析（环未闭合或坐标过少）{others}；请在 QGIS 中检查并修复该要素",
            f"{where}: geometry cannot be parsed (a ring is "
            f"not closed or has too few points){others}; fix the feature in QGIS",
        )
        raise RingError(msg)
    missing = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms), dtype=bool)
    if missing.any():
        bad = np.flatnonzero(missing)
        i, where, others = _first_bad(bad, path, codes)
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
        i, where, others = _first_bad(bad, path, codes)
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


def check_finite(geoms: ObjArray, path: Path | str, codes: Sequence[object]) -> None:
    """Raise :class:`CoordinateRangeError` when any coordinate is NaN or infinite."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_rows = ~np.isfinite(coords).all(axis=1)
    if bad_rows.any():
        bad = np.unique(index[bad_rows])
        _, where, others = _first_bad(bad, path, codes)
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
    i, where, others = _first_bad(bad, path, codes)
    x, y = float(xmin[i]), float(ymin[i])
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
        where = feature_ref(path, i, _code_at(codes, i))
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
    i, where, others = _first_bad(bad, path, codes)
    rb = shapely.bounds(raw[i])
    x, y = float(rb[0]), float(rb[1])
    lon, lat = float(b[i, 0]), float(b[i, 1])
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
        i, where, others = _first_bad(bad, path, codes)
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
            f"{feature_ref(path, i, _code_at(codes, i))}：修复后几何为空（多边形退化为线或点）；请重绘边界",
            f"{feature_ref(path, i, _code_at(codes, i))}: geometry is empty after repair (the "
            f"polygon collapses to lines or points); redraw its boundary",
        )
        raise EmptyGeometryError(msg)
    out = geoms.copy()
    out[bad] = fixed
    report = [
        {
            "index": int(i),
            "code": _code_at(codes, int(i)),
            "reason": str(r),
            "area_before_m2": float(a0),
            "area_after_m2": float(a1),
            "area_change_m2": float(a1 - a0),
        }
        for i, r, a0, a1 in zip(bad, reasons, before, after, strict=True)
    ]
    return out, report


# --- unit hierarchy ---------------------------------------------------------------------------


def normalise_levels(
    values: pd.Series, path: Path | str, field: str, codes: Sequence[object]
) -> pd.Series:
    """Map level values (English or Chinese) to ``district|street|community|grid``."""
    text = values.astype(object).where(~pd.isna(values), "").astype(str).str.strip()
    mapped = text.str.lower().map(lambda v: _LEVEL_ALIASES.get(v))
    bad = np.flatnonzero(mapped.isna().to_numpy())
    if bad.size:
        i, where, others = _first_bad(bad, path, codes)
        msg = t(
            f"{where}：字段 {field!r} 的层级值 {text.iloc[i]!r} "
            f"无法识别{others}；可用 district/street/community/grid 或 区/街道/社区/网格",
            f"{where}: level {text.iloc[i]!r} in field "
            f"{field!r} is not recognised{others}; use district, street, community "
            f"or grid (or 区, 街道, 社区, 网格)",
        )
        raise InvalidFieldError(msg)
    return mapped.astype(object)


def level_from_code(code: str) -> str | None:
    """Level from the code length: 6 district, 9 street, 12 community, 15 grid.

    Zero-padded 12-digit statistical codes are recognised too (``220173000000`` district,
    ``220173001000`` street).
    """
    if not code.isdigit():
        return None
    n = len(code)
    if n == 6:
        return "district"
    if n == 9:
        return "street"
    if n == 12:
        if code.endswith("000000"):
            return "district"
        if code.endswith("000"):
            return "street"
        return "community"
    if n == 15:
        return "grid"
    return None


def infer_levels(codes: pd.Series, path: Path | str, parents: pd.Series | None = None) -> pd.Series:
    """Levels from code lengths, else one below the parent's level.

    A code of no standard length (e.g. a custom grid code ``G01``) whose parent has a known
    level gets the next level down. :class:`MissingFieldError` when neither works.
    """
    levels = codes.map(level_from_code).astype(object)
    if parents is not None and levels.isna().any():
        par = normalise_codes(parents)
        par.index = codes.index
        for _ in LEVELS:
            level_of = dict(zip(codes.tolist(), levels.tolist(), strict=True))
            below = [
                LEVELS[LEVELS.index(level_of[p]) + 1]
                if p is not None and isinstance(level_of.get(p), str) and level_of[p] != LEVELS[-1]
                else None
                for p in par.tolist()
            ]
            fill = levels.isna().to_numpy() & np.array([b is not None for b in below], dtype=bool)
            if not fill.any():
                break
            levels[fill] = np.asarray(below, dtype=object)[fill]
    bad = np.flatnonzero(levels.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        msg = t(
            f"{feature_ref(path, i, codes.iloc[i])}：没有层级字段，且无法从编码长度推断层级（6 位=区，"
            f"9 位=街道，12 位=社区，15 位=网格），也无法从上级推断{_others(bad.tolist())}；请增加 level 字段或用 "
            f"level_field= 指定",
            f"{feature_ref(path, i, codes.iloc[i])}: no level field and the level cannot be inferred "
            f"from the code length (6 digits district, 9 street, 12 community, 15 grid) nor from "
            f"a parent of known level{_others(bad.tolist())}; add a 'level' field or name it with "
            f"level_field=",
        )
        raise MissingFieldError(msg)
    return levels.astype(object)


def _prefix_candidates(code: str) -> list[str]:
    if not code.isdigit():
        return []
    n = len(code)
    if n == 9:
        return [code[:6], code[:6] + "000000"]
    if n == 12:
        if code.endswith("000000"):
            return []
        if code.endswith("000"):
            return [code[:6], code[:6] + "000000"]
        return [code[:9], code[:9] + "000"]
    if n == 15:
        return [code[:12], code[:9]]
    return []


def resolve_parents(
    codes: pd.Series,
    parents: pd.Series | None,
    levels: pd.Series,
    path: Path | str,
    field: str | None,
) -> tuple[pd.Series, list[dict[str, str]]]:
    """Parents as codes in the layer (or ``None``); missing ones inferred from the code prefix.

    A unit at the layer's top level may name a parent outside the layer (e.g. the district's city
    ``2201``); that parent becomes ``None`` (the contract's root) and is reported in the returned
    list. Any other parent missing from the layer, a unit naming itself, or a parent that is not
    of a higher level, raises.
    """
    known = set(codes.tolist())
    n = len(codes)
    given = normalise_codes(parents) if parents is not None else pd.Series([None] * n, dtype=object)
    given.index = codes.index
    result: list[str | None] = []
    external: list[dict[str, str]] = []
    rank = {lvl: k for k, lvl in enumerate(LEVELS)}
    top = min(rank[v] for v in levels.tolist()) if n else 0
    for i, (code, par, lvl) in enumerate(
        zip(codes.tolist(), given.tolist(), levels.tolist(), strict=True)
    ):
        if par is None:
            cand = next((c for c in _prefix_candidates(code) if c in known and c != code), None)
            result.append(cand)
            continue
        if par == code:
            msg = t(
                f"{feature_ref(path, i, code)}：字段 {field!r} 把自己作为上级；请改为上级单元的编码或留空",
                f"{feature_ref(path, i, code)}: field {field!r} names the unit itself as its parent; "
                f"set the parent unit's code or leave it empty",
            )
            raise HierarchyError(msg)
        if par not in known:
            if rank[lvl] == top:
                external.append({"code": code, "parent": par})
                result.append(None)
                continue
            msg = t(
                f"{feature_ref(path, i, code)}：字段 {field!r} 的上级编码 {par!r} 在本图层中不存在；"
                f"请补充该上级单元、改正编码或清空该字段（将按编码前缀推断）",
                f"{feature_ref(path, i, code)}: parent code {par!r} in field {field!r} does not "
                f"exist in this layer; add that unit, correct the code, or clear the field (the "
                f"parent is then inferred from the code prefix)",
            )
            raise UnknownParentError(msg)
        result.append(par)
    out = pd.Series(result, index=codes.index, dtype=object)
    level_of = dict(zip(codes.tolist(), levels.tolist(), strict=True))
    for i, (code, par, lvl) in enumerate(
        zip(codes.tolist(), out.tolist(), levels.tolist(), strict=True)
    ):
        if par is not None and rank[level_of[par]] >= rank[lvl]:
            msg = t(
                f"{feature_ref(path, i, code)}：上级 {par!r} 的层级（{level_of[par]}）不高于本单元"
                f"（{lvl}）；请检查字段 {field!r} 或层级字段",
                f"{feature_ref(path, i, code)}: parent {par!r} is a {level_of[par]}, not a higher "
                f"level than this {lvl}; check field {field!r} or the level field",
            )
            raise HierarchyError(msg)
    return out, external


def error_for_unknown(values: Sequence[object], allowed: set[str]) -> int | None:
    """Position of the first value not in ``allowed`` (``None`` when all are known)."""
    for i, v in enumerate(values):
        if v not in allowed:
            return i
    return None


__all__ = [
    "CHINA_BBOX",
    "LEVELS",
    "RingProblem",
    "check_converted",
    "check_finite",
    "check_geometries",
    "check_lonlat",
    "check_projected_source",
    "check_required",
    "check_rings",
    "check_unique",
    "check_validity",
    "dumps_geometry",
    "error_for_unknown",
    "feature_ref",
    "infer_levels",
    "level_from_code",
    "load_json",
    "normalise_codes",
    "normalise_levels",
    "raw_ring_problems",
    "resolve_parents",
]
