"""Plans: several assignment changes applied together — hand-made or proposed by rebalancing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response

from api import plans as workflow
from api.deps import IndexDep, Planner, StoreDep, Viewer
from api.geojson import clean_records, feature_collection
from api.locate import piece_properties
from api.routers._common import GEOJSON, READ, json_response, problems
from api.schemas import (
    ChangeOut,
    FeatureCollection,
    Plan,
    PlanActionIn,
    PlanIn,
    PlanSummary,
    RebalanceIn,
)

router = APIRouter(tags=["plans"])

PlanId = Path(min_length=1, max_length=64, description="plan id (32 hex digits)")

#: OpenAPI links from a created plan to what can be done with it (stateful testing uses them).
PLAN_LINKS: dict[str, Any] = {
    "GetPlan": {"operationId": "get_plan", "parameters": {"plan_id": "$response.body#/id"}},
    "ApplyPlan": {"operationId": "apply_plan", "parameters": {"plan_id": "$response.body#/id"}},
    "DiscardPlan": {"operationId": "discard_plan", "parameters": {"plan_id": "$response.body#/id"}},
    "PlanDiff": {"operationId": "plan_diff", "parameters": {"plan_id": "$response.body#/id"}},
}
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "the stored plan", "links": PLAN_LINKS}
}


def _iso(v: Any) -> str | None:
    return None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))


def _plan(store: Any, plan_id: str, *, moves: bool = True) -> dict[str, Any]:
    p = store.get_plan(plan_id)
    out = {
        "id": p["id"],
        "scope": p["scope"],
        "status": p["status"],
        "actor": p["actor"],
        "created_at": _iso(p["created_at"]),
        "updated_at": _iso(p["updated_at"]),
        "changeset_id": p["changeset_id"],
        "metrics": p["metrics"],
    }
    if moves:
        out["params"] = p["params"]
        out["moves"] = p["moves"] or []
    return out


@router.get("/plans", response_model=list[PlanSummary], responses=READ)
def list_plans(
    store: StoreDep,
    user: Viewer,
    status: str | None = Query(None, pattern="^(proposed|applied|discarded|undone)$"),
) -> list[dict[str, Any]]:
    """Plans, newest first (without their moves)."""
    frame = store.list_plans(status=status)
    rows = clean_records(frame, list(frame.columns))
    for r in rows:
        r["created_at"], r["updated_at"] = _iso(r["created_at"]), _iso(r["updated_at"])
    return rows


@router.post(
    "/plans",
    status_code=201,
    response_model=Plan,
    responses={**problems(400, 401, 403, 404, 409, 422), **CREATED},
    operation_id="create_plan",
)
def create_plan(body: PlanIn, store: StoreDep, user: Planner) -> Response:
    """Store a hand-made plan moving several cells together; apply it with
    ``POST /api/plans/{id}/apply`` (atomic; 409 naming the pieces that changed meanwhile)."""
    pid = workflow.manual_plan(
        store,
        scope=body.scope,
        reason=body.reason,
        moves=[(m.cell, m.to_leader) for m in body.moves],
        actor=user.name,
    )
    return json_response(_plan(store, pid), status=201)


@router.post(
    "/plans/rebalance",
    status_code=201,
    response_model=Plan,
    responses={**problems(400, 401, 403, 404, 409, 422), **CREATED},
    operation_id="propose_rebalance",
)
def propose_rebalance(body: RebalanceIn, store: StoreDep, user: Planner) -> Response:
    """Propose a minimal-move rebalance of ``scope`` (stored, not applied): moves, metrics
    before/after and the leaders still outside the target band."""
    pid = workflow.propose(store, body.model_dump(exclude_none=True), actor=user.name)
    return json_response(_plan(store, pid), status=201)


@router.get(
    "/plans/{plan_id}",
    response_model=Plan,
    responses=problems(401, 403, 404, 422),
    operation_id="get_plan",
)
def get_plan(store: StoreDep, user: Viewer, plan_id: str = PlanId) -> dict[str, Any]:
    """One plan with its moves and metrics."""
    return _plan(store, plan_id)


@router.get(
    "/plans/{plan_id}/diff",
    response_model=FeatureCollection,
    responses={**problems(401, 403, 404, 422), 200: {"content": {GEOJSON: {}}}},
    operation_id="plan_diff",
)
def plan_diff(store: StoreDep, index: IndexDep, user: Viewer, plan_id: str = PlanId) -> Response:
    """The pieces a plan moves, as GeoJSON (``from_leader``, ``to_leader`` per feature)."""
    fn = getattr(__import__("gridmgr.rebalance", fromlist=["x"]), "plan_diff_geojson", None)
    plan = store.get_plan(plan_id)
    if fn is not None:
        out = fn(store, plan_id)
        return Response(
            out if isinstance(out, (str, bytes)) else workflow_dumps(out), media_type=GEOJSON
        )
    snap = index.data
    all_moves = plan["moves"] or []
    found = snap.positions_of([int(m["piece_id"]) for m in all_moves])
    moves = [m for m, p in zip(all_moves, found, strict=True) if p >= 0]
    pos = found[found >= 0]
    props = piece_properties(snap, pos)
    for p, m in zip(props, moves, strict=True):
        p["from_leader"], p["to_leader"] = m.get("from_leader"), m.get("to_leader")
    body = feature_collection(
        snap.geojson(pos),
        props,
        ids=snap.id_list(pos),
        numberMatched=len(pos),
        numberReturned=len(pos),
    )
    return Response(body, media_type=GEOJSON)


def workflow_dumps(obj: Any) -> bytes:
    from api.geojson import dumps

    return dumps(obj)


@router.post(
    "/plans/{plan_id}/apply",
    response_model=ChangeOut,
    responses=problems(400, 401, 403, 404, 409, 422),
    operation_id="apply_plan",
    openapi_extra={
        "responses": {
            "200": {
                "links": {
                    "UndoPlan": {
                        "operationId": "undo_plan",
                        "parameters": {"plan_id": "$request.path.plan_id"},
                    }
                }
            }
        }
    },
)
def apply_plan(
    store: StoreDep,
    index: IndexDep,
    user: Planner,
    plan_id: str = PlanId,
    body: PlanActionIn | None = None,
) -> dict[str, Any]:
    """Apply a proposed plan atomically. Pieces changed since it was proposed → 409 naming them;
    every move lands in the history under the plan's change set with you as the actor and the
    ``reason`` you give (the plan's description otherwise). A plan id may be shortened to a
    unique prefix of ≥ 6 characters."""
    out = workflow.apply(store, plan_id, actor=user.name, reason=body.reason if body else None)
    index.refresh_owners(store)
    return out


@router.post(
    "/plans/{plan_id}/discard",
    status_code=204,
    responses=problems(400, 401, 403, 404, 409, 422),
    operation_id="discard_plan",
)
def discard_plan(store: StoreDep, user: Planner, plan_id: str = PlanId) -> Response:
    """Discard a proposed plan."""
    workflow.discard(store, plan_id, actor=user.name)
    return Response(status_code=204)


@router.post(
    "/plans/{plan_id}/undo",
    response_model=ChangeOut,
    responses=problems(400, 401, 403, 404, 409, 422),
    operation_id="undo_plan",
)
def undo_plan(
    store: StoreDep,
    index: IndexDep,
    user: Planner,
    plan_id: str = PlanId,
    body: PlanActionIn | None = None,
) -> dict[str, Any]:
    """Undo an applied plan in one transaction (refused when a piece changed again since)."""
    out = workflow.undo(store, plan_id, actor=user.name, reason=body.reason if body else None)
    index.refresh_owners(store)
    return out
