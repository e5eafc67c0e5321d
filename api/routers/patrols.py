"""Recorded patrols (巡查记录): the leader's phone starts a patrol, sends fixes in batches,
checks in at key places and finishes; everyone reads patrols and temporal coverage.

Rules (docs/api.md): a leader writes only their own patrols (another leader's patrol answers 404,
as one that does not exist); planners and admins write any; viewers read. Every write is
idempotent on a client id (patrol, batch, check-in), so a phone may resend after a dropped
connection; a batch that arrives after the patrol was finished still lands in it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Leader, StoreDep, User, Viewer
from api.routers._common import READ, WRITE, problems
from api.schemas.patrols import (
    BatchStored,
    CheckIn,
    CheckInStored,
    PatrolFinish,
    PatrolRow,
    PatrolStart,
    PatrolStarted,
    PatrolSummaryOut,
    PointBatch,
    TemporalCoverageOut,
)

router = APIRouter(tags=["patrols"])

PatrolId = Annotated[int, Path(ge=1, le=2**31 - 1, description="patrol id")]


def _owner(user: User) -> str | None:
    """The leader whose patrols ``user`` may write (None: planners and admins write any)."""
    if user.at_least("planner"):
        return None
    if user.leader_id is None:
        raise HTTPException(403, "this account is not linked to a leader")
    return user.leader_id


@router.get(
    "/patrols/coverage", response_model=TemporalCoverageOut, responses=problems(401, 403, 404, 422)
)
def patrol_coverage(
    store: StoreDep,
    user: Viewer,
    scope: str | None = Query(None, min_length=1, max_length=32, description="unit code"),
    days: int = Query(14, ge=1, le=366, description="last N Beijing days"),
    as_of: str | None = Query(None, max_length=40, description="ISO time (default now)"),
) -> dict[str, Any]:
    """Temporal coverage: pieces visited in the window, stale and never-visited pieces, per
    leader the share of their ground seen, key places overdue (times in UTC and Beijing time)."""
    from gridmgr.patrol.temporal import parse_as_of, temporal_coverage

    return temporal_coverage(store, scope=scope, days=days, as_of=parse_as_of(as_of)).to_dict()


@router.get("/patrols", response_model=list[PatrolRow], responses=READ)
def list_patrols(
    store: StoreDep,
    user: Viewer,
    leader_id: str | None = Query(None, min_length=1, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Patrols, newest first."""
    from gridmgr.patrol.temporal import beijing
    from gridmgr.store import patrols as repo

    store.require_schema()
    with store.engine.connect() as conn:
        df = repo.list_patrols(conn, leader_id=leader_id, limit=limit)
    return [
        {
            "id": int(r["id"]),
            "leader_id": r["leader_id"],
            "leader_name": r["leader_name"],
            "source": r["source"],
            "name": r["name"],
            "sample": bool(r["sample"]),
            "started_at": r["started_at"].to_pydatetime(),
            "ended_at": None
            if r["ended_at"] is None or r["ended_at"] != r["ended_at"]
            else r["ended_at"].to_pydatetime(),
            "started_beijing": beijing(r["started_at"]),
            "points": int(r["n_points"]),
            "marked": int(r["n_marked"]),
            "distance_m": round(float(r["distance_m"]), 1),
        }
        for r in df.to_dict("records")
    ]


@router.post("/patrols", status_code=201, response_model=PatrolStarted, responses=WRITE)
def start_patrol(body: PatrolStart, store: StoreDep, user: Leader) -> dict[str, Any]:
    """Start a patrol (a resent start with the same ``client_id`` returns the same patrol)."""
    from gridmgr.errors import InputError
    from gridmgr.patrol.live import start_patrol as start

    owner = _owner(user)
    leader_id = body.leader_id or owner
    if leader_id is None:
        raise InputError("leader_id is required (planners and admins name the leader)")
    pid, created = start(
        store, leader_id, client_id=body.client_id, started_at=body.started_at, owner=owner
    )
    return {"patrol_id": pid, "created": created}


@router.post("/patrols/{patrol_id}/points", response_model=BatchStored, responses=WRITE)
def add_points(
    patrol_id: PatrolId, body: PointBatch, store: StoreDep, user: Leader
) -> dict[str, Any]:
    """Add a batch of fixes; a resent batch (same ``batch_id``) is stored once
    (``stored: false``); a late one (patrol already finished) recomputes the visits."""
    from gridmgr.patrol.live import add_batch

    fixes = [p.model_dump() for p in body.points]
    return add_batch(store, patrol_id, body.batch_id, fixes, owner=_owner(user))


@router.post("/patrols/{patrol_id}/finish", response_model=PatrolSummaryOut, responses=WRITE)
def finish_patrol(
    patrol_id: PatrolId, body: PatrolFinish, store: StoreDep, user: Leader
) -> dict[str, Any]:
    """Finish a patrol: clean its fixes, compute its path and the pieces and key places visited."""
    from gridmgr.patrol.live import finish_patrol as finish

    summary = finish(store, patrol_id, ended_at=body.ended_at, owner=_owner(user))
    out = summary.to_dict()
    out.pop("created", None)
    out.pop("warnings", None)
    return out


@router.post(
    "/patrols/{patrol_id}/checkins",
    status_code=201,
    response_model=CheckInStored,
    responses={**WRITE, **problems(413)},
)
def add_checkin(
    patrol_id: PatrolId, body: CheckIn, store: StoreDep, user: Leader
) -> dict[str, Any]:
    """Check in (签到) at a key place with position and an optional photo (base64)."""
    from gridmgr.errors import InputError
    from gridmgr.patrol.live import check_in

    photo = None
    if body.photo_base64:
        try:
            photo = base64.b64decode(body.photo_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("photo_base64 is not valid base64") from exc
    return check_in(
        store,
        patrol_id,
        lon=body.lon,
        lat=body.lat,
        at=body.at,
        key_place_code=body.key_place_code,
        accuracy=body.accuracy,
        note=body.note,
        photo=photo,
        photo_type=body.photo_type or ("image/jpeg" if photo else None),
        client_id=body.client_id,
        owner=_owner(user),
    )
