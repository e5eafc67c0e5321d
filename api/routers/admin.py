"""Administration: users and API tokens, data imports (admins only)."""

from __future__ import annotations

import tempfile
from pathlib import Path as FsPath
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import Admin, IndexDep, StoreDep
from api.geojson import clean_records
from api.routers._common import problems
from api.schemas import LoadOut, PasswordIn, RevokeIn, RevokeOut, TokenOut, UserIn, UserOut
from gridmgr.accounts import credentials
from gridmgr.accounts import users as accounts

router = APIRouter(tags=["admin"])

ADMIN = problems(400, 401, 403, 404, 409, 422)


@router.get("/users", response_model=list[UserOut], responses=problems(401, 403))
def list_users(store: StoreDep, user: Admin) -> list[dict[str, Any]]:
    """Users (without password hashes)."""
    frame = store.users()
    rows = clean_records(frame, ["id", "name", "role", "leader_id", "active"])
    for r in rows:
        r["id"], r["active"] = int(r["id"]), bool(r["active"])
    return rows


@router.post("/users", status_code=201, response_model=TokenOut, responses=ADMIN)
def add_user(body: UserIn, request: Request, store: StoreDep, user: Admin) -> dict[str, str]:
    """Create a user; the answer carries their first API token (shown once)."""
    from gridmgr.errors import InputError
    from gridmgr.io.text import clean_text

    name = clean_text(body.name, "user name")
    if body.role == "leader" and not body.leader_id:
        raise InputError(f"user {body.name!r}: role leader needs leader_id (their leader record)")
    pw = credentials.hash_password(body.password) if body.password else None
    uid = store.add_user(name, body.role, leader_id=body.leader_id, password_hash=pw)
    token = credentials.new_token()
    store.add_token(uid, credentials.hash_token(token), name=f"created by {user.name}")
    request.app.state.auth_cache.clear()
    return {"user": name, "token": token}


NAME = Path(min_length=1, max_length=64)


@router.put("/users/{name}/password", response_model=RevokeOut, responses=ADMIN)
def set_password(
    body: PasswordIn, request: Request, store: StoreDep, user: Admin, name: str = NAME
) -> dict[str, Any]:
    """Set or reset a user's login password; their sessions end at once."""
    ended = accounts.set_password(store, name, body.password)
    request.app.state.auth_cache.clear()
    return {"user": name, "sessions": ended, "tokens": 0}


@router.post("/users/{name}/disable", response_model=RevokeOut, responses=ADMIN)
def disable_user(
    body: RevokeIn, request: Request, store: StoreDep, user: Admin, name: str = NAME
) -> dict[str, Any]:
    """Disable a user: their sessions end and their API tokens are revoked at once."""
    if name == user.name:
        from gridmgr.errors import ConflictError

        raise ConflictError(f"user {name!r}: an admin cannot disable their own account")
    n = accounts.set_active(store, name, False)
    request.app.state.auth_cache.clear()
    return {"user": name, **n}


@router.post("/users/{name}/enable", response_model=RevokeOut, responses=ADMIN)
def enable_user(
    body: RevokeIn, request: Request, store: StoreDep, user: Admin, name: str = NAME
) -> dict[str, Any]:
    """Enable a user again (issue a new API token if they need one)."""
    n = accounts.set_active(store, name, True)
    request.app.state.auth_cache.clear()
    return {"user": name, **n}


@router.post("/users/{name}/revoke", response_model=RevokeOut, responses=ADMIN)
def revoke_user(
    body: RevokeIn, request: Request, store: StoreDep, user: Admin, name: str = NAME
) -> dict[str, Any]:
    """End every login session of a user (and revoke their API tokens with ``tokens``)."""
    n = accounts.revoke(store, name, tokens=body.tokens)
    request.app.state.auth_cache.clear()
    return {"user": name, **n}


@router.post("/users/{name}/tokens", status_code=201, response_model=TokenOut, responses=ADMIN)
def new_token(
    request: Request, store: StoreDep, user: Admin, name: str = Path(min_length=1, max_length=64)
) -> dict[str, str]:
    """Issue another API token for a user (shown once)."""
    from gridmgr.errors import NotFoundError

    row = store.get_user(name)
    if row is None:
        raise NotFoundError(f"user {name!r} does not exist; create it with POST /api/users")
    token = credentials.new_token()
    store.add_token(int(row["id"]), credentials.hash_token(token), name=f"issued by {user.name}")
    return {"user": name, "token": token}


@router.post("/admin/layers", response_model=LoadOut, responses=ADMIN)
def load_layers(
    store: StoreDep,
    index: IndexDep,
    user: Admin,
    allow_orphans: bool = Query(False),
    allow_overlaps: bool = Query(False),
) -> dict[str, Any]:
    """(Re)load the server's layers directory (``GRIDMGR_LAYERS``, default the shipped Changchun
    High-tech Zone layers) into the store; unchanged layers change nothing. Overlapping sibling
    units or units outside their parent are refused (422) unless ``allow_overlaps``."""
    from gridmgr import settings
    from gridmgr.io import read_layers

    report = store.load_layers(
        read_layers(settings.layers_dir()),
        actor=user.name,
        allow_orphans=allow_orphans,
        allow_overlaps=allow_overlaps,
    )
    index.rebuild(store)
    out: dict[str, Any] = report.to_dict()
    return out


async def raw_body(request: Request) -> bytes:
    """The raw request body (bounded by the body-size middleware)."""
    return await request.body()


@router.post(
    "/admin/leaders",
    response_model=dict[str, Any],
    responses=ADMIN,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
def import_leaders(
    store: StoreDep,
    index: IndexDep,
    user: Admin,
    body: bytes = Depends(raw_body),
    reason: str | None = Query(None, max_length=500),
    encoding: str | None = Query(
        None, max_length=32, description="CSV encoding when it declares none (gb18030, big5 …)"
    ),
) -> dict[str, Any]:
    """Import leaders from a CSV body (columns of docs/architecture.md); all-or-nothing.

    The body goes through the same file policy as the CLI (size cap, encoding detection:
    BOM, UTF-8, or GB18030/Big5 when exactly one reads as Chinese, else refused naming
    ``encoding``) and every cell through the text validator."""
    with tempfile.TemporaryDirectory() as tmp:
        path = FsPath(tmp) / "leaders.csv"
        path.write_bytes(body)
        report = store.import_leaders(path, actor=user.name, reason=reason, encoding=encoding)
    index.rebuild(store)
    out: dict[str, Any] = report.to_dict()
    return out
