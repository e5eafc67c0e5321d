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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmgr.errors import InputError, InvalidFieldError, InvalidGeometryError
from gridmgr.i18n import t as _t
from gridmgr.patrol.tour import nearest_neighbour_tour, solve_tour, tour_length

if TYPE_CHECKING:
    import geopandas as gpd
    import scipy.sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

__all__ = [
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


# --------------------------------------------------------------------------------------------
# Stops, metric projection and road graph
# --------------------------------------------------------------------------------------------

#: Road classes that are not walkable (dropped from a road layer when a ``layer``/``kind``/
#: ``highway``/``fclass`` column names them).
NON_WALKABLE = frozenset(
    {
        "railway",
        "rail",
        "waterway",
        "river",
        "stream",
        "canal",
        "place_label",
        "motorway",
        "motorway_link",
    }
)

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
        x, y = self.fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([x, y])

    def geoms_to_metric(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
        def f(c: FloatArray) -> FloatArray:
            x, y = self.fwd.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), f), dtype=object)

    def geoms_to_lonlat(self, geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
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
    if "id" in pieces.columns:
        return [str(v) for v in pieces["id"].tolist()]
    if "cell" in pieces.columns:
        cells = pieces["cell"].astype(str)
        if cells.duplicated().any() and "unit_code" in pieces.columns:
            return [str(v) for v in (cells + "/" + pieces["unit_code"].astype(str)).tolist()]
        return [str(v) for v in cells.tolist()]
    return [str(i) for i in range(len(pieces))]


@dataclass(frozen=True)
class RoadGraph:
    """An undirected walking graph built from road lines in a local metric CRS.

    Attributes
    ----------
    xy
        Vertex coordinates (metres, in ``crs``), shape (V, 2).
    matrix
        Symmetric CSR adjacency with edge lengths in metres.
    crs
        The local metric CRS.
    """

    xy: FloatArray
    matrix: scipy.sparse.csr_matrix
    crs: pyproj.CRS


def _walkable(roads: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    geoms = np.asarray(roads.geometry.values, dtype=object)
    keep = np.ones(len(roads), dtype=bool)
    for col in ("layer", "kind", "highway", "fclass"):
        if col in roads.columns:
            vals = roads[col].astype(str).str.lower()
            keep &= ~vals.isin(NON_WALKABLE).to_numpy()
    geoms = geoms[keep]
    geoms = geoms[~shapely.is_missing(geoms)]
    types = shapely.get_type_id(geoms)
    return np.asarray(geoms[(types == 1) | (types == 5)], dtype=object)


def road_graph(
    roads: gpd.GeoDataFrame,
    projector: _Projector,
    *,
    clip: tuple[float, float, float, float] | None = None,
    snap_m: float = 1.0,
    max_segment_m: float = 15.0,
) -> RoadGraph | None:
    """Build the walking graph of ``roads`` (lines, EPSG:4326); ``None`` when nothing walkable.

    Lines are noded at their crossings (``shapely.union_all``), densified to vertices at most
    ``max_segment_m`` apart (so that stops snap close to the road), and vertices closer than
    ``snap_m`` are merged so that endpoints meeting "almost" at a junction connect.
    """
    import scipy.sparse

    geoms = _walkable(roads)
    if len(geoms) == 0:
        return None
    metric = projector.geoms_to_metric(geoms)
    if clip is not None:
        metric = shapely.clip_by_rect(metric, *clip)
        metric = metric[~shapely.is_empty(metric)]
        if len(metric) == 0:
            return None
    noded = shapely.union_all(metric)
    parts = np.asarray(shapely.get_parts(shapely.get_parts(noded)), dtype=object)
    parts = parts[shapely.get_type_id(parts) == 1]
    parts = shapely.segmentize(parts, max_segment_m)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return None
    # merge vertices closer than snap_m: exact duplicates first, then KD-tree pairs joined as
    # connected components (transitive, unlike rounding to a grid which splits near-misses
    # that straddle a grid line)
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    keys = np.round(coords * 1000.0).astype(np.int64)
    uniq, inv0 = np.unique(keys, axis=0, return_inverse=True)
    inv0 = inv0.ravel()
    upos = uniq / 1000.0
    pairs = cKDTree(upos).query_pairs(snap_m, output_type="ndarray")
    nu = len(uniq)
    link = scipy.sparse.coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(nu, nu)
    )
    _, label = connected_components(link, directed=False)
    inverse = label[inv0]
    nv = int(label.max()) + 1
    xy = np.zeros((nv, 2))
    np.add.at(xy, label, upos)
    xy /= np.bincount(label, minlength=nv).astype(float)[:, None]
    same = idx[1:] == idx[:-1]
    u, v = inverse[:-1][same], inverse[1:][same]
    w = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    ok = u != v
    u, v, w = u[ok], v[ok], w[ok]
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], np.maximum(w[first], 1e-6)
    n = nv
    mat = scipy.sparse.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()
    return RoadGraph(xy=xy, matrix=mat, crs=pyproj.CRS(projector.fwd.target_crs))


def _road_costs(
    graph: RoadGraph, stop_xy: FloatArray, *, chunk: int = 64
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Snap stops to their nearest road vertex; road distance between every pair of stops.

    Returns (road distance matrix between snapped vertices incl. connectors, vertex of each stop,
    connector length of each stop).
    """
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    conn, vert = cKDTree(graph.xy).query(stop_xy)
    vert = np.asarray(vert, dtype=np.int64)
    uv, inv = np.unique(vert, return_inverse=True)
    inv = inv.ravel()
    dv = np.empty((len(uv), len(uv)))
    for s in range(0, len(uv), chunk):
        dist = dijkstra(graph.matrix, directed=False, indices=uv[s : s + chunk])
        dv[s : s + chunk] = dist[:, uv]
    road = dv[inv][:, inv] + conn[:, None] + conn[None, :]
    np.fill_diagonal(road, 0.0)
    return road, vert, np.asarray(conn, dtype=float)


def _road_paths(
    graph: RoadGraph, pairs: list[tuple[int, int]], *, chunk: int = 64
) -> dict[tuple[int, int], IntArray]:
    """Vertex paths of the given (source vertex, target vertex) pairs."""
    from scipy.sparse.csgraph import dijkstra

    out: dict[tuple[int, int], IntArray] = {}
    sources = np.unique(np.asarray([p[0] for p in pairs], dtype=np.int64))
    for s in range(0, len(sources), chunk):
        src = sources[s : s + chunk]
        _, pred = dijkstra(graph.matrix, directed=False, indices=src, return_predecessors=True)
        row_of = {int(v): r for r, v in enumerate(src)}
        for a, b in pairs:
            if a not in row_of or (a, b) in out:
                continue
            row = pred[row_of[a]]
            path = [b]
            cur = b
            while cur != a and cur >= 0:
                cur = int(row[cur])
                path.append(cur)
            out[(a, b)] = np.asarray(path[::-1], dtype=np.int64)
    return out


def _start_point(
    start: object, key_places: gpd.GeoDataFrame | None, territory: BaseGeometry
) -> tuple[tuple[float, float], str]:
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
    return (lon, lat), "given"


def patrol_route(
    pieces: gpd.GeoDataFrame,
    key_places: gpd.GeoDataFrame | None = None,
    *,
    start: tuple[float, float] | BaseGeometry | str | None = None,
    roads: gpd.GeoDataFrame | None = None,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    closed: bool = True,
    time_limit_s: float = 0.4,
    seed: int = 0,
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
        Time budget of the tour improvement (iterated local search).
    seed
        Seed of the improvement's random kicks.

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
    if not walking_speed_kmh > 0:
        msg = _t(
            f"步行速度必须大于 0（现为 {walking_speed_kmh}）",
            f"walking speed must be > 0 (got {walking_speed_kmh})",
        )
        raise InputError(msg)
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
    n_stops = len(pgeoms) + len(kgeoms)
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

    territory = (
        shapely.union_all(np.concatenate([pgeoms, kgeoms]))
        if len(pgeoms) == 0
        else (shapely.coverage_union_all(pgeoms) if len(pgeoms) > 1 else pgeoms[0])
    )
    (slon, slat), start_kind = _start_point(start, kp, territory)

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
    lon = np.concatenate([[slon], shapely.get_x(pts)])
    lat = np.concatenate([[slat], shapely.get_y(pts)])

    proj = _Projector(float(np.mean(lon)), float(np.mean(lat)))
    xy = proj.xy(lon, lat)
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
    notes: list[str] = []
    on_road_pair: npt.NDArray[np.bool_] | None = None
    if graph is not None:
        road, vert, conn = _road_costs(graph, xy)
        # follow the road, except between two stops that are closer to each other than to the
        # road (walking to the road and back would be longer than the whole straight leg)
        on_road_pair = np.isfinite(road) & (straight > conn[:, None] + conn[None, :])
        cost = np.where(on_road_pair, road, straight)
    else:
        cost = straight
        if roads is not None:
            notes.append(
                _t(
                    "道路图层在辖区附近没有可步行的道路，路线按直线计算",
                    "the road layer has no walkable road near the territory; legs are straight",
                )
            )

    order = solve_tour(cost, start=0, closed=closed, time_limit_s=time_limit_s, seed=seed)
    seq = order.tolist() + ([0] if closed else [])
    legs_idx = list(pairwise(seq))

    legs: list[BaseGeometry] = []
    leg_len: list[float] = []
    leg_road: list[bool] = []
    paths: dict[tuple[int, int], IntArray] = {}
    if graph is not None and on_road_pair is not None:
        need = [
            (int(vert[a]), int(vert[b]))
            for a, b in legs_idx
            if on_road_pair[a, b] and vert[a] != vert[b]
        ]
        paths = _road_paths(graph, need) if need else {}
    metric_lines: list[BaseGeometry] = []
    for a, b in legs_idx:
        if graph is not None and on_road_pair is not None and on_road_pair[a, b]:
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
    legs = list(proj.geoms_to_lonlat(metric_arr))

    stops = tuple(
        PatrolStop(
            order=k + 1,
            kind=kinds[i - 1],
            id=ids[i - 1],
            name=names[i - 1],
            lon=float(lon[i]),
            lat=float(lat[i]),
        )
        for k, i in enumerate(order.tolist()[1:])
    )
    length = float(np.sum(leg_len))
    return PatrolRoute(
        start=(float(slon), float(slat)),
        start_kind=start_kind,
        stops=stops,
        legs=tuple(legs),
        leg_lengths_m=tuple(leg_len),
        leg_on_road=tuple(leg_road),
        length_m=length,
        walking_speed_kmh=float(walking_speed_kmh),
        walking_time_s=length / (walking_speed_kmh * 1000.0 / 3600.0),
        follows_roads=bool(any(leg_road)),
        closed=closed,
        notes=tuple(notes),
    )


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
    in the leader's ``place_packages`` plus every key place lying in the territory.
    """
    pieces, places, _ = leader_frames_from_store(store, leader_id)
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
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.replace("；", ";").split(";") if x.strip()]
    if isinstance(v, Sequence | np.ndarray):
        return [str(x) for x in v]
    return [str(v)]
