"""Server-rendered web pages (Jinja2), Chinese first; ``?lang=en`` switches to English.

Pages: ``/login``, ``/`` (overview), ``/my`` (my ground), ``/dashboard`` (coverage),
``/rebalance`` and ``/rebalance/{plan_id}``. Anonymous visitors are sent to ``/login`` (303);
pages a role may not use answer 403. Forms post to the same origin (checked, see api.deps).
Maps are embedded from ``/api/maps/...`` (bundled Leaflet; only tiles come from the internet).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import plans as workflow
from api.deps import SESSION_COOKIE, OptionalUser, StoreDep, User
from api.pages import LANG_COOKIE, error_page, render, templates  # noqa: F401  (re-exported)
from api.pages import role_needed as t_role_needed
from api.throttle import LoginThrottle, Throttled
from gridmgr.accounts import sessions
from gridmgr.errors import NothingToMoveError
from gridmgr.i18n import t as t_pair
from gridmgr.settings import DEFAULT_TARGET_RATIO

router = APIRouter(include_in_schema=False)


async def page_user(request: Request, user: OptionalUser) -> User:
    """The logged-in user of a page; anonymous visitors are sent to ``/login`` (303) before
    any form is read."""
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        raise HTTPException(
            303, "log in first", headers={"Location": f"/login?next={quote(target)}"}
        )
    return user


PageUser = Annotated[User, Depends(page_user)]


async def page_planner(user: PageUser) -> User:
    """A page for planners and admins (403 otherwise)."""
    if not user.at_least("planner"):
        raise HTTPException(
            403,
            t_role_needed("planner", user.role),
        )
    return user


PagePlanner = Annotated[User, Depends(page_planner)]


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _landing(target: str, role: str) -> str:
    """Where a login lands: a leader on their own ground unless they asked for a page."""
    return "/my" if target == "/" and role == "leader" else target


# ---------------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: OptionalUser, next: str = "/") -> HTMLResponse:
    """The login form."""
    return render(request, "login.html", user, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    store: StoreDep,
    username: str = Form(max_length=64),
    password: str = Form(max_length=200),
    next: str = Form("/"),
) -> Response:
    """Check the password, open a server-side session and set its cookie (HttpOnly,
    SameSite=Lax, Secure unless local)."""
    settings = request.app.state.settings
    if _foreign_form(request):  # login CSRF: a foreign page must not log the victim in
        raise HTTPException(403, t_pair("跨站登录请求已拒绝", "cross-site login refused"))
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    try:
        throttle.begin(username, client)
        with throttle.hashing():
            row = sessions.authenticate(store, username, password)
    except Throttled as exc:
        return _login_refused(request, next, exc)
    if row is None:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=_safe_next(next),
            error=("用户名或密码错误", "wrong user name or password"),
        )
    throttle.succeeded(username, client)
    refused = sessions.refusal(store, row)
    if refused is not None:
        return render(request, "login.html", None, status=403, next=_safe_next(next), error=refused)
    resp = RedirectResponse(_landing(_safe_next(next), str(row["role"])), status_code=303)
    agent = (request.headers.get("user-agent") or "")[:200] or None
    token = sessions.start_session(
        store, int(row["id"]), hours=settings.session_hours, client=agent
    )
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=not settings.local,
        path="/",
    )
    request.state.user = username
    return resp


def _foreign_form(request: Request) -> bool:
    """A form posted from another site: it names an ``Origin``/``Referer`` that is not ours."""
    from api.deps import same_origin

    named = request.headers.get("origin") or request.headers.get("referer")
    return bool(named) and not same_origin(request)


def _login_refused(request: Request, next: str, exc: Throttled) -> HTMLResponse:
    """The login page with 429 (too many failures) or 503 (too many logins at once)."""
    minutes = (exc.retry_after + 59) // 60
    error = (
        (
            f"登录失败次数过多，请 {minutes} 分钟后再试",
            f"too many failed logins; try again in {minutes} min",
        )
        if exc.status == 429
        else ("登录请求过多，请稍后再试", "too many logins at once; try again shortly")
    )
    resp = render(
        request, "login.html", None, status=exc.status, next=_safe_next(next), error=error
    )
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@router.post("/logout")
def logout(request: Request, user: OptionalUser) -> RedirectResponse:
    """End the session (server-side, at once) and clear its cookie."""
    sessions.end_session(request.app.state.store, request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# ---------------------------------------------------------------------------------- pages


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep, user: PageUser) -> Response:
    """Overview: headline figures, the overview map, links."""
    from gridmgr.coverage import coverage_from_store

    report = coverage_from_store(store)
    units = store.units()
    streets = units.loc[units["level"] == "street", ["code", "name"]].to_dict("records")
    return render(
        request,
        "overview.html",
        user,
        summary=dict(report.summary),
        streets=streets,
        n_leaders=len(store.leaders(active=True)),
    )


@router.get("/my", response_class=HTMLResponse)
def my_ground(
    request: Request,
    store: StoreDep,
    user: PageUser,
    leader: str | None = Query(None, max_length=64),
) -> Response:
    """My ground: a leader's map, key places, route and downloads. A leader always sees their
    own; other roles pick one with ``?leader=ID``."""
    leaders = store.leaders(active=True)
    # a leader sees their own ground; planners and admins pick one; viewers see aggregates only
    lid = (
        user.leader_id if user.role == "leader" else (leader if user.at_least("planner") else None)
    )
    if lid is not None and lid not in set(leaders["id"]):
        lid = None
    info = None if lid is None else leaders.loc[leaders["id"] == lid].iloc[0].to_dict()
    places: list[dict[str, Any]] = []
    stats: dict[str, Any] = {}
    if lid is not None:
        pieces = store.pieces(geometry=False)
        mine = pieces.loc[pieces["leader_id"] == lid]
        stats = {"pieces": len(mine), "area_ha": round(float(mine["area_m2"].sum()) / 1e4, 2)}
        kp = store.key_places()
        held = set(mine["id"].astype(int))
        sel = kp.loc[
            kp["package_leader_id"].eq(lid).fillna(False) | kp["piece_id"].isin(held).fillna(False)
        ]
        cats = store.categories().set_index("category")["name"].to_dict()
        places = [
            {
                "code": r["code"],
                "name": r["name"],
                "category": cats.get(r["category"], r["category"]),
                "package": r["package_leader_id"] == lid,
            }
            for r in sel[["code", "name", "category", "package_leader_id"]].to_dict("records")
        ]
        if len(mine) or places:
            from gridmgr.patrol import patrol_route_from_store

            route = patrol_route_from_store(store, lid)
            stats["route_km"] = round(route.length_m / 1000, 2)
            stats["route_min"] = round(route.walking_time_min)
            stats["route_roads"] = bool(route.follows_roads)
    return render(
        request,
        "my.html",
        user,
        leader=info,
        places=places,
        stats=stats,
        choices=leaders[["id", "name"]].to_dict("records"),
        formats=["kml", "gpx", "png", "kmz", "pdf", "xlsx"],
        grid_codes=_grid_codes_of(store, lid),
        stale=_stale_ground(store, lid) if lid is not None else None,
    )


def _stale_ground(store: Any, lid: str, shown: int = 12) -> dict[str, Any]:
    """A leader's stale ground for the list beside the map: pieces not visited in the last
    :data:`~gridmgr.patrol.temporal.DEFAULT_DAYS` Beijing days (never visited first, then the
    longest unseen) and the codes of overdue key places (:mod:`gridmgr.patrol.temporal`)."""
    from gridmgr.patrol.temporal import DEFAULT_DAYS, temporal_coverage

    cov = temporal_coverage(store, days=DEFAULT_DAYS)
    p = cov.pieces
    mine = p.loc[(p["leader_id"] == lid) & (p["state"] != "visited")]
    order = mine.assign(_o=mine["days_since"].fillna(1e9)).sort_values(
        ["_o", "cell"], ascending=[False, True]
    )
    units = store.units()
    names = dict(zip(units["code"], units["name"], strict=True))
    rows = [
        {
            "cell": r.cell,
            "unit": names.get(r.unit_code, r.unit_code),
            "days": None if r.days_since != r.days_since else int(r.days_since),
        }
        for r in order.head(shown).itertuples()
    ]
    over = cov.places.loc[cov.places["overdue"], "code"]
    return {
        "days": DEFAULT_DAYS,
        "count": len(mine),
        "never": int((mine["state"] == "never").sum()),
        "rows": rows,
        "overdue": set(over.astype(str)),
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    store: StoreDep,
    user: PageUser,
    scope: str | None = Query(None, max_length=32),
) -> Response:
    """Coverage dashboard: figures per street and community, the gap map and the gap list."""
    from gridmgr.coverage import coverage_from_store

    report = coverage_from_store(store, scope=scope)
    units = report.units
    rows = units.loc[units["level"].isin(["street", "community"])].to_dict("records")
    gaps = [f.to_dict() for f in report.gaps][:200]
    kp = store.key_places()
    every = store.units()
    return render(
        request,
        "dashboard.html",
        user,
        summary=dict(report.summary),
        rows=rows,
        gaps=gaps,
        scope=scope,
        names=_leader_names(store),
        unit_names=dict(zip(every["code"].astype(str), every["name"].astype(str), strict=True)),
        place_names=dict(zip(kp["code"].astype(str), kp["name"].astype(str), strict=True)),
    )


@router.get("/rebalance", response_class=HTMLResponse)
def rebalance_page(request: Request, store: StoreDep, user: PagePlanner) -> Response:
    """Rebalance: parameters form and the plans so far."""
    return _rebalance_form(request, store, user)


def _rebalance_form(
    request: Request, store: Any, user: User, notice: str | None = None
) -> Response:
    """The rebalance page, with a notice (e.g. "nothing to move") when given."""
    units = store.units()
    scopes = units.loc[
        units["level"].isin(["street", "community"]), ["code", "name", "level"]
    ].to_dict("records")
    plans = store.list_plans().head(30).to_dict("records")
    names = dict(zip(units["code"].astype(str), units["name"].astype(str), strict=True))
    return render(
        request,
        "rebalance.html",
        user,
        scopes=scopes,
        plans=plans,
        unit_names=names,
        target=DEFAULT_TARGET_RATIO,
        error=None,
        notice=notice,
    )


@router.post("/rebalance", response_class=HTMLResponse)
def rebalance_propose(
    request: Request,
    store: StoreDep,
    user: PagePlanner,
    scope: str = Form(max_length=32),
    weights: str = Form("", max_length=200),
    leaders_remove: str = Form("", max_length=2000),
    target_ratio: float = Form(DEFAULT_TARGET_RATIO),
    max_moves: str = Form("", max_length=10),
) -> Response:
    """Propose a plan from the form and show it."""
    params: dict[str, Any] = {"scope": scope, "target_ratio": target_ratio, "seed": 0}
    if weights.strip():
        params["weights"] = weights.strip()
    removed = [
        x.strip()
        for x in leaders_remove.replace("；", ",").replace(";", ",").split(",")
        if x.strip()
    ]
    if removed:
        params["leaders_remove"] = removed
    if max_moves.strip().isdigit():
        params["max_moves"] = int(max_moves)
    try:
        pid = workflow.propose(store, params, actor=user.name)
    except NothingToMoveError as exc:
        return _rebalance_form(request, store, user, notice=str(exc))
    return RedirectResponse(f"/rebalance/{pid}", status_code=303)


@router.get("/rebalance/{plan_id}", response_class=HTMLResponse)
def plan_page(
    request: Request, store: StoreDep, user: PagePlanner, plan_id: str = Path(max_length=64)
) -> Response:
    """A plan: metrics, a summary per leader pair (names, pieces, hectares, load before →
    after), the diff map, the apply/discard buttons; the raw moves behind a toggle."""
    from gridmgr.rebalance.summary import leader_ratios, pair_summary

    plan = store.get_plan(plan_id)
    moves = plan["moves"] or []
    pairs = pair_summary(moves, leader_ratios(plan["metrics"] or {}))
    return render(
        request,
        "plan.html",
        user,
        plan=plan,
        moves=moves[:500],
        pairs=pairs,
        names=_leader_names(store),
        scope_name=_unit_name(store, plan.get("scope")),
    )


def _grid_codes_of(store: Any, leader_id: str | None) -> list[str]:
    """The 15-digit grid codes (网格编码) of a leader's territories, if assigned."""
    if leader_id is None:
        return []
    codes = store.grid_codes()
    if codes.empty:
        return []
    return sorted(codes.loc[codes["leader_id"] == leader_id, "grid_code"].astype(str))


def _leader_names(store: Any) -> dict[str, str]:
    """``leader id -> name`` of every leader (active or not)."""
    frame = store.leaders()
    return dict(zip(frame["id"].astype(str), frame["name"].astype(str), strict=True))


def _unit_name(store: Any, code: str | None) -> str:
    """A unit's name (the code when unknown or none)."""
    if not code:
        return ""
    units = store.units()
    hit = units.loc[units["code"] == code, "name"]
    return str(hit.iloc[0]) if len(hit) else code


@router.post("/rebalance/{plan_id}/{action}", response_class=HTMLResponse)
def plan_action(
    request: Request,
    store: StoreDep,
    user: PagePlanner,
    plan_id: str = Path(max_length=64),
    action: str = Path(pattern="^(apply|discard|undo)$"),
    reason: str = Form("", max_length=500),
) -> Response:
    """Apply, discard or undo a plan from its page; applying and undoing need a reason."""
    if action == "discard":
        workflow.discard(store, plan_id, actor=user.name)
    else:
        if not reason.strip():
            from gridmgr.errors import InputError

            raise InputError(
                t_pair("请填写原因（记入历史）", "give a reason (it is kept in the history)")
            )
        fn = workflow.apply if action == "apply" else workflow.undo
        fn(store, plan_id, actor=user.name, reason=reason.strip())
    if action != "discard":
        request.app.state.index.refresh_owners(store)
    return RedirectResponse(f"/rebalance/{plan_id}", status_code=303)
