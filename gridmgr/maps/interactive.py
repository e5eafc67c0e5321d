"""Interactive maps (folium/Leaflet): a leader's patrol map, the overview map, a plan's diff map.

Every map is built from one GeoDataFrame per layer (EPSG:4326) and returned as a
:class:`folium.Map`; :func:`map_html` turns it into one self-contained HTML page. Nothing here
writes a file.

Offline by construction
    Leaflet 1.9.4, leaflet.fullscreen 3.0.0 and gridmgr's own measure control and styles are
    bundled in ``gridmgr/maps/static/`` and *inlined* into the page by :func:`map_html`; images the
    stylesheets use become ``data:`` URIs. The only network requests a page makes are map tiles
    (:data:`TILE_HOSTS`). :func:`map_html` refuses to return a page that still links an external
    script or stylesheet.

Escaping
    Every user text (names, addresses, categories, leader names) is HTML-escaped in Python before
    it enters a popup, tooltip, legend or layer name; the feature data embedded in ``<script>`` has
    ``<``, ``>`` and ``&`` written as JSON ``\\u`` escapes, so no text can close the script element.

Weight
    Each layer is one ``L.geoJSON`` call over one FeatureCollection (never one folium object per
    row); coordinates are rounded to 6 decimals (≈ 0.1 m). The overview map dissolves pieces into
    one polygon per territory and simplifies the territories as a coverage (shared borders stay
    shared), so the whole zone at res 10 is a few hundred KB.

Basemaps (:data:`BASEMAPS`)
    ``tianditu`` (天地图 vector + annotation), ``tianditu-img`` (imagery + annotation) with the key
    from ``GRIDMGR_TIANDITU_KEY`` (without a key the map falls back to OpenStreetMap and says so in
    its legend); ``osm``; ``amap`` (高德, GCJ-02: overlay coordinates are shifted to GCJ-02 at
    render time so they line up with the tiles — the data passed in is not changed); ``none``.
    Tianditu's CGCS2000 tiles line up with WGS-84 at map scale.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.maps.leaflet import (
    _ASSET,
    _CSS,
    _JS,
    _control_class,
    _esc,
    _html_text,
    _measure_class,
    _popup_table,
    _title_class,
    _vector_layer_class,
    features_json,
    render_page,
)

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from gridmgr.patrol.route import PatrolRoute

#: Hosts a map page may contact: tile servers only.
TILE_HOSTS = ("tianditu.gov.cn", "tile.openstreetmap.org", "autonavi.com")

#: Name of the environment variable holding the Tianditu key.
TIANDITU_KEY_ENV = "GRIDMGR_TIANDITU_KEY"

#: Basemap names accepted by the map functions.
BASEMAPS = ("tianditu", "tianditu-img", "osm", "amap", "none")

#: Qualitative palette for territories (≥ 5 colours; red is kept for gaps).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#9c755f",
    "#ff9da7",
    "#2f4b7c",
    "#a0cbe8",
    "#8cd17d",
    "#bab0ac",
)
GAP_COLOUR = "#d62728"
FALLBACK_COLOUR = "#f4a261"
ROUTE_COLOUR = "#1d3557"

#: Category → (badge glyph, colour). Categories not listed get the first character of their
#: Chinese name and a grey badge.
CATEGORY_STYLE: dict[str, tuple[str, str]] = {
    "school": ("校", "#1f77b4"),
    "kindergarten": ("幼", "#17becf"),
    "mall": ("商", "#9467bd"),
    "farmers_market": ("市", "#2ca02c"),
    "restaurant": ("餐", "#bcbd22"),
    "plaza": ("场", "#e377c2"),
    "park": ("园", "#3a7d44"),
    "hospital": ("医", "#d62728"),
    "clinic": ("卫", "#ff7f0e"),
    "residential": ("居", "#8c564b"),
    "construction_site": ("工", "#f4a261"),
    "transport_hub": ("交", "#264653"),
}


# --------------------------------------------------------------------------------------------
# Base map
# --------------------------------------------------------------------------------------------


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
    """The basemap actually used and a note for the user (Tianditu without a key → OSM)."""
    name = (basemap or "tianditu").lower()
    aliases = {
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
        return "osm", t(
            f"未设置天地图密钥（环境变量 {TIANDITU_KEY_ENV}），底图改用 OpenStreetMap",
            f"no Tianditu key ({TIANDITU_KEY_ENV} is not set): OpenStreetMap is used instead",
        )
    return name, None


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
    if name.startswith("tianditu"):
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
    lo = shift(np.asarray([shapely.Point(minx, miny), shapely.Point(maxx, maxy)], dtype=object))
    m.fit_bounds([[lo[0].y, lo[0].x], [lo[1].y, lo[1].x]])
    m.add_child(_title_class()(title), name="gridmgr_title")
    return m, _Base(name, shift, note)


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
    >>> cells = gpd.GeoDataFrame({"cell": ["a"]}, geometry=[shapely.box(125.2, 43.8, 125.21, 43.81)], crs=4326)
    >>> page = map_html(leader_map(cells, None, basemap="none"))
    >>> "cdn" in page, page.startswith("<!DOCTYPE html>")
    (False, True)
    """
    return render_page(m)


# --------------------------------------------------------------------------------------------
# Helpers over frames
# --------------------------------------------------------------------------------------------


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


def _bounds(*arrays: npt.NDArray[np.object_]) -> tuple[float, float, float, float]:
    allg = np.concatenate([a for a in arrays if len(a)]) if any(len(a) for a in arrays) else None
    if allg is None:
        raise InputError(t("地图没有可显示的要素", "the map has nothing to show"))
    b = shapely.total_bounds(allg)
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _dissolve(geoms: npt.NDArray[np.object_]) -> Any:
    if len(geoms) == 0:
        return shapely.Polygon()
    try:
        return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:  # pragma: no cover - not a clean coverage
        return shapely.union_all(geoms)


def _metric_simplify(geoms: npt.NDArray[np.object_], tolerance_m: float) -> npt.NDArray[np.object_]:
    """Simplify polygons as a coverage (shared borders stay shared) with a tolerance in metres."""
    if tolerance_m <= 0 or len(geoms) == 0:
        return geoms
    from gridmgr.patrol.route import _Projector

    b = shapely.total_bounds(geoms)
    proj = _Projector((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    metric = proj.geoms_to_metric(geoms)
    try:
        simp = np.asarray(shapely.coverage_simplify(metric, tolerance_m), dtype=object)
    except (shapely.errors.GEOSException, AttributeError):  # pragma: no cover - old GEOS
        simp = np.asarray(
            shapely.simplify(metric, tolerance_m, preserve_topology=True), dtype=object
        )
    return proj.geoms_to_lonlat(simp)


def territory_adjacency(geoms: npt.ArrayLike) -> list[tuple[int, int]]:
    """Pairs (i < j) of polygons sharing a boundary of positive length (corners do not count)."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) < 2:
        return []
    tree = shapely.STRtree(arr)
    i, j = tree.query(arr, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i) == 0:
        return []
    shared = shapely.intersection(shapely.boundary(arr[i]), shapely.boundary(arr[j]))
    touch = shapely.length(shared) > 1e-9
    overlap = shapely.area(shapely.intersection(arr[i], arr[j])) > 0
    ok = touch | overlap
    return list(zip(i[ok].tolist(), j[ok].tolist(), strict=True))


def colour_territories(geoms: npt.ArrayLike, *, min_colours: int = 5) -> npt.NDArray[np.int64]:
    """Greedy graph colouring (largest degree first) so that neighbours never share a colour.

    Returns a colour index per polygon. With ``min_colours`` the colours are spread over at least
    that many palette entries (ties go to the least used colour) so that maps look varied.

    Examples
    --------
    >>> import shapely
    >>> boxes = [shapely.box(i, 0, i + 1, 1) for i in range(4)]
    >>> c = colour_territories(boxes)
    >>> all(c[k] != c[k + 1] for k in range(3))
    True
    """
    arr = np.asarray(geoms, dtype=object)
    n = len(arr)
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for a, b in territory_adjacency(arr):
        nbrs[a].add(b)
        nbrs[b].add(a)
    order = sorted(range(n), key=lambda k: (-len(nbrs[k]), k))
    colour = np.full(n, -1, dtype=np.int64)
    used = np.zeros(max(min_colours, 1) + n, dtype=np.int64)
    for k in order:
        taken = {int(colour[x]) for x in nbrs[k] if colour[x] >= 0}
        free = [c for c in range(max(min_colours, len(taken) + 1)) if c not in taken]
        c = min(free, key=lambda c: (used[c], c))
        colour[k] = c
        used[c] += 1
    return colour


def palette_colour(index: int) -> str:
    """Palette colour ``index`` (beyond the palette: evenly spaced hues)."""
    if index < len(PALETTE):
        return PALETTE[index]
    import colorsys

    h = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.55, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _category_style(category: str, categories: pd.DataFrame | None) -> tuple[str, str, str]:
    """(glyph, colour, label) of a category."""
    names = _lookup(categories, "category", "name" if t("zh", "en") == "zh" else "name_en")
    label = names.get(category, category)
    glyph, colour = CATEGORY_STYLE.get(category, ((label or "?")[:1], "#6c757d"))
    return _html_text(glyph), colour, label


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


# --------------------------------------------------------------------------------------------
# Leader patrol map
# --------------------------------------------------------------------------------------------


def leader_map(
    territory_pieces: gpd.GeoDataFrame,
    key_places: gpd.GeoDataFrame | None = None,
    route: PatrolRoute | None = None,
    *,
    leader: Mapping[str, Any] | None = None,
    basemap: str | None = "tianditu",
    categories: pd.DataFrame | None = None,
    departments: pd.DataFrame | None = None,
    leaders: pd.DataFrame | None = None,
) -> folium.Map:
    """A grid leader's patrol map (巡查地图).

    Layers: the territory outline (pieces dissolved), the pieces (one GeoJSON layer), key places
    with category badges and popups (category, department, package leader, address), the route
    with numbered stops and its start; a legend with the route's length and walking time (and
    whether the legs follow roads or are straight lines), a scale bar, a layer switcher, a
    full-screen button and a distance-measuring tool.

    Parameters
    ----------
    territory_pieces
        The leader's pieces (EPSG:4326).
    key_places
        Key places to show (``code``, ``name``, ``category``, optional ``address``,
        ``package_leader_id``); ``None`` for none.
    route
        A :class:`gridmgr.patrol.route.PatrolRoute` to draw, or ``None``.
    leader
        The leader's record (``id``, ``name``, ``role`` …) for the title and legend.
    basemap
        One of :data:`BASEMAPS`.
    categories, departments, leaders
        Lookup tables for category names, department names and package-leader names.

    Returns
    -------
    folium.Map
        Render it with :func:`map_html`.
    """
    import geopandas as gpd  # noqa: F401  (frames are geopandas objects)

    if territory_pieces is None or "geometry" not in getattr(territory_pieces, "columns", []):
        raise InvalidFieldError(
            t(
                "领导地图需要地块图层（含 geometry 列）",
                "a leader map needs the pieces GeoDataFrame (with geometry)",
            )
        )
    pg = _geoms(territory_pieces)
    kg = _geoms(key_places)
    lname = str((leader or {}).get("name") or (leader or {}).get("id") or "")
    title = t(
        f"{lname} 巡查地图" if lname else "巡查地图",
        f"Patrol map — {lname}" if lname else "Patrol map",
    )
    route_geoms = (
        np.asarray(list(route.legs), dtype=object) if route is not None else np.empty(0, object)
    )
    m, base = _new_map(_bounds(pg, kg, route_geoms), basemap, title)
    Vector = _vector_layer_class()

    # territory outline
    outline = _dissolve(pg)
    Vector(
        features_json(base.shift([outline])),
        name=t("辖区边界", "Territory outline"),
        style={"color": "#c1121f", "weight": 3, "fill": False},
    ).add_to(m)
    # pieces, one layer
    area = territory_pieces["area_m2"].to_numpy() if "area_m2" in territory_pieces.columns else None
    from gridmgr.patrol.route import _piece_ids

    # users know pieces by their H3 cell (the store id is internal)
    ids = (
        territory_pieces["cell"].astype(str).tolist()
        if "cell" in territory_pieces.columns
        else _piece_ids(territory_pieces)
    )
    tips = [_html_text(i) for i in ids]
    if area is not None:
        tips = [f"{tp} · {a / 1e4:.2f} {t('公顷', 'ha')}" for tp, a in zip(tips, area, strict=True)]
    # pieces held as the community's territorial default (属地兜底) are tinted
    fallback = (
        territory_pieces["fallback"].fillna(False).astype(bool).to_numpy()
        if "fallback" in territory_pieces.columns
        else np.zeros(len(pg), dtype=bool)
    )
    fb_style = {"fillColor": FALLBACK_COLOUR, "fillOpacity": 0.3}
    fb_tip = _html_text(t("（属地兜底）", " (territorial default)"))
    tips = [f"{tp}{fb_tip}" if fb else tp for tp, fb in zip(tips, fallback, strict=True)]
    Vector(
        features_json(
            base.shift(pg), {"_t": tips, "_s": [fb_style if fb else None for fb in fallback]}
        ),
        name=t("地块", "Pieces"),
        style={"color": "#457b9d", "weight": 1, "fillColor": "#a8dadc", "fillOpacity": 0.15},
    ).add_to(m)

    legend = [f"<h4>{_html_text(title)}</h4>"]
    n_area = float(np.sum(area)) if area is not None else None
    facts = t(f"地块 {len(pg)} 块", f"{len(pg)} pieces")
    if n_area is not None:
        facts += t(f"，面积 {n_area / 1e6:.2f} 平方公里", f", {n_area / 1e6:.2f} km²")
    legend.append(f"<div>{_html_text(facts)}</div>")
    legend.append(_legend_item_swatch("#c1121f", t("辖区边界", "territory outline"), line=True))
    legend.append(_legend_item_swatch("#457b9d", t("地块", "piece"), fill_opacity=0.3))
    if fallback.any():
        legend.append(
            _legend_item_swatch(
                FALLBACK_COLOUR,
                t(
                    f"属地兜底地块 {int(fallback.sum())} 块",
                    f"{int(fallback.sum())} pieces held as territorial default",
                ),
            )
        )
    if base.note:
        legend.append(f'<div class="gm-note">{_html_text(base.note)}</div>')

    # key places
    if len(kg):
        legend += _key_place_layer(m, Vector, key_places, base, categories, departments, leaders)

    # route
    if route is not None:
        legend += _route_layers(m, Vector, route, base)

    _finish(m, "".join(legend))
    return m


def _key_place_layer(
    m: folium.Map,
    Vector: type,
    key_places: gpd.GeoDataFrame,
    base: _Base,
    categories: pd.DataFrame | None,
    departments: pd.DataFrame | None,
    leaders: pd.DataFrame | None,
) -> list[str]:
    from gridmgr.patrol.route import _inner_points

    kp = key_places
    geoms = _geoms(kp)
    cats = kp["category"].astype(str).tolist() if "category" in kp.columns else [""] * len(kp)
    cat_dept = _lookup(categories, "category", "department")
    dept_name = _lookup(departments, "code", "name" if t("zh", "en") == "zh" else "name_en")
    leader_name = _lookup(leaders, "id", "name")

    def col(c: str) -> list[Any]:
        return list(kp[c].tolist()) if c in kp.columns else [None] * len(kp)

    names, codes, addrs, pls = col("name"), col("code"), col("address"), col("package_leader_id")
    depts = col("department")
    popups, glyphs, colours, labels = [], [], [], []
    for i, cat in enumerate(cats):
        glyph, colour, label = _category_style(cat, categories)
        dept = depts[i] if depts[i] else cat_dept.get(cat)
        pl = pls[i]
        pl_text = (
            f"{leader_name.get(str(pl), '')} ({pl})"
            if pl and str(pl) != "nan"
            else t("未落实", "none")
        )
        popups.append(
            _popup_table(
                str(names[i] or codes[i] or ""),
                [
                    (t("编码", "Code"), codes[i]),
                    (t("类别", "Category"), label),
                    (
                        t("行管部门", "Department"),
                        dept_name.get(str(dept), dept) if dept else t("未明确", "none"),
                    ),
                    (t("包保领导", "Package leader"), pl_text),
                    (t("地址", "Address"), addrs[i]),
                ],
            )
        )
        glyphs.append(glyph)
        colours.append(colour)
        labels.append(_esc(names[i]))
    polys = shapely.get_type_id(geoms) >= 3
    pts = _inner_points(geoms)
    all_geoms = np.concatenate([geoms[polys], pts])
    props: dict[str, list[Any]] = {
        "_p": [p for p, k in zip(popups, polys, strict=True) if k] + popups,
        "_g": [g for g, k in zip(glyphs, polys, strict=True) if k] + glyphs,
        "_c": [c for c, k in zip(colours, polys, strict=True) if k] + colours,
        "_s": [{"color": c, "fillColor": c} for c, k in zip(colours, polys, strict=True) if k]
        + [None] * len(pts),
        "_t": [x for x, k in zip(labels, polys, strict=True) if k] + labels,
    }
    Vector(
        features_json(base.shift(all_geoms), props),
        name=t("重点点位", "Key places"),
        style={"weight": 2, "fillOpacity": 0.2},
        points="badge",
        tooltip={"direction": "top", "offset": [0, -12]},
    ).add_to(m)
    legend = [
        (
            f"<div style='margin-top:4px'><b>{_html_text(t('重点点位', 'Key places'))}"
            f" ({len(kp)})</b></div>"
        )
    ]
    for cat in dict.fromkeys(cats):
        glyph, colour, label = _category_style(cat, categories)
        legend.append(
            f'<div><span class="gm-badge"><span style="background:{colour}">{glyph}'
            f"</span></span>{_html_text(label)} × {cats.count(cat)}</div>"
        )
    return legend


def _route_layers(m: folium.Map, Vector: type, route: PatrolRoute, base: _Base) -> list[str]:
    line = route.line()
    style = {"color": ROUTE_COLOUR, "weight": 3, "opacity": 0.85}
    if not route.follows_roads:
        style["dashArray"] = "6 5"
    Vector(
        features_json(base.shift([line]), {"_t": [_html_text(t("巡查路线", "patrol route"))]}),
        name=t("巡查路线", "Patrol route"),
        style=style,
    ).add_to(m)
    lon = [route.start[0]] + [s.lon for s in route.stops]
    lat = [route.start[1]] + [s.lat for s in route.stops]
    pts = shapely.points(lon, lat)
    kind_label = {"key_place": t("重点点位", "key place"), "piece": t("地块", "piece")}
    # pieces are numbered only (their ids are on the pieces layer); key places are named
    tips = [_html_text(t("起点/终点", "start/end") if route.closed else t("起点", "start"))] + [
        _html_text(f"{s.order}. {kind_label[s.kind]} {s.name or s.id}")
        if s.kind == "key_place"
        else None
        for s in route.stops
    ]
    # key-place stops are labelled beside their badge so that both stay visible
    is_kp = [None] + [1 if s.kind == "key_place" else None for s in route.stops]
    Vector(
        features_json(
            base.shift(pts),
            {
                "n": list(range(len(pts))),
                "_t": tips,
                "k": is_kp,
                "_g": [_html_text(t("起", "S"))] + [None] * (len(pts) - 1),
            },
        ),
        name=t("巡查顺序", "Stop numbers"),
        style={},
        points="stop",
    ).add_to(m)
    mode = (
        t(
            f"沿道路步行（{sum(route.leg_on_road)}/{len(route.legs)} 段沿路）",
            f"along roads ({sum(route.leg_on_road)}/{len(route.legs)} legs on roads)",
        )
        if route.follows_roads
        else t("直线距离（未提供道路图层）", "straight lines (no road layer)")
    )
    hours = route.walking_time_s / 3600
    summary = t(
        f"路线 {route.length_m / 1000:.2f} 公里，步行约 {hours * 60:.0f} 分钟"
        f"（{route.walking_speed_kmh:g} 公里/小时），{len(route.stops)} 个巡查点",
        f"route {route.length_m / 1000:.2f} km, about {hours * 60:.0f} min on foot "
        f"({route.walking_speed_kmh:g} km/h), {len(route.stops)} stops",
    )
    out = [
        "<div style='margin-top:4px'><b>"
        + _html_text(t("巡查路线", "Patrol route"))
        + "</b></div>",
        _legend_item_swatch(ROUTE_COLOUR, mode, line=True, dashed=not route.follows_roads),
        f"<div>{_html_text(summary)}</div>",
    ]
    out += [f'<div class="gm-note">{_html_text(n)}</div>' for n in route.notes]
    return out


# --------------------------------------------------------------------------------------------
# Overview map
# --------------------------------------------------------------------------------------------


def territories(
    pieces: gpd.GeoDataFrame, *, by: str = "leader_id", simplify_m: float = 0.0
) -> gpd.GeoDataFrame:
    """One (multi)polygon per leader: pieces dissolved by ``by`` (missing → ``None`` row).

    Columns: ``leader_id`` (or ``by``), ``pieces`` (count), ``area_m2`` (when the pieces have it),
    geometry (simplified as a coverage when ``simplify_m`` > 0).
    """
    import geopandas as gpd

    if by not in pieces.columns:
        raise InvalidFieldError(
            t(
                f"地块图层缺少 {by!r} 列，无法按责任人合并",
                f"pieces have no {by!r} column to dissolve by",
            )
        )
    keys = pieces[by].astype("string").fillna("\0none")
    codes, uniq = pd.factorize(keys, sort=True)
    geoms = np.asarray(pieces.geometry.values, dtype=object)
    order = np.argsort(codes, kind="stable")
    splits = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, splits) if len(order) else []
    merged = np.asarray([_dissolve(geoms[g]) for g in groups], dtype=object)
    merged = _metric_simplify(merged, simplify_m)
    out = pd.DataFrame(
        {by: [None if u == "\0none" else str(u) for u in uniq], "pieces": [len(g) for g in groups]}
    )
    if "area_m2" in pieces.columns:
        a = pieces["area_m2"].to_numpy()
        out["area_m2"] = [float(a[g].sum()) for g in groups]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(merged, crs=4326), crs=4326)


def overview_map(
    units: gpd.GeoDataFrame,
    pieces_with_leaders: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None = None,
    *,
    leaders: pd.DataFrame | None = None,
    basemap: str | None = "tianditu",
    simplify_m: float = 3.0,
    title: str | None = None,
) -> folium.Map:
    """The overview map: every territory in its own colour, gaps highlighted, units outlined.

    Territories are the pieces dissolved per leader and simplified as a coverage
    (``simplify_m``); neighbours never share a colour (:func:`colour_territories`). Pieces with
    no leader form the "unassigned" territory, drawn in red hatching as a gap.

    Parameters
    ----------
    units
        Unit polygons (``code``, ``name``, ``level``) — outlined, streets thicker.
    pieces_with_leaders
        Pieces with ``leader_id`` (EPSG:4326).
    gaps
        Gap geometries with a ``kind`` column (e.g. ``CoverageReport.findings_frame()``);
        ``label_zh``/``label_en``, ``area_m2``, ``unit_code``, ``leader_id`` used when present.
    leaders
        ``id``, ``name`` for labels.
    basemap
        One of :data:`BASEMAPS`.
    """
    m, _, legend = _overview_parts(
        units,
        pieces_with_leaders,
        gaps,
        leaders=leaders,
        basemap=basemap,
        simplify_m=simplify_m,
        title=title,
    )
    _finish(m, "".join(legend))
    return m


def _overview_parts(
    units: gpd.GeoDataFrame,
    pieces_with_leaders: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None,
    *,
    leaders: pd.DataFrame | None,
    basemap: str | None,
    simplify_m: float,
    title: str | None,
) -> tuple[folium.Map, _Base, list[str]]:
    ug = _geoms(units)
    pg = _geoms(pieces_with_leaders)
    title = title or t("网格责任区总览", "Territories overview")
    m, base = _new_map(_bounds(ug, pg), basemap, title)
    Vector = _vector_layer_class()
    names = _lookup(leaders, "id", "name")
    legend = [f"<h4>{_html_text(title)}</h4>"]
    if base.note:
        legend.append(f'<div class="gm-note">{_html_text(base.note)}</div>')

    if len(pg):
        terr = territories(pieces_with_leaders, simplify_m=simplify_m)
        assigned = terr["leader_id"].notna().to_numpy()
        tg = np.asarray(terr.geometry.values, dtype=object)
        colours = np.full(len(terr), -1, dtype=np.int64)
        if assigned.any():
            colours[assigned] = colour_territories(tg[assigned])
        fill = [palette_colour(int(c)) if c >= 0 else GAP_COLOUR for c in colours]
        ids = terr["leader_id"].tolist()
        area = terr["area_m2"].tolist() if "area_m2" in terr.columns else [None] * len(terr)
        labels = [
            _html_text(names.get(str(i), str(i)))
            if i is not None
            else _html_text(t("未分配", "unassigned"))
            for i in ids
        ]
        popups = [
            _popup_table(
                names.get(str(i), str(i)) if i is not None else t("未分配", "unassigned"),
                [
                    (t("领导编号", "Leader id"), i),
                    (t("地块数", "Pieces"), n),
                    (t("面积（公顷）", "Area (ha)"), None if a is None else f"{a / 1e4:.1f}"),
                ],
            )
            for i, n, a in zip(ids, terr["pieces"], area, strict=True)
        ]
        styles = [
            {
                "fillColor": f,
                "color": "#333" if i is not None else GAP_COLOUR,
                "fillOpacity": 0.45 if i is not None else 0.6,
            }
            for f, i in zip(fill, ids, strict=True)
        ]
        Vector(
            features_json(base.shift(tg), {"_s": styles, "_t": labels, "_p": popups}),
            name=t("责任区", "Territories"),
            style={"weight": 1, "opacity": 0.8},
        ).add_to(m)
        legend.append(
            f"<div><b>{_html_text(t('责任区', 'Territories'))} ({int(assigned.sum())})</b></div>"
        )
        for f, lab, i in sorted(zip(fill, labels, ids, strict=True), key=lambda x: x[1])[:60]:
            if i is not None:
                legend.append(f'<div><i style="background:{f};opacity:.6"></i>{lab}</div>')
        if (~assigned).any():
            legend.append(
                f'<div><i style="background:{GAP_COLOUR}"></i>'
                f"{_html_text(t('未分配地块（盲点）', 'unassigned pieces (blind spot)'))}</div>"
            )

    # units outlined
    if len(ug):
        level = units["level"].astype(str).tolist() if "level" in units.columns else [""] * len(ug)
        weight = {"district": 4, "street": 3, "community": 1.5, "grid": 1}
        dash = {"community": "4 3", "grid": "2 3"}
        styles = [{"weight": weight.get(lv, 1), "dashArray": dash.get(lv)} for lv in level]
        ucode = units["code"].tolist() if "code" in units.columns else [""] * len(ug)
        uname = units["name"].tolist() if "name" in units.columns else ucode
        from gridmgr.i18n import level_label

        tips = [
            f"{_esc(n)} ({_esc(c)}) · {_html_text(level_label(lv))}"
            for n, c, lv in zip(uname, ucode, level, strict=True)
        ]
        Vector(
            features_json(base.shift(shapely.boundary(ug)), {"_s": styles, "_t": tips}),
            name=t("行政单元", "Units"),
            style={"color": "#111", "opacity": 0.9},
        ).add_to(m)
        legend.append(
            _legend_item_swatch("#111", t("街道/社区边界", "street/community borders"), line=True)
        )

    if gaps is not None and len(gaps):
        legend += _gap_layer(m, Vector, gaps, base, names)
    return m, base, legend


def _gap_layer(
    m: folium.Map, Vector: type, gaps: gpd.GeoDataFrame, base: _Base, names: Mapping[str, str]
) -> list[str]:
    if "kind" not in gaps.columns:
        raise InvalidFieldError(
            t(
                "缺口图层缺少 kind 列（如 coverage 报告的 findings_frame()）",
                "the gaps frame needs a 'kind' column (e.g. findings_frame())",
            )
        )
    gg = _geoms(gaps)
    kinds = gaps["kind"].astype(str).tolist()
    lab_col = "label_zh" if t("zh", "en") == "zh" else "label_en"
    labels = gaps[lab_col].tolist() if lab_col in gaps.columns else kinds

    def col(c: str) -> list[Any]:
        return list(gaps[c].tolist()) if c in gaps.columns else [None] * len(gaps)

    area, unit, leader, place = (
        col("area_m2"),
        col("unit_code"),
        col("leader_id"),
        col("place_code"),
    )
    popups = [
        _popup_table(
            lab or k,
            [
                (t("类型", "Kind"), k),
                (t("单元", "Unit"), u),
                (t("责任人", "Leader"), names.get(str(ld), ld) if ld else None),
                (t("点位", "Place"), p),
                (
                    t("面积（平方米）", "Area (m²)"),
                    None if a is None or pd.isna(a) else f"{a:,.0f}",
                ),
            ],
        )
        for k, lab, a, u, ld, p in zip(kinds, labels, area, unit, leader, place, strict=True)
    ]
    from gridmgr.patrol.route import _inner_points

    # points (key places) get a red ring; areas a red dashed outline
    is_pt = shapely.get_type_id(gg) == 0
    geoms = np.where(is_pt, shapely.buffer(_inner_points(gg), 0.0004), gg)
    Vector(
        features_json(base.shift(geoms), {"_p": popups, "_t": [_esc(x) for x in labels]}),
        name=t("覆盖缺口", "Coverage gaps"),
        style={
            "color": GAP_COLOUR,
            "weight": 2.5,
            "dashArray": "5 3",
            "fillColor": GAP_COLOUR,
            "fillOpacity": 0.35,
        },
    ).add_to(m)
    out = [
        (
            f"<div style='margin-top:4px'><b>{_html_text(t('覆盖缺口', 'Coverage gaps'))}"
            f" ({len(gaps)})</b></div>"
        )
    ]
    for lab in dict.fromkeys(labels):
        out.append(
            f'<div><i style="background:{GAP_COLOUR};opacity:.5;border:1px dashed '
            f'{GAP_COLOUR}"></i>{_esc(lab)}</div>'
        )
    return out


# --------------------------------------------------------------------------------------------
# Plan diff map
# --------------------------------------------------------------------------------------------


def plan_diff_map(
    moves: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame,
    pieces: gpd.GeoDataFrame,
    *,
    leaders: pd.DataFrame | None = None,
    basemap: str | None = "tianditu",
    title: str | None = None,
) -> folium.Map:
    """A rebalance plan's diff: territories after the plan, moved pieces highlighted.

    Parameters
    ----------
    moves
        The plan's moves (``piece_id`` or ``cell``, ``from_leader``, ``to_leader``), as stored
        by ``Store.save_plan``: a list of dicts, a DataFrame, or a GeoJSON FeatureCollection
        whose feature properties carry those fields.
    pieces
        Current pieces with ``leader_id`` (and ``id`` when moves name ``piece_id``).
    """
    if isinstance(moves, pd.DataFrame):
        mv = pd.DataFrame(moves.drop(columns="geometry", errors="ignore"))
    elif isinstance(moves, Mapping) and "features" in moves:  # a GeoJSON diff: its properties
        mv = pd.DataFrame([dict(f.get("properties") or {}) for f in moves["features"]])
    else:
        mv = pd.DataFrame(list(moves))
    if mv.empty:
        mv = pd.DataFrame(columns=["from_leader", "to_leader", "piece_id", "cell"])
    for c in ("from_leader", "to_leader"):
        if c not in mv.columns:
            raise InvalidFieldError(t(f"方案的调整记录缺少 {c!r}", f"plan moves lack {c!r}"))
    if "piece_id" in mv.columns and "id" in pieces.columns:
        key_p, key_m = pieces["id"].astype(str), mv["piece_id"].astype(str)
    elif "cell" in mv.columns and "cell" in pieces.columns:
        key_p, key_m = pieces["cell"].astype(str), mv["cell"].astype(str)
    else:
        raise InvalidFieldError(
            t(
                "调整记录需要 piece_id（地块有 id 列）或 cell",
                "moves need piece_id (pieces with id) or cell",
            )
        )
    # a cell names every piece of that cell (as in Store.apply_changes)
    pairs = pd.DataFrame({"k": key_m.to_numpy(), "move": np.arange(len(mv))}).merge(
        pd.DataFrame({"k": key_p.to_numpy(), "piece": np.arange(len(pieces))}), on="k"
    )
    hit = mv.index.isin(mv.index[pairs["move"].unique()]) if len(pairs) else np.zeros(len(mv), bool)
    idx = pairs["piece"].to_numpy()
    mrow = pairs["move"].to_numpy()
    after = pieces.copy()
    lid = after["leader_id"].astype(object).to_numpy(copy=True)
    lid[idx] = mv["to_leader"].to_numpy()[mrow]
    after["leader_id"] = lid
    names = _lookup(leaders, "id", "name")
    title = title or t("调整方案对比图", "Plan diff")
    m, base, legend = _overview_parts(
        after.iloc[:0], after, None, leaders=leaders, basemap=basemap, simplify_m=0.0, title=title
    )
    from gridmgr.patrol.route import _piece_ids

    Vector = _vector_layer_class()
    moved = np.asarray(pieces.geometry.values, dtype=object)[idx]
    frm = mv["from_leader"].to_numpy()[mrow].tolist()
    to = mv["to_leader"].to_numpy()[mrow].tolist()
    tips = [
        f"{_esc(names.get(str(a), a) if a else t('未分配', 'unassigned'))} → "
        f"{_esc(names.get(str(b), b) if b else t('未分配', 'unassigned'))}"
        for a, b in zip(frm, to, strict=True)
    ]
    pid = np.asarray(_piece_ids(pieces), dtype=object)[idx]  # _popup_table escapes values
    popups = [
        _popup_table(
            t("调整地块", "Moved piece"),
            [(t("地块", "Piece"), p), (t("调整", "Move"), html.unescape(tp))],
        )
        for p, tp in zip(pid, tips, strict=True)
    ]
    Vector(
        features_json(base.shift(moved), {"_t": tips, "_p": popups}),
        name=t("调整的地块", "Moved pieces"),
        style={"color": "#000", "weight": 2, "fillColor": "#ffd166", "fillOpacity": 0.8},
    ).add_to(m)
    legend.append(
        f'<div><i style="background:#ffd166;border:2px solid #000"></i>'
        f"{_html_text(t('调整的地块', 'moved pieces'))} ({len(moved)})</div>"
    )
    hit = np.asarray(hit, dtype=bool)
    if (~hit).any():
        legend.append(
            f'<div class="gm-note">{_html_text(t(f"{int((~hit).sum())} 条调整记录的地块已不存在", f"{int((~hit).sum())} moves name pieces that no longer exist"))}</div>'
        )
    _finish(m, "".join(legend))
    return m


# --------------------------------------------------------------------------------------------
# From the store
# --------------------------------------------------------------------------------------------


def leader_map_from_store(
    store: Any,
    leader_id: str,
    *,
    basemap: str | None = "tianditu",
    roads: gpd.GeoDataFrame | None = None,
    start: Any = None,
) -> folium.Map:
    """:func:`leader_map` for a leader in the store, with a patrol route over their territory."""
    from gridmgr.patrol.route import leader_frames_from_store, patrol_route

    pieces, places, leader = leader_frames_from_store(store, leader_id)
    if len(pieces) == 0 and len(places) == 0:
        msg = t(
            f"领导 {leader_id} 名下没有地块和重点点位，无法生成巡查地图",
            f"leader {leader_id} has no pieces and no key places: nothing to map",
        )
        raise InputError(msg)
    route = patrol_route(pieces, places, start=start, roads=roads)
    return leader_map(
        pieces,
        places,
        route,
        leader=leader,
        basemap=basemap,
        categories=store.categories(),
        departments=store.departments(),
        leaders=store.leaders(),
    )


def overview_map_from_store(
    store: Any,
    *,
    scope: str | None = None,
    basemap: str | None = "tianditu",
    gaps: gpd.GeoDataFrame | None = None,
    with_coverage: bool = True,
) -> folium.Map:
    """:func:`overview_map` over the store (optionally one unit's ``scope``), with the coverage
    report's gaps when ``gaps`` is not given and ``with_coverage``."""
    units = store.units()
    pieces = store.pieces(scope)
    if scope is not None:
        keep = _scope_codes(units, scope)
        units = units.loc[units["code"].astype(str).isin(keep)]
    if gaps is None and with_coverage:
        try:
            from gridmgr.coverage.report import coverage_from_store

            report = coverage_from_store(store, scope=scope)
            frame = report.findings_frame()
            gaps = frame.loc[frame["severity"] == "gap"] if "severity" in frame.columns else frame
        except ImportError:  # pragma: no cover - coverage module absent
            gaps = None
    name = None
    if scope is not None:
        row = units.loc[units["code"].astype(str) == str(scope)]
        if len(row):
            name = t(f"{row.iloc[0]['name']} 责任区总览", f"{row.iloc[0]['name']} overview")
    return overview_map(units, pieces, gaps, leaders=store.leaders(), basemap=basemap, title=name)


def _scope_codes(units: pd.DataFrame, scope: str) -> set[str]:
    """``scope`` and every unit below it (raises ``UnitNotFoundError`` for an unknown code)."""
    from gridmgr.grid.units import descendants

    return set(descendants(units, str(scope)))


def plan_map_from_store(
    store: Any, plan_id: str, *, basemap: str | None = "tianditu"
) -> folium.Map:
    """:func:`plan_diff_map` of a stored plan."""
    plan = store.get_plan(plan_id)
    pieces = store.pieces(plan.get("scope"))
    title = t(f"调整方案 {plan_id} 对比图", f"Plan {plan_id} diff")
    return plan_diff_map(
        plan.get("moves") or [], pieces, leaders=store.leaders(), basemap=basemap, title=title
    )
