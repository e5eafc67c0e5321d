"""The admin's users page (``/admin/users``): every account, and a new password, disable,
enable or revoke in one click — each ends the account's sessions at once (gridmgr.accounts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import StoreDep, User
from api.pages import render
from api.pages import role_needed as t_role_needed
from api.routers.web import PageUser
from gridmgr.accounts import users as accounts

router = APIRouter(include_in_schema=False)


async def page_admin(user: PageUser) -> User:
    """Admins only (403 for everyone else)."""
    if not user.at_least("admin"):
        raise HTTPException(403, t_role_needed("admin", user.role))
    return user


PageAdmin = Annotated[User, Depends(page_admin)]


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, store: StoreDep, user: PageAdmin) -> Response:
    """Every account with its role, leader and state, and the actions."""
    return _page(request, store, user, notice=None)


def _page(request: Request, store: Any, user: User, notice: str | None) -> Response:
    frame = store.users()
    leaders = store.leaders()
    names = dict(zip(leaders["id"].astype(str), leaders["name"].astype(str), strict=True))
    rows = [
        {
            "name": str(r["name"]),
            "role": str(r["role"]),
            "leader": names.get(str(r["leader_id"]), "") if isinstance(r["leader_id"], str) else "",
            "active": bool(r["active"]),
        }
        for r in frame.to_dict("records")
    ]
    return render(request, "admin_users.html", user, rows=rows, notice=notice)


@router.post("/admin/users/{name}/{action}", response_class=HTMLResponse)
def user_action(
    request: Request,
    store: StoreDep,
    user: PageAdmin,
    name: str = Path(min_length=1, max_length=64),
    action: str = Path(pattern="^(password|disable|enable|revoke)$"),
    password: str = Form("", max_length=200),
) -> Response:
    """Set a password, disable, enable or revoke; then back to the list with what happened."""
    from gridmgr.errors import ConflictError
    from gridmgr.i18n import t

    if action == "password":
        ended = accounts.set_password(store, name, password)
        notice = t(
            f"已为 {name} 设置新密码，注销会话 {ended} 个",
            f"new password for {name}; {ended} session(s) ended",
        )
    elif action == "disable":
        if name == user.name:
            raise ConflictError(
                t("不能停用自己的账号", "an admin cannot disable their own account")
            )
        n = accounts.set_active(store, name, False)
        notice = t(
            f"已停用 {name}：注销会话 {n['sessions']} 个，吊销令牌 {n['tokens']} 个",
            f"{name} disabled: {n['sessions']} session(s) ended, {n['tokens']} token(s) revoked",
        )
    elif action == "enable":
        accounts.set_active(store, name, True)
        notice = t(f"已启用 {name}", f"{name} enabled")
    else:
        n = accounts.revoke(store, name)
        notice = t(
            f"{name}：注销会话 {n['sessions']} 个", f"{name}: {n['sessions']} session(s) ended"
        )
    request.app.state.auth_cache.clear()
    return _page(request, store, user, notice=notice)
