"""Read, validate, repair and reproject layers to WGS-84.

Readers return GeoDataFrames in EPSG:4326 following the data contracts of
``docs/architecture.md`` (units, key places, departments/categories, roads), or raise one specific
error from :mod:`gridmgr.errors` naming the file, the feature (0-based position in the file), its
code, the field and the fix. Nothing is returned partially.

Formats: GeoJSON (parsed with :mod:`json` so that unclosed or short rings are seen before any
library closes them), GeoPackage (``layer=``) and Shapefile (DBF encoding from the ``.cpg``, else
detected: strict UTF-8, falling back to GB18030), anything else GDAL reads via pyogrio.

CRS: whatever pyproj knows (CGCS2000 EPSG:4490, CGCS2000 Gauss-Krüger zones EPSG:4491–4554 …) and
the Chinese web-map offsets ``"gcj02"`` and ``"bd09"`` (see :mod:`gridmgr.io.crs`). ``crs=`` overrides
the file's CRS (or sets it when the file has none). A GeoJSON file without a ``crs`` member is
WGS-84 (RFC 7946).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gridmgr.errors import (
    CRSError,
    CRSSuspicionWarning,
    DuplicateCodeError,
    InvalidFieldError,
    InvalidGeometryError,
    MissingFieldError,
    UnreadableFileError,
)
from gridmgr.i18n import t
from gridmgr.io import validate as v
from gridmgr.io.crs import OffsetCRS, offset_suspicion, parse_crs, transform_geometries
from gridmgr.io.readers import GCJ_PATTERN, Source, read_source, unreadable
from gridmgr.settings import EQUAL_AREA_CRS

ObjArray = npt.NDArray[np.object_]
PathLike = str | Path

__all__ = [
    "CODE_FIELDS",
    "NAME_FIELDS",
    "PARENT_FIELDS",
    "DepartmentTables",
    "Layers",
    "read_departments",
    "read_key_places",
    "read_layers",
    "read_roads",
    "read_units",
]

#: Field-name variants recognised, in order of preference (matched case-insensitively).
CODE_FIELDS = (
    "code",
    "adcode",
    "区划代码",
    "行政区划代码",
    "区划编码",
    "代码",
    "编码",
    "单元编码",
    "xzqdm",
    "xzqhdm",
    "xzqh_dm",
    "unit_code",
    "dm",
    "gb",
    "bm",
)
NAME_FIELDS = (
    "name",
    "名称",
    "单元名称",
    "区划名称",
    "行政区划名称",
    "xzqmc",
    "xzqhmc",
    "name_zh",
    "mc",
    "unit_name",
    "名字",
)
PARENT_FIELDS = (
    "parent",
    "parent_code",
    "parentcode",
    "parent_adcode",
    "上级代码",
    "上级编码",
    "上级区划代码",
    "父级代码",
    "父代码",
    "sjdm",
    "sjxzqdm",
    "pcode",
    "p_code",
)
LEVEL_FIELDS = ("level", "层级", "级别", "单元层级", "jb", "cj")
CATEGORY_FIELDS = ("category", "类别", "类型", "分类", "场所类型", "cat", "kind", "lb", "lx")
ADDRESS_FIELDS = ("address", "地址", "详细地址", "addr", "dz")

_POLYGONAL = ("Polygon", "MultiPolygon")
_KEY_PLACE_TYPES = ("Point", "Polygon", "MultiPolygon")
_LINEAR = ("LineString", "MultiLineString")


# --- fields -----------------------------------------------------------------------------------


def _find_field(
    src: Source,
    explicit: str | None,
    candidates: Sequence[str],
    role: str,
    option: str,
    *,
    required: bool,
) -> str | None:
    columns = [str(c) for c in src.props.columns]
    listing = ", ".join(repr(c) for c in columns)
    if explicit is not None:
        if explicit in columns:
            return explicit
        lower = {c.lower(): c for c in columns}
        if explicit.lower() in lower:
            return lower[explicit.lower()]
        msg = t(
            f"{src.path}：没有字段 {explicit!r}（{role}）；现有字段：{listing or '无'}；"
            f"请用 {option} 指定正确的字段名",
            f"{src.path}: field {explicit!r} ({role}) does not exist; fields are: "
            f"{listing or 'none'}; pass the right name with {option}",
        )
        raise MissingFieldError(msg)
    lower = {c.lower(): c for c in reversed(columns)}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    if not required:
        return None
    msg = t(
        f"{src.path}：找不到 {role} 字段（尝试了 {', '.join(candidates[:8])} …）；现有字段："
        f"{listing or '无'}；请用 {option} 指定",
        f"{src.path}: no {role} field found (tried {', '.join(candidates[:8])} …); fields are: "
        f"{listing or 'none'}; name it with {option}",
    )
    raise MissingFieldError(msg)


def _codes(
    src: Source, code_field: str | None, option: str = "--code-field / code_field="
) -> tuple[str, pd.Series]:
    cf = _find_field(src, code_field, CODE_FIELDS, "code", option, required=True)
    assert cf is not None
    v.check_required(src.props[cf], src.path, cf, None, t("编码", "code"))
    codes = v.normalise_codes(src.props[cf])
    v.check_unique(codes, src.path, cf)
    return cf, codes


def _text(values: pd.Series) -> pd.Series:
    """Stripped strings, ``None`` for missing values (never NaN)."""
    out = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        for v in values.astype(object).tolist()
    ]
    return pd.Series(out, index=values.index, dtype=object)


def _bool(values: pd.Series) -> pd.Series:
    def one(x: object) -> bool:
        if x is None or (isinstance(x, float) and np.isnan(x)):
            return False
        if isinstance(x, str):
            return x.strip().lower() in ("1", "true", "yes", "y", "t", "是", "样例")
        return bool(x)

    return values.astype(object).map(one).astype(bool)


# --- geometry and CRS -------------------------------------------------------------------------


def _is_wgs84_like(crs: pyproj.CRS | OffsetCRS | None) -> bool:
    if crs is None:
        return True
    if isinstance(crs, str):
        return crs == "wgs84"
    return bool(crs.is_geographic) and crs.to_epsg() in (4326, 4490, 4979, 4480, 4610, None)


def _geometries(
    src: Source,
    codes: list[Any],
    *,
    allowed: Sequence[str],
    crs: object,
    kind_label: str,
) -> tuple[ObjArray, str, bool]:
    """Validate raw geometries and convert them to EPSG:4326 lon/lat.

    Returns the geometries, a label of the source CRS, and whether the CRS came from ``crs=``.
    """
    path = src.path
    if src.geojson:
        v.check_rings(src.ring_problems, path, codes)
        if src.parse_errors:
            i = min(src.parse_errors)
            msg = t(
                f"{v.feature_ref(path, i, codes[i])}：几何无法解析（{src.parse_errors[i]}）；请在 QGIS 中修复或重绘",
                f"{v.feature_ref(path, i, codes[i])}: geometry cannot be parsed "
                f"({src.parse_errors[i]}); fix or redraw it in QGIS",
            )
            raise InvalidGeometryError(msg)
    geoms = shapely.force_2d(src.geoms)
    v.check_geometries(geoms, path, codes, allowed, src.unparsed)
    v.check_finite(geoms, path, codes)
    explicit = crs is not None
    eff: pyproj.CRS | OffsetCRS | None = (
        parse_crs(crs, where=f"{path}: crs=") if explicit else src.crs
    )
    if eff is None:
        label = (
            t("WGS-84（GeoJSON 默认，RFC 7946）", "WGS-84, the GeoJSON default (RFC 7946)")
            if src.geojson
            else t(
                "文件未声明坐标系，按 WGS-84 经纬度处理",
                "no CRS in the file, taken as WGS-84 lon/lat",
            )
        )
        v.check_lonlat(geoms, path, codes, label)
        return geoms, "EPSG:4326", explicit
    if isinstance(eff, str):
        v.check_lonlat(geoms, path, codes, eff.upper())
        return transform_geometries(geoms, eff, "wgs84"), eff, explicit
    label = eff.to_string()
    if eff.is_geographic:
        v.check_lonlat(geoms, path, codes, label)
        if eff.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
            return geoms, label, explicit
        out = gpd.GeoSeries(geoms, crs=eff).to_crs(4326).to_numpy()
        v.check_converted(out, geoms, path, codes, label)
        return np.asarray(out, dtype=object), label, explicit
    if not eff.is_projected:
        msg = t(
            f"{path}：坐标系 {label} 既不是地理坐标系也不是投影坐标系；请用 --crs 指定",
            f"{path}: CRS {label} is neither geographic nor projected ({kind_label}); pass --crs",
        )
        raise CRSError(msg)
    v.check_projected_source(geoms, path, codes, eff)
    out = gpd.GeoSeries(geoms, crs=eff).to_crs(4326).to_numpy()
    v.check_converted(np.asarray(out, dtype=object), geoms, path, codes, label)
    return np.asarray(out, dtype=object), label, explicit


def _gcj_hints(src: Source) -> list[str]:
    hints = list(src.hints)
    name_hit = GCJ_PATTERN.search(src.path.stem)
    if name_hit:
        hints.append(f"file name contains {name_hit.group(0)!r}")
    for col in src.props.columns:
        text = str(col)
        if GCJ_PATTERN.search(text) or text.lower() in (
            "gd_lng",
            "gd_lat",
            "gd_lon",
            "bd_lng",
            "bd_lat",
            "bd_lon",
        ):
            hints.append(f"field {text!r}")
            continue
        if re.search(r"crs|srs|coord|坐标", text, re.IGNORECASE):
            values = src.props[col].dropna().astype(str)
            hit = values[values.str.contains(GCJ_PATTERN)]
            if len(hit):
                hints.append(f"field {text!r} = {hit.iloc[0]!r}")
    return hints


def _warn_if_gcj(src: Source, explicit: bool) -> list[str]:
    """Warn (:class:`CRSSuspicionWarning`) when a layer taken as WGS-84 carries GCJ-02/BD-09 hints.

    The data alone cannot tell GCJ-02 from WGS-84 (the offset is a smooth shift of 300–700 m), so
    this looks for *labels*: a legacy ``crs`` member or CRS text, a file name, field names
    (``gcj_lng``, ``bd_lat`` …) or a coordinate-system field whose values mention GCJ-02, BD-09,
    Baidu, Gaode/AMap or 火星. An explicit ``crs=`` silences it.
    """
    if explicit or not _is_wgs84_like(src.crs):
        return []
    hints = _gcj_hints(src)
    if hints:
        msg = t(
            f"{src.path}：按 WGS-84 读取，但有 GCJ-02/BD-09 迹象（{'; '.join(hints[:3])}）；若数据来自"
            f"高德/腾讯/百度地图，请用 --crs gcj02 或 --crs bd09 重新读取（偏移约 300–700 米）",
            f"{src.path}: read as WGS-84 but it looks like GCJ-02/BD-09 ({'; '.join(hints[:3])}); if "
            f"it comes from AMap/Tencent/Baidu maps, read it again with --crs gcj02 or --crs bd09 "
            f"(the offset is about 300–700 m)",
        )
        warnings.warn(msg, CRSSuspicionWarning, stacklevel=3)
    return hints


def _check_alignment(
    path: Path, geoms: ObjArray, reference: gpd.GeoDataFrame | gpd.GeoSeries
) -> dict[str, float | bool | str]:
    """Warn when unit boundaries match ``reference`` only after undoing a GCJ-02/BD-09 offset."""
    ref = reference.to_crs(4326) if reference.crs is not None else reference
    ref_geoms = np.asarray(
        ref.geometry.to_numpy() if isinstance(ref, gpd.GeoDataFrame) else ref.to_numpy(),
        dtype=object,
    )
    result = offset_suspicion(shapely.boundary(geoms), ref_geoms[~shapely.is_missing(ref_geoms)])
    if result["suspicious"]:
        likely = str(result["likely"])
        msg = t(
            f"{path}：边界与参考图层（如道路）相距中位 {result['median_m']:.0f} 米，按 {likely.upper()} "
            f"纠偏后仅 {min(result['median_m_if_gcj02'], result['median_m_if_bd09']):.0f} 米；其中一个图层"
            f"可能是 {likely.upper()}（火星/百度坐标），请用 --crs {likely} 读取该图层",
            f"{path}: boundaries lie a median {result['median_m']:.0f} m from the reference layer "
            f"(e.g. roads) but only {min(result['median_m_if_gcj02'], result['median_m_if_bd09']):.0f} m "
            f"after undoing a {likely.upper()} offset; one of the two layers is probably "
            f"{likely.upper()} — read it with --crs {likely}",
        )
        warnings.warn(msg, CRSSuspicionWarning, stacklevel=3)
    return result


# --- public readers ---------------------------------------------------------------------------


def read_units(
    path: PathLike,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    level_field: str | None = None,
    crs: object = None,
    repair: bool = False,
    layer: str | int | None = None,
    reference: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate administrative units (the *units* contract), in EPSG:4326.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or Shapefile (or anything GDAL reads).
    code_field, name_field, parent_field, level_field
        Attribute names; by default detected among common variants (``code``/``adcode``/
        ``区划代码``/``xzqdm`` …, ``name``/``名称``/``xzqmc`` …, ``parent``/``parent_code``/
        ``上级代码`` …, ``level``/``层级`` …).
    crs
        Source CRS overriding the file's: anything pyproj knows (``"EPSG:4490"``,
        ``"EPSG:4551"`` …) or ``"gcj02"`` / ``"bd09"``.
    repair
        Repair invalid (e.g. self-intersecting) polygons with :func:`shapely.make_valid` instead
        of raising; each repair is listed in ``frame.attrs["repairs"]`` with its area change in m².
    layer
        Layer name or index for multi-layer sources (GeoPackage).
    reference
        Optional trusted WGS-84 geometries the boundaries follow (e.g. OpenStreetMap roads). When
        the unit boundaries sit much closer to them after undoing a GCJ-02 or BD-09 offset, a
        :class:`~gridmgr.errors.CRSSuspicionWarning` is issued (see
        :func:`gridmgr.io.crs.offset_suspicion`); the figures are in ``attrs["alignment"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``level`` (``district|street|community|grid``), ``parent`` (a
        code in the frame or ``None``), ``geometry`` (Polygon/MultiPolygon, 2D), plus ``name_en``,
        ``alias``, ``sample`` when the file has them. ``attrs``: ``source``, ``source_crs``,
        ``fields`` (the detected field names), ``repairs``, ``external_parents`` (parents of
        top-level units that lie outside the file, set to ``None``), ``crs_hints``.

    Raises
    ------
    gridmgr.errors.InputError
        A subclass naming the file, feature, code, field and fix: ``UnreadableFileError``,
        ``MissingFieldError``, ``DuplicateCodeError``, ``InvalidFieldError``, ``RingError``,
        ``EmptyGeometryError``, ``GeometryTypeError``, ``SelfIntersectionError``,
        ``CoordinateRangeError``, ``SwappedAxesError``, ``CRSMismatchError``, ``CRSError``,
        ``UnknownParentError``, ``HierarchyError``.

    Examples
    --------
    >>> from gridmgr.settings import DEFAULT_LAYERS
    >>> units = read_units(DEFAULT_LAYERS / "units.geojson")  # doctest: +SKIP
    >>> units.loc[units.code == "220173001", "level"].item()  # doctest: +SKIP
    'street'
    """
    src = read_source(path, layer=layer, prefer="units")
    if len(src.props) == 0:
        raise unreadable(
            src.path,
            t("图层中没有任何单元（要素数为 0）", "the layer holds no units (0 features)"),
            t(
                "请确认导出了单元边界面图层（并选对了 layer=）",
                "check that the unit boundary polygons were exported (and the right layer= chosen)",
            ),
        )
    cf, codes = _codes(src, code_field)
    clist = codes.tolist()
    nf = _find_field(
        src, name_field, NAME_FIELDS, t("名称", "name"), "--name-field / name_field=", required=True
    )
    assert nf is not None
    v.check_required(src.props[nf], src.path, nf, clist, t("名称", "name"))
    pf = _find_field(
        src,
        parent_field,
        PARENT_FIELDS,
        t("上级编码", "parent"),
        "--parent-field / parent_field=",
        required=False,
    )
    lf = _find_field(
        src, level_field, LEVEL_FIELDS, t("层级", "level"), "level_field=", required=False
    )
    geoms, crs_label, explicit = _geometries(
        src, clist, allowed=_POLYGONAL, crs=crs, kind_label="units"
    )
    geoms, repairs = v.check_validity(
        geoms, src.path, clist, repair=repair, area_crs=EQUAL_AREA_CRS
    )
    if lf is not None:
        raw_levels = src.props[lf].astype(object)
        blank = pd.isna(raw_levels) | (raw_levels.astype(str).str.strip() == "")
        filled = raw_levels.where(~blank, codes.map(lambda c: v.level_from_code(c) or ""))
        levels = v.normalise_levels(filled, src.path, lf, clist)
    else:
        levels = v.infer_levels(codes, src.path, src.props[pf] if pf is not None else None)
    parents, external = v.resolve_parents(
        codes, src.props[pf] if pf is not None else None, levels, src.path, pf
    )
    data: dict[str, Any] = {
        "code": codes.astype(object),
        "name": _text(src.props[nf]),
        "level": levels,
        "parent": parents,
    }
    for extra in ("name_en", "alias"):
        if extra in src.props.columns:
            data[extra] = _text(src.props[extra])
    if "sample" in src.props.columns:
        data["sample"] = _bool(src.props["sample"])
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    hints = _warn_if_gcj(src, explicit)
    alignment = _check_alignment(src.path, geoms, reference) if reference is not None else None
    frame.attrs.update(
        alignment=alignment,
        source=str(src.path),
        source_crs=crs_label,
        fields={"code": cf, "name": nf, "parent": pf, "level": lf},
        repairs=repairs,
        external_parents=external,
        crs_hints=hints,
    )
    return frame


def read_key_places(
    path: PathLike,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    category_field: str | None = None,
    crs: object = None,
    repair: bool = False,
    layer: str | int | None = None,
    categories: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate key places (重点场所): Point or Polygon features, in EPSG:4326.

    Parameters
    ----------
    path, code_field, name_field, crs, repair, layer
        As in :func:`read_units`.
    category_field
        Category attribute (detected among ``category``/``类别``/``类型`` …).
    categories
        Known category keys; a place whose category is not among them raises
        :class:`~gridmgr.errors.InvalidFieldError`. ``None`` skips the check.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``category``, ``geometry`` and, when present, ``address``,
        ``sample`` (bool), ``name_en``.

    Examples
    --------
    >>> places = read_key_places("layers/changchun_hitech/key_places.geojson")  # doctest: +SKIP
    >>> sorted(places.geom_type.unique())  # doctest: +SKIP
    ['Point', 'Polygon']
    """
    src = read_source(path, layer=layer, prefer="key_places")
    cf, codes = _codes(src, code_field)
    clist = codes.tolist()
    nf = _find_field(src, name_field, NAME_FIELDS, t("名称", "name"), "name_field=", required=True)
    assert nf is not None
    v.check_required(src.props[nf], src.path, nf, clist, t("名称", "name"))
    catf = _find_field(
        src,
        category_field,
        CATEGORY_FIELDS,
        t("类别", "category"),
        "category_field=",
        required=True,
    )
    assert catf is not None
    v.check_required(src.props[catf], src.path, catf, clist, t("类别", "category"))
    cats = _text(src.props[catf])
    if categories is not None:
        known = set(categories)
        i = v.error_for_unknown(cats.tolist(), known)
        if i is not None:
            msg = t(
                f"{v.feature_ref(src.path, i, clist[i])}：字段 {catf!r} 的类别 {cats.iloc[i]!r} 不在 "
                f"departments.json 的 categories 中（已有：{', '.join(sorted(known))}）；请改正类别或补充该类别",
                f"{v.feature_ref(src.path, i, clist[i])}: category {cats.iloc[i]!r} in field {catf!r} "
                f"is not in the categories of departments.json (known: {', '.join(sorted(known))}); "
                f"correct it or add the category",
            )
            raise InvalidFieldError(msg)
    geoms, crs_label, explicit = _geometries(
        src, clist, allowed=_KEY_PLACE_TYPES, crs=crs, kind_label="key places"
    )
    geoms, repairs = v.check_validity(
        geoms, src.path, clist, repair=repair, area_crs=EQUAL_AREA_CRS
    )
    data: dict[str, Any] = {
        "code": codes.astype(object),
        "name": _text(src.props[nf]),
        "category": cats,
    }
    af = _find_field(src, None, ADDRESS_FIELDS, "address", "", required=False)
    if af is not None:
        data["address"] = _text(src.props[af])
    if "name_en" in src.props.columns:
        data["name_en"] = _text(src.props["name_en"])
    if "sample" in src.props.columns:
        data["sample"] = _bool(src.props["sample"])
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    hints = _warn_if_gcj(src, explicit)
    frame.attrs.update(
        source=str(src.path),
        source_crs=crs_label,
        repairs=repairs,
        crs_hints=hints,
        fields={"code": cf, "name": nf, "category": catf, "address": af},
    )
    return frame


def read_roads(
    path: PathLike, *, crs: object = None, layer: str | int | None = None
) -> gpd.GeoDataFrame:
    """Read road lines (LineString/MultiLineString) in EPSG:4326 for patrol routes.

    All attributes are kept (a ``name`` column is added, ``None`` when the file has none).

    Examples
    --------
    >>> roads = read_roads("layers/changchun_hitech/roads.geojson")  # doctest: +SKIP
    """
    src = read_source(path, layer=layer, prefer="roads")
    nf = _find_field(src, None, NAME_FIELDS, "name", "", required=False)
    labels: list[Any] = _text(src.props[nf]).tolist() if nf is not None else [None] * len(src.props)
    geoms, crs_label, explicit = _geometries(
        src, labels, allowed=_LINEAR, crs=crs, kind_label="roads"
    )
    props = src.props.copy()
    props["name"] = _text(src.props[nf]) if nf is not None else None
    frame = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    hints = _warn_if_gcj(src, explicit)
    frame.attrs.update(source=str(src.path), source_crs=crs_label, crs_hints=hints)
    return frame


@dataclass(frozen=True)
class DepartmentTables:
    """The two tables of ``departments.json``: sector departments and key-place categories."""

    departments: pd.DataFrame
    categories: pd.DataFrame


def _entries(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise unreadable(
            path,
            t(f"{key!r} 必须是对象数组", f"{key!r} must be an array of objects"),
            t("请按 docs/architecture.md 的格式改正", "follow the format in docs/architecture.md"),
        )
    return items


def read_departments(path: PathLike) -> DepartmentTables:
    """Read ``departments.json``: departments (``code``, ``name``, ``name_en``) and categories.

    Categories have ``category``, ``name``, ``name_en``, ``department`` (a department code or
    ``None``) and ``requires_package_leader`` (bool).

    Examples
    --------
    >>> tables = read_departments("layers/changchun_hitech/departments.json")  # doctest: +SKIP
    >>> tables.categories.set_index("category").loc["school", "department"]  # doctest: +SKIP
    'JYJ'
    """
    import json

    p = Path(path)
    if not p.exists():
        raise unreadable(
            p, t("文件不存在", "file does not exist"), t("请检查路径", "check the path")
        )
    try:
        data = v.load_json(p)
    except json.JSONDecodeError as exc:
        raise unreadable(
            p,
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            t("请用文本编辑器检查", "check it in a text editor"),
        ) from exc
    if not isinstance(data, dict) or "departments" not in data:
        raise MissingFieldError(
            t(
                f"{p}：缺少 'departments' 数组；格式见 docs/architecture.md",
                f"{p}: no 'departments' array; see the format in docs/architecture.md",
            )
        )
    deps = _entries(p, data, "departments")
    cats = _entries(p, data, "categories")

    def check(items: list[dict[str, Any]], kind: str, key: str) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(items, index=pd.RangeIndex(len(items)))
        for col in (key, "name"):
            if col not in frame.columns:
                frame[col] = None
            blank = np.flatnonzero(v._blank(frame[col]))
            if blank.size:
                i = int(blank[0])
                ident = items[i].get(key)
                msg = t(
                    f"{p}：{kind}[{i}]（{key}={ident!r}）缺少字段 {col!r}；请补全",
                    f"{p}: {kind}[{i}] ({key}={ident!r}) has no {col!r}; fill it in",
                )
                raise MissingFieldError(msg)
        codes = v.normalise_codes(frame[key])
        dup = codes.duplicated(keep=False)
        if dup.any():
            same = np.flatnonzero(dup.to_numpy())
            msg = t(
                f"{p}：{kind} 的 {key}={codes.iloc[same[0]]!r} 重复（第 {', '.join(map(str, same))} 项）；请保持唯一",
                f"{p}: {key}={codes.iloc[same[0]]!r} is duplicated in {kind} (entries "
                f"{', '.join(map(str, same))}); keep them unique",
            )
            raise DuplicateCodeError(msg)
        frame[key] = codes
        frame["name"] = _text(frame["name"])
        frame["name_en"] = _text(frame["name_en"]).fillna("") if "name_en" in frame.columns else ""
        return frame

    dframe = check(deps, "departments", "code")[["code", "name", "name_en"]]
    cframe = check(cats, "categories", "category")
    if "department" not in cframe.columns:
        cframe["department"] = None
    cframe["department"] = v.normalise_codes(cframe["department"])
    known = set(dframe["code"])
    bad = [
        i for i, d in enumerate(cframe["department"].tolist()) if d is not None and d not in known
    ]
    if bad:
        i = bad[0]
        msg = t(
            f"{p}：categories[{i}]（category={cframe['category'].iloc[i]!r}）的 department "
            f"{cframe['department'].iloc[i]!r} 不在 departments 中；请改正或补充该部门",
            f"{p}: categories[{i}] (category={cframe['category'].iloc[i]!r}) names department "
            f"{cframe['department'].iloc[i]!r}, which is not in 'departments'; correct it or add "
            f"the department",
        )
        raise InvalidFieldError(msg)
    if "requires_package_leader" not in cframe.columns:
        cframe["requires_package_leader"] = False
    cframe["requires_package_leader"] = _bool(cframe["requires_package_leader"])
    cframe = cframe[["category", "name", "name_en", "department", "requires_package_leader"]]
    return DepartmentTables(dframe.reset_index(drop=True), cframe.reset_index(drop=True))


@dataclass(frozen=True)
class Layers:
    """A validated layers directory (``layers/<name>/``), everything in EPSG:4326."""

    units: gpd.GeoDataFrame
    key_places: gpd.GeoDataFrame
    departments: pd.DataFrame
    categories: pd.DataFrame
    roads: gpd.GeoDataFrame | None
    source: Path


def _find_layer_file(directory: Path, stem: str) -> Path | None:
    for suffix in (".geojson", ".gpkg", ".shp", ".json"):
        p = directory / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def read_layers(
    directory: PathLike,
    *,
    repair: bool = False,
    crs: object = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
) -> Layers:
    """Read and validate a layers directory (format in ``docs/architecture.md``).

    ``crs`` (e.g. ``"EPSG:4490"``, ``"gcj02"``) applies to every file of the directory (as with
    :func:`read_units`, it overrides what a file declares); the ``*_field`` options name the units' fields when they are not among
    the recognised variants (see :func:`read_units`).

    ``units`` (required), ``key_places`` and ``roads`` may be GeoJSON (the shipped format),
    GeoPackage or Shapefile; ``departments.json`` is required when there are key places, whose
    categories must be among its categories. When there are roads, the unit boundaries are
    compared with them (``reference=`` of :func:`read_units`): a GCJ-02/BD-09-sized disagreement
    gives a :class:`~gridmgr.errors.CRSSuspicionWarning`.

    Examples
    --------
    >>> from gridmgr.settings import DEFAULT_LAYERS
    >>> layers = read_layers(DEFAULT_LAYERS)  # doctest: +SKIP
    >>> set(layers.units.level)  # doctest: +SKIP
    {'district', 'street', 'community'}
    """
    d = Path(directory)
    if not d.is_dir():
        raise unreadable(
            d,
            t("不是目录", "is not a directory"),
            t(
                "请给出图层目录（含 units.geojson）",
                "give a layers directory (holding units.geojson)",
            ),
        )
    units_path = _find_layer_file(d, "units")
    if units_path is None:
        raise UnreadableFileError(
            t(
                f"{d}：缺少 units.geojson；图层目录格式见 docs/architecture.md",
                f"{d}: no units.geojson; see the layers directory format in docs/architecture.md",
            )
        )
    roads_path = _find_layer_file(d, "roads")
    roads = read_roads(roads_path, crs=crs) if roads_path is not None else None
    units = read_units(
        units_path,
        repair=repair,
        reference=roads,
        crs=crs,
        code_field=code_field,
        name_field=name_field,
        parent_field=parent_field,
    )
    dep_path = d / "departments.json"
    kp_path = _find_layer_file(d, "key_places")
    if dep_path.exists():
        tables = read_departments(dep_path)
    elif kp_path is not None:
        raise UnreadableFileError(
            t(
                f"{d}：有 key_places 但缺少 departments.json（类别与部门）；请补充",
                f"{d}: key places but no departments.json (their categories and departments); add it",
            )
        )
    else:
        tables = DepartmentTables(
            pd.DataFrame({"code": [], "name": [], "name_en": []}, dtype=object),
            pd.DataFrame(
                {
                    "category": [],
                    "name": [],
                    "name_en": [],
                    "department": [],
                    "requires_package_leader": [],
                },
                dtype=object,
            ),
        )
    if kp_path is not None:
        key_places = read_key_places(
            kp_path, repair=repair, categories=tables.categories["category"].tolist(), crs=crs
        )
    else:
        key_places = gpd.GeoDataFrame(
            {"code": [], "name": [], "category": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326
        )
    return Layers(units, key_places, tables.departments, tables.categories, roads, d)
