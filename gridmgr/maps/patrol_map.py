"""A grid leader's patrol map (巡查地图): territory, pieces, key places and the patrol route.

:func:`leader_map` draws the layers over a basemap page (:mod:`gridmgr.maps.basemap`);
:func:`leader_map_from_store` reads a leader's frames from a store and plans the route first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.maps.basemap import (
    _Base,
    _bounds,
    _finish,
    _geoms,
    _legend_item_swatch,
    _lookup,
    _new_map,
)
from gridmgr.maps.colouring import _dissolve
from gridmgr.maps.leaflet import (
    _esc,
    _html_text,
    _popup_table,
    _vector_layer_class,
    features_json,
)
from gridmgr.patrol.stops import _inner_points, _piece_ids

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from gridmgr.patrol.route import PatrolRoute


__all__ = [
    "CATEGORY_STYLE",
    "FALLBACK_COLOUR",
    "ROUTE_COLOUR",
    "leader_map",
    "leader_map_from_store",
]


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


def _category_style(category: str, categories: pd.DataFrame | None) -> tuple[str, str, str]:
    """(glyph, colour, label) of a category."""
    names = _lookup(categories, "category", "name" if t("zh", "en") == "zh" else "name_en")
    label = names.get(category, category)
    glyph, colour = CATEGORY_STYLE.get(category, ((label or "?")[:1], "#6c757d"))
    return _html_text(glyph), colour, label


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
    days_since: pd.Series | None = None,
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
    days_since
        Beijing days since each piece's last visit (aligned with ``territory_pieces``, NaN:
        never): adds the layer "days since last visit" (:mod:`gridmgr.maps.visits_layer`).

    Returns
    -------
    folium.Map
        Render it with :func:`map_html`.
    """
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
    Vector(
        features_json(base.shift([_dissolve(pg)])),
        name=t("辖区边界", "Territory outline"),
        style={"color": "#c1121f", "weight": 3, "fill": False},
    ).add_to(m)
    fallback = _pieces_layer(m, Vector, territory_pieces, base)
    legend = [f"<h4>{_html_text(title)}</h4>", *_pieces_legend(territory_pieces, fallback)]
    if base.note:
        legend.append(f'<div class="gm-note">{_html_text(base.note)}</div>')
    if len(kg):
        legend += _key_place_layer(m, Vector, key_places, base, categories, departments, leaders)
    if route is not None:
        legend += _route_layers(m, Vector, route, base)
    if days_since is not None and len(territory_pieces):
        from gridmgr.maps.visits_layer import days_since_layer

        legend += days_since_layer(m, Vector, territory_pieces, days_since, base)
    _finish(m, "".join(legend))
    return m


def _fallback_mask(pieces: gpd.GeoDataFrame) -> npt.NDArray[np.bool_]:
    """Pieces held as the community's territorial default (属地兜底)."""
    if "fallback" in pieces.columns:
        return np.asarray(pieces["fallback"].fillna(False).astype(bool).to_numpy(), dtype=bool)
    return np.zeros(len(pieces), dtype=bool)


def _pieces_layer(
    m: folium.Map, Vector: type, pieces: gpd.GeoDataFrame, base: _Base
) -> npt.NDArray[np.bool_]:
    """Draw the pieces as one layer (fallback pieces tinted); return the fallback mask."""
    area = pieces["area_m2"].to_numpy() if "area_m2" in pieces.columns else None
    # users know pieces by their H3 cell (the store id is internal)
    ids = pieces["cell"].astype(str).tolist() if "cell" in pieces.columns else _piece_ids(pieces)
    tips = [_html_text(i) for i in ids]
    if area is not None:
        tips = [f"{tp} · {a / 1e4:.2f} {t('公顷', 'ha')}" for tp, a in zip(tips, area, strict=True)]
    # pieces held as the community's territorial default (属地兜底) are tinted
    fallback = _fallback_mask(pieces)
    fb_style = {"fillColor": FALLBACK_COLOUR, "fillOpacity": 0.3}
    fb_tip = _html_text(t("（属地兜底）", " (territorial default)"))
    tips = [f"{tp}{fb_tip}" if fb else tp for tp, fb in zip(tips, fallback, strict=True)]
    Vector(
        features_json(
            base.shift(_geoms(pieces)),
            {"_t": tips, "_s": [fb_style if fb else None for fb in fallback]},
        ),
        name=t("地块", "Pieces"),
        style={"color": "#457b9d", "weight": 1, "fillColor": "#a8dadc", "fillOpacity": 0.15},
    ).add_to(m)
    return fallback


def _pieces_legend(pieces: gpd.GeoDataFrame, fallback: npt.NDArray[np.bool_]) -> list[str]:
    """Legend lines of the pieces: count and area, outline and piece swatches, fallback count."""
    area = pieces["area_m2"].to_numpy() if "area_m2" in pieces.columns else None
    n_area = float(np.sum(area)) if area is not None else None
    facts = t(f"地块 {len(pieces)} 块", f"{len(pieces)} pieces")
    if n_area is not None:
        facts += t(f"，面积 {n_area / 1e6:.2f} 平方公里", f", {n_area / 1e6:.2f} km²")
    legend = [
        f"<div>{_html_text(facts)}</div>",
        _legend_item_swatch("#c1121f", t("辖区边界", "territory outline"), line=True),
        _legend_item_swatch("#457b9d", t("地块", "piece"), fill_opacity=0.3),
    ]
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
    return legend


@dataclass(frozen=True)
class _PlaceMarks:
    """Per key place: popup HTML, badge glyph, badge colour, escaped name."""

    popups: list[str]
    glyphs: list[str]
    colours: list[str]
    labels: list[str]


def _key_place_layer(
    m: folium.Map,
    Vector: type,
    key_places: gpd.GeoDataFrame,
    base: _Base,
    categories: pd.DataFrame | None,
    departments: pd.DataFrame | None,
    leaders: pd.DataFrame | None,
) -> list[str]:
    """Draw key places (areas and badges with popups); return legend lines per category."""
    kp = key_places
    geoms = _geoms(kp)
    cats = kp["category"].astype(str).tolist() if "category" in kp.columns else [""] * len(kp)
    marks = _place_marks(kp, cats, categories, departments, leaders)
    polys = shapely.get_type_id(geoms) >= 3
    pts = _inner_points(geoms)
    all_geoms = np.concatenate([geoms[polys], pts])

    def areas_then_points(values: list[Any]) -> list[Any]:
        return [v for v, k in zip(values, polys, strict=True) if k] + values

    props: dict[str, list[Any]] = {
        "_p": areas_then_points(marks.popups),
        "_g": areas_then_points(marks.glyphs),
        "_c": areas_then_points(marks.colours),
        "_s": [{"color": c, "fillColor": c} for c, k in zip(marks.colours, polys, strict=True) if k]
        + [None] * len(pts),
        "_t": areas_then_points(marks.labels),
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


def _place_marks(
    kp: gpd.GeoDataFrame,
    cats: list[str],
    categories: pd.DataFrame | None,
    departments: pd.DataFrame | None,
    leaders: pd.DataFrame | None,
) -> _PlaceMarks:
    """Popups (code, category, department, package leader, address) and badges of key places."""
    cat_dept = _lookup(categories, "category", "department")
    dept_name = _lookup(departments, "code", "name" if t("zh", "en") == "zh" else "name_en")
    leader_name = _lookup(leaders, "id", "name")

    def col(c: str) -> list[Any]:
        return list(kp[c].tolist()) if c in kp.columns else [None] * len(kp)

    names, codes, addrs, pls = col("name"), col("code"), col("address"), col("package_leader_id")
    depts = col("department")
    marks = _PlaceMarks([], [], [], [])
    for i, cat in enumerate(cats):
        glyph, colour, label = _category_style(cat, categories)
        dept = depts[i] if depts[i] else cat_dept.get(cat)
        pl = pls[i]
        pl_text = (
            f"{leader_name.get(str(pl), '')} ({pl})"
            if pl and str(pl) != "nan"
            else t("未落实", "none")
        )
        marks.popups.append(
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
        marks.glyphs.append(glyph)
        marks.colours.append(colour)
        marks.labels.append(_esc(names[i]))
    return marks


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
        # gridmgr.js hides the numbers while they would overlap (phones, whole-territory view)
        "<div>"
        + _html_text(t("放大地图可看到巡查点的顺序编号", "zoom in to see the stops' numbers"))
        + "</div>",
    ]
    out += [f'<div class="gm-note">{_html_text(n)}</div>' for n in route.notes]
    return out


def leader_map_from_store(
    store: Any,
    leader_id: str,
    *,
    basemap: str | None = "tianditu",
    roads: gpd.GeoDataFrame | None = None,
    start: Any = None,
) -> folium.Map:
    """:func:`leader_map` for a leader in the store, with a patrol route over their territory
    (along the store's roads when ``roads`` is ``None``)."""
    from gridmgr.patrol.route import leader_frames_from_store, patrol_route

    pieces, places, leader = leader_frames_from_store(store, leader_id)
    if len(pieces) == 0 and len(places) == 0:
        msg = t(
            f"领导 {leader_id} 名下没有地块和重点点位，无法生成巡查地图",
            f"leader {leader_id} has no pieces and no key places: nothing to map",
        )
        raise InputError(msg)
    from gridmgr.maps.visits_layer import days_since_from_store

    if roads is None:
        from gridmgr.patrol.roads import roads_for_store

        roads = roads_for_store(store)
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
        days_since=days_since_from_store(store, pieces),
    )
