"""An unexpected error answers 500 as problem+json (API) or the HTML error page (pages)."""

from __future__ import annotations

from typing import Any

import pytest
from apihelpers import settings
from fastapi.testclient import TestClient


def test_unexpected_errors_are_problem_json(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import gridmgr.coverage
    from api.main import create_app

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise IndexError("index 0 is out of bounds for axis 0 with size 0 /tmp/secret-path")

    monkeypatch.setattr(gridmgr.coverage, "coverage_from_store", boom)
    app = create_app(settings(), store=api.store)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/coverage", headers=api.headers("viewer"))
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 500 and "IndexError" in body["detail"]
        assert "/tmp/secret-path" not in r.text  # no internals to the client
        c.post(
            "/login",
            data={"username": "viewer", "password": "correct-horse-battery"},
            follow_redirects=False,
        )
        page = c.get("/dashboard")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "/tmp/secret-path" not in page.text
