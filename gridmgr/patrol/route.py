"""Patrol routes (巡查路线): an ordered walk over a leader's key places and pieces.

:func:`patrol_route` orders the stops — every key place and the centroid of every piece of a
territory — into a short loop from a start point (given, or the community's representative point),
with its length in metres and the walking time. Where a road network is supplied the legs follow the
roads (a graph built from the lines, shortest paths with :mod:`scipy.sparse.csgraph`); otherwise the
legs are straight and the route says so (``follows_roads``).

The visit order comes from the tour engine in :mod:`gridmgr.patrol.tour` (nearest neighbour, 2-opt and
Or-opt with neighbour lists, iterated local search; all numpy over a metric cost matrix), whose
public functions are re-exported here: :func:`solve_tour`, :func:`nearest_neighbour_tour`,
:func:`tour_length`. ``benchmarks/bench_patrol.py`` compares it with OR-Tools' guided local search.

The stop and route records and the metric projection are in :mod:`gridmgr.patrol.stops`, the road
graph in :mod:`gridmgr.patrol.roads`; their public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmgr.errors import InputError, InvalidFieldError, InvalidGeometryError
from gridmgr.i18n import t as _t
from gridmgr.patrol.roads import NON_WALKABLE, RoadGraph, _road_costs, _road_paths, road_graph
from gridmgr.patrol.stops import (
    MAX_START_DISTANCE_KM,
    WALKING_SPEED_KMH,
    PatrolRoute,
    PatrolStop,
    StopKind,
    _inner_points,
    _piece_ids,
    _Projector,
    _start_point,
    local_metric_crs,
)
from gridmgr.patrol.tour import nearest_neighbour_tour, solve_tour, tour_length

if TYPE_CHECKING:
    import geopandas as gpd

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MAX_START_DISTANCE_KM",
    "NON_WALKABLE",
    "WALKING_SPEED_KMH",
    "PatrolRoute",
    "PatrolStop",
    "RoadGraph",
    "leader_frames_from_store",
    "local_metric_crs",
    "nearest_neighbour_tour",
    "patrol_route",
    "patrol_route_from_store",
    "road_graph",
    "solve_tour",
    "tour_length",
]


def patrol_route(
    pieces: gpd.GeoDataFrame,
    key_places: gpd.GeoDataFrame | None = None,
    *,
    start: tuple[float, float] | BaseGeometry | str | None = None,
    roads: gpd.GeoDataFrame | None = None,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    closed: bool = True,
    time_limit_s: float = 5.0,
    seed: int = 0,
    max_kicks: int | None = 500,
) -> PatrolRoute:
    """A patrol route over a territory: every key place and every piece, visited once.

    Parameters
    ----------
    pieces
        The territory's pieces (EPSG:4326; ``id`` or ``cell`` names them). Each piece is visited
        at its centroid (or a point on its surface when the centroid falls outside).
    key_places
        Key places to visit (``code``, optional ``name``; Point or Polygon). May be ``None``.
    start
        ``(lon, lat)``, a shapely geometry, a key-place code, or ``"lon,lat"``. ``None`` starts
        at the representative point of the territory (the community office is not in the
        layers; give its position when known).
    roads
        Road lines (EPSG:4326). When given, every leg follows the roads (with straight
        connectors from each stop to its nearest road vertex), except a leg between two stops
        that are closer to each other than to the road, which stays straight. Railway, waterway
        and motorway lines are not walkable. ``None`` gives straight legs.
    walking_speed_kmh
        For the walking time.
    closed
        Return to the start at the end.
    time_limit_s
        Safety cap on the tour improvement's time (iterated local search).
    seed
        Seed of the improvement's random kicks.
    max_kicks
        The improvement's budget in kicks (~0.4 s for 150 stops). Unlike a time budget it gives
        the same route on any machine and under any load, so every entry point shows one length.

    Returns
    -------
    PatrolRoute

    Raises
    ------
    InputError
        No stops, an unreadable start or a non-positive speed.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(125.25 + i * 0.002, 43.8, 125.252 + i * 0.002, 43.802) for i in range(5)]
    >>> pieces = gpd.GeoDataFrame({"cell": list("abcde")}, geometry=cells, crs=4326)
    >>> r = patrol_route(pieces, start=(125.25, 43.8), time_limit_s=0)
    >>> [s.id for s in r.stops], r.follows_roads
    (['a', 'b', 'c', 'd', 'e'], False)
    >>> round(r.length_m) == round(sum(r.leg_lengths_m))
    True
    """
    _check_speed(walking_speed_kmh)
    pgeoms, kp, kgeoms = _stop_geometries(pieces, key_places)
    territory = (
        shapely.union_all(np.concatenate([pgeoms, kgeoms]))
        if len(pgeoms) == 0
        else (shapely.coverage_union_all(pgeoms) if len(pgeoms) > 1 else pgeoms[0])
    )
    (slon, slat), start_kind = _start_point(start, kp, territory)
    stops = _stop_table(pieces, kp, pgeoms, kgeoms, (slon, slat))
    proj = _Projector(float(np.mean(stops.lon)), float(np.mean(stops.lat)))
    xy = proj.xy(stops.lon, stops.lat)
    costs = _leg_costs(xy, roads, proj)
    order = solve_tour(
        costs.cost,
        start=0,
        closed=closed,
        time_limit_s=time_limit_s,
        seed=seed,
        max_kicks=max_kicks,
    )
    seq = order.tolist() + ([0] if closed else [])
    legs, leg_len, leg_road = _legs(list(pairwise(seq)), xy, costs, proj)
    length = float(np.sum(leg_len))
    return PatrolRoute(
        start=(float(slon), float(slat)),
        start_kind=start_kind,
        stops=stops.in_order(order),
        legs=tuple(legs),
        leg_lengths_m=tuple(leg_len),
        leg_on_road=tuple(leg_road),
        length_m=length,
        walking_speed_kmh=float(walking_speed_kmh),
        walking_time_s=length / (walking_speed_kmh * 1000.0 / 3600.0),
        follows_roads=bool(any(leg_road)),
        closed=closed,
        notes=tuple(costs.notes),
    )


def _check_speed(walking_speed_kmh: float) -> None:
    """Refuse a walking speed that is not positive."""
    if not walking_speed_kmh > 0:
        msg = _t(
            f"步行速度必须大于 0（现为 {walking_speed_kmh}）",
            f"walking speed must be > 0 (got {walking_speed_kmh})",
        )
        raise InputError(msg)


def _stop_geometries(
    pieces: gpd.GeoDataFrame, key_places: gpd.GeoDataFrame | None
) -> tuple[npt.NDArray[np.object_], gpd.GeoDataFrame | None, npt.NDArray[np.object_]]:
    """Piece geometries, the key places (``None`` when empty) and their geometries, checked."""
    if pieces is None or "geometry" not in getattr(pieces, "columns", []):
        msg = _t(
            "巡查路线需要地块图层（GeoDataFrame，含 geometry 列）",
            "a patrol route needs a pieces GeoDataFrame with a geometry column",
        )
        raise InvalidFieldError(msg)
    pgeoms = np.asarray(pieces.geometry.values, dtype=object)
    kp = key_places if key_places is not None and len(key_places) else None
    kgeoms = np.asarray(kp.geometry.values, dtype=object) if kp is not None else np.empty(0, object)
    bad = np.concatenate(
        [
            shapely.is_missing(pgeoms) | shapely.is_empty(pgeoms),
            shapely.is_missing(kgeoms) | shapely.is_empty(kgeoms),
        ]
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = _t("地块", "piece") if i < len(pgeoms) else _t("重点点位", "key place")
        msg = _t(
            f"{what}第 {i} 行几何为空，无法生成巡查路线；请先修复数据",
            f"{what} row {i} has an empty geometry; fix the layer first",
        )
        raise InvalidGeometryError(msg)
    _check_stop_count(len(pgeoms) + len(kgeoms))
    return pgeoms, kp, kgeoms


def _check_stop_count(n_stops: int) -> None:
    """Refuse a route with no stops or more than 4000."""
    if n_stops == 0:
        msg = _t(
            "辖区内没有地块或重点点位，无法生成巡查路线",
            "the territory has no pieces and no key places; there is nothing to patrol",
        )
        raise InputError(msg)
    if n_stops > 4000:
        msg = _t(
            f"巡查点过多（{n_stops} 个，上限 4000）；请按社区或网格分别生成路线",
            f"too many stops ({n_stops}, limit 4000); make one route per community or grid",
        )
        raise InputError(msg)


@dataclass(frozen=True)
class _StopTable:
    """The start (row 0) and every stop (key places first, then pieces) before ordering."""

    kinds: list[StopKind]
    ids: list[str]
    names: list[str | None]
    lon: FloatArray
    lat: FloatArray

    def in_order(self, order: IntArray) -> tuple[PatrolStop, ...]:
        """The stops in tour ``order`` (its first entry is the start, row 0)."""
        return tuple(
            PatrolStop(
                order=k + 1,
                kind=self.kinds[i - 1],
                id=self.ids[i - 1],
                name=self.names[i - 1],
                lon=float(self.lon[i]),
                lat=float(self.lat[i]),
            )
            for k, i in enumerate(order.tolist()[1:])
        )


def _stop_table(
    pieces: gpd.GeoDataFrame,
    kp: gpd.GeoDataFrame | None,
    pgeoms: npt.NDArray[np.object_],
    kgeoms: npt.NDArray[np.object_],
    start: tuple[float, float],
) -> _StopTable:
    """Kinds, ids, names and positions of the stops, the start first."""
    kinds: list[StopKind] = [*(["key_place"] * len(kgeoms)), *(["piece"] * len(pgeoms))]  # type: ignore[list-item]
    ids = (
        [str(c) for c in kp["code"].tolist()]
        if kp is not None and "code" in kp.columns
        else [str(i) for i in range(len(kgeoms))]
    ) + _piece_ids(pieces)
    names: list[str | None] = [None] * (len(kgeoms) + len(pgeoms))
    if kp is not None and "name" in kp.columns:
        names[: len(kgeoms)] = [None if pd.isna(x) else str(x) for x in kp["name"].tolist()]
    pts = _inner_points(np.concatenate([kgeoms, pgeoms]))
    lon = np.concatenate([[start[0]], shapely.get_x(pts)])
    lat = np.concatenate([[start[1]], shapely.get_y(pts)])
    return _StopTable(kinds, ids, names, lon, lat)


@dataclass(frozen=True)
class _LegCosts:
    """Cost between every pair of stops, and how a leg between them follows the roads."""

    cost: FloatArray
    graph: RoadGraph | None = None
    on_road_pair: npt.NDArray[np.bool_] | None = None
    vert: IntArray | None = None
    notes: tuple[str, ...] = ()


def _leg_costs(xy: FloatArray, roads: gpd.GeoDataFrame | None, proj: _Projector) -> _LegCosts:
    """Straight or road costs between the stops (road graph clipped to the stops plus 2 km)."""
    straight = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    graph: RoadGraph | None = None
    if roads is not None and len(roads):
        pad = 2000.0
        clip = (
            xy[:, 0].min() - pad,
            xy[:, 1].min() - pad,
            xy[:, 0].max() + pad,
            xy[:, 1].max() + pad,
        )
        graph = road_graph(roads, proj, clip=clip)
    if graph is None:
        notes: tuple[str, ...] = ()
        if roads is not None:
            notes = (
                _t(
                    "道路图层在辖区附近没有可步行的道路，路线按直线计算",
                    "the road layer has no walkable road near the territory; legs are straight",
                ),
            )
        return _LegCosts(straight, notes=notes)
    road, vert, conn = _road_costs(graph, xy)
    # follow the road, except between two stops that are closer to each other than to the
    # road (walking to the road and back would be longer than the whole straight leg)
    on_road_pair = np.isfinite(road) & (straight > conn[:, None] + conn[None, :])
    cost = np.where(on_road_pair, road, straight)
    return _LegCosts(cost, graph, on_road_pair, vert)


def _legs(
    legs_idx: list[tuple[int, int]], xy: FloatArray, costs: _LegCosts, proj: _Projector
) -> tuple[list[BaseGeometry], list[float], list[bool]]:
    """WGS-84 leg lines, their lengths (m) and whether each follows the roads."""
    graph, on_road, vert = costs.graph, costs.on_road_pair, costs.vert
    paths: dict[tuple[int, int], IntArray] = {}
    if graph is not None and on_road is not None and vert is not None:
        need = [
            (int(vert[a]), int(vert[b]))
            for a, b in legs_idx
            if on_road[a, b] and vert[a] != vert[b]
        ]
        paths = _road_paths(graph, need) if need else {}
    metric_lines: list[BaseGeometry] = []
    leg_road: list[bool] = []
    for a, b in legs_idx:
        if graph is not None and on_road is not None and vert is not None and on_road[a, b]:
            va, vb = int(vert[a]), int(vert[b])
            via = graph.xy[paths[(va, vb)]] if va != vb else graph.xy[[va]]
            line = np.vstack([xy[a], via, xy[b]])
            leg_road.append(True)
        else:
            line = np.vstack([xy[a], xy[b]])
            leg_road.append(False)
        metric_lines.append(shapely.linestrings(line))
    metric_arr = np.asarray(metric_lines, dtype=object)
    leg_len = shapely.length(metric_arr).astype(float).tolist()
    return list(proj.geoms_to_lonlat(metric_arr)), leg_len, leg_road


def patrol_route_from_store(
    store: Any,
    leader_id: str,
    *,
    start: tuple[float, float] | BaseGeometry | str | None = None,
    roads: gpd.GeoDataFrame | None = None,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    closed: bool = True,
) -> PatrolRoute:
    """:func:`patrol_route` over a leader's territory read from a :class:`gridmgr.store.Store`.

    The territory is every piece whose ``leader_id`` is ``leader_id``; the key places are those
    in the leader's ``place_packages`` plus every key place lying in the territory. ``roads``
    ``None`` follows the store's roads (:func:`~gridmgr.patrol.roads.roads_for_store`).
    """
    from gridmgr.patrol.roads import roads_for_store

    pieces, places, _ = leader_frames_from_store(store, leader_id)
    if roads is None:
        roads = roads_for_store(store)
    return patrol_route(
        pieces, places, start=start, roads=roads, walking_speed_kmh=walking_speed_kmh, closed=closed
    )


def leader_frames_from_store(
    store: Any, leader_id: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Mapping[str, Any]]:
    """A leader's pieces, key places (in the territory or packaged to them) and leader record."""
    from gridmgr.errors import LeaderNotFoundError

    leaders = store.leaders()
    row = leaders.loc[leaders["id"].astype(str) == str(leader_id)]
    if row.empty:
        msg = _t(
            f"领导 {leader_id!r} 不在库中；用 `gridmgr leaders list` 查看已有 id",
            f"leader {leader_id!r} is not in the store; see `gridmgr leaders list`",
        )
        raise LeaderNotFoundError(msg)
    leader = row.iloc[0].to_dict()
    pieces = store.pieces()
    mine = pieces.loc[pieces["leader_id"].astype("string") == str(leader_id)].copy()
    places = store.key_places()
    packaged = set(_as_list(leader.get("place_packages")))
    if len(places):
        in_territory = np.zeros(len(places), dtype=bool)
        if len(mine):
            terr = shapely.coverage_union_all(np.asarray(mine.geometry.values, dtype=object))
            reps = _inner_points(np.asarray(places.geometry.values, dtype=object))
            in_territory = np.asarray(shapely.intersects(terr, reps), dtype=bool)
        sel = in_territory | places["code"].astype(str).isin(packaged).to_numpy()
        places = places.loc[sel].copy()
    return mine, places, leader


def _as_list(v: object) -> list[str]:
    """A packages field (``;``-separated text, a list or one value) as a list of strings."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.replace("；", ";").split(";") if x.strip()]
    if isinstance(v, Sequence | np.ndarray):
        return [str(x) for x in v]
    return [str(v)]
