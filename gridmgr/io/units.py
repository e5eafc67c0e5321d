"""The units reader: administrative units (the *units* contract) → EPSG:4326.

:func:`read_units` runs the steps in order (each raising the first problem it finds): read the
file, detect the fields, check codes and names, validate and reproject the geometries (repairing
them on request), then levels and parents (:mod:`gridmgr.io.hierarchy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmgr.i18n import t
from gridmgr.io.fields import (
    LEVEL_FIELDS,
    NAME_FIELDS,
    PARENT_FIELDS,
    bool_values,
    find_field,
    read_codes,
    text_values,
)
from gridmgr.io.geometry_checks import ObjArray, check_validity
from gridmgr.io.hierarchy import infer_levels, level_from_code, normalise_levels, resolve_parents
from gridmgr.io.readers import Source, read_source, unreadable
from gridmgr.io.reproject import check_alignment, to_wgs84, warn_if_gcj
from gridmgr.io.text import check_column
from gridmgr.io.validate import check_required, feature_ref
from gridmgr.settings import EQUAL_AREA_CRS

PathLike = str | Path

#: Geometry types of a units layer.
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class _UnitFields:
    """The detected fields of a units layer and its checked codes."""

    code: str
    codes: pd.Series
    name: str
    parent: str | None
    level: str | None


def _unit_source(path: PathLike, layer: str | int | None, encoding: str | None) -> Source:
    """Read the units file; a layer without features is unreadable."""
    src = read_source(path, layer=layer, prefer="units", encoding=encoding)
    if len(src.props) == 0:
        raise unreadable(
            src.path,
            t("图层中没有任何单元（要素数为 0）", "the layer holds no units (0 features)"),
            t(
                "请确认导出了单元边界面图层（并选对了 layer=）",
                "check that the unit boundary polygons were exported (and the right layer= chosen)",
            ),
        )
    return src


def _unit_fields(
    src: Source,
    code_field: str | None,
    name_field: str | None,
    parent_field: str | None,
    level_field: str | None,
) -> _UnitFields:
    """Detect the code, name, parent and level fields; codes unique and names filled in."""
    cf, codes = read_codes(src, code_field)
    nf = find_field(
        src, name_field, NAME_FIELDS, t("名称", "name"), "--name-field / name_field=", required=True
    )
    assert nf is not None
    check_required(src.props[nf], src.path, nf, codes.tolist(), t("名称", "name"))
    pf = find_field(
        src,
        parent_field,
        PARENT_FIELDS,
        t("上级编码", "parent"),
        "--parent-field / parent_field=",
        required=False,
    )
    lf = find_field(
        src, level_field, LEVEL_FIELDS, t("层级", "level"), "level_field=", required=False
    )
    return _UnitFields(cf, codes, nf, pf, lf)


def _unit_levels(src: Source, fields: _UnitFields) -> pd.Series:
    """Levels from the level field (blanks filled from the code length), else inferred."""
    codes = fields.codes
    if fields.level is not None:
        raw_levels = src.props[fields.level].astype(object)
        blank = pd.isna(raw_levels) | (raw_levels.astype(str).str.strip() == "")
        filled = raw_levels.where(~blank, codes.map(lambda c: level_from_code(c) or ""))
        return normalise_levels(filled, src.path, fields.level, codes.tolist())
    parents = src.props[fields.parent] if fields.parent is not None else None
    return infer_levels(codes, src.path, parents)


def _units_frame(
    src: Source, fields: _UnitFields, levels: pd.Series, parents: pd.Series, geoms: ObjArray
) -> gpd.GeoDataFrame:
    """The units frame of the contract, plus ``name_en``/``alias``/``sample`` when present."""
    clist = fields.codes.tolist()
    data: dict[str, Any] = {
        "code": fields.codes.astype(object),
        "name": check_column(text_values(src.props[fields.name]), src.path, fields.name, clist),
        "level": levels,
        "parent": parents,
    }
    for extra in ("name_en", "alias"):
        if extra in src.props.columns:
            data[extra] = check_column(text_values(src.props[extra]), src.path, extra, clist)
    if "sample" in src.props.columns:
        data["sample"] = bool_values(
            src.props["sample"],
            lambda i: feature_ref(src.path, i, clist[i]) + t("，字段 'sample'", ", field 'sample'"),
        )
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


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
    encoding: str | None = None,
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
    encoding
        Text encoding of the file (``"gb18030"``, ``"big5"`` …) when it declares none and
        detection refuses it (:mod:`gridmgr.io.files`); a Shapefile's ``.cpg`` is overridden.

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
    src = _unit_source(path, layer, encoding)
    fields = _unit_fields(src, code_field, name_field, parent_field, level_field)
    clist = fields.codes.tolist()
    geoms, crs_label, explicit = to_wgs84(
        src, clist, allowed=POLYGONAL, crs=crs, kind_label="units"
    )
    geoms, repairs = check_validity(geoms, src.path, clist, repair=repair, area_crs=EQUAL_AREA_CRS)
    levels = _unit_levels(src, fields)
    parent_values = src.props[fields.parent] if fields.parent is not None else None
    parents, external = resolve_parents(
        fields.codes, parent_values, levels, src.path, fields.parent
    )
    frame = _units_frame(src, fields, levels, parents, geoms)
    # the warnings are issued here so that they point at the caller of read_units
    hints = warn_if_gcj(src, explicit)
    alignment = check_alignment(src.path, geoms, reference) if reference is not None else None
    frame.attrs.update(
        alignment=alignment,
        source=str(src.path),
        source_crs=crs_label,
        fields={
            "code": fields.code,
            "name": fields.name,
            "parent": fields.parent,
            "level": fields.level,
        },
        repairs=repairs,
        external_parents=external,
        crs_hints=hints,
    )
    return frame


__all__ = ["POLYGONAL", "read_units"]
