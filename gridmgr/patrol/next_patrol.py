"""The next patrol (下一次巡查): a route that sweeps a leader's stale ground first.

The stale pieces of the leader's territory (not visited in the last ``days`` Beijing days; the
never-visited and the longest-unseen first, at most ``max_pieces``) and their overdue key places,
ordered into one walk by the existing route engine (:func:`gridmgr.patrol.route.patrol_route`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gridmgr.patrol.route import leader_frames_from_store, patrol_route
from gridmgr.patrol.stops import PatrolRoute
from gridmgr.patrol.temporal import DEFAULT_DAYS, TemporalCoverage, temporal_coverage


@dataclass
class NextPatrol:
    """A leader's stale pieces and overdue key places, and the route over them (``None``
    when nothing is stale)."""

    leader: dict[str, Any]
    coverage: TemporalCoverage
    stale: pd.DataFrame
    overdue: pd.DataFrame
    route: PatrolRoute | None


def next_patrol(
    store: Any,
    leader_id: str,
    *,
    days: int = DEFAULT_DAYS,
    as_of: dt.datetime | None = None,
    roads: Any = None,
    max_pieces: int = 60,
) -> NextPatrol:
    """The next patrol of ``leader_id`` (see the module docstring)."""
    pieces, places, leader = leader_frames_from_store(store, leader_id)
    cov = temporal_coverage(store, days=days, as_of=as_of)
    state = cov.pieces.set_index("id")
    mine = state.loc[state.index.intersection(pieces["id"])]
    stale = mine[mine["state"] != "visited"].copy()
    stale["_order"] = stale["days_since"].fillna(1e9)
    stale = stale.sort_values(["_order", "cell"], ascending=[False, True]).head(max_pieces)
    over = cov.places[cov.places["overdue"] & cov.places["code"].isin(places["code"])]
    route = None
    if len(stale) or len(over):
        sel_p = pieces[pieces["id"].isin(stale.index)]
        sel_k = places[places["code"].isin(over["code"])]
        route = patrol_route(sel_p, sel_k if len(sel_k) else None, roads=roads, time_limit_s=0.2)
    return NextPatrol(dict(leader), cov, stale.drop(columns="_order").reset_index(), over, route)


__all__ = ["NextPatrol", "next_patrol"]
