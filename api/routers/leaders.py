"""Leaders (包保领导 / 网格长). Phone numbers only for planners and admins (a leader sees their own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import StoreDep, User, Viewer
from api.geojson import clean_records
from api.routers._common import READ, problems
from api.schemas import Leader

router = APIRouter(tags=["leaders"])

COLUMNS = [
    "id",
    "name",
    "role",
    "department",
    "capacity",
    "active",
    "unit_packages",
    "place_packages",
]


def _rows(store: Any, user: User) -> list[dict[str, Any]]:
    frame = store.leaders(include_phone=True)
    rows = clean_records(frame, [*COLUMNS, "phone"])
    for r in rows:
        if not (user.sees_phones or (user.leader_id is not None and r["id"] == user.leader_id)):
            r["phone"] = None
        r["department"] = r["department"] or None
    return rows


@router.get("/leaders", response_model=list[Leader], responses=READ)
def list_leaders(
    store: StoreDep,
    user: Viewer,
    unit: str | None = Query(None, max_length=32, description="leaders packaging this unit"),
    active: bool | None = None,
) -> list[dict[str, Any]]:
    """Leaders with their packages (units 块 and key places 点)."""
    rows = _rows(store, user)
    if unit is not None:
        rows = [r for r in rows if unit in r["unit_packages"]]
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    return rows


@router.get("/leaders/{leader_id}", response_model=Leader, responses=problems(401, 403, 404, 422))
def get_leader(leader_id: str, store: StoreDep, user: Viewer) -> dict[str, Any]:
    """One leader."""
    from gridmgr.errors import LeaderNotFoundError

    for r in _rows(store, user):
        if r["id"] == leader_id:
            return r
    raise LeaderNotFoundError(
        f"leader {leader_id!r} is not in the store; list them at /api/leaders"
    )
