"""The gridmgr HTTP service: ``create_app(settings)``.

The lifespan opens the store (SQLite by default, PostGIS when ``GRIDMGR_DATABASE_URL`` points at
PostgreSQL), builds the locate index and closes the store at shutdown. Run it with
``gridmgr serve`` or ``uvicorn --factory api.main:app_from_env``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import apidocs, errors
from api.deps import AuthCache
from api.locate import LocateIndex
from api.middleware import (
    AccessLog,
    BodyLimit,
    Guard,
    HeadAsGet,
    LocateFastPath,
    LoginGate,
    configure_logging,
)
from api.routing import route_table  # noqa: F401  (re-exported: tests and docs use api.main.route_table)
from api.settings import ServiceSettings
from api.throttle import LoginThrottle

HERE = Path(__file__).resolve().parent

DESCRIPTION = """
长春高新技术产业开发区网格化管理服务（领导包保责任制）。/ Grid management service of the Changchun
High-tech Zone: units, pieces, leaders, key places, assignments with optimistic concurrency,
coverage gaps, rebalance plans, maps and exports, and "who is responsible for this point?".

Authenticate with `Authorization: Bearer <token>` (`gridmgr users add NAME --role …` prints one) or
the browser login. Errors are `application/problem+json`. Read-only layers are also served as
OGC API – Features at `/ogc`. The role × endpoint table is in `docs/api.md`.
"""


#: glibc ``mallopt`` parameters (malloc.h): the arena cap and the fixed mmap threshold.
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8


def bound_allocator(arenas: int = 2, mmap_threshold: int = 128 * 1024) -> bool:
    """Keep the server's memory bounded under floods of concurrent requests (glibc only).

    Every worker thread of the thread pool otherwise gets its own malloc arena, and after the
    first large free glibc raises its mmap threshold, so each arena keeps Argon2id's ~19 MiB
    buffers and request garbage resident: 40 concurrent bad logins doubled the RSS (487 MB →
    1 GB, ``benchmarks/bench_api.py --case flood``). Capping the arenas and fixing the
    threshold (large blocks are mapped and unmapped, never retained) keeps it near its size at
    rest. Returns whether the allocator took the settings (False off glibc).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_ARENA_MAX, arenas) == 1
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and ok)


def create_app(settings: ServiceSettings | None = None, *, store: Any = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Service settings (default: read from ``GRIDMGR_*`` environment variables). Checked with
        :meth:`ServiceSettings.check` (an unknown environment name is refused).
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

        bound_allocator()  # in each worker process, before its thread pool exists
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
        docs_url=None,  # served by api.apidocs from bundled assets (works offline)
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.auth_cache = AuthCache(settings.token_cache_seconds)
    app.state.login_throttle = LoginThrottle(
        account_limit=settings.login_account_limit,
        client_limit=settings.login_client_limit,
        window=settings.login_window_seconds,
        concurrent_hashes=settings.login_concurrent_hashes,
    )
    errors.install(app)
    include_all(app)
    apidocs.install(app, openapi_url="/api/openapi.json", docs_url="/api/docs")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(LocateFastPath)
    app.add_middleware(LoginGate)
    if settings.access_log:
        configure_logging()
        app.add_middleware(AccessLog)
    app.add_middleware(HeadAsGet)
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts, https=not settings.local)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.main:app_from_env`` (settings from the environment).

    A configuration error ends the process with one clear line instead of a traceback.
    """
    from gridmgr.i18n import t

    try:
        settings = ServiceSettings()
        settings.check()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        sys.stderr.write(t("配置错误", "configuration error") + f": {exc}\n")
        raise SystemExit(1) from None
    return create_app(settings)
