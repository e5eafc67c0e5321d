"""Patrols: planned routes over a leader's ground.

Modules: :mod:`~gridmgr.patrol.route` (stops, road graph, :func:`patrol_route`),
:mod:`~gridmgr.patrol.tour` (tour heuristics).
"""

from __future__ import annotations

from gridmgr.patrol.route import (
    NON_WALKABLE,
    WALKING_SPEED_KMH,
    PatrolRoute,
    PatrolStop,
    RoadGraph,
    leader_frames_from_store,
    local_metric_crs,
    nearest_neighbour_tour,
    patrol_route,
    patrol_route_from_store,
    road_graph,
    solve_tour,
    tour_length,
)

__all__ = [
    "NON_WALKABLE",
    "PatrolRoute",
    "PatrolStop",
    "RoadGraph",
    "WALKING_SPEED_KMH",
    "leader_frames_from_store",
    "local_metric_crs",
    "nearest_neighbour_tour",
    "patrol_route",
    "patrol_route_from_store",
    "road_graph",
    "solve_tour",
    "tour_length",
]
