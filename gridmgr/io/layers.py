"""Read, validate, repair and reproject layers to WGS-84: the layers directory and its readers.

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

The readers live in topic modules and are re-exported here: :mod:`gridmgr.io.units`,
:mod:`gridmgr.io.key_places`, :mod:`gridmgr.io.roads`, :mod:`gridmgr.io.departments`; field
detection in :mod:`gridmgr.io.fields`, reprojection in :mod:`gridmgr.io.reproject`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridmgr.errors import UnreadableFileError
from gridmgr.i18n import t
from gridmgr.io.departments import DepartmentTables, empty_tables, read_departments
from gridmgr.io.fields import (
    ADDRESS_FIELDS,
    CATEGORY_FIELDS,
    CODE_FIELDS,
    LEVEL_FIELDS,
    NAME_FIELDS,
    PARENT_FIELDS,
)
from gridmgr.io.key_places import read_key_places
from gridmgr.io.readers import unreadable
from gridmgr.io.roads import read_roads
from gridmgr.io.units import read_units

PathLike = str | Path

__all__ = [
    "ADDRESS_FIELDS",
    "CATEGORY_FIELDS",
    "CODE_FIELDS",
    "LEVEL_FIELDS",
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
    """The file ``<stem>.geojson|.gpkg|.shp|.json`` of ``directory``, if any."""
    for suffix in (".geojson", ".gpkg", ".shp", ".json"):
        p = directory / f"{stem}{suffix}"
        if os.path.lexists(p):  # a dangling or looping link is refused by the reader, not skipped
            return p
    return None


def _layers_dir(directory: PathLike) -> tuple[Path, Path]:
    """The layers directory and its units file (both required)."""
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
    return d, units_path


def _directory_tables(d: Path, kp_path: Path | None, encoding: str | None) -> DepartmentTables:
    """``departments.json`` of the directory: required with key places, else empty tables."""
    dep_path = d / "departments.json"
    if os.path.lexists(dep_path):
        return read_departments(dep_path, encoding=encoding)
    if kp_path is not None:
        raise UnreadableFileError(
            t(
                f"{d}：有 key_places 但缺少 departments.json（类别与部门）；请补充",
                f"{d}: key places but no departments.json (their categories and departments); add it",
            )
        )
    return empty_tables()


def read_layers(
    directory: PathLike,
    *,
    repair: bool = False,
    crs: object = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    encoding: str | None = None,
) -> Layers:
    """Read and validate a layers directory (format in ``docs/architecture.md``).

    ``crs`` (e.g. ``"EPSG:4490"``, ``"gcj02"``) applies to every file of the directory (as with
    :func:`read_units`, it overrides what a file declares); the ``*_field`` options name the units' fields when they are not among
    the recognised variants (see :func:`read_units`); ``encoding`` (e.g. ``"gb18030"``) applies
    to every text of the directory that declares none (:mod:`gridmgr.io.files`).

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

    d, units_path = _layers_dir(directory)
    roads_path = _find_layer_file(d, "roads")
    roads = read_roads(roads_path, crs=crs, encoding=encoding) if roads_path is not None else None
    units = read_units(
        units_path,
        repair=repair,
        reference=roads,
        crs=crs,
        code_field=code_field,
        name_field=name_field,
        parent_field=parent_field,
        encoding=encoding,
    )
    kp_path = _find_layer_file(d, "key_places")
    tables = _directory_tables(d, kp_path, encoding)
    if kp_path is not None:
        key_places = read_key_places(
            kp_path,
            repair=repair,
            categories=tables.categories["category"].tolist(),
            crs=crs,
            encoding=encoding,
        )
    else:
        key_places = gpd.GeoDataFrame(
            {"code": [], "name": [], "category": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326
        )
    return Layers(units, key_places, tables.departments, tables.categories, roads, d)
