"""Issue 16, item 8: a chunked body over the limit gets 413; HEAD works wherever GET does; error
details never show temporary paths; a leader's detailed map and exports are for that leader
(and planners, admins) only."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

PROBLEM = "application/problem+json"


def _chunks(total: int) -> Iterator[bytes]:
    """A body of ``total`` bytes sent chunked (no Content-Length)."""
    block = b"x" * 65536
    sent = 0
    while sent < total:
        part = block[: min(len(block), total - sent)]
        sent += len(part)
        yield part


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/api/admin/leaders", "text/csv"),  # raw body
        ("/api/users", "application/json"),  # a JSON model
        ("/login", "application/x-www-form-urlencoded"),  # a form
    ],
)
def test_chunked_body_over_the_limit_is_413(shared_api: Any, path: str, ctype: str) -> None:
    limit = shared_api.client.app.state.settings.max_body_bytes
    r = shared_api.as_(
        "admin", "POST", path, content=_chunks(limit + 70000), headers={"Content-Type": ctype}
    )
    assert r.status_code == 413, r.text[:200]
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 413
    assert "x-content-type-options" in r.headers  # still inside the security headers


def test_chunked_body_under_the_limit_still_works(shared_api: Any) -> None:
    r = shared_api.as_(
        "admin",
        "POST",
        "/api/admin/leaders?reason=x",
        content=iter([b"id,name,role\n", b"G01_1,\n"]),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 422  # read whole and judged on its content, not on its size


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("anonymous", "/healthz"),
        ("viewer", "/api/units"),
        ("viewer", "/api/coverage"),
        ("anonymous", "/login"),
        ("anonymous", "/static/app.css"),
        ("viewer", "/api/units/220173001001"),
    ],
)
def test_head_answers_like_get_without_a_body(shared_api: Any, role: str, url: str) -> None:
    get = shared_api.as_(role, "GET", url)
    head = shared_api.as_(role, "HEAD", url)
    assert get.status_code == 200 and head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("content-length") == get.headers.get("content-length")


def test_head_refused_where_get_is_not_answered(shared_api: Any) -> None:
    r = shared_api.as_("anonymous", "HEAD", "/logout")
    assert r.status_code == 405 and "HEAD" not in r.headers["allow"]
    r = shared_api.as_("viewer", "DELETE", "/api/units")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_error_details_name_the_file_not_the_temporary_folder(shared_api: Any) -> None:
    r = shared_api.as_(
        "admin",
        "POST",
        "/api/admin/leaders",
        content="id,name,role,capacity\nX1,某人,grid_leader,很多\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert tempfile.gettempdir() + "/" not in r.text
    assert "leaders.csv" in detail


@pytest.mark.parametrize(
    ("role", "leader_id", "status"),
    [
        ("leader", "G01_1", 200),  # own ground
        ("leader", "G02_1", 403),  # another leader's
        ("viewer", "G01_1", 403),
        ("planner", "G02_1", 200),
        ("admin", "G02_1", 200),
    ],
)
def test_leader_maps_and_exports_least_privilege(
    shared_api: Any, role: str, leader_id: str, status: int
) -> None:
    for url in (
        f"/api/maps/leaders/{leader_id}?basemap=none",
        f"/api/exports/leaders/{leader_id}?format=gpx",
    ):
        r = shared_api.as_(role, "GET", url)
        assert r.status_code == status, (url, r.text[:200])
        if status == 403:
            assert r.headers["content-type"] == PROBLEM
            assert "总览" in r.json()["detail"]
    # the aggregates stay open to every role
    assert shared_api.as_(role, "GET", "/api/coverage").status_code == 200


def test_locked_client_refused_before_the_login_route(shared_api: Any) -> None:
    """Past the client limit, a login gets 429 from the gate: even a malformed one (which the
    route would answer 422) and without its body being read."""
    from apihelpers import settings
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app(settings(login_client_limit=3), store=shared_api.store)
    with TestClient(app) as c:
        for i in range(3):
            r = c.post("/login", data={"username": f"nobody{i}", "password": "x"})
            assert r.status_code == 401
        r = c.post("/login", data={"username": "nobody9", "password": "x"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        r = c.post("/login", content=b"not a form")
        assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
        assert r.text.index("登录失败次数过多") < r.text.index("Too many failed logins")
        assert "x-frame-options" in r.headers
        assert c.get("/login").status_code == 200  # the page itself stays open
