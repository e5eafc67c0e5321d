"""Geometries of a layer as read → validated EPSG:4326 lon/lat (private to ``gridmgr.io``).

:func:`to_wgs84` checks the raw geometries and converts them from the file's CRS (or ``crs=``):
geographic CRSs, projected CRSs (CGCS2000 Gauss-Krüger …) via pyproj, GCJ-02/BD-09 via
:mod:`gridmgr.io.crs`. :func:`warn_if_gcj` and :func:`check_alignment` issue
:class:`~gridmgr.errors.CRSSuspicionWarning` when a layer taken as WGS-84 looks offset.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from gridmgr.errors import CRSError, CRSSuspicionWarning, InvalidGeometryError
from gridmgr.i18n import t
from gridmgr.io.crs import OffsetCRS, offset_suspicion, parse_crs, transform_geometries
from gridmgr.io.geometry_checks import (
    check_converted,
    check_finite,
    check_geometries,
    check_lonlat,
    check_projected_source,
    check_rings,
)
from gridmgr.io.readers import GCJ_PATTERN, Source
from gridmgr.io.validate import feature_ref

ObjArray = npt.NDArray[np.object_]


def _is_wgs84_like(crs: pyproj.CRS | OffsetCRS | None) -> bool:
    """True for no CRS, ``"wgs84"`` or a geographic CRS that is WGS-84 up to centimetres."""
    if crs is None:
        return True
    if isinstance(crs, str):
        return crs == "wgs84"
    return bool(crs.is_geographic) and crs.to_epsg() in (4326, 4490, 4979, 4480, 4610, None)


def to_wgs84(
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
        check_rings(src.ring_problems, path, codes)
        if src.parse_errors:
            i = min(src.parse_errors)
            msg = t(
                f"{feature_ref(path, i, codes[i])}：几何无法解析（{src.parse_errors[i]}）；请在 QGIS 中修复或重绘",
                f"{feature_ref(path, i, codes[i])}: geometry cannot be parsed "
                f"({src.parse_errors[i]}); fix or redraw it in QGIS",
            )
            raise InvalidGeometryError(msg)
    geoms = shapely.force_2d(src.geoms)
    check_geometries(geoms, path, codes, allowed, src.unparsed)
    check_finite(geoms, path, codes)
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
        check_lonlat(geoms, path, codes, label)
        return geoms, "EPSG:4326", explicit
    if isinstance(eff, str):
        check_lonlat(geoms, path, codes, eff.upper())
        return transform_geometries(geoms, eff, "wgs84"), eff, explicit
    label = eff.to_string()
    if eff.is_geographic:
        check_lonlat(geoms, path, codes, label)
        if eff.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
            return geoms, label, explicit
        out = gpd.GeoSeries(geoms, crs=eff).to_crs(4326).to_numpy()
        check_converted(out, geoms, path, codes, label)
        return np.asarray(out, dtype=object), label, explicit
    if not eff.is_projected:
        msg = t(
            f"{path}：坐标系 {label} 既不是地理坐标系也不是投影坐标系；请用 --crs 指定",
            f"{path}: CRS {label} is neither geographic nor projected ({kind_label}); pass --crs",
        )
        raise CRSError(msg)
    check_projected_source(geoms, path, codes, eff)
    out = gpd.GeoSeries(geoms, crs=eff).to_crs(4326).to_numpy()
    check_converted(np.asarray(out, dtype=object), geoms, path, codes, label)
    return np.asarray(out, dtype=object), label, explicit


def _gcj_hints(src: Source) -> list[str]:
    """Labels of a GCJ-02/BD-09 origin: CRS text, file name, field names or coordinate fields."""
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


def warn_if_gcj(src: Source, explicit: bool) -> list[str]:
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


def check_alignment(
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


__all__ = ["check_alignment", "to_wgs84", "warn_if_gcj"]
