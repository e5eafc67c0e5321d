"""Leader and unit exports: one leader's or one unit's material in one format.

:func:`export_leader` (``html|png|pdf|kml|kmz|gpx|shp|xlsx``, with a patrol route),
:func:`export_unit` (``html|png|pdf|xlsx|kml|kmz|shp``), :func:`leader_layers` (a leader's
pieces, territory and key places) and :func:`overview_html` (the interactive overview page).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from gridmgr.errors import InputError
from gridmgr.export.data import (
    ExportData,
    _as_list,
    _fmt_from,
    _leader_ids,
    _with_colours,
    territories_frame,
)
from gridmgr.export.field_formats import (
    write_gpx,
    write_kml,
    write_kmz,
    write_shapefile,
)
from gridmgr.export.map_pages import static_map
from gridmgr.export.tables import write_xlsx
from gridmgr.i18n import t

if TYPE_CHECKING:
    from gridmgr.patrol.route import PatrolRoute


__all__ = [
    "LEADER_FORMATS",
    "UNIT_FORMATS",
    "export_leader",
    "export_unit",
    "leader_layers",
    "overview_html",
]


#: Formats of the CLI per target.
LEADER_FORMATS = ("html", "png", "pdf", "kml", "kmz", "gpx", "shp", "xlsx")


UNIT_FORMATS = ("html", "png", "pdf", "xlsx", "kml", "kmz", "shp")


def leader_layers(
    data: ExportData, leader_id: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A leader's pieces, dissolved territory and key places (in the territory or packaged)."""
    row = data.leader_row(leader_id)
    lid = _leader_ids(data.pieces)
    mine = data.pieces.loc[(lid.astype(str) == str(leader_id)).to_numpy()]
    terr = _with_colours(territories_frame(mine, data.leaders), mine)
    places = data.key_places
    if places is None or len(places) == 0:
        places = gpd.GeoDataFrame({"code": [], "name": [], "category": []}, geometry=[], crs=4326)
    else:
        packaged = set(_as_list(row.get("place_packages")))
        reps = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
        inside = np.zeros(len(places), dtype=bool)
        if len(terr):
            inside = np.asarray(shapely.intersects(terr.geometry.iat[0], reps), dtype=bool)
        places = places.loc[inside | places["code"].astype(str).isin(packaged).to_numpy()]
    return mine, terr, places


def export_leader(
    data: ExportData,
    leader_id: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    route: PatrolRoute | None = None,
    make_route: bool = True,
    paper: str = "A4",
    basemap: str | None = "tianditu",
) -> list[Path]:
    """One leader's material in one format (``html|png|pdf|kml|kmz|gpx|shp|xlsx``).

    The patrol route (:func:`gridmgr.patrol.route.patrol_route` over the leader's pieces and key places,
    following ``data.roads`` when present) is computed when not given and ``make_route``.
    Returns the files written.
    """
    out = Path(out)
    f = _fmt_from(out, fmt, LEADER_FORMATS)
    pieces, terr, places = leader_layers(data, leader_id)
    row = data.leader_row(leader_id)
    if (
        route is None
        and make_route
        and f in ("html", "png", "pdf", "kml", "kmz", "gpx", "shp")
        and (len(pieces) or len(places))
    ):
        from gridmgr.patrol.route import patrol_route

        route = patrol_route(pieces, places, roads=data.roads)
    name = t(
        f"{row.get('name', leader_id)}（{leader_id}）责任区",
        f"{row.get('name', leader_id)} ({leader_id}) territory",
    )
    cats = data.category_names()
    if f in ("png", "pdf"):
        return [static_map(data, out, leader=leader_id, route=route, fmt=f, paper=paper).path]
    if f == "kml":
        return [write_kml(out, terr, places, route, name=name, categories=cats)]
    if f == "kmz":
        return [write_kmz(out, terr, places, route, name=name, categories=cats)]
    if f == "gpx":
        return [write_gpx(out, route, places, terr, name=name)]
    if f == "shp":
        return write_shapefile(out, terr, places, route)
    if f == "xlsx":
        return [write_xlsx(data, out, leaders=[leader_id])]
    # html: the interactive map (gridmgr.maps.interactive)
    from gridmgr.maps.interactive import leader_map, map_html

    if not len(pieces) and not len(places):
        raise InputError(
            t(
                f"领导 {leader_id} 名下还没有地块和重点点位（尚未分配？可运行 `gridmgr assign "
                "auto`），无法生成交互地图；PNG/PDF 仍可导出",
                f"leader {leader_id} holds no pieces and no key places yet (not assigned? see "
                "`gridmgr assign auto`): no interactive map; PNG/PDF still export",
            )
        )

    m = leader_map(
        pieces,
        places,
        route,
        leader=row,
        basemap=basemap,
        categories=data.categories,
        departments=data.departments,
        leaders=data.leaders,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(map_html(m), encoding="utf-8")
    return [out]


def overview_html(
    data: ExportData, out: str | Path, *, scope: str | None = None, basemap: str | None = "tianditu"
) -> Path:
    """The interactive overview (:func:`gridmgr.maps.interactive.overview_map`) of ``scope`` with the coverage
    report's gaps, written as one self-contained HTML file."""
    from gridmgr.maps.interactive import map_html, overview_map

    out = Path(out)
    units, pieces = data.units, data.pieces
    title = None
    if scope is not None:
        keep = data.subtree(scope)
        units = units.loc[units["code"].astype(str).isin(keep)]
        pieces = pieces.loc[pieces["unit_code"].astype(str).isin(keep).to_numpy()]
        name = str(data.unit_row(scope)["name"])
        title = t(f"{name} 责任区总览", f"{name} overview")
    frame = data.report().findings_frame()
    gaps = frame.loc[frame["severity"] == "gap"] if "severity" in frame.columns else frame
    if scope is not None and len(gaps):
        gaps = gaps.loc[gaps["unit_code"].astype(str).isin(data.subtree(scope))]
    m = overview_map(units, pieces, gaps, leaders=data.leaders, basemap=basemap, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(map_html(m), encoding="utf-8")
    return out


def export_unit(
    data: ExportData,
    code: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    paper: str = "A4",
    basemap: str | None = "tianditu",
) -> list[Path]:
    """One unit's material in one format (``html|png|pdf|xlsx|kml|kmz|shp``): every territory in it."""
    out = Path(out)
    f = _fmt_from(out, fmt, UNIT_FORMATS)
    keep = data.subtree(code)
    if f == "html":
        return [overview_html(data, out, scope=code, basemap=basemap)]
    if f in ("png", "pdf"):
        return [static_map(data, out, unit=code, fmt=f, paper=paper).path]
    if f == "xlsx":
        return [write_xlsx(data, out, units=sorted(keep))]
    pieces = data.pieces[data.pieces["unit_code"].astype(str).isin(keep).to_numpy()]
    terr = _with_colours(territories_frame(pieces, data.leaders), pieces)
    places = data.key_places
    if places is not None and len(places):
        area = shapely.union_all(
            np.asarray(
                data.units.loc[data.units["code"].astype(str) == str(code)].geometry.values,
                dtype=object,
            )
        )
        places = places.loc[
            shapely.intersects(
                area, shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
            )
        ]
    name = str(data.unit_row(code).get("name", code))
    cats = data.category_names()
    if f == "kml":
        return [write_kml(out, terr, places, None, name=name, categories=cats)]
    if f == "kmz":
        return [write_kmz(out, terr, places, None, name=name, categories=cats)]
    return write_shapefile(out, terr, places, None)
