"""Geometry column type shared by both backends, and vectorised WKB conversion.

On PostgreSQL the column is a real PostGIS typmod column (``geometry(MultiPolygon,4326)``) made
by GeoAlchemy2; values travel as WKB through ``ST_GeomFromWKB``/``ST_AsBinary``. On SQLite the
column is a plain BLOB holding the same WKB. Store code therefore handles WKB ``bytes`` on both
backends and converts whole arrays at once with shapely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from geoalchemy2 import Geometry
from sqlalchemy import LargeBinary, func
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from gridmgr.errors import InvalidGeometryError

SRID = 4326


class _PGGeometry(Geometry):
    """GeoAlchemy2 geometry that exchanges raw WKB ``bytes`` (no element wrappers)."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> bytes | None:
            return None if value is None else bytes(value)

        return process

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return func.ST_GeomFromWKB(bindvalue, self.srid, type_=self)

    def column_expression(self, col: Any) -> ColumnElement[Any]:
        return func.ST_AsBinary(col, type_=self)


class Geom(TypeDecorator[bytes]):
    """WKB geometry: PostGIS typmod column on PostgreSQL, BLOB on SQLite.

    Parameters
    ----------
    geometry_type
        PostGIS geometry type of the column (``MULTIPOLYGON``, ``POINT``, ``GEOMETRY``).
    """

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL events: GiST indexes are created by the migration itself.
    spatial_index = False
    use_N_D_index = False
    use_typmod = None
    srid = SRID

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        if dialect is not None and dialect.name == "postgresql":
            return dialect.type_descriptor(
                _PGGeometry(self.geometry_type, srid=SRID, spatial_index=False)
            )
        return LargeBinary() if dialect is None else dialect.type_descriptor(LargeBinary())

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)


def as_array(geoms: Iterable[Any]) -> np.ndarray:
    """Geometries (GeoSeries, list, array) as a shapely object array."""
    values = getattr(geoms, "values", geoms)
    return np.asarray(values, dtype=object)


def to_multipolygons(geoms: Any, *, what: str = "geometry") -> np.ndarray:
    """Polygons promoted to MultiPolygons (vectorised); other types refused.

    Polygonal parts of a GeometryCollection (e.g. an intersection that also produced slivers of
    lines) are kept; a geometry without any area is refused with its position named.
    """
    arr = as_array(geoms)
    if len(arr) == 0:
        return arr
    types = shapely.get_type_id(arr)
    out = arr.copy()
    poly = types == shapely.GeometryType.POLYGON
    if poly.any():
        out[poly] = shapely.multipolygons(arr[poly].reshape(-1, 1))
    coll = types == shapely.GeometryType.GEOMETRYCOLLECTION
    if coll.any():
        parts, index = shapely.get_parts(arr[coll], return_index=True)
        keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        rebuilt = shapely.multipolygons(parts[keep], indices=index[keep])
        target = np.flatnonzero(coll)
        filled = np.full(coll.sum(), None, dtype=object)
        filled[np.unique(index[keep])] = rebuilt
        out[target] = filled
    bad = np.flatnonzero(
        (shapely.get_type_id(out) != shapely.GeometryType.MULTIPOLYGON) | shapely.is_empty(out)
    )
    if len(bad):
        msg = (
            f"{what}: feature {int(bad[0])} has no polygonal area "
            f"(type {shapely.get_type_id(arr[bad[0]])}); {len(bad)} such feature(s); "
            "fix the layer in QGIS"
        )
        raise InvalidGeometryError(msg)
    return out


def to_wkb(geoms: Any) -> list[bytes | None]:
    """Shapely geometries → list of WKB bytes (2D, little endian), vectorised."""
    arr = as_array(geoms)
    if len(arr) == 0:
        return []
    wkb = shapely.to_wkb(arr, output_dimension=2, byte_order=1, include_srid=False)
    return list(wkb)


def from_wkb(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """WKB bytes (or memoryviews, or None) → shapely object array."""
    arr = np.asarray([None if v is None else bytes(v) for v in values], dtype=object)
    if len(arr) == 0:
        return np.empty(0, dtype=object)
    out: np.ndarray = shapely.from_wkb(arr)
    return out
