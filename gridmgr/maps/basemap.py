"""The page every interactive map is drawn on: basemap, title, controls, legend helpers.

:func:`resolve_basemap` picks the basemap: ``vector`` (the default: the roads, rivers and unit
outlines drawn offline, :mod:`gridmgr.maps.vector_base`), ``local`` (tiles of the office's own
MBTiles/PMTiles file named by ``GRIDMGR_TILES``, served by gridmgr at ``/api/tiles/{z}/{x}/{y}``),
or online tiles (Tianditu, OpenStreetMap, Amap); ``none`` is a blank page. A basemap that is not
configured (Tianditu without a key, ``local`` without a readable tile file) falls back to
``vector`` with a note. Every basemap but ``none`` carries the vector base below its tiles, so a
map opened without internet still shows the roads.
``_new_map`` opens a folium map over the bounds with the bundled Leaflet assets and ``_finish``
adds the full-screen button, the measuring tool, the legend and the layer switcher;
:func:`map_html` renders the self-contained page. Small helpers over frames (``_geoms``,
``_lookup``, ``_bounds``, ``_legend_item_swatch``) are shared by the map modules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InputError, UnitNotFoundError
from gridmgr.i18n import t
from gridmgr.maps.leaflet import (
    _ASSET,
    _CSS,
    _JS,
    _control_class,
    _html_text,
    _measure_class,
    _title_class,
    render_page,
)

if TYPE_CHECKING:
    import folium
    import geopandas as gpd


__all__ = [
    "BASEMAPS",
    "DEFAULT_BASEMAP",
    "LOCAL_TILES_URL",
    "TIANDITU_KEY_ENV",
    "TILE_HOSTS",
    "map_html",
    "resolve_basemap",
]


#: Hosts a map page may contact: tile servers only.
TILE_HOSTS = ("tianditu.gov.cn", "tile.openstreetmap.org", "autonavi.com")


#: Name of the environment variable holding the Tianditu key.
TIANDITU_KEY_ENV = "GRIDMGR_TIANDITU_KEY"


#: Basemap names accepted by the map functions.
BASEMAPS = ("vector", "local", "tianditu", "tianditu-img", "osm", "amap", "none")

#: The basemap when none is asked for: drawn offline from the shipped layers.
DEFAULT_BASEMAP = "vector"

#: Where map pages fetch the ``local`` tiles (gridmgr's own tile route, same origin).
LOCAL_TILES_URL = "/api/tiles/{z}/{x}/{y}"


@dataclass(frozen=True)
class _Base:
    basemap: str
    shift: Callable[[npt.ArrayLike], npt.NDArray[np.object_]]
    note: str | None


def _identity(geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
    return np.asarray(geoms, dtype=object)


def _gcj(geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
    from gridmgr.io.crs import transform_geometries

    return transform_geometries(geoms, "wgs84", "gcj02")


def resolve_basemap(basemap: str | None) -> tuple[str, str | None]:
    """The basemap actually used and a note for the user.

    Tianditu without a key and ``local`` without a readable ``GRIDMGR_TILES`` file fall back to
    ``vector`` (drawn offline), saying why.

    >>> resolve_basemap(None)
    ('vector', None)
    >>> resolve_basemap("离线")
    ('vector', None)
    """
    name = (basemap or DEFAULT_BASEMAP).lower()
    aliases = {
        "offline": "vector",
        "离线": "vector",
        "矢量": "vector",
        "mbtiles": "local",
        "pmtiles": "local",
        "本地": "local",
        "gaode": "amap",
        "高德": "amap",
        "天地图": "tianditu",
        "tianditu-vec": "tianditu",
        "img": "tianditu-img",
        "openstreetmap": "osm",
        "blank": "none",
    }
    name = aliases.get(name, name)
    if name not in BASEMAPS:
        msg = t(
            f"底图 {basemap!r} 未知；可选 {', '.join(BASEMAPS)}",
            f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}",
        )
        raise InputError(msg)
    if name.startswith("tianditu") and not os.environ.get(TIANDITU_KEY_ENV):
        return "vector", t(
            f"未设置天地图密钥（环境变量 {TIANDITU_KEY_ENV}），底图改用离线道路图",
            f"no Tianditu key ({TIANDITU_KEY_ENV} is not set): the offline road map is used",
        )
    if name == "local":
        problem = _local_problem()
        if problem:
            return "vector", problem
    return name, None


def _local_problem() -> str | None:
    """Why the ``local`` tiles cannot be shown (no or unreadable ``GRIDMGR_TILES``), else None."""
    from gridmgr.maps.tiles import TILES_ENV, open_tiles

    path = os.environ.get(TILES_ENV)
    if not path:
        return t(
            f"未设置离线瓦片文件（环境变量 {TILES_ENV}），底图改用离线道路图",
            f"no offline tile file ({TILES_ENV} is not set): the offline road map is used",
        )
    try:
        open_tiles(path)
    except InputError as exc:
        return t(f"{exc}；底图改用离线道路图", f"{exc}; the offline road map is used")
    return None


def _tianditu(layer: str, key: str) -> str:
    return (
        f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}"
        f"&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
    )


def _new_map(bounds: Sequence[float], basemap: str | None, title: str) -> tuple[folium.Map, _Base]:
    import folium

    name, note = resolve_basemap(basemap)
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        control_scale=False,
        zoom_start=13,
        max_zoom=19,
    )
    m.default_js = [(k, _ASSET + v) for k, v in _JS.items() if k in ("leaflet", "gridmgr")]
    m.default_css = [
        (k, _ASSET + v) for k, v in _CSS.items() if k in ("leaflet_css", "gridmgr_css")
    ]
    shift = _identity
    if name == "local":
        _local_tiles().add_to(m)
    elif name.startswith("tianditu"):
        key = os.environ.get(TIANDITU_KEY_ENV, "")
        base, anno = ("vec", "cva") if name == "tianditu" else ("img", "cia")
        attr = "&copy; 天地图 Tianditu (国家地理信息公共服务平台) GS(2024)0568号"
        folium.TileLayer(
            _tianditu(base, key),
            attr=attr,
            name=t("天地图", "Tianditu"),
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)
        folium.TileLayer(
            _tianditu(anno, key),
            attr=attr,
            name=t("天地图注记", "Tianditu labels"),
            subdomains="01234567",
            overlay=True,
            control=False,
            max_zoom=18,
        ).add_to(m)
    elif name == "osm":
        folium.TileLayer(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            attr="&copy; OpenStreetMap contributors",
            name="OpenStreetMap",
            max_zoom=19,
        ).add_to(m)
    elif name == "amap":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
            attr="&copy; 高德地图 AutoNavi",
            name=t("高德地图", "Amap"),
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)
        shift = _gcj
    if name != "none":
        from gridmgr.maps.vector_base import add_vector_base

        add_vector_base(m, (minx, miny, maxx, maxy), None if shift is _identity else shift)
    lo = shift(np.asarray([shapely.Point(minx, miny), shapely.Point(maxx, maxy)], dtype=object))
    m.fit_bounds([[lo[0].y, lo[0].x], [lo[1].y, lo[1].x]])
    m.add_child(_title_class()(title), name="gridmgr_title")
    return m, _Base(name, shift, note)


def _local_tiles() -> folium.TileLayer:
    """Leaflet tiles from gridmgr's tile route, zoom range of the ``GRIDMGR_TILES`` file."""
    import folium

    from gridmgr.maps.tiles import TILES_ENV, open_tiles

    archive = open_tiles(os.environ[TILES_ENV])
    return folium.TileLayer(
        os.environ.get("GRIDMGR_TILES_URL") or LOCAL_TILES_URL,
        attr=t("离线地图（本单位提供）", "offline map (supplied by the office)"),
        name=t("离线地图", "offline map"),
        min_native_zoom=archive.min_zoom,  # passed through to Leaflet's options
        max_native_zoom=archive.max_zoom,
        max_zoom=19,
    )


def _finish(m: folium.Map, legend_html: str) -> None:
    import folium
    from folium import plugins

    fs = plugins.Fullscreen(  # type: ignore[no-untyped-call]
        position="topleft",
        title=t("全屏", "Full screen"),
        title_cancel=t("退出全屏", "Exit full screen"),
    )
    fs.default_js = [("fullscreen", _ASSET + _JS["fullscreen"])]
    fs.default_css = [("fullscreen_css", _ASSET + _CSS["fullscreen_css"])]
    fs.add_to(m)
    m.add_child(_measure_class()())
    _control_class()(legend_html).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)


def map_html(m: folium.Map) -> str:
    """Render ``m`` as one self-contained HTML page (bundled scripts and styles inlined).

    Raises
    ------
    InputError
        The page would still load a script or stylesheet from the network.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from gridmgr.maps import leader_map
    >>> cells = gpd.GeoDataFrame({"cell": ["a"]}, geometry=[shapely.box(125.2, 43.8, 125.21, 43.81)], crs=4326)
    >>> page = map_html(leader_map(cells, None, basemap="none"))
    >>> "cdn" in page, page.startswith("<!DOCTYPE html>")
    (False, True)
    """
    return render_page(m)


def _geoms(frame: gpd.GeoDataFrame | None) -> npt.NDArray[np.object_]:
    if frame is None or len(frame) == 0:
        return np.empty(0, dtype=object)
    return np.asarray(frame.geometry.values, dtype=object)


def _lookup(frame: pd.DataFrame | None, key: str, value: str) -> dict[str, str]:
    if frame is None or len(frame) == 0 or key not in frame.columns or value not in frame.columns:
        return {}
    return {
        str(k): str(v)
        for k, v in zip(frame[key], frame[value], strict=True)
        if v is not None and not (isinstance(v, float) and np.isnan(v))
    }


def require_units(units: pd.DataFrame) -> None:
    """Refuse to draw a store that holds no units yet (empty store: nothing to map or export).

    >>> require_units(pd.DataFrame({"code": ["C"]}))
    """
    if len(units) == 0:
        raise UnitNotFoundError(
            t(
                "库中还没有单元图层，无法生成地图或汇报材料：先运行 `gridmgr load --layers 目录`",
                "the store holds no units yet, so there is nothing to map or export: run "
                "`gridmgr load --layers DIR` first",
            )
        )


def _bounds(*arrays: npt.NDArray[np.object_]) -> tuple[float, float, float, float]:
    allg = np.concatenate([a for a in arrays if len(a)]) if any(len(a) for a in arrays) else None
    if allg is None:
        raise InputError(t("地图没有可显示的要素", "the map has nothing to show"))
    b = shapely.total_bounds(allg)
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _legend_item_swatch(
    colour: str, label: str, *, line: bool = False, dashed: bool = False, fill_opacity: float = 0.5
) -> str:
    if line:
        style = f"border-top-color:{colour};border-top-style:{'dashed' if dashed else 'solid'}"
        return f'<div><i class="gm-line" style="{style}"></i>{_html_text(label)}</div>'
    return (
        f'<div><i style="background:{colour};opacity:{fill_opacity};'
        f'border:1px solid {colour}"></i>{_html_text(label)}</div>'
    )
