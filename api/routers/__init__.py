"""All routers, aggregated in one place with their prefixes and tags."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.routers import (
    admin,
    admin_pages,
    assignments,
    auth,
    coverage,
    exports,
    health,
    history,
    key_places,
    leaders,
    locate,
    maps,
    ogc,
    patrol_pages,
    patrols,
    pieces,
    plans,
    problem_pages,
    problems,
    reference,
    tiles,
    web,
)

API_PREFIX = "/api"


def api_router() -> APIRouter:
    """The JSON API under ``/api``."""
    r = APIRouter(prefix=API_PREFIX)
    for mod in (
        auth,
        reference,
        pieces,
        leaders,
        key_places,
        assignments,
        plans,
        coverage,
        history,
        locate,
        maps,
        tiles,
        exports,
        patrols,
        problems,
        admin,
    ):
        r.include_router(mod.router)
    return r


def include_all(app: FastAPI) -> None:
    """Mount the API, the OGC API – Features, health and the web pages on ``app``."""
    app.include_router(health.router)
    app.include_router(api_router())
    app.include_router(ogc.router)
    app.include_router(web.router)
    app.include_router(patrol_pages.router)
    app.include_router(problem_pages.router)
    app.include_router(admin_pages.router)
