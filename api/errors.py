"""Domain errors → HTTP ``application/problem+json`` (RFC 9457), mapped in one place.

Routers never catch domain errors to re-raise ``HTTPException``: they let them propagate and the
handlers below render them.
"""

from __future__ import annotations

import re
import tempfile
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.pages import error_page
from api.routing import allowed_methods
from gridmgr import errors as e

#: Most specific class first: the first match wins.
STATUS: list[tuple[type[BaseException], int, str]] = [
    (e.SchemaError, 503, "store-unavailable"),
    (e.StaleVersionError, 409, "stale-version"),
    (e.OrphanedAssignmentsError, 409, "orphaned-assignments"),
    (e.ConflictError, 409, "conflict"),
    (e.PermissionDeniedError, 403, "forbidden"),
    (e.NotFoundError, 404, "not-found"),
    (e.InfeasibleError, 422, "infeasible"),
    (e.InputError, 422, "invalid-input"),
    (e.GridMgrError, 400, "bad-request"),
]

PROBLEM = "application/problem+json"

#: A path inside the temporary directory (uploads and exports are written there), up to the next
#: blank, quote or punctuation mark that cannot be part of a file name in a message.
_TEMP_PATH = re.compile(
    re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^\s'\"，。；：:;,()（）]+"
)


def scrub(detail: str) -> str:
    """``detail`` with every temporary path replaced by its file name (the server's folders are
    nobody's business; the file name says which upload or part is meant).

    >>> scrub(f"{tempfile.gettempdir()}/tmpab12cd/leaders.csv: row 3: bad phone")
    'leaders.csv: row 3: bad phone'
    """
    return _TEMP_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], detail)


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def status_of(exc: BaseException) -> tuple[int, str]:
    """HTTP status and problem slug of a domain error (first matching class in :data:`STATUS`)."""
    for cls, status, slug in STATUS:
        if isinstance(exc, cls):
            return status, slug
    return 500, "internal"


#: Paths answered with problem+json; everything else is a web page (HTML errors, redirects).
API_PREFIXES = ("/api", "/ogc", "/healthz", "/static")


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def _page_error(request: Request, status: int, detail: str) -> Response:
    return error_page(request, status, detail)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(e.GridMgrError)
    def _domain(request: Request, exc: e.GridMgrError) -> Response:
        status, slug = status_of(exc)
        detail = scrub(str(exc))
        if _is_page(request):
            return _page_error(request, status, detail)
        if isinstance(exc, e.StaleVersionError) and request.headers.get("if-match"):
            status, slug = 412, "precondition-failed"  # the conditional request lost a race
        extra: dict[str, Any] = {}
        pieces = getattr(exc, "pieces", None)
        if pieces:
            extra["pieces"] = list(pieces)
        return problem(
            status,
            type(exc).__name__,
            detail,
            f"/problems/{slug}",
            instance=str(request.url.path),
            **extra,
        )

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        resp: Response
        if _is_page(request) and exc.status_code in (303, 307):
            resp = Response(status_code=exc.status_code)
        elif _is_page(request) and exc.status_code >= 400:
            resp = _page_error(request, exc.status_code, scrub(str(exc.detail)))
        else:
            resp = problem(
                exc.status_code,
                HTTPStatus(exc.status_code).phrase,
                scrub(str(exc.detail)),
                instance=str(request.url.path),
            )
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        if exc.status_code == 405:
            resp.headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return resp

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = [
            {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        return problem(
            422,
            "invalid request",
            "the request does not match the schema",
            "/problems/invalid-request",
            errors=errs,
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> Response:
        """Any other error: 500 as problem+json (or the HTML error page), never a bare text.

        The detail names the error class only; the traceback goes to the server log (Starlette
        logs it after this answer), never to the client.
        """
        detail = f"internal error ({type(exc).__name__}); the server log has the details"
        if _is_page(request):
            return _page_error(request, 500, detail)
        return problem(
            500, "Internal Server Error", detail, "/problems/internal", instance=request.url.path
        )
