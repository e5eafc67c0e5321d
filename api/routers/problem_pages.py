"""Web pages of the problem cycle (Chinese first): report with the camera, my problems with the
time left, a department's queue, the supervisor's verify queue and overdue board.

The pages are thin: they read and write through ``/api/problems`` (same origin, session cookie,
If-Match and Idempotency-Key as any client).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from api.deps import User
from api.pages import render
from api.pages import role_needed as t_role_needed
from api.routers.web import PagePlanner, PageUser

router = APIRouter(include_in_schema=False)

MODES = {
    "report": ("上报问题", "Report a problem"),
    "mine": ("我的问题", "My problems"),
    "queue": ("待整改（本部门）", "To fix (my department)"),
    "verify": ("待核查", "To verify"),
    "board": ("逾期督办", "Overdue board"),
}


async def page_leader(user: PageUser) -> User:
    """A page for leaders and above (403 for viewers)."""
    if not user.at_least("leader"):
        raise HTTPException(
            403,
            t_role_needed("leader", user.role),
        )
    return user


PageLeader = Annotated[User, Depends(page_leader)]


def _page(request: Request, user: User, mode: str) -> HTMLResponse:
    from gridmgr.problems.categories import Config

    cats = Config.load().categories.values()
    return render(request, "problems.html", user, mode=mode, modes=MODES, categories=list(cats))


@router.get("/problems/report", response_class=HTMLResponse)
def report_page(request: Request, user: PageLeader) -> HTMLResponse:
    """Report at the current position with a photo from the camera."""
    return _page(request, user, "report")


@router.get("/problems/mine", response_class=HTMLResponse)
def mine_page(request: Request, user: PageLeader) -> HTMLResponse:
    """The problems the user reported or holds, with the time left."""
    return _page(request, user, "mine")


@router.get("/problems/queue", response_class=HTMLResponse)
def queue_page(request: Request, user: PageLeader) -> HTMLResponse:
    """What is dispatched to the user or their department; close with an after photo."""
    return _page(request, user, "queue")


@router.get("/problems/verify", response_class=HTMLResponse)
def verify_page(request: Request, user: PagePlanner) -> HTMLResponse:
    """Handled problems waiting for verification (supervisors verify)."""
    return _page(request, user, "verify")


@router.get("/problems/board", response_class=HTMLResponse)
def board_page(request: Request, user: PagePlanner) -> HTMLResponse:
    """Overdue problems with escalation; downloads of the circular, ledger and assessment."""
    return _page(request, user, "board")
