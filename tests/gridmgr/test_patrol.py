"""Patrol routes: every stop once, lengths, tour quality, road-following legs."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmgr.errors import InputError
from gridmgr.patrol import (
    local_metric_crs,
    nearest_neighbour_tour,
    patrol_route,
    solve_tour,
    tour_length,
)
from gridmgr.settings import DEFAULT_LAYERS

GEOD = pyproj.Geod(ellps="WGS84")


@lru_cache(maxsize=1)
def _community() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Pieces (res 10) of one shipped community, the key places inside it, the shipped roads."""
    from gridmgr.grid import pieces_from_units
    from gridmgr.io import read_layers

    layers = read_layers(DEFAULT_LAYERS)
    pieces = pieces_from_units(layers.units, res=10)
    mine = pieces.loc[pieces["unit_code"] == "220173001003"].reset_index(drop=True)
    terr = shapely.union_all(np.asarray(mine.geometry.values))
    kp = layers.key_places.loc[layers.key_places.geometry.intersects(terr)].reset_index(drop=True)
    assert layers.roads is not None
    return mine, kp, layers.roads


def _dist(pts: np.ndarray) -> np.ndarray:
    return np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))


def _squares(
    n: int, x0: float = 125.25, y0: float = 43.80, size: float = 0.002
) -> gpd.GeoDataFrame:
    cells = [shapely.box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size) for i in range(n)]
    return gpd.GeoDataFrame({"cell": [f"c{i}" for i in range(n)]}, geometry=cells, crs=4326)


# --------------------------------------------------------------------------------------------
# tour engine
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=10_000),
    start=st.integers(min_value=0, max_value=59),
    closed=st.booleans(),
)
def test_tour_is_a_permutation_starting_at_start(
    n: int, seed: int, start: int, closed: bool
) -> None:
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 1000
    pts[rng.random(n) < 0.2] = pts[0]  # duplicated positions must not break anything
    start = start % n
    tour = solve_tour(_dist(pts), start=start, closed=closed, time_limit_s=0.01, seed=seed)
    assert sorted(tour.tolist()) == list(range(n))
    assert tour[0] == start


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=4, max_value=120), seed=st.integers(min_value=0, max_value=10_000))
def test_two_opt_never_worse_than_nearest_neighbour(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = _dist(rng.random((n, 2)) * 5000)
    nn = tour_length(d, nearest_neighbour_tour(d))
    local = tour_length(d, solve_tour(d, time_limit_s=0.0))
    ils = tour_length(d, solve_tour(d, time_limit_s=0.02, seed=seed))
    assert local <= nn + 1e-6
    assert ils <= local + 1e-6


def test_local_search_finds_the_optimum_on_a_circle() -> None:
    # points on a circle, shuffled: the optimal tour is the polygon; NN + 2-opt must find it
    rng = np.random.default_rng(3)
    ang = rng.permutation(np.linspace(0, 2 * np.pi, 40, endpoint=False))
    pts = np.column_stack([np.cos(ang), np.sin(ang)]) * 1000
    d = _dist(pts)
    best = tour_length(d, np.argsort(ang))
    assert tour_length(d, solve_tour(d, time_limit_s=0.0)) == pytest.approx(best, rel=1e-9)


def test_open_path_ends_anywhere_and_is_shorter_than_the_loop() -> None:
    pts = np.column_stack([np.arange(10) * 100.0, np.zeros(10)])
    d = _dist(pts)
    path = solve_tour(d, start=0, closed=False, time_limit_s=0.0)
    assert path.tolist() == list(range(10))
    assert tour_length(d, path, closed=False) == pytest.approx(900.0)
    # from the middle: first to the nearer end, then across to the other (4 + 9 hops)
    path = solve_tour(d, start=5, closed=False, time_limit_s=0.05)
    assert path[0] == 5 and sorted(path.tolist()) == list(range(10))
    assert tour_length(d, path, closed=False) == pytest.approx(1300.0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=3, max_value=40), seed=st.integers(0, 1000))
def test_open_path_is_never_longer_than_the_loop_minus_its_last_edge(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = _dist(rng.random((n, 2)) * 1000)
    start = int(rng.integers(0, n))
    loop = solve_tour(d, start=start, time_limit_s=0.0)
    path = solve_tour(d, start=start, closed=False, time_limit_s=0.0)
    assert path[0] == start and sorted(path.tolist()) == list(range(n))
    # cutting the loop's longer edge at the start gives a valid path: the search must not be worse
    # than the nearest-neighbour path either
    nn = nearest_neighbour_tour(d, start)
    assert tour_length(d, path, closed=False) <= tour_length(d, nn, closed=False) + 1e-6
    assert tour_length(d, path, closed=False) <= tour_length(d, loop, closed=True) + 1e-6


# --------------------------------------------------------------------------------------------
# patrol_route
# --------------------------------------------------------------------------------------------


def test_route_visits_every_key_place_and_piece_exactly_once() -> None:
    pieces, kp, _ = _community()
    assert len(kp) >= 1 and len(pieces) > 100
    route = patrol_route(pieces, kp, time_limit_s=0.05)
    got = Counter((s.kind, s.id) for s in route.stops)
    want = Counter([("key_place", c) for c in kp["code"]] + [("piece", c) for c in pieces["cell"]])
    assert got == want
    assert [s.order for s in route.stops] == list(range(1, len(want) + 1))
    assert len(route.legs) == len(route.stops) + 1  # closed: back to the start


def test_length_is_the_sum_of_the_legs_and_matches_geodesic_lengths() -> None:
    pieces, kp, _ = _community()
    route = patrol_route(pieces, kp, time_limit_s=0.02)
    assert route.length_m == pytest.approx(sum(route.leg_lengths_m), rel=1e-12)
    geodesic = [GEOD.geometry_length(g) for g in route.legs]
    np.testing.assert_allclose(route.leg_lengths_m, geodesic, rtol=2e-4, atol=0.05)
    assert route.walking_time_s == pytest.approx(route.length_m / (4.5 / 3.6))
    assert route.line().length > 0


def test_legs_are_continuous_from_start_back_to_start() -> None:
    pieces, kp, _ = _community()
    route = patrol_route(pieces, kp, time_limit_s=0.0)
    legs = route.legs
    assert legs[0].coords[0] == pytest.approx(route.start)
    assert legs[-1].coords[-1] == pytest.approx(route.start)
    for a, b, stop in zip(legs[:-1], legs[1:], route.stops, strict=True):
        assert a.coords[-1] == pytest.approx(b.coords[0])
        assert a.coords[-1] == pytest.approx((stop.lon, stop.lat))


def test_stops_lie_in_their_pieces() -> None:
    pieces, kp, _ = _community()
    route = patrol_route(pieces, kp, time_limit_s=0.0)
    by_cell = dict(zip(pieces["cell"], pieces.geometry, strict=True))
    for s in route.stops:
        if s.kind == "piece":
            assert by_cell[s.id].intersects(shapely.Point(s.lon, s.lat))


def test_straight_legs_without_roads_are_flagged() -> None:
    route = patrol_route(_squares(5), start=(125.25, 43.80), time_limit_s=0.0)
    assert route.follows_roads is False
    assert not any(route.leg_on_road)
    assert all(len(g.coords) == 2 for g in route.legs)
    assert [s.id for s in route.stops] == ["c0", "c1", "c2", "c3", "c4"]


def _road_grid(x0: float, y0: float, n: int, step: float) -> gpd.GeoDataFrame:
    lines = [
        shapely.LineString([(x0 + i * step, y0), (x0 + i * step, y0 + n * step)])
        for i in range(n + 1)
    ]
    lines += [
        shapely.LineString([(x0, y0 + j * step), (x0 + n * step, y0 + j * step)])
        for j in range(n + 1)
    ]
    return gpd.GeoDataFrame({"layer": ["residential"] * len(lines)}, geometry=lines, crs=4326)


def test_road_legs_lie_on_the_road_network() -> None:
    # stops far apart on a 4x4 road grid (~400 m blocks): every leg goes along the roads
    x0, y0, step = 125.25, 43.80, 0.005
    roads = _road_grid(x0, y0, 4, step)
    rng = np.random.default_rng(0)
    pts = rng.random((8, 2)) * 4 * step + [x0, y0]
    pieces = gpd.GeoDataFrame(
        {"cell": [f"p{i}" for i in range(8)]},
        geometry=shapely.buffer(shapely.points(pts), 0.0002),
        crs=4326,
    )
    route = patrol_route(pieces, roads=roads, start=(x0, y0), time_limit_s=0.0)
    assert route.follows_roads
    assert sum(route.leg_on_road) >= len(route.legs) // 2
    crs = local_metric_crs(x0 + 2 * step, y0 + 2 * step)
    fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    net = shapely.union_all(np.asarray(roads.to_crs(crs).geometry.values))
    for leg, on_road in zip(route.legs, route.leg_on_road, strict=True):
        if not on_road:
            continue
        xy = np.column_stack(fwd.transform(*np.asarray(leg.coords).T))
        inner = shapely.points(xy[1:-1])  # without the two stops themselves (connectors)
        assert float(np.max(shapely.distance(net, inner))) < 0.5
        # every segment between road vertices runs along the road
        mids = shapely.points((xy[1:-2] + xy[2:-1]) / 2) if len(xy) > 3 else []
        if len(mids):
            assert float(np.max(shapely.distance(net, mids))) < 0.5


def test_road_route_is_longer_than_straight_but_not_absurd() -> None:
    x0, y0, step = 125.25, 43.80, 0.005
    roads = _road_grid(x0, y0, 4, step)
    pts = np.array([[x0 + 0.5 * step, y0 + 0.0001], [x0 + 3.5 * step, y0 + 3 * step + 0.0001]])
    pieces = gpd.GeoDataFrame(
        {"cell": ["a", "b"]}, geometry=shapely.buffer(shapely.points(pts), 0.0001), crs=4326
    )
    straight = patrol_route(pieces, start=(x0, y0), time_limit_s=0.0)
    on_roads = patrol_route(pieces, roads=roads, start=(x0, y0), time_limit_s=0.0)
    assert on_roads.follows_roads
    assert straight.length_m < on_roads.length_m < straight.length_m * 1.5


def test_roads_snap_near_miss_endpoints() -> None:
    # two road halves whose ends miss each other by ~0.3 m still connect
    x0, y0 = 125.25, 43.80
    gap = 0.3 / 80_000
    roads = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(x0, y0), (x0 + 0.01, y0)]),
            shapely.LineString([(x0 + 0.01 + gap, y0), (x0 + 0.02, y0)]),
        ],
        crs=4326,
    )
    pieces = gpd.GeoDataFrame(
        {"cell": ["far"]},
        geometry=[shapely.Point(x0 + 0.019, y0 + 0.00005).buffer(0.00002)],
        crs=4326,
    )
    route = patrol_route(
        pieces, roads=roads, start=(x0 + 0.0001, y0 + 0.00005), closed=False, time_limit_s=0.0
    )
    assert route.leg_on_road == (True,)
    along = GEOD.line_length([x0 + 0.0001, x0 + 0.019], [y0, y0])
    # + two ~5.6 m connectors, + at most one vertex spacing (15 m) of overshoot at each end
    assert along + 11 <= route.length_m <= along + 11 + 30


def test_non_walkable_lines_are_ignored() -> None:
    x0, y0 = 125.25, 43.80
    rail = gpd.GeoDataFrame(
        {"layer": ["railway"]},
        geometry=[shapely.LineString([(x0 - 0.01, y0), (x0 + 0.03, y0)])],
        crs=4326,
    )
    route = patrol_route(_squares(3), roads=rail, start=(x0, y0), time_limit_s=0.0)
    assert route.follows_roads is False
    assert route.notes  # the route says why the legs are straight


def test_shipped_roads_are_followed_where_they_help() -> None:
    pieces, kp, roads = _community()
    route = patrol_route(pieces, kp, roads=roads, time_limit_s=0.0)
    straight = patrol_route(pieces, kp, time_limit_s=0.0)
    assert route.follows_roads and 0 < sum(route.leg_on_road) < len(route.legs)
    assert route.length_m >= straight.length_m * 0.95


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        ((125.251, 43.801), "given"),
        ("125.251,43.801", "given"),
        ("125.251，43.801", "given"),
        (shapely.Point(125.251, 43.801), "given"),
        (None, "territory"),
    ],
)
def test_start_forms(start: Any, kind: str) -> None:
    route = patrol_route(_squares(4), start=start, time_limit_s=0.0)
    assert route.start_kind == kind
    if kind == "given":
        assert route.start == pytest.approx((125.251, 43.801))
    else:
        terr = shapely.union_all(np.asarray(_squares(4).geometry.values))
        assert terr.intersects(shapely.Point(route.start))


def test_start_at_a_key_place_code() -> None:
    kp = gpd.GeoDataFrame(
        {"code": ["KP1"], "name": ["学校"]}, geometry=[shapely.Point(125.257, 43.801)], crs=4326
    )
    route = patrol_route(_squares(4), kp, start="KP1", time_limit_s=0.0)
    assert route.start_kind == "key_place"
    assert route.start == pytest.approx((125.257, 43.801))
    assert route.stops[0].id == "KP1" and route.leg_lengths_m[0] == pytest.approx(0.0)


@pytest.mark.parametrize("start", ["nowhere", (43.8, 195.0), "1,2,3"])
def test_bad_start_is_refused(start: Any) -> None:
    with pytest.raises(InputError, match="start|起点"):
        patrol_route(_squares(2), start=start)


def test_nothing_to_patrol_is_refused() -> None:
    with pytest.raises(InputError):
        patrol_route(_squares(0))
    with pytest.raises(InputError):
        patrol_route(_squares(2), walking_speed_kmh=0)


def test_frames_round_trip() -> None:
    route = patrol_route(_squares(4), start=(125.25, 43.80), time_limit_s=0.0)
    stops = route.stops_frame()
    legs = route.legs_frame()
    assert stops["order"].tolist() == [1, 2, 3, 4]
    assert legs["length_m"].sum() == pytest.approx(route.length_m)
    assert stops.crs.to_epsg() == 4326 and legs.crs.to_epsg() == 4326


def test_patrol_route_from_store(loaded_store: Any) -> None:
    from gridmgr.errors import LeaderNotFoundError
    from gridmgr.patrol import patrol_route_from_store
    from gridmgr.store import Change

    pieces = loaded_store.pieces(geometry=False)
    mine = pieces.loc[pieces["unit_code"] == "220173001001", "id"]
    loaded_store.apply_changes([Change(int(i), "G01_1") for i in mine], actor="test", reason="t")
    route = patrol_route_from_store(loaded_store, "G01_1")
    kinds = Counter(s.kind for s in route.stops)
    assert kinds["piece"] == len(mine)
    # the school and the market lie in community 1; the school of community 2 does not
    assert {s.id for s in route.stops if s.kind == "key_place"} == {"KP001", "KP900"}
    # a package leader with no pieces still gets the key places packaged to them
    route_p = patrol_route_from_store(loaded_store, "P02")
    assert [s.id for s in route_p.stops] == ["KP002"]
    with pytest.raises(LeaderNotFoundError):
        patrol_route_from_store(loaded_store, "NOPE")


def test_kick_budget_is_deterministic_and_helps() -> None:
    import math

    rng = np.random.default_rng(7)
    d = _dist(rng.random((150, 2)) * 4000)
    a = solve_tour(d, time_limit_s=math.inf, max_kicks=60, seed=3)
    b = solve_tour(d, time_limit_s=math.inf, max_kicks=60, seed=3)
    assert a.tolist() == b.tolist()
    local = tour_length(d, solve_tour(d, time_limit_s=0.0))
    assert tour_length(d, a) < local  # 60 kicks improve on the first local optimum here


@pytest.mark.parametrize("start", [(125.25, 23.80), "87.6,43.8"])
def test_start_far_from_the_territory_is_refused(start: Any) -> None:
    # plausible WGS-84 positions, but hundreds of km away: a typo, not a patrol start
    with pytest.raises(InputError, match="km|公里"):
        patrol_route(_squares(2), start=start)
    near = patrol_route(_squares(2), start=(125.30, 43.85), time_limit_s=0.0)  # ~6 km away: fine
    assert near.start == pytest.approx((125.30, 43.85))
