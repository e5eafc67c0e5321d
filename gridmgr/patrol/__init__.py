"""Patrols: planned routes over a leader's ground.

Modules: :mod:`~gridmgr.patrol.stops` (route records, metric projection, stop and start
points), :mod:`~gridmgr.patrol.roads` (walking graph of a road layer, shortest paths),
:mod:`~gridmgr.patrol.route` (:func:`patrol_route` and the store readers; re-exports the others),
:mod:`~gridmgr.patrol.tour` (tour heuristics).
"""

from __future__ import annotations

from gridmgr.patrol.roads import NON_WALKABLE, RoadGraph, road_graph
from gridmgr.patrol.route import leader_frames_from_store, patrol_route, patrol_route_from_store
from gridmgr.patrol.stops import WALKING_SPEED_KMH, PatrolRoute, PatrolStop, local_metric_crs
from gridmgr.patrol.tour import nearest_neighbour_tour, solve_tour, tour_length

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
