"""The key places reader: key places (重点场所), Point or Polygon features → EPSG:4326."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t
from gridmgr.io.fields import (
    ADDRESS_FIELDS,
    CATEGORY_FIELDS,
    NAME_FIELDS,
    bool_values,
    find_field,
    read_codes,
    text_values,
)
from gridmgr.io.geometry_checks import check_validity
from gridmgr.io.readers import Source, read_source
from gridmgr.io.reproject import to_wgs84, warn_if_gcj
from gridmgr.io.text import check_column
from gridmgr.io.validate import check_required, error_for_unknown, feature_ref
from gridmgr.settings import EQUAL_AREA_CRS

PathLike = str | Path

_KEY_PLACE_TYPES = ("Point", "Polygon", "MultiPolygon")


def _required_field(
    src: Source,
    explicit: str | None,
    candidates: Sequence[str],
    role: str,
    option: str,
    clist: list[Any],
) -> str:
    """Detect a required field and check that no feature leaves it empty."""
    found = find_field(src, explicit, candidates, role, option, required=True)
    assert found is not None
    check_required(src.props[found], src.path, found, clist, role)
    return found


def _check_categories(
    src: Source, cats: pd.Series, catf: str, clist: list[Any], categories: Sequence[str]
) -> None:
    """Raise :class:`InvalidFieldError` for the first category not among ``categories``."""
    known = set(categories)
    i = error_for_unknown(cats.tolist(), known)
    if i is not None:
        msg = t(
            f"{feature_ref(src.path, i, clist[i])}：字段 {catf!r} 的类别 {cats.iloc[i]!r} 不在 "
            f"departments.json 的 categories 中（已有：{', '.join(sorted(known))}）；请改正类别或补充该类别",
            f"{feature_ref(src.path, i, clist[i])}: category {cats.iloc[i]!r} in field {catf!r} "
            f"is not in the categories of departments.json (known: {', '.join(sorted(known))}); "
            f"correct it or add the category",
        )
        raise InvalidFieldError(msg)


def _key_places_data(
    src: Source, codes: pd.Series, nf: str, cats: pd.Series
) -> tuple[dict[str, Any], str | None]:
    """Columns of the key places frame (without geometry) and the detected address field."""
    clist = codes.tolist()
    data: dict[str, Any] = {
        "code": codes.astype(object),
        "name": check_column(text_values(src.props[nf]), src.path, nf, clist),
        "category": cats,
    }
    af = find_field(src, None, ADDRESS_FIELDS, "address", "", required=False)
    if af is not None:
        data["address"] = check_column(text_values(src.props[af]), src.path, af, clist)
    if "name_en" in src.props.columns:
        data["name_en"] = check_column(
            text_values(src.props["name_en"]), src.path, "name_en", clist
        )
    if "sample" in src.props.columns:
        data["sample"] = bool_values(
            src.props["sample"],
            lambda i: feature_ref(src.path, i, clist[i]) + t("，字段 'sample'", ", field 'sample'"),
        )
    return data, af


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
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate key places (重点场所): Point or Polygon features, in EPSG:4326.

    Parameters
    ----------
    path, code_field, name_field, crs, repair, layer, encoding
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
    src = read_source(path, layer=layer, prefer="key_places", encoding=encoding)
    cf, codes = read_codes(src, code_field)
    clist = codes.tolist()
    nf = _required_field(src, name_field, NAME_FIELDS, t("名称", "name"), "name_field=", clist)
    catf = _required_field(
        src, category_field, CATEGORY_FIELDS, t("类别", "category"), "category_field=", clist
    )
    cats = text_values(src.props[catf])
    if categories is not None:
        _check_categories(src, cats, catf, clist, categories)
    geoms, crs_label, explicit = to_wgs84(
        src, clist, allowed=_KEY_PLACE_TYPES, crs=crs, kind_label="key places"
    )
    geoms, repairs = check_validity(geoms, src.path, clist, repair=repair, area_crs=EQUAL_AREA_CRS)
    data, af = _key_places_data(src, codes, nf, cats)
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    hints = warn_if_gcj(src, explicit)
    frame.attrs.update(
        source=str(src.path),
        source_crs=crs_label,
        repairs=repairs,
        crs_hints=hints,
        fields={"code": cf, "name": nf, "category": catf, "address": af},
    )
    return frame


__all__ = ["read_key_places"]
