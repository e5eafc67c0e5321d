"""Interactive maps (HTML pages from :mod:`gridmgr.maps`, bundled Leaflet; the default ``vector``
basemap draws the store's roads, rivers and units offline, ``local`` shows ``/api/tiles``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, StoreDep, User, Viewer
from api.routers._common import problems

router = APIRouter(tags=["maps"])

HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "a self-contained map page"}
}
BASEMAP_PATTERN = "^(vector|local|tianditu|tianditu-img|osm|amap|none)$"
Basemap = Query(None, pattern=BASEMAP_PATTERN, description="basemap (default GRIDMGR_BASEMAP)")


def require_own_ground(user: Viewer, leader_id: str = Path(max_length=64)) -> User:
    """A leader's detailed ground (map, exports) is for that leader, planners and admins only.

    Everyone else sees territories as aggregates (overview, coverage, briefing): least privilege.
    A dependency, so the refusal (403) comes before any check of the other parameters.
    """
    from gridmgr.errors import PermissionDeniedError
    from gridmgr.i18n import t

    if user.at_least("planner") or (user.role == "leader" and user.leader_id == leader_id):
        return user
    raise PermissionDeniedError(
        t(
            f"只有领导本人、规划员和管理员可以查看领导 {leader_id!r} 的责任区详图与导出；"
            "其他人请看总览图和覆盖检查",
            f"only the leader, planners and admins may open leader {leader_id!r}'s detailed "
            "map and exports; others see the overview and the coverage report",
        )
    )


OwnGround = Annotated[User, Depends(require_own_ground)]


@router.get(
    "/maps/overview",
    response_class=HTMLResponse,
    responses={**HTML, **problems(401, 403, 404, 422)},
)
def overview_map(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    scope: str | None = Query(None, max_length=32),
    basemap: str | None = Basemap,
) -> HTMLResponse:
    """Every territory in its own colour with the coverage gaps highlighted."""
    from gridmgr.maps import map_html, overview_map_from_store
    from gridmgr.maps.vector_base import store_base

    with store_base(store):
        m = overview_map_from_store(store, scope=scope, basemap=basemap or settings.basemap)
    return HTMLResponse(map_html(m))


@router.get(
    "/maps/leaders/{leader_id}",
    response_class=HTMLResponse,
    responses={**HTML, **problems(400, 401, 403, 404, 422)},
)
def leader_map(
    store: StoreDep,
    settings: SettingsDep,
    user: OwnGround,
    leader_id: str = Path(max_length=64),
    basemap: str | None = Basemap,
) -> HTMLResponse:
    """A leader's patrol map: territory, key places, route with numbered stops (the leader,
    planners and admins only)."""
    from gridmgr.maps import leader_map_from_store, map_html
    from gridmgr.maps.vector_base import store_base

    store.get_leader(leader_id)  # 404 for an unknown leader
    with store_base(store):
        m = leader_map_from_store(store, leader_id, basemap=basemap or settings.basemap)
    return HTMLResponse(map_html(m))


@router.get(
    "/maps/plans/{plan_id}",
    response_class=HTMLResponse,
    responses={**HTML, **problems(401, 403, 404, 422)},
)
def plan_map(
    store: StoreDep,
    settings: SettingsDep,
    user: Viewer,
    plan_id: str = Path(max_length=64),
    basemap: str | None = Basemap,
) -> HTMLResponse:
    """A plan's diff map: territories after the plan, moved pieces highlighted."""
    from gridmgr.maps import map_html, plan_map_from_store
    from gridmgr.maps.vector_base import store_base

    with store_base(store):
        m = plan_map_from_store(store, plan_id, basemap=basemap or settings.basemap)
    return HTMLResponse(map_html(m))
