"""Patrol stops: the route records, the local metric projection and where stops and starts lie.

:class:`PatrolStop` and :class:`PatrolRoute` are the frozen results of
:func:`gridmgr.patrol.route.patrol_route`; :func:`local_metric_crs` and ``_Projector`` give the
metric plane legs are measured in; ``_inner_points``, ``_piece_ids`` and ``_start_point`` turn
frames and a user's start into stop positions (also used by :mod:`gridmgr.maps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmgr.errors import InputError
from gridmgr.i18n import t as _t

if TYPE_CHECKING:
    import geopandas as gpd

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MAX_START_DISTANCE_KM",
    "WALKING_SPEED_KMH",
    "PatrolRoute",
    "PatrolStop",
    "StopKind",
    "local_metric_crs",
]


#: Default walking speed of a patrol, km/h.
WALKING_SPEED_KMH = 4.5

#: A given start farther than this from the territory is refused (a typo or swapped lon/lat).
MAX_START_DISTANCE_KM = 30.0

StopKind = Literal["key_place", "piece"]


@dataclass(frozen=True)
class PatrolStop:
    """One stop of a patrol route.

    Attributes
    ----------
    order
        1-based position in the route.
    kind
        ``key_place`` or ``piece``.
    id
        Key-place code, or the piece's store id (its H3 cell when the frame has no ``id``).
    name
        Key-place name (``None`` for pieces).
    lon, lat
        WGS-84 position of the stop (a piece's centroid, a key place's representative point).
    """

    order: int
    kind: StopKind
    id: str
    name: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class PatrolRoute:
    """An ordered patrol route (frozen result of :func:`patrol_route`).

    Attributes
    ----------
    start
        ``(lon, lat)`` where the route starts (and ends when ``closed``).
    start_kind
        ``given``, ``key_place`` (started at a named key place) or ``territory`` (the
        representative point of the territory, used when no start is given).
    stops
        The stops in visiting order.
    legs
        WGS-84 LineStrings: start → stop 1, stop 1 → stop 2, … (and last stop → start when
        ``closed``).
    leg_lengths_m
        Length of every leg in metres.
    leg_on_road
        Whether each leg was routed along the road network.
    length_m
        Total length in metres (the sum of ``leg_lengths_m``).
    walking_speed_kmh, walking_time_s
        Assumed speed and the resulting walking time.
    follows_roads
        ``True`` when a road network was supplied and at least one leg follows it; ``False``
        means the legs are straight lines ("直线距离").
    closed
        The route returns to its start.
    """

    start: tuple[float, float]
    start_kind: str
    stops: tuple[PatrolStop, ...]
    legs: tuple[BaseGeometry, ...]
    leg_lengths_m: tuple[float, ...]
    leg_on_road: tuple[bool, ...]
    length_m: float
    walking_speed_kmh: float
    walking_time_s: float
    follows_roads: bool
    closed: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def walking_time_min(self) -> float:
        """Walking time in minutes."""
        return self.walking_time_s / 60.0

    def line(self) -> BaseGeometry:
        """The whole route as one WGS-84 LineString."""
        coords = [np.asarray(g.coords) for g in self.legs if not g.is_empty]
        if not coords:
            return shapely.LineString()
        parts = [coords[0]] + [c[1:] for c in coords[1:]]
        return shapely.LineString(np.concatenate(parts))

    def stops_frame(self) -> gpd.GeoDataFrame:
        """The stops as a GeoDataFrame (``order``, ``kind``, ``id``, ``name``, Point geometry)."""
        import geopandas as gpd

        rows = pd.DataFrame(
            {
                "order": [s.order for s in self.stops],
                "kind": [s.kind for s in self.stops],
                "id": [s.id for s in self.stops],
                "name": [s.name for s in self.stops],
            }
        )
        pts = shapely.points([s.lon for s in self.stops], [s.lat for s in self.stops])
        return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(pts, crs=4326), crs=4326)

    def legs_frame(self) -> gpd.GeoDataFrame:
        """The legs as a GeoDataFrame (``leg``, ``length_m``, ``on_road``, LineString)."""
        import geopandas as gpd

        rows = pd.DataFrame(
            {
                "leg": np.arange(1, len(self.legs) + 1),
                "length_m": list(self.leg_lengths_m),
                "on_road": list(self.leg_on_road),
            }
        )
        return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(list(self.legs), crs=4326), crs=4326)


def local_metric_crs(lon: float, lat: float) -> pyproj.CRS:
    """A transverse Mercator CRS centred on ``(lon, lat)``: metres, negligible scale error
    over a district (< 0.01 % within 40 km of the centre)."""
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 +datum=WGS84 "
        f"+units=m +no_defs"
    )


class _Projector:
    """WGS-84 lon/lat <-> a local metric CRS, vectorised."""

    def __init__(self, lon: float, lat: float) -> None:
        crs = local_metric_crs(lon, lat)
        self.fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        self.inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def xy(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
        """Metric ``(x, y)`` rows of lon/lat arrays."""
        x, y = self.fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([x, y])

    def geoms_to_metric(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """WGS-84 geometries in the metric CRS."""

        def f(c: FloatArray) -> FloatArray:
            x, y = self.fwd.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), f), dtype=object)

    def geoms_to_lonlat(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Metric geometries back in WGS-84."""

        def f(c: FloatArray) -> FloatArray:
            x, y = self.inv.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), f), dtype=object)


def _inner_points(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Centroid where it lies inside the geometry, else a point on the surface."""
    cent = shapely.centroid(geoms)
    is_point = shapely.get_type_id(geoms) == 0
    inside = shapely.intersects(geoms, cent) | is_point
    out = np.where(inside, cent, shapely.point_on_surface(geoms))
    return np.asarray(out, dtype=object)


def _piece_ids(pieces: gpd.GeoDataFrame) -> list[str]:
    """Stop ids of pieces: ``id``, else ``cell`` (with the unit when a cell repeats), else row."""
    if "id" in pieces.columns:
        return [str(v) for v in pieces["id"].tolist()]
    if "cell" in pieces.columns:
        cells = pieces["cell"].astype(str)
        if cells.duplicated().any() and "unit_code" in pieces.columns:
            return [str(v) for v in (cells + "/" + pieces["unit_code"].astype(str)).tolist()]
        return [str(v) for v in cells.tolist()]
    return [str(i) for i in range(len(pieces))]


def _start_point(
    start: object, key_places: gpd.GeoDataFrame | None, territory: BaseGeometry
) -> tuple[tuple[float, float], str]:
    """The start ``(lon, lat)`` and its kind (``territory``, ``key_place`` or ``given``), checked."""
    if start is None:
        p = shapely.point_on_surface(territory)
        return (float(p.x), float(p.y)), "territory"
    if isinstance(start, str):
        if key_places is not None and "code" in key_places.columns:
            hit = key_places.loc[key_places["code"].astype(str) == start]
            if len(hit):
                p = _inner_points(np.asarray(hit.geometry.values[:1], dtype=object))[0]
                return (float(p.x), float(p.y)), "key_place"
        parts = start.replace("，", ",").split(",")
        try:
            lon, lat = (float(x) for x in parts)
        except ValueError:
            msg = _t(
                f"起点 {start!r} 既不是辖区内的重点点位编码，也不是“经度,纬度”；"
                "请写成 125.25,43.80 这样的 WGS-84 坐标",
                f"start {start!r} is neither a key-place code in the territory nor 'lon,lat'; "
                "write a WGS-84 position such as 125.25,43.80",
            )
            raise InputError(msg) from None
        start = (lon, lat)
    if isinstance(start, BaseGeometry):
        p = shapely.point_on_surface(start)
        start = (float(p.x), float(p.y))
    try:
        lon, lat = (float(v) for v in start)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        msg = _t(
            f"起点 {start!r} 无法识别；请给 (经度, 纬度)", f"start {start!r} is not (lon, lat)"
        )
        raise InputError(msg) from None
    _check_start_position(lon, lat, territory)
    return (lon, lat), "given"


def _check_start_position(lon: float, lat: float, territory: BaseGeometry) -> None:
    """Refuse a start outside lon/lat range or farther than the limit from the territory."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = _t(
            f"起点 ({lon}, {lat}) 超出经纬度范围；请按 经度,纬度 的顺序给出 WGS-84 坐标",
            f"start ({lon}, {lat}) is out of range; give WGS-84 lon,lat in that order",
        )
        raise InputError(msg)
    # a start far from the ground is a typo or swapped axes: it would add a leg of hundreds of km
    away_km = 0.0
    if territory is not None and not territory.is_empty:
        (x0, y0), (x1, y1) = shapely.shortest_line(shapely.Point(lon, lat), territory).coords
        away_km = 111.32 * float(np.hypot((x1 - x0) * np.cos(np.radians((y0 + y1) / 2)), y1 - y0))
    if away_km > MAX_START_DISTANCE_KM:
        msg = _t(
            f"起点 ({lon}, {lat}) 距辖区约 {away_km:,.0f} 公里；请检查经度,纬度的顺序与数值"
            f"（起点须在辖区 {MAX_START_DISTANCE_KM:g} 公里以内）",
            f"start ({lon}, {lat}) lies about {away_km:,.0f} km from the territory; check the "
            f"lon,lat order and values (the start must be within {MAX_START_DISTANCE_KM:g} km)",
        )
        raise InputError(msg)
