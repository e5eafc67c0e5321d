"""The app's route table: every (method, path) it answers, and the methods allowed on a path."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fr


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every ``(METHOD, path)`` the app answers (HEAD left out: every GET answers it too, see
    :class:`api.middleware.HeadAsGet`; mounts such as ``/static`` too).

    Walks included routers, so a new route shows up here (the role × endpoint matrix test and
    docs/api.md are checked against this list).
    """
    out: list[tuple[str, str]] = []

    def add(path: str | None, methods: Any) -> None:
        for m in sorted(methods or ()):
            if m != "HEAD" and path is not None:
                out.append((m, path))

    for r in app.routes:
        included = getattr(fr, "_IncludedRouter", None)
        if included is not None and isinstance(r, included):
            for c in r.effective_route_contexts():
                add(c.path, getattr(c.original_route, "methods", None))
        else:
            add(getattr(r, "path", None), getattr(r, "methods", None))
    return out


def allowed_methods(app: Any, path: str) -> list[str]:
    """Methods of every route matching ``path`` (for a correct ``Allow`` on 405); ``HEAD`` with
    ``GET`` (answered by :class:`api.middleware.HeadAsGet`)."""
    table = route_table(app)
    out = {m for m, template in table if template == path}
    if not out:  # a literal route wins over templates that would also match (as routing does)
        for method, template in table:
            pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path):
                out.add(method)
    if "GET" in out:
        out.add("HEAD")
    return sorted(out)
