"""Layers checked and shaped in memory before a load touches the database.

:func:`prepare_layers` validates departments, categories, units, pieces and key places (codes
unique, levels, parents, categories and departments known, geometry polygonal), cuts the pieces
when they are not given, and finds each key place's unit and piece with a vectorised
point-in-polygon join. :mod:`gridmgr.store.layers_load` writes the result.

Examples
--------
>>> _text("  a "), _text(float("nan")), _flag("是"), _flag(None)
('a', None, True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmgr.errors import HierarchyError, HierarchyWarning, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.io.hierarchy import LEVELS  # the one list of unit levels
from gridmgr.store.geom import as_array, to_multipolygons, to_wkb

#: Overlaps of siblings and parts outside the parent under this area (m²), or thinner than
#: :data:`NESTING_SLIVER_WIDTH_M` on average (2 × area / perimeter), are digitising slivers (two
#: offices drawing a shared 2 km edge 0.5 m apart make 1,000 m² of them) and do not stop a load.
NESTING_TOLERANCE_M2 = 100.0
NESTING_SLIVER_WIDTH_M = 2.0
KEY_PLACE_COLUMNS = [
    "code",
    "name",
    "category",
    "address",
    "sample",
    "unit_code",
    "geom",
    "point",
    "_piece",
]

#: The store's columns of a pieces frame (``geom``: WKB MultiPolygons).
PIECE_DTYPES = {
    "cell": object,
    "unit_code": object,
    "area_m2": float,
    "whole": bool,
    "geom": object,
}


def _text(value: Any) -> str | None:
    """Stripped text, ``None`` for missing or blank values."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    out = str(value).strip()
    return out or None


def _flag(value: Any) -> bool:
    """A yes/no cell as a bool (``1``, ``true``, ``yes``, ``y``, ``是`` are true)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "是"}
    return bool(value)


def _days(value: Any) -> float | None:
    """A visiting frequency in days (validated by the reader), ``None`` when not set."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value)


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """The values of a column, ``None`` for each row when the column is absent."""
    return list(frame[name]) if name in frame.columns else [None] * len(frame)


def _first(mask: pd.Series | np.ndarray) -> int:
    """Position of the first true value of ``mask``."""
    return int(np.flatnonzero(np.asarray(mask))[0])


@dataclass(frozen=True)
class PreparedLayers:
    """Validated layer tables, ready to diff against the store (``geom`` columns are WKB)."""

    res: int
    source: str | None
    departments: pd.DataFrame
    categories: pd.DataFrame
    units: pd.DataFrame
    pieces: pd.DataFrame
    key_places: pd.DataFrame


def _departments(layers: Any, where: str) -> pd.DataFrame:
    """Departments: unique, non-empty codes; name defaults to the code."""
    dep_in = getattr(layers, "departments", None)
    dep_in = pd.DataFrame(dep_in if dep_in is not None else [], columns=None)
    departments = pd.DataFrame(
        {
            "code": [_text(v) for v in _column(dep_in, "code")],
            "name": [_text(v) for v in _column(dep_in, "name")],
            "name_en": [_text(v) for v in _column(dep_in, "name_en")],
        }
    )
    if departments["code"].isna().any() or departments["code"].duplicated().any():
        raise InvalidFieldError(
            t(
                f"{where}：部门代码不能为空且不能重复",
                f"{where}: departments need unique, non-empty codes",
            )
        )
    departments["name"] = departments["name"].fillna(departments["code"])
    return departments


def _categories(layers: Any, where: str, departments: pd.DataFrame) -> pd.DataFrame:
    """Categories: unique, non-empty keys naming known departments."""
    cat_in = getattr(layers, "categories", None)
    cat_in = pd.DataFrame(cat_in if cat_in is not None else [])
    categories = pd.DataFrame(
        {
            "category": [_text(v) for v in _column(cat_in, "category")],
            "name": [_text(v) for v in _column(cat_in, "name")],
            "name_en": [_text(v) for v in _column(cat_in, "name_en")],
            "department": [_text(v) for v in _column(cat_in, "department")],
            "requires_package_leader": [
                _flag(v) for v in _column(cat_in, "requires_package_leader")
            ],
            "visit_every_days": [_days(v) for v in _column(cat_in, "visit_every_days")],
        }
    )
    if categories["category"].isna().any() or categories["category"].duplicated().any():
        raise InvalidFieldError(
            t(
                f"{where}：类别键不能为空且不能重复",
                f"{where}: categories need unique, non-empty keys",
            )
        )
    categories["name"] = categories["name"].fillna(categories["category"])
    bad_dep = categories["department"].notna() & ~categories["department"].isin(departments["code"])
    if bad_dep.any():
        row = categories[bad_dep].iloc[0]
        msg = t(
            f"{where}：类别 {row.category!r} 所属部门 {row.department!r} 不在部门列表中，"
            "请将其添加到 departments.json",
            f"{where}: category {row.category!r} names department {row.department!r}, which is "
            "not among the departments; add it to departments.json",
        )
        raise InvalidFieldError(msg)
    return categories


def _check_codes(codes: pd.Series, what: tuple[str, str], where: str) -> None:
    """Every feature has a code and no code appears twice (``what``: the feature's name)."""
    if codes.isna().any():
        i = _first(codes.isna())
        raise InvalidFieldError(
            t(
                f"{where}：第 {i} 个{what[0]}要素缺少代码（code）",
                f"{where}: {what[1]} feature {i} has no code",
            )
        )
    dup = codes.duplicated()
    if dup.any():
        code = codes[dup].iloc[0]
        raise InvalidFieldError(
            t(
                f"{where}：{what[0]}代码 {code!r} 重复出现",
                f"{where}: {what[1]} code {code!r} appears twice",
            )
        )


def _check_units(units: pd.DataFrame, where: str) -> None:
    """Unit codes present and unique, levels known, parents among the units."""
    _check_codes(units["code"], ("单位", "unit"), where)
    bad_level = ~units["level"].isin(LEVELS)
    if bad_level.any():
        i = _first(bad_level)
        ucode, ulevel, levels = units["code"][i], units["level"][i], ", ".join(LEVELS)
        msg = t(
            f"{where}：第 {i} 个单位要素（code={ucode!r}）的层级为 {ulevel!r}，请使用 {levels} 之一",
            f"{where}: unit feature {i} (code={ucode!r}) has level {ulevel!r}; use one of {levels}",
        )
        raise InvalidFieldError(msg)
    units["name"] = units["name"].fillna(units["code"])
    bad_parent = units["parent"].notna() & ~units["parent"].isin(units["code"])
    if bad_parent.any():
        i = _first(bad_parent)
        ucode, uparent = units["code"][i], units["parent"][i]
        msg = t(
            f"{where}：第 {i} 个单位要素（code={ucode!r}）的上级 {uparent!r} 不在单位列表中",
            f"{where}: unit feature {i} (code={ucode!r}) names parent {uparent!r}, "
            "which is not among the units",
        )
        raise InvalidFieldError(msg)


def _units(uin: Any, where: str) -> pd.DataFrame:
    """Units with area and WKB geometry, checked."""
    from gridmgr.grid.units import area_m2  # heavy (geopandas): only when loading

    units = pd.DataFrame(
        {
            "code": [_text(v) for v in uin["code"]],
            "name": [_text(v) for v in _column(uin, "name")],
            "level": [_text(v) for v in _column(uin, "level")],
            "parent": [_text(v) for v in _column(uin, "parent")],
            "name_en": [_text(v) for v in _column(uin, "name_en")],
            "alias": [_text(v) for v in _column(uin, "alias")],
            "sample": [_flag(v) for v in _column(uin, "sample")],
        }
    )
    _check_units(units, where)
    ugeom = to_multipolygons(uin.geometry, what=f"{where}: units")
    units["area_m2"] = area_m2(ugeom)
    units["geom"] = to_wkb(ugeom)
    return units


def _filled(pieces: Any) -> np.ndarray:
    """The pieces' geometries, whole pieces of the lazy form filled with their hexagon (as
    MultiPolygons, the store's form): the polygons the full form holds."""
    geoms = as_array(pieces.geometry)
    whole = pieces["whole"].to_numpy(dtype=bool)
    if not (shapely.is_missing(geoms) & whole).any():
        return geoms
    from gridmgr.grid.lazy import fill_geometries  # h3: only when loading lazy pieces

    return fill_geometries(pieces["cell"].to_numpy(), geoms, whole, multi=True)


def _pieces(
    uin: Any, pieces: Any, units: pd.DataFrame, where: str, *, res: int, progress: bool
) -> pd.DataFrame:
    """Pieces (cut from the units unless given) with WKB and shapely (``_geom``) geometry."""
    if pieces is None:
        from gridmgr.grid.pieces import pieces_from_units  # heavy: only when cutting

        pieces = pieces_from_units(uin, res=res, progress=progress)
    pgeom = to_multipolygons(_filled(pieces), what=f"{where}: pieces")
    pframe = pd.DataFrame(
        {
            "cell": pieces["cell"].astype(str).to_numpy(),
            "unit_code": pieces["unit_code"].astype(str).to_numpy(),
            "area_m2": pieces["area_m2"].astype(float).to_numpy(),
            "whole": pieces["whole"].astype(bool).to_numpy(),
            "geom": to_wkb(pgeom),
        }
    )
    pframe["_geom"] = pgeom
    if pframe.duplicated(["cell", "unit_code"]).any():
        raise InvalidFieldError(
            t(
                f"{where}：地块中 (cell, unit_code) 组合重复",
                f"{where}: pieces repeat a (cell, unit_code) pair",
            )
        )
    unknown_units = ~pframe["unit_code"].isin(units["code"])
    if unknown_units.any():
        code = pframe["unit_code"][unknown_units].iloc[0]
        raise InvalidFieldError(
            t(
                f"{where}：地块所属单位 {code!r} 不在单位列表中",
                f"{where}: pieces name unit {code!r}, which is not among the units",
            )
        )
    return pframe


def pieces_frame(pieces: Any, units: pd.DataFrame, where: str) -> pd.DataFrame:
    """Given pieces (full or lazy form) as the store's columns plus ``_geom``, checked against
    ``units`` (one part of a streaming load; see :func:`_pieces`)."""
    return _pieces(None, pieces, units, where, res=0, progress=False)


def _check_key_places(
    key_places: pd.DataFrame, kgeom: np.ndarray, categories: pd.DataFrame, where: str
) -> None:
    """Key-place codes present and unique, categories known, geometry present."""
    _check_codes(key_places["code"], ("重点场所", "key place"), where)
    key_places["name"] = key_places["name"].fillna(key_places["code"])
    badc = ~key_places["category"].isin(categories["category"])
    if badc.any():
        i = _first(badc)
        kcode, kcat = key_places["code"][i], key_places["category"][i]
        msg = t(
            f"{where}：第 {i} 个重点场所要素（code={kcode!r}）的类别 {kcat!r} 不在 departments.json 中，"
            "请在该文件中添加或更正该场所",
            f"{where}: key place feature {i} (code={kcode!r}) has category {kcat!r}, which is "
            "not in departments.json; add it there or correct the place",
        )
        raise InvalidFieldError(msg)
    empty = shapely.is_missing(kgeom) | shapely.is_empty(kgeom)
    if empty.any():
        i = _first(empty)
        kcode = key_places["code"][i]
        msg = t(
            f"{where}：第 {i} 个重点场所要素（code={kcode!r}）没有几何图形",
            f"{where}: key place feature {i} (code={kcode!r}) has no geometry",
        )
        raise InvalidFieldError(msg)


def _unit_of(points: np.ndarray, uin: Any) -> np.ndarray:
    """Lowest unit code of each point (``None``: in no unit)."""
    from gridmgr.grid.units import lowest_units  # heavy (geopandas): only when loading

    low = lowest_units(uin)
    tree = shapely.STRtree(as_array(low.geometry))
    pi, ui = tree.query(points, predicate="intersects")
    _, first = np.unique(pi, return_index=True)
    unit_of = np.full(len(points), None, dtype=object)
    unit_of[pi[first]] = low["code"].astype(str).to_numpy()[ui[first]]
    return unit_of


def piece_of(
    points: np.ndarray, unit_of: np.ndarray, geoms: np.ndarray, unit_codes: np.ndarray
) -> np.ndarray:
    """Position among ``geoms`` (pieces of units ``unit_codes``) of the piece holding each
    point, one of its unit's (``unit_of``) when one holds it; -1 where none does."""
    piece = np.full(len(points), -1, dtype=np.int64)
    if not len(points) or not len(geoms):
        return piece
    ptree = shapely.STRtree(geoms)
    qi, qj = ptree.query(points, predicate="intersects")
    same_unit = unit_codes[qj] == unit_of[qi]
    order = np.lexsort((~same_unit, qi))
    qi, qj = qi[order], qj[order]
    _, firstp = np.unique(qi, return_index=True)
    piece[qi[firstp]] = qj[firstp]
    return piece


def _locate(points: np.ndarray, uin: Any, pframe: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lowest unit code of each point, and the position of the piece holding it (-1: none).

    The piece is chosen among the pieces of the point's unit when one of them holds it.
    """
    unit_of = _unit_of(points, uin)
    geoms = pframe["_geom"].to_numpy()
    return unit_of, piece_of(points, unit_of, geoms, pframe["unit_code"].to_numpy())


def _key_places(
    layers: Any, where: str, categories: pd.DataFrame, pframe: pd.DataFrame | None
) -> pd.DataFrame:
    """Key places with their unit, piece position (``_piece``), WKB geometry and point
    (``pframe`` ``None``: units only, ``_piece`` -1 — the streaming load finds pieces per part).
    """
    kin = getattr(layers, "key_places", None)
    if kin is None or len(kin) == 0:
        return pd.DataFrame(columns=KEY_PLACE_COLUMNS)
    key_places = pd.DataFrame(
        {
            "code": [_text(v) for v in kin["code"]],
            "name": [_text(v) for v in _column(kin, "name")],
            "category": [_text(v) for v in _column(kin, "category")],
            "address": [_text(v) for v in _column(kin, "address")],
            "sample": [_flag(v) for v in _column(kin, "sample")],
        }
    )
    kgeom = as_array(kin.geometry)
    _check_key_places(key_places, kgeom, categories, where)
    points = shapely.point_on_surface(kgeom)
    if pframe is None:
        unit_of, piece_pos = _unit_of(points, layers.units), np.full(len(points), -1)
    else:
        unit_of, piece_pos = _locate(points, layers.units, pframe)
    key_places["unit_code"] = unit_of
    key_places["_piece"] = piece_pos
    key_places["geom"] = to_wkb(kgeom)
    key_places["point"] = to_wkb(points)
    return key_places


def _no_slivers(parts: Any) -> Any:
    """Rows of a hierarchy report frame whose part is wider than a sliver on average."""
    from gridmgr.grid.units import to_equal_area

    if not len(parts):
        return parts
    perimeter = shapely.length(to_equal_area(np.asarray(parts.geometry.values, dtype=object)))
    width = 2.0 * parts["area_m2"].to_numpy(dtype=float) / np.maximum(perimeter, 1e-9)
    return parts.loc[width >= NESTING_SLIVER_WIDTH_M]


def _nesting_lines(units: Any, names: dict[str, str]) -> list[str]:
    """One line per sibling overlap or unit part outside its parent above the sliver tolerance."""
    from gridmgr.grid.units import check_hierarchy  # heavy (geopandas): only when loading

    rep = check_hierarchy(units, min_area_m2=NESTING_TOLERANCE_M2)
    overlaps, outside = _no_slivers(rep.overlaps), _no_slivers(rep.outside)
    lines: list[str] = []
    for codes, area in zip(overlaps["codes"], overlaps["area_m2"], strict=True):
        a, b = str(codes).split(",")
        lines.append(
            t(
                f"{names.get(a, a)}（{a}）与 {names.get(b, b)}（{b}）重叠 {area:,.0f} 平方米",
                f"{names.get(a, a)} ({a}) and {names.get(b, b)} ({b}) overlap by {area:,.0f} m²",
            )
        )
    for code, parent, area in zip(
        outside["code"], outside["parent"], outside["area_m2"], strict=True
    ):
        c, p = str(code), str(parent)
        lines.append(
            t(
                f"{names.get(c, c)}（{c}）有 {area:,.0f} 平方米在上级 {names.get(p, p)}（{p}）之外",
                f"{names.get(c, c)} ({c}) has {area:,.0f} m² outside its parent "
                f"{names.get(p, p)} ({p})",
            )
        )
    return lines


def check_nesting(units: Any, where: str, *, allow_overlaps: bool) -> list[str]:
    """Refuse sibling overlaps and units outside their parent, unless ``allow_overlaps``.

    Returns the problems found (also issued as a :class:`~gridmgr.errors.HierarchyWarning` when
    allowed); raises :class:`~gridmgr.errors.HierarchyError` naming them otherwise. Parts under
    :data:`NESTING_TOLERANCE_M2` are ignored.
    """
    import warnings

    names = {str(c): str(n) for c, n in zip(units["code"], _column(units, "name"), strict=True)}
    lines = _nesting_lines(units, names)
    if not lines:
        return lines
    shown = "；".join(lines[:5]) + (
        t(f" 等 {len(lines)} 处", f" and more ({len(lines)})") if len(lines) > 5 else ""
    )
    if allow_overlaps:
        warnings.warn(
            t(
                f"{where}：单元嵌套有误（已按要求继续导入）：{shown}",
                f"{where}: units nest badly (loaded as asked): {shown}",
            ),
            HierarchyWarning,
            stacklevel=2,
        )
        return lines
    raise HierarchyError(
        t(
            f"{where}：单元相互重叠或超出上级，未导入：{shown}。请修正单元图层；"
            "确需照此导入时加 --allow-overlaps（覆盖检查会继续报告这些问题）",
            f"{where}: units overlap or lie outside their parent; nothing loaded: {shown}. "
            "Fix the units layer, or load with --allow-overlaps (the coverage report keeps "
            "flagging them)",
        )
    )


def prepare_layers(
    layers: Any,
    *,
    res: int,
    pieces: pd.DataFrame | None,
    progress: bool,
    allow_overlaps: bool = False,
    streamed: bool = False,
) -> PreparedLayers:
    """Validate ``layers`` and shape every table for the load (pieces cut unless given).

    ``res`` is checked (:func:`gridmgr.grid.pieces.check_res`) first. Sibling overlaps and units
    outside their parent are refused unless ``allow_overlaps`` (:func:`check_nesting`).
    ``streamed``: no pieces at all (an empty ``pieces`` frame, key places with their unit only):
    the streaming load (:mod:`gridmgr.store.layers_stream`) reads the pieces part by part.
    """
    from gridmgr.grid.pieces import check_res  # heavy (geopandas): only when loading

    res = check_res(res)
    source = getattr(layers, "source", None)
    where = str(source) if source is not None else t("图层", "layers")
    departments = _departments(layers, where)
    categories = _categories(layers, where, departments)
    units = _units(layers.units, where)
    check_nesting(layers.units, where, allow_overlaps=allow_overlaps)
    if streamed:
        pframe = pd.DataFrame({c: pd.Series(dtype=d) for c, d in PIECE_DTYPES.items()})
        pframe["_geom"] = pd.Series(dtype=object)
    else:
        pframe = _pieces(layers.units, pieces, units, where, res=res, progress=progress)
    return PreparedLayers(
        res=res,
        source=str(source) if source is not None else None,
        departments=departments,
        categories=categories,
        units=units,
        pieces=pframe,
        key_places=_key_places(layers, where, categories, None if streamed else pframe),
    )
