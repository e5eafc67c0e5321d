"""Rendering of server-side pages: the Jinja2 templates, the page language and HTML error pages.

Below both :mod:`api.routers.web` (the pages) and :mod:`api.errors` (which answers page routes
with :func:`error_page`), so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import User
from gridmgr import glossary
from gridmgr.clock import beijing_text

templates = Jinja2Templates(directory=str(FsPath(__file__).resolve().parent / "templates"))
templates.env.filters["beijing"] = beijing_text  # times are shown in Beijing time

LANG_COOKIE = "gridmgr_lang"


def _lang(request: Request) -> str:
    q = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return "en" if q.lower().startswith("en") else "zh"


def render(
    request: Request, name: str, user: User | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    """Render a template with the language helpers ``t(zh, en)`` and ``lang``."""
    lang = _lang(request)

    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    def term(group: str, code: str) -> str:
        return glossary.label(group, code, lang)

    resp = templates.TemplateResponse(
        request, name, {"t": t, "term": term, "lang": lang, "user": user, **ctx}, status_code=status
    )
    if "lang" in request.query_params:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """An HTML error page (used by api.errors for the page routes)."""
    titles = {
        403: ("无权访问", "Forbidden"),
        404: ("未找到", "Not found"),
        409: ("冲突", "Conflict"),
        422: ("输入有误", "Invalid input"),
    }
    title = titles.get(status, ("出错了", "Error"))
    return render(request, "error.html", None, status=status, title=title, message=(detail, detail))


def role_needed(role: str, have: str) -> str:
    """The 403 text of a page a role may not open, Chinese first, roles by name."""
    from gridmgr.i18n import t

    need_zh, need_en = (
        glossary.label("user_role", role, "zh"),
        glossary.label("user_role", role, "en"),
    )
    have_zh, have_en = (
        glossary.label("user_role", have, "zh"),
        glossary.label("user_role", have, "en"),
    )
    return t(
        f"此页面需要{need_zh}及以上权限（您是{have_zh}）",
        f"this page needs the role {need_en} or above (you are {have_en})",
    )
