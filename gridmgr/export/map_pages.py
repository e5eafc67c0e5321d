"""Static briefing map pages of an :class:`~gridmgr.export.data.ExportData`: PNG/PDF, A4/A3.

:func:`static_map` picks what a leader's, a unit's or the zone's page shows and hands the layers
to :func:`gridmgr.maps.static_map.render`; :func:`write_maps_pdf` binds the overview and one page
per street into one PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from gridmgr.errors import InputError
from gridmgr.export.data import (
    ROLE_LABELS,
    ExportData,
    _ancestors,
    _as_list,
    _fmt_from,
    _leader_ids,
    _lowest_codes,
    _territorial_leader_ids,
    _with_colours,
    blind_geometry,
    streets,
    territories_frame,
)
from gridmgr.i18n import t
from gridmgr.maps.static_map import MapLayers, StaticMap, fmt_area, render

if TYPE_CHECKING:
    from gridmgr.patrol.route import PatrolRoute


__all__ = [
    "static_map",
    "write_maps_pdf",
]


def static_map(
    data: ExportData,
    out: str | Path,
    *,
    leader: str | None = None,
    unit: str | None = None,
    route: PatrolRoute | None = None,
    fmt: str | None = None,
    paper: str = "A4",
    dpi: int = 150,
    title: str | None = None,
    pages: Any = None,
) -> StaticMap:
    """Draw a static briefing map (PNG or PDF, landscape A4/A3) of a leader, a unit or the zone.

    Parameters
    ----------
    data
        The frames (:class:`ExportData`).
    out
        Output file; the format comes from ``fmt`` or the suffix (``.png``/``.pdf``).
    leader
        A leader id: their territory (others around it faded), key places, ``route``.
    unit
        A unit code (street, community …): every territory in it. Neither: the whole zone.
    route
        A patrol route drawn on a leader's map.
    paper, dpi
        ``A4`` or ``A3`` landscape; raster resolution (PNG: A4 at 150 dpi is 1754 × 1240 px).
    title
        Overrides the default title.
    pages
        A :class:`matplotlib.backends.backend_pdf.PdfPages`: append the page to it (``out`` is
        that PDF's path); see :func:`write_maps_pdf`.

    Returns
    -------
    StaticMap
        What was drawn: path, size, projection, scale bar length and ends, legend text.

    Examples
    --------
    >>> m = static_map(data, "out/overview.png")  # doctest: +SKIP
    >>> m.size_px  # doctest: +SKIP
    (1754, 1240)
    """
    out = Path(out)
    f = _fmt_from(out, fmt, ("png", "pdf"))
    if leader is not None and unit is not None:
        raise InputError(t("leader 与 unit 只能给一个", "give either leader or unit, not both"))
    scope = _leader_scope(data, leader, route) if leader is not None else _unit_scope(data, unit)
    units = data.units
    places, n_places = _places_in_focus(data.key_places, scope.focus, leader is None)
    shown = set(scope.units["code"].astype(str))
    context = units.loc[
        ~units["code"].astype(str).isin(shown)
        & units["code"].astype(str).isin(_lowest_codes(units))
    ]
    subtitle_bits = list(scope.subtitle_bits)
    if leader is None:
        n_terr = len(_territorial_leader_ids(scope.pieces, data.leaders))
        subtitle_bits.append(t(f"网格责任人 {n_terr} 名", f"{n_terr} territorial leaders"))
    subtitle_bits.append(t(f"重点点位 {n_places} 处", f"{n_places} key places"))
    layers = MapLayers(
        territories=_with_colours(territories_frame(scope.pieces, data.leaders), scope.pieces),
        units=scope.units,
        blind=blind_geometry(scope.pieces, data.leaders),
        key_places=places,
        category_names=data.category_names(),
        roads=data.roads,
        route=route,
        focus=scope.focus,
        label_units=scope.label_units,
        label_places=scope.label_places,
        highlight=scope.highlight,
        context=context,
    )
    return render(
        layers,
        out,
        title=title or scope.default_title,
        subtitle=" · ".join(subtitle_bits),
        date=data.day,
        paper=paper,
        dpi=dpi,
        fmt=f,
        pages=pages,
    )


@dataclass(frozen=True)
class _Scope:
    """What one map page covers: its pieces, units (labelled ones), focus, title and subtitle."""

    pieces: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    label_units: list[str]
    focus: Any
    label_places: bool
    highlight: str | None
    default_title: str
    subtitle_bits: list[str]


def _leader_scope(data: ExportData, leader: str, route: PatrolRoute | None) -> _Scope:
    """A leader's page: the lowest units around their ground (or their packages), them strong."""
    pieces, units = data.pieces, data.units
    row = data.leader_row(leader)
    mine = _leader_ids(pieces).astype(str) == str(leader)
    if mine.any():
        around = set(pieces.loc[mine, "unit_code"].astype(str))
        pieces_geoms = np.asarray(pieces.geometry.values, dtype=object)
        focus = shapely.union_all(pieces_geoms[mine.to_numpy()])
    else:
        around, focus = _package_focus(data, leader, row, route)
    sel = pieces["unit_code"].astype(str).isin(around).to_numpy() if around else mine.to_numpy()
    name = str(row.get("name", leader))
    role = ROLE_LABELS.get(str(row.get("role")), (str(row.get("role", "")),) * 2)
    who = name if str(leader) in name else f"{name}（{leader}）"
    area = float(pieces.loc[mine, "area_m2"].sum()) if "area_m2" in pieces else 0.0
    subtitle_bits = [
        t(role[0], role[1]),
        t(f"地块 {int(mine.sum())} 个", f"{int(mine.sum())} pieces"),
        t(f"面积 {fmt_area(area)}", f"area {fmt_area(area)}"),
    ]
    if not mine.any():
        names = dict(zip(units["code"].astype(str), units["name"].astype(str), strict=True))
        pk = "、".join(names.get(c, c) for c in _as_list(row.get("unit_packages")))
        subtitle_bits = [
            t(role[0], role[1]),
            t(f"包保单元：{pk or '无'}", f"unit packages: {pk or 'none'}"),
        ]
    unit_codes = around | {str(p) for c in around for p in _ancestors(units, c)}
    return _Scope(
        pieces=pieces[sel],
        units=units.loc[units["code"].astype(str).isin(unit_codes)],
        label_units=sorted(around),
        focus=focus,
        label_places=True,
        highlight=str(leader) if mine.any() else None,
        default_title=t(f"{who}责任区巡查图", f"Patrol map of {who}"),
        subtitle_bits=subtitle_bits,
    )


def _package_focus(
    data: ExportData, leader: str, row: Mapping[str, Any], route: PatrolRoute | None
) -> tuple[set[str], Any]:
    """A package leader without ground: their packaged lowest units and the page's focus."""
    units = data.units
    lowest_codes = _lowest_codes(units)
    around: set[str] = set()
    for code in _as_list(row.get("unit_packages")):
        if code in set(units["code"].astype(str)):
            around |= data.subtree(code) & lowest_codes
    parts = list(units.loc[units["code"].astype(str).isin(around)].geometry.values)
    kp = data.key_places
    if kp is not None and len(kp):
        packaged = kp["code"].astype(str).isin(set(_as_list(row.get("place_packages"))))
        parts += list(kp.loc[packaged.to_numpy()].geometry.values)
    if route is not None:
        parts.append(route.line())
    if not parts:
        msg = t(
            f"领导 {leader} 名下没有地块、包保单元和包保点位，无法绘制地图",
            f"leader {leader} has no pieces, unit packages or place packages: nothing to map",
        )
        raise InputError(msg)
    return around, shapely.union_all(np.asarray(parts, dtype=object))


def _unit_scope(data: ExportData, unit: str | None) -> _Scope:
    """A unit's page (the whole zone when ``unit`` is ``None``): every territory in it."""
    pieces, units = data.pieces, data.units
    code = str(unit) if unit is not None else str(data.root()["code"])
    row = data.unit_row(code)
    keep = data.subtree(code)
    scoped = pieces[pieces["unit_code"].astype(str).isin(keep).to_numpy()]
    show_units = units.loc[units["code"].astype(str).isin(keep)]
    levels = show_units["level"].astype(str)
    parents = set(units["parent"].dropna().astype(str))
    lowest = show_units.loc[~show_units["code"].astype(str).isin(parents)]
    name = str(row.get("name", code))
    return _Scope(
        pieces=scoped,
        units=show_units,
        label_units=(
            list(lowest["code"].astype(str))
            if len(lowest) <= 40
            else list(show_units.loc[levels == "street", "code"].astype(str))
        ),
        focus=shapely.union_all(np.asarray(show_units.geometry.values, dtype=object)),
        label_places=len(lowest) <= 1,
        highlight=None,
        default_title=(
            t(f"{name}网格责任区总览图", f"{name}: overview of territories")
            if unit is None
            else t(f"{name}网格责任区图", f"{name}: territories")
        ),
        subtitle_bits=[t(f"地块 {len(scoped)} 个", f"{len(scoped)} pieces")],
    )


def _places_in_focus(
    places: gpd.GeoDataFrame | None, focus: Any, only_inside: bool
) -> tuple[gpd.GeoDataFrame | None, int]:
    """Key places to draw (only those in the focus when ``only_inside``) and how many are in it."""
    if places is None or not len(places) or focus is None:
        return places, 0
    inside = np.asarray(
        shapely.intersects(
            focus, shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
        )
    )
    return (places.loc[inside] if only_inside else places), int(inside.sum())


def write_maps_pdf(
    data: ExportData, out: str | Path, *, scope: str | None = None, paper: str = "A4"
) -> Path:
    """One multi-page PDF of the briefing maps: the overview, then one page per street."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = str(data.unit_row(scope)["name"]) if scope else str(data.root()["name"])
    with PdfPages(
        out, metadata={"Title": t(f"{name}网格责任区图集", f"{name}: maps"), "Creator": "gridmgr"}
    ) as pdf:
        static_map(data, out, unit=scope, fmt="pdf", paper=paper, pages=pdf)
        for code in streets(data, scope):
            if scope is None or code != str(scope):
                static_map(data, out, unit=code, fmt="pdf", paper=paper, pages=pdf)
    return out
