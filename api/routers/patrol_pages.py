"""The leader's patrol page (``/patrol``): start and stop a patrol with the phone's geolocation
sent in batches, check in at a key place, and the stale ground with the next patrol's route.

A leader always sees their own; planners and admins pick a leader with ``?leader=ID`` (they
read, the buttons start patrols for that leader); viewers are refused (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import StoreDep, User
from api.pages import render
from api.pages import role_needed as t_role_needed
from api.routers.web import PageUser

router = APIRouter(include_in_schema=False)


async def page_patroller(user: PageUser) -> User:
    """Leaders, planners and admins (403 for viewers)."""
    if not user.at_least("leader"):
        raise HTTPException(
            403,
            t_role_needed("leader", user.role),
        )
    return user


PagePatroller = Annotated[User, Depends(page_patroller)]


def _next(store: Any, lid: str, days: int) -> dict[str, Any]:
    from gridmgr.patrol.next_patrol import next_patrol
    from gridmgr.patrol.temporal import beijing

    n = next_patrol(store, lid, days=days)
    mine = n.coverage.leaders
    row = mine.loc[mine["id"] == lid]
    stops = []
    if n.route is not None:
        for s in n.route.stops:
            stops.append({"kind": s.kind, "name": s.name or f"#{s.id}"})
    cats = store.categories().set_index("category")["name"].to_dict()
    return {
        "stale": len(n.stale),
        "never": int((n.stale["state"] == "never").sum()) if len(n.stale) else 0,
        "seen_pct": round(100 * float(row["seen_share"].iloc[0]), 1) if len(row) else 0.0,
        "last_patrol": beijing(row["last_patrol_at"].iloc[0]) if len(row) else None,
        "overdue": [
            {
                "name": r.name,
                "category": cats.get(r.category, r.category),
                "last": beijing(r.last_seen),
            }
            for r in n.overdue.itertuples()
        ],
        "route_km": None if n.route is None else round(n.route.length_m / 1000, 2),
        "route_min": None if n.route is None else round(n.route.walking_time_min),
        "stops": stops,
    }


@router.get("/patrol", response_class=HTMLResponse)
def patrol_page(
    request: Request,
    store: StoreDep,
    user: PagePatroller,
    leader: str | None = Query(None, max_length=64),
    days: int = Query(14, ge=1, le=366),
) -> Response:
    """巡查：start/stop, check-in, my stale ground and the next patrol."""
    leaders = store.leaders(active=True)
    lid = user.leader_id if user.role == "leader" else (leader or None)
    if lid is not None and lid not in set(leaders["id"]):
        lid = None
    info = None if lid is None else leaders.loc[leaders["id"] == lid].iloc[0].to_dict()
    ctx: dict[str, Any] = {"days": days}
    if lid is not None:
        from gridmgr.patrol.route import leader_frames_from_store

        ctx["plan"] = _next(store, lid, days)
        _, places, _ = leader_frames_from_store(store, lid)
        ctx["places"] = places[["code", "name"]].to_dict("records")
    return render(
        request,
        "patrol.html",
        user,
        leader=info,
        choices=leaders[["id", "name"]].to_dict("records"),
        **ctx,
    )
