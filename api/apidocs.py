"""The API documentation page (Swagger UI) served entirely from this server.

An office intranet (政务内网) has no internet: FastAPI's default page loads Swagger UI from a CDN
and shows nothing there. The assets come from the ``fastapi-offline`` package (Swagger UI 5 and
its CSS, shipped as package data) and are served under ``/static/apidocs``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/apidocs"


def assets_dir() -> Path:
    """The folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``favicon.png``."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, *, openapi_url: str, docs_url: str) -> None:
    """Mount the bundled assets and add the Swagger UI page at ``docs_url``.

    Call before mounting ``/static`` itself (the first matching mount wins).
    """
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="apidocs")

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        """Swagger UI over this service's OpenAPI document, with no request beyond this host."""
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
