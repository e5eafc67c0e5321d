"""Security headers on every answer, allowed hosts, and the CSRF origin check."""

from __future__ import annotations

from typing import Any

import pytest
from apihelpers import PASSWORD

PAGES = ["/login", "/", "/dashboard", "/my?leader=G01_1", "/api/maps/overview"]
DATA = ["/api/units", "/api/coverage", "/healthz", "/ogc", "/api/nope", "/static/app.css"]


@pytest.mark.parametrize("path", PAGES + DATA + ["/api/docs", "/api/locate?lat=43.8&lng=125.25"])
def test_every_answer_carries_the_security_headers(shared_api: Any, path: str) -> None:
    r = shared_api.as_("admin", "GET", path, follow_redirects=False)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors" in csp
    if path.startswith(("/api/units", "/api/coverage", "/healthz", "/ogc", "/api/nope")):
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    if path in ("/login", "/", "/dashboard"):
        assert "frame-ancestors 'self'" in csp and "script-src 'self'" in csp


def test_unknown_host_is_refused_with_problem_json(shared_api: Any) -> None:
    r = shared_api.as_("admin", "GET", "/api/units", headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert "GRIDMGR_ALLOWED_HOSTS" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"
    ok = shared_api.as_("admin", "GET", "/healthz", headers={"Host": "localhost:8000"})
    assert ok.status_code == 200


def _logged_in(api: Any) -> Any:
    c = api.client
    c.cookies.clear()
    r = c.post("/login", data={"username": "planner", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    return c


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://testserver"}, True),
        ({"Referer": "http://testserver/rebalance"}, True),
        ({"Origin": "https://testserver"}, False),  # another scheme is another origin
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "http://evil.example", "Host": "evil.example"}, False),  # spoofed host
        ({}, False),
    ],
)
def test_cookie_requests_must_come_from_this_origin(
    api: Any, headers: dict[str, str], allowed: bool
) -> None:
    c = _logged_in(api)
    r = c.post("/api/plans", json={}, headers=headers)  # invalid body: 422 once admitted
    assert (r.status_code == 422) is allowed, (headers, r.status_code, r.text)
    if not allowed:
        assert r.status_code in (400, 403)
