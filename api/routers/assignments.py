"""One cell's assignment: read with an ETag, change with If-Match (optimistic concurrency).

Rules for the role ``leader`` (documented in docs/api.md): a leader may change a cell when every
piece of it lies in a unit they are packaged to (their community) and each piece is held by them,
unassigned (盲点) or held as the territorial default (属地兜底) — a community package leader may
change any piece of their community. Anything else answers 404 exactly as a cell that does not
exist, so a leader cannot probe other communities.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Response

from api.deps import IndexDep, Leader, StoreDep, User, Viewer
from api.routers._common import json_response, problems
from api.schemas import Assignment, AssignmentUpdate

router = APIRouter(tags=["assignments"])

CellPath = Annotated[
    str,
    Path(min_length=1, max_length=32, description="H3 cell index", examples=["8a31766f0937fff"]),
]


def cell_state(store: Any, cell: str) -> dict[str, Any] | None:
    """The pieces of ``cell`` with owners and versions, and the ETag; None when unknown."""
    frame = store.pieces(geometry=False)
    hit = frame.loc[frame["cell"].astype(str) == cell].sort_values("id")
    if hit.empty:
        return None
    pieces = [
        {
            "piece_id": int(r["id"]),
            "unit_code": str(r["unit_code"]),
            "leader_id": r["leader_id"],
            "fallback": bool(r["fallback"]),
            "version": int(r["version"]),
            "area_m2": round(float(r["area_m2"]), 3),
        }
        for r in hit.to_dict("records")
    ]
    etag = '"' + ".".join(str(p["version"]) for p in pieces) + '"'
    return {"cell": cell, "etag": etag, "pieces": pieces}


def not_changeable(cell: str) -> HTTPException:
    """The one answer for "not yours" and "not there" (a leader cannot tell them apart)."""
    return HTTPException(404, f"cell {cell!r} is not among the cells you may change")


def leader_may_change(store: Any, user: User, state: dict[str, Any]) -> bool:
    """The leader rule of the module docstring."""
    if user.at_least("planner"):
        return True
    if user.leader_id is None:
        return False
    from gridmgr.errors import LeaderNotFoundError

    try:
        me = store.get_leader(user.leader_id)
    except LeaderNotFoundError:
        return False
    if not me["active"]:
        return False
    mine = set(me["unit_packages"])
    units = store.units()
    parents = dict(zip(units["code"].astype(str), units["parent"], strict=True))
    for p in state["pieces"]:
        chain, code = set(), p["unit_code"]
        while isinstance(code, str) and code not in chain:
            chain.add(code)
            code = parents.get(code)
        if not (chain & mine):
            return False
        held = p["leader_id"] in (None, me["id"]) or p["fallback"]
        if not held and me["role"] != "package_leader":
            return False
    return True


@router.get(
    "/assignments/{cell}",
    response_model=Assignment,
    operation_id="get_assignment",
    responses={
        **problems(401, 403, 404, 422),
        200: {
            "description": "the cell's pieces and owners",
            "headers": {
                "ETag": {
                    "description": "versions of the cell's pieces",
                    "schema": {"type": "string"},
                }
            },
            "links": {
                "PutAssignment": {
                    "operationId": "put_assignment",
                    "parameters": {
                        "cell": "$response.body#/cell",
                        "header.If-Match": "$response.body#/etag",
                    },
                    "description": "change the owner with this ETag",
                }
            },
        },
    },
)
def get_assignment(cell: CellPath, store: StoreDep, user: Viewer) -> Response:
    """Who holds this cell's pieces now; the ``ETag`` header is what ``If-Match`` wants."""
    from gridmgr.errors import NotFoundError

    state = cell_state(store, cell)
    if state is None:
        raise NotFoundError(
            f"cell {cell!r} is not in the store (wrong resolution or outside the "
            "jurisdiction); find cells with /api/locate"
        )
    return json_response(state, headers={"ETag": state["etag"]})


@router.put(
    "/assignments/{cell}",
    response_model=Assignment,
    operation_id="put_assignment",
    responses=problems(400, 401, 403, 404, 409, 412, 422, 428),
)
def put_assignment(
    cell: CellPath,
    body: AssignmentUpdate,
    store: StoreDep,
    index: IndexDep,
    user: Leader,
    if_match: Annotated[
        str | None, Header(max_length=200, description="the ETag read by GET")
    ] = None,
) -> Response:
    """Give every piece of this cell to ``leader_id`` (or to nobody).

    Send the ``ETag`` of ``GET /api/assignments/{cell}`` in ``If-Match``: missing → 428, stale →
    412 (someone changed the cell since you read it). The change and its reason are recorded with
    you as the actor. Several cells at once: make a plan (``POST /api/plans``).
    """
    from gridmgr.store import Change

    state = cell_state(store, cell)
    if state is None or not leader_may_change(store, user, state):
        if user.at_least("planner"):
            raise HTTPException(404, f"cell {cell!r} is not in the store")
        raise not_changeable(cell)
    if if_match is None:
        raise HTTPException(
            428, "If-Match is required: send the ETag of GET /api/assignments/{cell}"
        )
    if if_match.strip() != "*" and if_match.strip() not in {state["etag"], "W/" + state["etag"]}:
        raise HTTPException(
            412,
            f"cell {cell!r} changed since you read it (now ETag "
            f"{state['etag']}); read it again and retry",
        )
    changes = [
        Change(p["piece_id"], body.leader_id, p["version"], body.fallback) for p in state["pieces"]
    ]
    store.apply_changes(changes, actor=user.name, reason=body.reason, kind="edit")
    index.refresh_owners(store)
    new = cell_state(store, cell)
    assert new is not None
    return json_response(new, headers={"ETag": new["etag"]})
