"""The overview map: every territory in its own colour, coverage gaps highlighted, units outlined.

:func:`overview_map` draws frames; :func:`overview_map_from_store` reads them (and the coverage
report's gaps) from a store. ``_overview_parts`` is shared with :mod:`gridmgr.maps.plan_diff`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InvalidFieldError
from gridmgr.i18n import t
from gridmgr.maps.basemap import (
    _Base,
    _bounds,
    _finish,
    _geoms,
    _legend_item_swatch,
    _lookup,
    _new_map,
    require_units,
)
from gridmgr.maps.colouring import (
    GAP_COLOUR,
    _territory_codes,
    colour_graph,
    palette_colour,
    territories,
    territory_pairs,
)
from gridmgr.maps.leaflet import (
    _esc,
    _html_text,
    _popup_table,
    _vector_layer_class,
    features_json,
)
from gridmgr.patrol.stops import _inner_points

if TYPE_CHECKING:
    import folium
    import geopandas as gpd


__all__ = [
    "overview_map",
    "overview_map_from_store",
]


def overview_map(
    units: gpd.GeoDataFrame,
    pieces_with_leaders: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None = None,
    *,
    leaders: pd.DataFrame | None = None,
    basemap: str | None = "tianditu",
    simplify_m: float = 3.0,
    title: str | None = None,
    days_since: pd.Series | None = None,
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
    days_since
        Beijing days since each piece's last visit (aligned with ``pieces_with_leaders``, NaN:
        never): adds the layer "days since last visit" (:mod:`gridmgr.maps.visits_layer`).
    """
    m, base, legend = _overview_parts(
        units,
        pieces_with_leaders,
        gaps,
        leaders=leaders,
        basemap=basemap,
        simplify_m=simplify_m,
        title=title,
    )
    if days_since is not None and len(pieces_with_leaders):
        from gridmgr.maps.visits_layer import days_since_layer

        legend += days_since_layer(m, _vector_layer_class(), pieces_with_leaders, days_since, base)
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
        legend += _territory_layer(m, Vector, pieces_with_leaders, base, names, simplify_m)
    if len(ug):
        legend += _unit_layer(m, Vector, units, base)
    if gaps is not None and len(gaps):
        legend += _gap_layer(m, Vector, gaps, base, names)
    return m, base, legend


def _territory_layer(
    m: folium.Map,
    Vector: type,
    pieces: gpd.GeoDataFrame,
    base: _Base,
    names: Mapping[str, str],
    simplify_m: float,
) -> list[str]:
    """Draw the territories (one colour each, unassigned pieces red); return legend lines."""
    legend: list[str] = []
    terr = territories(pieces, simplify_m=simplify_m)
    assigned = terr["leader_id"].notna().to_numpy()
    tg = np.asarray(terr.geometry.values, dtype=object)
    fill = _territory_fills(pieces, assigned)
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
    _name_labels(
        m, Vector, tg[assigned], [lab for lab, a in zip(labels, assigned, strict=True) if a], base
    )
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
    return legend


def _name_labels(
    m: folium.Map, Vector: type, geoms: npt.NDArray[np.object_], labels: list[str], base: _Base
) -> None:
    """Leader names as permanent labels at a point inside each territory; ``gridmgr.js`` shows
    the ones that do not collide, so more appear as the map is zoomed in."""
    if not len(geoms):
        return
    pts = shapely.point_on_surface(geoms)
    # a tiny square (≈ 0.2 m) at the point: Leaflet centres a polygon's tooltip on it
    marks = shapely.box(
        shapely.get_x(pts) - 1e-6,
        shapely.get_y(pts) - 1e-6,
        shapely.get_x(pts) + 1e-6,
        shapely.get_y(pts) + 1e-6,
    )
    Vector(
        features_json(base.shift(marks), {"_t": labels}),
        name=t("责任人姓名", "Leader names"),
        style={"stroke": False, "fill": False, "interactive": False},
        tooltip={"permanent": True, "direction": "center", "className": "gm-name"},
    ).add_to(m)


def _territory_fills(pieces: gpd.GeoDataFrame, assigned: npt.NDArray[np.bool_]) -> list[str]:
    """Fill colour of every territory row: neighbours (by the piece graph) differ, gaps red."""
    codes, _ = _territory_codes(pieces, "leader_id")
    row = np.full(len(assigned), -1, dtype=np.int64)
    row[assigned] = np.arange(int(assigned.sum()))
    colours = np.full(len(assigned), -1, dtype=np.int64)
    if assigned.any():
        pairs = territory_pairs(pieces, row[codes])
        colours[assigned] = colour_graph(int(assigned.sum()), pairs)
    return [palette_colour(int(c)) if c >= 0 else GAP_COLOUR for c in colours]


def _unit_layer(m: folium.Map, Vector: type, units: gpd.GeoDataFrame, base: _Base) -> list[str]:
    """Outline the units (streets thicker, communities and grids dashed); return legend lines."""
    ug = _geoms(units)
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
    return [_legend_item_swatch("#111", t("街道/社区边界", "street/community borders"), line=True)]


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

    popups = _gap_popups(gaps, kinds, labels, names)
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


def _gap_popups(
    gaps: gpd.GeoDataFrame, kinds: list[str], labels: list[Any], names: Mapping[str, str]
) -> list[str]:
    """Popup of every gap: kind, unit, leader, place and area."""

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
    return popups


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
    require_units(units)
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
    from gridmgr.maps.visits_layer import days_since_from_store

    return overview_map(
        units,
        pieces,
        gaps,
        leaders=store.leaders(),
        basemap=basemap,
        title=name,
        days_since=days_since_from_store(store, pieces),
    )


def _scope_codes(units: pd.DataFrame, scope: str) -> set[str]:
    """``scope`` and every unit below it (raises ``UnitNotFoundError`` for an unknown code)."""
    from gridmgr.grid.units import descendants

    return set(descendants(units, str(scope)))
