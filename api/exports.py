"""Export adapter: files of :mod:`gridmgr.export` for a leader, a unit or the briefing pack.

The work is done by the library (``gridmgr.export``); this module finds the function, runs it
into a temporary directory and hands the file to the router, which streams it. Until
``gridmgr.export`` provides a format, ``html`` (the folium page) still works, and ``kml`` /
``gpx`` of a leader fall back to small writers over the patrol frames (territory outline, key
places, route) — see docs/api.md.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

FORMATS: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "gpx": "application/gpx+xml",
    "shp": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
KINDS = ("leader", "unit", "briefing")


class ExportUnavailable(Exception):
    """The library does not (yet) provide this export."""


def _library(kind: str) -> Any:
    try:
        import gridmgr.export as ex
    except ImportError:
        return None
    for name in (f"export_{kind}", f"{kind}_export", "export_from_store", "export"):
        fn = getattr(ex, name, None)
        if callable(fn):
            return fn
    return None


def export_file(store: Any, kind: str, target: str | None, fmt: str, out_dir: Path,
                *, basemap: str | None = None) -> Path:
    """Write the export into ``out_dir`` and return its path.

    Raises
    ------
    ExportUnavailable
        Neither the library nor a fallback writes this format yet.
    """
    fn = _library(kind)
    if fn is not None:
        params = inspect.signature(fn).parameters
        kwargs: dict[str, Any] = {}
        for key, value in (("fmt", fmt), ("format", fmt), ("kind", kind),
                           ("out", out_dir / f"export.{fmt}"), ("basemap", basemap)):
            if key in params:
                kwargs[key] = value
        args: list[Any] = [store]
        if kind != "briefing" or "target" in params:
            args.append(target)
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError as exc:
            raise ExportUnavailable(str(exc)) from exc
        if isinstance(result, (str, Path)) and Path(result).exists():
            return Path(result)
        if isinstance(result, (bytes, bytearray)):
            path = out_dir / f"export.{fmt}"
            path.write_bytes(result)
            return path
        out = kwargs.get("out")
        if out is not None and Path(out).exists():
            return Path(out)
    return _fallback(store, kind, target, fmt, out_dir, basemap=basemap)


def _fallback(store: Any, kind: str, target: str | None, fmt: str, out_dir: Path,
              *, basemap: str | None) -> Path:
    from gridmgr.maps import leader_map_from_store, map_html, overview_map_from_store

    path = out_dir / f"export.{fmt}"
    if fmt == "html":
        m = (leader_map_from_store(store, str(target), basemap=basemap) if kind == "leader"
             else overview_map_from_store(store, scope=target, basemap=basemap))
        path.write_text(map_html(m), encoding="utf-8")
        return path
    if kind == "leader" and fmt in {"kml", "gpx"}:
        from gridmgr.patrol import leader_frames_from_store, patrol_route

        pieces, places, leader = leader_frames_from_store(store, str(target))
        route = patrol_route(pieces, places) if len(pieces) or len(places) else None
        name = str((leader or {}).get("name", target)) if isinstance(leader, dict) else str(target)
        text = (_kml if fmt == "kml" else _gpx)(name, pieces, places, route)
        path.write_text(text, encoding="utf-8")
        return path
    raise ExportUnavailable(f"export {kind} as {fmt} is not available yet (gridmgr.export)")


def _coords(seq: Any) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in seq)


def _kml(name: str, pieces: Any, places: Any, route: Any) -> str:
    import shapely

    marks: list[str] = []
    if len(pieces):
        outline = shapely.union_all(pieces.geometry.values)
        polys = getattr(outline, "geoms", [outline])
        for poly in polys:
            if poly.geom_type != "Polygon":
                continue
            inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_coords(r.coords)}"
                            "</coordinates></LinearRing></innerBoundaryIs>" for r in poly.interiors)
            marks.append(f"<Placemark><name>{escape(name)} 责任区</name><Polygon><outerBoundaryIs>"
                         f"<LinearRing><coordinates>{_coords(poly.exterior.coords)}</coordinates>"
                         f"</LinearRing></outerBoundaryIs>{inner}</Polygon></Placemark>")
    if places is not None and len(places):
        pts = shapely.point_on_surface(places.geometry.values)
        for nm, p in zip(places["name"].astype(str), pts, strict=True):
            marks.append(f"<Placemark><name>{escape(nm)}</name><Point><coordinates>"
                         f"{p.x:.7f},{p.y:.7f}</coordinates></Point></Placemark>")
    if route is not None:
        line = route.line()
        if line is not None and not line.is_empty and line.geom_type == "LineString":
            marks.append(f"<Placemark><name>巡查路线</name><LineString><coordinates>"
                         f"{_coords(line.coords)}</coordinates></LineString></Placemark>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
            f"<Document><name>{escape(name)}</name>{''.join(marks)}</Document></kml>\n")


def _gpx(name: str, pieces: Any, places: Any, route: Any) -> str:
    import shapely

    wpts = ""
    if places is not None and len(places):
        pts = shapely.point_on_surface(places.geometry.values)
        wpts = "".join(f'<wpt lat="{p.y:.7f}" lon="{p.x:.7f}"><name>{escape(nm)}</name></wpt>'
                       for nm, p in zip(places["name"].astype(str), pts, strict=True))
    rte = ""
    line = None if route is None else route.line()
    if line is not None and not line.is_empty:
        rte = (f"<rte><name>{escape(name)} 巡查路线</name>"
               + "".join(f'<rtept lat="{y:.7f}" lon="{x:.7f}"/>' for x, y, *_ in line.coords)
               + "</rte>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="gridmgr" '
            'xmlns="http://www.topografix.com/GPX/1/1">' + wpts + rte + "</gpx>\n")
