"""The roads reader: road lines (LineString/MultiLineString) → EPSG:4326, for patrol routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd

from gridmgr.io.fields import NAME_FIELDS, find_field, text_values
from gridmgr.io.readers import read_source
from gridmgr.io.reproject import to_wgs84, warn_if_gcj
from gridmgr.io.text import check_column

PathLike = str | Path

_LINEAR = ("LineString", "MultiLineString")


def read_roads(
    path: PathLike,
    *,
    crs: object = None,
    layer: str | int | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read road lines (LineString/MultiLineString) in EPSG:4326 for patrol routes.

    All attributes are kept (a ``name`` column is added, ``None`` when the file has none).

    Examples
    --------
    >>> roads = read_roads("layers/changchun_hitech/roads.geojson")  # doctest: +SKIP
    """
    src = read_source(path, layer=layer, prefer="roads", encoding=encoding)
    nf = find_field(src, None, NAME_FIELDS, "name", "", required=False)
    labels: list[Any] = (
        text_values(src.props[nf]).tolist() if nf is not None else [None] * len(src.props)
    )
    geoms, crs_label, explicit = to_wgs84(src, labels, allowed=_LINEAR, crs=crs, kind_label="roads")
    props = src.props.copy()
    props["name"] = (
        check_column(text_values(src.props[nf]), src.path, nf) if nf is not None else None
    )
    frame = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    hints = warn_if_gcj(src, explicit)
    frame.attrs.update(source=str(src.path), source_crs=crs_label, crs_hints=hints)
    return frame


__all__ = ["read_roads"]
