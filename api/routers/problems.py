"""Problems: report (Idempotency-Key), read (ETag), act (If-Match), photos (multipart, served
only to those who may see the problem), lists, the assessment and the circular.

Roles: any signed-in user reads the problems they may see (a leader: those they reported, hold,
or their department owns; other roles: all). Leaders and above report. A step's role rule is the
cycle's (``gridmgr.problems.cycle``): admin = dispatch centre + supervisor, planner = dispatch
centre, leader = handler of what is dispatched to them or their department.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, Path, Query, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.deps import Leader, Planner, SettingsDep, StoreDep, User, Viewer
from api.routers._common import json_response, problems
from api.schemas.problems import ProblemIn

router = APIRouter(tags=["problems"])

CodePath = Annotated[
    str, Path(min_length=1, max_length=40, description="problem id, e.g. WT20261105-000042")
]
Files = Annotated[list[UploadFile] | None, File(description="JPEG/PNG photos")]


def _config() -> Any:
    from gridmgr.problems.categories import Config

    return Config.load()


def _leader_department(store: Any, user: User) -> str | None:
    if user.leader_id is None:
        return None
    from gridmgr.errors import LeaderNotFoundError

    try:
        dept = store.get_leader(user.leader_id).get("department")
    except LeaderNotFoundError:
        return None
    return dept if isinstance(dept, str) and dept else None


def visible(store: Any, user: User, ref: str) -> dict[str, Any]:
    """The raw problem row if ``user`` may see it; 404 alike for "absent" and "not yours"."""
    from gridmgr.problems.cycle import may_see
    from gridmgr.store.engine import read_connection
    from gridmgr.store.problems import get

    store.require_schema()
    with read_connection(store.engine) as conn:
        p = get(conn, ref)
    if p is None or not may_see(
        user.role,
        user_name=user.name,
        leader_id=user.leader_id,
        leader_department=_leader_department(store, user),
        problem=p,
    ):
        raise HTTPException(404, f"problem {ref!r} is not among the problems you may see")
    return p


def _show(store: Any, ref: str | int) -> Response:
    from gridmgr.problems.views import show_in
    from gridmgr.store.engine import read_connection

    with read_connection(store.engine) as conn:
        p = show_in(conn, ref, _config())
    etag = f'"v{p["version"]}"'
    return json_response({**p, "etag": etag}, headers={"ETag": etag})


async def _uploads(files: list[UploadFile] | None) -> list[Any]:
    from gridmgr.problems.service import Upload

    return [Upload(f.filename or "photo", await f.read()) for f in files or []]


@router.get("/problems", operation_id="list_problems", responses=problems(401, 403, 422))
def list_problems(
    store: StoreDep,
    user: Viewer,
    overdue: bool = False,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
    state: Annotated[str | None, Query(pattern="^[a-z_]{1,24}$")] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Problems the caller may see, newest first; ``overdue=true`` lists those overdue at
    ``as_of`` (default now) with their escalation; ``mine=true`` those dispatched to the caller
    or their department (a handler's queue)."""
    from gridmgr.problems.cycle import may_see
    from gridmgr.problems.service import aware
    from gridmgr.problems.views import frame_view, iso, names
    from gridmgr.store.engine import read_connection
    from gridmgr.store.problems import listing

    cfg = _config()
    when = aware(as_of)
    dept = _leader_department(store, user)
    store.require_schema()
    with read_connection(store.engine) as conn:
        df = listing(
            conn,
            states=[state] if state else None,
            overdue_at=when if overdue else None,
            limit=limit,
        )
        df = frame_view(df, names(conn), cfg, when)
    rows = []
    for r in df.to_dict("records"):
        if not may_see(
            user.role,
            user_name=user.name,
            leader_id=user.leader_id,
            leader_department=dept,
            problem=r,
        ):
            continue
        if mine and not (
            (user.leader_id and r["assignee_leader_id"] == user.leader_id)
            or (dept and r["assignee_department"] == dept)
        ):
            continue
        rows.append(
            {
                k: (iso(v) if isinstance(v, dt.datetime) else v)
                for k, v in r.items()
                if k != "idempotency_key"
            }
            | {"id": r["code"]}
        )
    return json_response({"as_of": iso(when), "count": len(rows), "problems": rows})


@router.post(
    "/problems",
    operation_id="report_problem",
    status_code=201,
    responses=problems(400, 401, 403, 409, 422),
)
def report_problem(
    body: ProblemIn,
    store: StoreDep,
    user: Leader,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=8,
            max_length=100,
            description="a phone's resend key: the same key makes one problem",
        ),
    ] = None,
) -> Response:
    """Report a problem (the reporter is the caller's leader id or user name). Send an
    ``Idempotency-Key``: a resend with the same key answers 200 with the first problem."""
    from gridmgr.problems.service import report

    p = report(
        store,
        lat=body.lat,
        lng=body.lng,
        category=body.category,
        text=body.text,
        reporter=user.leader_id or user.name,
        source=body.source,
        at=body.at,
        idempotency_key=idempotency_key,
        config=_config(),
    )
    etag = f'"v{p["version"]}"'
    return json_response(
        {**p, "etag": etag},
        status=201 if p["created"] else 200,
        headers={"ETag": etag, "Location": f"/api/problems/{p['id']}"},
    )


@router.get("/problems/{code}", operation_id="get_problem", responses=problems(401, 403, 404, 422))
def get_problem(code: CodePath, store: StoreDep, user: Viewer) -> Response:
    """One problem with its events and photos; the ``ETag`` is what ``If-Match`` wants."""
    p = visible(store, user, code)
    return _show(store, int(p["id"]))


@router.post(
    "/problems/{code}/actions/{action}",
    operation_id="act_on_problem",
    responses=problems(400, 401, 403, 404, 409, 412, 413, 422, 428),
)
async def act_on_problem(
    code: CodePath,
    action: Annotated[str, Path(pattern="^[a-z-]{1,24}$")],
    store: StoreDep,
    user: Leader,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
    workdays: Annotated[int | None, Form(ge=1, le=60)] = None,
    department: Annotated[str | None, Form(max_length=32)] = None,
    leader_id: Annotated[str | None, Form(max_length=64)] = None,
    photo: Files = None,
) -> Response:
    """Take a step (register, reject, dispatch, handle, request-extension, extend,
    deny-extension, verify-pass, verify-fail) as a multipart form; ``handle`` needs an after
    photo. ``If-Match`` (the problem's ETag) is required: missing → 428, stale → 412."""
    from starlette.concurrency import run_in_threadpool

    uploads = await _uploads(photo)
    return await run_in_threadpool(
        _act, code, action, store, user, if_match, note, workdays, department, leader_id, uploads
    )


def _act(
    code: str,
    action: str,
    store: Any,
    user: User,
    if_match: str | None,
    note: str | None,
    workdays: int | None,
    department: str | None,
    leader_id: str | None,
    uploads: list[Any],
) -> Response:
    from gridmgr.problems.cycle import cycle_roles
    from gridmgr.problems.service import act

    p = visible(store, user, code)
    if if_match is None:
        raise HTTPException(428, "If-Match is required: send the ETag of GET /api/problems/{code}")
    if if_match.strip().removeprefix("W/") != f'"v{p["version"]}"':
        raise HTTPException(
            412,
            f'problem {code!r} changed since you read it (now ETag "v{p["version"]}"); read it again',
        )
    roles = cycle_roles(
        user.role,
        leader_id=user.leader_id,
        leader_department=_leader_department(store, user),
        problem=p,
    )
    out = act(
        store,
        int(p["id"]),
        action,
        actor=user.name,
        roles=roles,
        note=note,
        n_workdays=workdays,
        uploads=uploads,
        department=department,
        leader_id=leader_id,
        expected_version=int(p["version"]),
        config=_config(),
    )
    etag = f'"v{out["version"]}"'
    return json_response({**out, "etag": etag}, headers={"ETag": etag})


@router.post(
    "/problems/{code}/photos",
    operation_id="add_problem_photos",
    responses=problems(400, 401, 403, 404, 413, 422),
)
async def add_photos(
    code: CodePath,
    store: StoreDep,
    user: Leader,
    photo: Annotated[list[UploadFile], File(description="JPEG/PNG photos")],
) -> Response:
    """Add before-photos to a problem the caller may see (checked as at report time)."""
    from starlette.concurrency import run_in_threadpool

    uploads = await _uploads(photo)
    return await run_in_threadpool(_add_photos, code, store, user, uploads)


def _add_photos(code: str, store: Any, user: User, uploads: list[Any]) -> Response:
    from gridmgr.problems.service import add_photos

    p = visible(store, user, code)
    add_photos(store, int(p["id"]), uploads, actor=user.name, config=_config())
    return _show(store, int(p["id"]))


@router.get(
    "/problems/{code}/photos/{name}",
    operation_id="get_problem_photo",
    responses=problems(401, 403, 404, 422),
)
def get_photo(
    code: CodePath,
    name: Annotated[str, Path(pattern="^[0-9a-f]{64}$|^[a-z]{1,16}$")],
    store: StoreDep,
    user: Viewer,
) -> Response:
    """A photo (by its SHA-256) of a problem the caller may see."""
    from gridmgr.problems.photos import path_of
    from gridmgr.store.engine import read_connection
    from gridmgr.store.problems import photo_by_hash

    p = visible(store, user, code)
    with read_connection(store.engine) as conn:
        ph = photo_by_hash(conn, int(p["id"]), name)
    path = None if ph is None else path_of(ph["sha256"], ph["media_type"])
    if ph is None or path is None or not path.exists():
        raise HTTPException(404, f"problem {code!r} has no photo {name!r}")
    return FileResponse(
        path, media_type=ph["media_type"], headers={"Cache-Control": "private, max-age=3600"}
    )


PeriodQ = Annotated[str, Query(min_length=4, max_length=8, pattern=r"^\d{4}(-(Q[1-4]|\d{1,2}))?$")]


@router.get("/assessment", operation_id="get_assessment", responses=problems(401, 403, 422))
def get_assessment(
    store: StoreDep,
    user: Viewer,
    period: PeriodQ,
    by: Annotated[str, Query(pattern="^(leader|community|street|department)$")] = "leader",
) -> Response:
    """The ranked assessment over ``period`` (``2026``, ``2026-Q3``, ``2026-09``)."""
    from gridmgr.problems.assessment import assess
    from gridmgr.problems.views import iso

    df = assess(store, period, group=by, rules=_config().rules)
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    return json_response(
        {"period": period, "by": by, "as_of": iso(df.attrs["as_of"]), "rows": rows}
    )


@router.get("/notice", operation_id="get_notice", responses=problems(401, 403, 422))
def get_notice(store: StoreDep, user: Planner, period: PeriodQ) -> Response:
    """The circular (通报) of ``period`` as DOCX."""
    from gridmgr.export.circular import write_circular_docx
    from gridmgr.problems.notice import circular

    c = circular(store, period, config=_config())
    with tempfile.TemporaryDirectory() as tmp:
        out = write_circular_docx(c, FsPath(tmp) / "notice.docx")
        data = out.read_bytes()
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f'attachment; filename="notice-{period}.docx"'},
    )


@router.get(
    "/problems-ledger", operation_id="get_problem_ledger", responses=problems(401, 403, 422)
)
def get_ledger(store: StoreDep, user: Planner, period: PeriodQ) -> Response:
    """The problem ledger and assessment tables of ``period`` as XLSX."""
    from gridmgr.export.circular import write_ledger_xlsx
    from gridmgr.problems.assessment import assess
    from gridmgr.problems.ledger import ledger_frame
    from gridmgr.store.problems import GROUPS

    cfg = _config()
    frame = ledger_frame(store, cfg, period)
    sheets = {g: assess(store, period, group=g, rules=cfg.rules) for g in GROUPS}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_ledger_xlsx(frame, sheets, FsPath(tmp) / "ledger.xlsx").read_bytes()
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="ledger-{period}.xlsx"'},
    )


@router.get(
    "/maps/problems",
    operation_id="problems_map",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "a self-contained map page"},
        **problems(401, 403, 422),
    },
)
def problems_map(
    store: StoreDep,
    settings: SettingsDep,
    user: Planner,
    basemap: Annotated[
        str | None, Query(pattern="^(vector|local|tianditu|tianditu-img|osm|amap|none)$")
    ] = None,
) -> HTMLResponse:
    """Open problems by piece (shaded by count), overdue ones in red (supervisors' board)."""
    from gridmgr.maps import map_html
    from gridmgr.maps.problem_map import problems_map_from_store
    from gridmgr.maps.vector_base import store_base

    with store_base(store):
        m = problems_map_from_store(store, basemap=basemap or settings.basemap)
    return HTMLResponse(map_html(m))
