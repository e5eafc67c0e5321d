"""The gridmgr HTTP service: ``create_app(settings)``.

The lifespan opens the store (SQLite by default, PostGIS when ``GRIDMGR_DATABASE_URL`` points at
PostgreSQL), builds the locate index and closes the store at shutdown. Run it with
``gridmgr serve`` or ``uvicorn --factory api.main:app_from_env``.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.deps import AuthCache
from api.locate import LocateIndex
from api.routing import route_table  # noqa: F401  (re-exported: tests and docs use api.main.route_table)
from api.settings import ServiceSettings

HERE = Path(__file__).resolve().parent
access_log = logging.getLogger("gridmgr.access")

DESCRIPTION = """
长春高新技术产业开发区网格化管理服务（领导包保责任制）。/ Grid management service of the Changchun
High-tech Zone: units, pieces, leaders, key places, assignments with optimistic concurrency,
coverage gaps, rebalance plans, maps and exports, and "who is responsible for this point?".

Authenticate with `Authorization: Bearer <token>` (`gridmgr users add NAME --role …` prints one) or
the browser login. Errors are `application/problem+json`. Read-only layers are also served as
OGC API – Features at `/ogc`. The role × endpoint table is in `docs/api.md`.
"""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (413), by header and by counting the stream."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                await _too_large(send, self.limit)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return msg

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "/problems/too-large",
            "title": "request body too large",
            "status": 413,
            "detail": f"request bodies are limited to {limit} bytes (GRIDMGR_MAX_BODY_BYTES)",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", errors.PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per request: method, path, status, ms, user (pure ASGI, cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def wrapped(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
            await send(msg)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                access_log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round((time.perf_counter() - t0) * 1000, 2),
                            "user": state.get("user"),
                        },
                        ensure_ascii=False,
                    )
                )


class LocateFastPath:
    """The hot path of ``GET /api/locate`` without the framework's per-request machinery.

    Answers only the plain case — a cached, valid API token, well-formed ``lat``/``lng``
    (``category`` optional), fresh owners — with exactly what the FastAPI route
    (:func:`api.routers.locate.locate`) returns; anything else (no or unknown token, cookie,
    bad parameters, owners due for a check) falls through to that route, which authenticates,
    validates and answers errors as documented. Tested to give identical bodies.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/locate" and scope["method"] == "GET":
            body = self._answer(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(scope: Scope) -> bytes | None:
        from urllib.parse import parse_qs

        from api.geojson import dumps

        app = scope.get("app")
        state = getattr(app, "state", None)
        index = getattr(state, "index", None)
        if state is None or index is None or index.stale(state.settings.locate_refresh_seconds):
            return None
        token = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, rest = v.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
        if not token:
            return None
        known, user = state.auth_cache.cached_token(token)
        if not known or user is None:
            return None
        q = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if set(q) - {"lat", "lng", "category"} or any(len(v) != 1 for v in q.values()):
            return None
        try:
            lat, lng = float(q["lat"][0]), float(q["lng"][0])
        except (KeyError, ValueError):
            return None
        category = q.get("category", [None])[0]
        if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (
            category is not None and len(category) > 64
        ):
            return None
        scope.setdefault("state", {})["user"] = user.name
        out = index.locate(lng, lat, category=category, phones=user.sees_phones)
        return dumps(out)


def configure_logging() -> None:
    """Send access log lines (already JSON) to stderr, one per line."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def create_app(settings: ServiceSettings | None = None, *, store: Any = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Service settings (default: read from ``GRIDMGR_*`` environment variables). Checked with
        :meth:`ServiceSettings.check` (placeholder secrets refused outside local development).
    store
        An open :class:`gridmgr.store.Store` to serve (tests); default: open
        ``settings.database_url`` in the lifespan and close it at shutdown.
    """
    from api.routers import include_all

    settings = settings or ServiceSettings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from gridmgr.store import open_store

        own = store is None
        st = open_store(settings.database_url) if own else store
        if own and st.backend == "sqlite" and st.revision() is None:
            st.upgrade()  # a fresh SQLite file: create the schema so the service starts
        st.require_schema()
        app.state.store = st
        app.state.index = LocateIndex.from_store(st)
        gc.collect()
        gc.freeze()  # the index is long-lived: keep it out of every later GC pass
        try:
            yield
        finally:
            if own:
                st.close()

    app = FastAPI(
        title="gridmgr 网格化管理服务",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.auth_cache = AuthCache(settings.token_cache_seconds)
    errors.install(app)
    include_all(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(LocateFastPath)
    if settings.access_log:
        configure_logging()
        app.add_middleware(AccessLog)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.main:app_from_env`` (settings from the environment)."""
    return create_app(ServiceSettings())
