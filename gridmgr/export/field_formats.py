"""Field formats of :mod:`gridmgr.export.briefing`: KML / KMZ / GPX / Shapefile writers.

These work on plain frames (territories as built by :func:`gridmgr.export.briefing.territories_frame`,
key places) and an optional :class:`gridmgr.patrol.route.PatrolRoute`; they know nothing of a store.
Every public name here is re-exported from :mod:`gridmgr.export.briefing`, which is where callers should
import them from. Notes for developers: ``docs/exports.md``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.i18n import t
from gridmgr.maps.static_map import fmt_area

if TYPE_CHECKING:
    from gridmgr.patrol.route import PatrolRoute

KML_NS = "http://www.opengis.net/kml/2.2"
GPX_NS = "http://www.topografix.com/GPX/1/1"


def territory_colours(geoms: Any, *, pairs: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """One palette colour (``#rrggbb``) per territory, neighbours differing (greedy colouring).

    ``pairs`` are the neighbouring territories (:func:`gridmgr.maps.colouring.territory_pairs`
    over their pieces); by default the piece graph's rule applied to ``geoms`` themselves.
    """
    from gridmgr.maps.colouring import colour_territories, palette_colour

    idx = colour_territories(np.asarray(geoms, dtype=object), pairs=pairs)
    return [palette_colour(int(i)) for i in idx]


def _coord_text(coords: np.ndarray) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y in coords[:, :2])


def _kml_colour(hex_rgb: str, alpha: int) -> str:
    """``#rrggbb`` → KML ``aabbggrr``."""
    h = hex_rgb.lstrip("#")
    return f"{alpha:02x}{h[4:6]}{h[2:4]}{h[0:2]}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{KML_NS}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _kml_polygons(parent: ET.Element, geom: Any) -> None:
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    holder = _sub(parent, "MultiGeometry") if len(parts) > 1 else parent
    for poly in parts:
        p = _sub(holder, "Polygon")
        ring = _sub(_sub(p, "outerBoundaryIs"), "LinearRing")
        _sub(ring, "coordinates", _coord_text(np.asarray(poly.exterior.coords)))
        for hole in poly.interiors:
            ring = _sub(_sub(p, "innerBoundaryIs"), "LinearRing")
            _sub(ring, "coordinates", _coord_text(np.asarray(hole.coords)))


def _extended(parent: ET.Element, values: Mapping[str, Any]) -> None:
    ext = _sub(parent, "ExtendedData")
    for key, value in values.items():
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            continue
        d = _sub(ext, "Data", name=str(key))
        _sub(d, "value", str(value))


def kml_document(
    territories: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None = None,
    route: PatrolRoute | None = None,
    *,
    name: str = "gridmgr",
    categories: Mapping[str, str] | None = None,
) -> bytes:
    """A KML 2.2 document (UTF-8 bytes): territory polygons, key-place placemarks, the route line.

    Built with :mod:`xml.etree.ElementTree`, so every user text is escaped; coordinates are
    ``lon,lat`` with 7 decimals.
    """
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", name)
    style = _sub(doc, "Style", id="place")
    icon = _sub(style, "IconStyle")
    _sub(icon, "scale", "1.0")
    rstyle = _sub(doc, "Style", id="route")
    ls = _sub(rstyle, "LineStyle")
    _sub(ls, "color", _kml_colour("#1d3557", 0xFF))
    _sub(ls, "width", "4")
    if territories is not None and len(territories):
        _kml_territories(doc, territories)
    if places is not None and len(places):
        _kml_places(doc, places, dict(categories or {}))
    if route is not None and len(route.legs):
        _kml_route(doc, route)
    ET.indent(root, space=" ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _kml_territories(doc: ET.Element, territories: gpd.GeoDataFrame) -> None:
    """One style per territory, then a folder of territory placemarks (polygons)."""
    colours = (
        territories["colour"]
        if "colour" in territories
        else pd.Series(territory_colours(territories.geometry.values))
    )
    for i in range(len(territories)):  # styles come before the folders (KML 2.2 order)
        st = _sub(doc, "Style", id=f"terr{i}")
        lst = _sub(st, "LineStyle")
        _sub(lst, "color", _kml_colour(str(colours.iat[i]), 0xFF))
        _sub(lst, "width", "2")
        pst = _sub(st, "PolyStyle")
        _sub(pst, "color", _kml_colour(str(colours.iat[i]), 0x66))
    folder = _sub(doc, "Folder")
    _sub(folder, "name", t("责任区", "territories"))
    for i in range(len(territories)):
        sid = f"terr{i}"
        pm = _sub(folder, "Placemark")
        lid = str(territories["leader_id"].iat[i])
        nm = str(territories["name"].iat[i])
        area = float(territories["area_m2"].iat[i])
        _sub(pm, "name", f"{nm}（{lid}）")
        _sub(
            pm,
            "description",
            t(f"责任区面积 {fmt_area(area)}", f"territory area {fmt_area(area)}"),
        )
        _sub(pm, "styleUrl", f"#{sid}")
        _extended(
            pm,
            {
                "leader_id": lid,
                "name": nm,
                "area_m2": round(area, 1),
                "pieces": int(territories["pieces"].iat[i]) if "pieces" in territories else None,
            },
        )
        _kml_polygons(pm, territories.geometry.iat[i])


def _kml_places(doc: ET.Element, places: gpd.GeoDataFrame, cat_names: Mapping[str, str]) -> None:
    """A folder of key-place placemarks (points, category and address as description)."""
    folder = _sub(doc, "Folder")
    _sub(folder, "name", t("重点点位", "key places"))
    pts = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
    for i in range(len(places)):
        pm = _sub(folder, "Placemark")
        cat = str(places["category"].iat[i]) if "category" in places else ""
        _sub(pm, "name", str(places["name"].iat[i]))
        addr = places["address"].iat[i] if "address" in places else None
        desc = cat_names.get(cat, cat) + (f" · {addr}" if isinstance(addr, str) and addr else "")
        _sub(pm, "description", desc)
        _sub(pm, "styleUrl", "#place")
        _extended(pm, {"code": str(places["code"].iat[i]), "category": cat})
        p = _sub(pm, "Point")
        _sub(p, "coordinates", f"{pts[i].x:.7f},{pts[i].y:.7f}")


def _kml_route(doc: ET.Element, route: PatrolRoute) -> None:
    """A folder with the route line (length and walking time) and its start point."""
    folder = _sub(doc, "Folder")
    _sub(folder, "name", t("巡查路线", "patrol route"))
    pm = _sub(folder, "Placemark")
    _sub(pm, "name", t("巡查路线", "patrol route"))
    kind = t("沿道路", "along roads") if route.follows_roads else t("直线距离", "straight legs")
    _sub(
        pm,
        "description",
        t(
            f"{kind}，全长 {route.length_m:.0f} 米，步行约 {route.walking_time_min:.0f} 分钟",
            f"{kind}, {route.length_m:.0f} m, about {route.walking_time_min:.0f} min walk",
        ),
    )
    _sub(pm, "styleUrl", "#route")
    _extended(
        pm,
        {
            "length_m": round(route.length_m, 1),
            "walking_time_min": round(route.walking_time_min, 1),
            "follows_roads": route.follows_roads,
        },
    )
    line = _sub(pm, "LineString")
    _sub(line, "tessellate", "1")
    _sub(line, "coordinates", _coord_text(shapely.get_coordinates(route.line())))
    pm = _sub(folder, "Placemark")
    _sub(pm, "name", t("起点", "start"))
    p = _sub(pm, "Point")
    _sub(p, "coordinates", f"{route.start[0]:.7f},{route.start[1]:.7f}")


def write_kml(
    out: str | Path,
    territories: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None = None,
    route: PatrolRoute | None = None,
    *,
    name: str = "gridmgr",
    categories: Mapping[str, str] | None = None,
) -> Path:
    """Write :func:`kml_document` to ``out`` (``.kml``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(kml_document(territories, places, route, name=name, categories=categories))
    return out


def write_kmz(
    out: str | Path,
    territories: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None = None,
    route: PatrolRoute | None = None,
    *,
    name: str = "gridmgr",
    categories: Mapping[str, str] | None = None,
) -> Path:
    """Write a KMZ (zip with ``doc.kml`` at its root) of :func:`kml_document`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    body = kml_document(territories, places, route, name=name, categories=categories)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", body)
    return out


def gpx_document(
    route: PatrolRoute | None,
    places: gpd.GeoDataFrame | None = None,
    territories: gpd.GeoDataFrame | None = None,
    *,
    name: str = "gridmgr",
) -> bytes:
    """A GPX 1.1 document (UTF-8 bytes).

    - ``<wpt>``: one waypoint per key place (representative point);
    - ``<rte>``: the patrol route's points — the start, every stop in visiting order, and the start
      again when the route is closed;
    - ``<trk>``: the route's full line (along roads where it follows them) and each territory
      outline, for apps that show tracks.
    """
    ET.register_namespace("", GPX_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}", attrib)
        if text is not None:
            el.text = text
        return el

    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "gridmgr"})
    meta = sub(root, "metadata")
    sub(meta, "name", name)
    sub(meta, "time", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if places is not None and len(places):
        pts = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
        for i in range(len(places)):
            w = sub(root, "wpt", lat=f"{pts[i].y:.7f}", lon=f"{pts[i].x:.7f}")
            sub(w, "name", str(places["name"].iat[i]))
            sub(w, "desc", str(places["code"].iat[i]))
            if "category" in places:
                sub(w, "type", str(places["category"].iat[i]))
    if route is not None:
        rte = sub(root, "rte")
        sub(rte, "name", t("巡查路线", "patrol route"))
        sub(
            rte,
            "desc",
            t(
                f"全长 {route.length_m:.0f} 米，步行约 {route.walking_time_min:.0f} 分钟",
                f"{route.length_m:.0f} m, about {route.walking_time_min:.0f} min walk",
            ),
        )
        seq: list[tuple[float, float, str]] = [(route.start[0], route.start[1], t("起点", "start"))]
        for s in route.stops:
            seq.append((s.lon, s.lat, s.name or f"{s.order}"))
        if route.closed:
            seq.append((route.start[0], route.start[1], t("终点", "end")))
        for lon, lat, label in seq:
            p = sub(rte, "rtept", lat=f"{lat:.7f}", lon=f"{lon:.7f}")
            sub(p, "name", label)
        line = shapely.get_coordinates(route.line())
        if len(line):
            trk = sub(root, "trk")
            sub(trk, "name", t("巡查路线轨迹", "patrol route track"))
            seg = sub(trk, "trkseg")
            for x, y in line:
                sub(seg, "trkpt", lat=f"{y:.7f}", lon=f"{x:.7f}")
    if territories is not None and len(territories):
        for i in range(len(territories)):
            trk = sub(root, "trk")
            sub(
                trk,
                "name",
                t(
                    f"责任区边界 {territories['name'].iat[i]}",
                    f"territory outline {territories['name'].iat[i]}",
                ),
            )
            for ring in shapely.get_rings(shapely.get_parts(territories.geometry.iat[i])):
                seg = sub(trk, "trkseg")
                for x, y in shapely.get_coordinates(ring):
                    sub(seg, "trkpt", lat=f"{y:.7f}", lon=f"{x:.7f}")
    ET.indent(root, space=" ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_gpx(
    out: str | Path,
    route: PatrolRoute | None,
    places: gpd.GeoDataFrame | None = None,
    territories: gpd.GeoDataFrame | None = None,
    *,
    name: str = "gridmgr",
) -> Path:
    """Write :func:`gpx_document` to ``out`` (``.gpx``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gpx_document(route, places, territories, name=name))
    return out


SHP_SUFFIXES = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def write_shapefile(
    out: str | Path,
    territories: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None = None,
    route: PatrolRoute | None = None,
) -> list[Path]:
    """Write Shapefiles (UTF-8 ``.cpg``, WGS-84 ``.prj``): territories, key places, route.

    A shapefile holds one geometry type, so each layer is its own set: for ``out = x.shp`` the
    territories go to ``x.shp``, the key places to ``x_places.shp`` and the route to
    ``x_route.shp``. With ``out = x.zip`` the same sets are written into one zip (what to send
    to a phone). Field names are at most 10 characters. Returns the files written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    as_zip = out.suffix.lower() == ".zip"
    if not as_zip and out.suffix.lower() != ".shp":
        raise InvalidFieldError(
            t(
                f"{out}: Shapefile 输出应以 .shp 或 .zip 结尾",
                f"{out}: a shapefile output must end in .shp or .zip",
            )
        )
    stem = out.stem
    layers: list[tuple[str, gpd.GeoDataFrame]] = []
    if territories is not None and len(territories):
        cols = {"leader_id": "leader_id", "name": "name", "pieces": "pieces", "area_m2": "area_m2"}
        frame = territories[[c for c in cols if c in territories] + ["geometry"]].copy()
        frame["area_m2"] = frame["area_m2"].astype(float).round(1)
        frame["geometry"] = shapely.force_2d(np.asarray(frame.geometry.values, dtype=object))
        layers.append((stem, gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)))
    if places is not None and len(places):
        cols_p = [c for c in ("code", "name", "category", "address") if c in places]
        frame = pd.DataFrame(places[cols_p]).copy()
        for c in cols_p:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
        pts = shapely.point_on_surface(np.asarray(places.geometry.values, dtype=object))
        layers.append(
            (
                f"{stem}_places",
                gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(pts, crs=4326), crs=4326),
            )
        )
    if route is not None and len(route.legs):
        frame = pd.DataFrame(
            {
                "length_m": [round(route.length_m, 1)],
                "walk_min": [round(route.walking_time_min, 1)],
                "roads": [int(route.follows_roads)],
                "stops": [len(route.stops)],
            }
        )
        layers.append(
            (
                f"{stem}_route",
                gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([route.line()], crs=4326), crs=4326),
            )
        )
    if not layers:
        raise InputError(
            t(
                f"{out}: 没有可写出的图层（无责任区、点位和路线）",
                f"{out}: nothing to write (no territory, place or route)",
            )
        )
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) if as_zip else out.parent
        for name, frame in layers:
            target = folder / f"{name}.shp"
            frame.to_file(target, engine="pyogrio", encoding="UTF-8")
            written += [
                folder / f"{name}{s}" for s in SHP_SUFFIXES if (folder / f"{name}{s}").exists()
            ]
        if as_zip:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for p in written:
                    zf.write(p, arcname=p.name)
            return [out]
    return written


__all__ = [
    "GPX_NS",
    "KML_NS",
    "SHP_SUFFIXES",
    "gpx_document",
    "kml_document",
    "territory_colours",
    "write_gpx",
    "write_kml",
    "write_kmz",
    "write_shapefile",
]
