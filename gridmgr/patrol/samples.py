"""Sample patrol tracks for the demo (clearly marked as samples): GPX files walked along the
shipped roads and through the leaders' pieces.

For each of the first grid leaders (a seeded choice leaves some without patrols, so the demo
shows stale ground): one patrol on a recent Beijing day, starting at 08:00–16:00, walking at
~1.4 m/s with a fix every 5 s through the parts of the roads that cross their territory and then
through the pieces in nearest-neighbour order; fixes jittered by a few metres, with the odd GPS
jump, a doubled fix and a poor-accuracy fix so that the cleaning has something to mark.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.patrol.stops import _inner_points, _Projector
from gridmgr.patrol.temporal import BEIJING
from gridmgr.patrol.tour import nearest_neighbour_tour

FloatArray = npt.NDArray[np.float64]
STEP_M = 7.0  # 1.4 m/s × 5 s
FIX_S = 5


def _route(xy_pieces: FloatArray, road_xy: list[FloatArray], max_stops: int) -> FloatArray:
    """Waypoints: the road parts, then the piece points in nearest-neighbour order."""
    pts = xy_pieces[:max_stops]
    if len(pts) > 1:
        d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
        pts = pts[nearest_neighbour_tour(d)]
    parts = [*road_xy, pts]
    return np.concatenate([p for p in parts if len(p)])


def _densify(way: FloatArray) -> FloatArray:
    """Points every ``STEP_M`` metres along the polyline ``way``."""
    seg = np.hypot(*np.diff(way, axis=0).T)
    cum = np.r_[0.0, np.cumsum(seg)]
    at = np.arange(0.0, cum[-1], STEP_M)
    return np.column_stack([np.interp(at, cum, way[:, 0]), np.interp(at, cum, way[:, 1])])


def _gpx(name: str, times: pd.DatetimeIndex, lon: FloatArray, lat: FloatArray) -> str:
    rows = "\n".join(
        f'<trkpt lat="{y:.7f}" lon="{x:.7f}"><time>{ts:%Y-%m-%dT%H:%M:%SZ}</time></trkpt>'
        for ts, x, y in zip(times, lon, lat, strict=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="gridmgr sample" xmlns="http://www.topografix.com/GPX/1/1">\n'
        f"<trk><name>{escape(name)}</name><trkseg>\n{rows}\n</trkseg></trk></gpx>\n"
    )


def _leader_track(
    pieces: Any, roads: Any, rng: np.random.Generator, max_stops: int
) -> tuple[FloatArray, FloatArray]:
    geoms = pieces.geometry.to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    proj = _Projector((x0 + x1) / 2, (y0 + y1) / 2)
    inner = shapely.get_coordinates(proj.geoms_to_metric(_inner_points(geoms)))
    rng.shuffle(inner)
    road_xy: list[FloatArray] = []
    if roads is not None and len(roads):
        area = shapely.union_all(proj.geoms_to_metric(geoms))
        lines = shapely.intersection(proj.geoms_to_metric(roads.geometry.to_numpy()), area)
        for g in shapely.get_parts(lines[~shapely.is_empty(lines)]):
            if g.geom_type == "LineString" and g.length > 50:
                road_xy.append(np.asarray(g.coords)[:, :2])
    xy = _densify(_route(inner, road_xy[:3], max_stops))
    xy += rng.normal(0, 3.0, xy.shape)
    ll = proj.inv.transform(xy[:, 0], xy[:, 1])
    return np.asarray(ll[0]), np.asarray(ll[1])


def write_sample_tracks(
    store: Any,
    out: Path,
    *,
    roads: Any = None,
    as_of: dt.datetime | None = None,
    share: float = 0.7,
    max_stops: int = 40,
    seed: int = 12,
) -> list[Path]:
    """Write sample GPX tracks (``<leader id>_sample.gpx``) for a share of the grid leaders."""
    rng = np.random.default_rng(seed)
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    pieces = store.pieces(geometry=True)
    leaders = store.leaders(active=True)
    grid = sorted(leaders.loc[leaders["role"] == "grid_leader", "id"].astype(str))
    chosen = [lid for lid in grid if rng.random() < share]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for lid in chosen:
        mine = pieces[pieces["leader_id"] == lid]
        if mine.empty:
            continue
        lon, lat = _leader_track(mine, roads, rng, max_stops)
        # never today: the same day's re-run writes the same files (imported once)
        day = now.date() - dt.timedelta(days=int(rng.integers(1, 20)))
        start = dt.datetime.combine(day, dt.time(8), tzinfo=BEIJING) + dt.timedelta(
            minutes=int(rng.integers(0, 480))
        )
        times = pd.date_range(start, periods=len(lon), freq=f"{FIX_S}s").tz_convert("UTC")
        if len(lon) > 20:  # a GPS jump, a doubled fix
            lon[10] += 0.05
            times = times.insert(15, times[15])
            lon, lat = np.insert(lon, 15, lon[15]), np.insert(lat, 15, lat[15])
        path = out / f"{lid}_sample.gpx"
        path.write_text(_gpx(f"{lid} 巡查（样例）", times, lon, lat), "utf-8")
        paths.append(path)
    return paths


__all__ = ["write_sample_tracks"]
