"""Findings of a security review, each kept fixed: parallel guesses, lock eviction, login CSRF,
a NUL user name on PostgreSQL, malformed hosts, a viewer opening another leader's ground."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from apihelpers import PASSWORD


def test_parallel_guesses_are_counted_before_they_are_checked() -> None:
    from api.throttle import LoginThrottle, Throttled

    throttle = LoginThrottle(account_limit=5, client_limit=1000)
    admitted: list[int] = []
    gate = threading.Barrier(40)

    def guess(i: int) -> None:
        gate.wait()
        try:
            throttle.begin("planner", f"10.0.0.{i}")
            admitted.append(i)
        except Throttled:
            pass

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(admitted) == 5  # exactly the limit reaches the password check


def test_a_spray_of_names_never_clears_an_active_lock() -> None:
    from api.throttle import LoginThrottle, Throttled

    throttle = LoginThrottle(account_limit=3, client_limit=3, max_keys=100)
    for _ in range(3):
        throttle.begin("admin", "attacker")
    for i in range(500):  # one failure each from many addresses and names
        throttle.begin(f"user{i}", f"198.51.100.{i}")
    with pytest.raises(Throttled):
        throttle.begin("admin", "another-address")
    assert len(throttle._failures) <= 100


def test_login_from_a_foreign_page_is_refused(api: Any) -> None:
    api.client.cookies.clear()
    r = api.client.post(
        "/login",
        data={"username": "planner", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "gridmgr_session" not in r.headers.get("set-cookie", "")
    ok = api.client.post(
        "/login",
        data={"username": "planner", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_a_nul_in_a_user_name_is_no_server_error(api: Any) -> None:
    api.client.cookies.clear()
    r = api.client.post(
        "/login", data={"username": "plan\x00ner", "password": "x" * 10}, follow_redirects=False
    )
    assert r.status_code == 401
    bad = api.as_("admin", "POST", "/api/users/a%00b/disable", json={"reason": "x"})
    assert bad.status_code == 404


@pytest.mark.parametrize("host", ["[::1]@evil.example", "[::1]evil.example", "[::1", "a b"])
def test_malformed_hosts_are_refused(shared_api: Any, host: str) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ServiceSettings

    settings = ServiceSettings(env="local", access_log=False, allowed_hosts=["::1", "localhost"])
    with TestClient(create_app(settings, store=shared_api.store)) as c:
        assert c.get("/healthz", headers={"Host": host}).status_code == 400
        assert c.get("/healthz", headers={"Host": "[::1]:8000"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "LOCALHOST."}).status_code == 200


def test_a_viewer_does_not_open_another_leaders_ground(api: Any) -> None:
    api.client.cookies.clear()
    api.client.post("/login", data={"username": "viewer", "password": PASSWORD})
    page = api.client.get("/my?leader=G01_1")
    assert page.status_code == 200 and 'id="my-pieces"' not in page.text
    api.client.cookies.clear()
    api.client.post("/login", data={"username": "planner", "password": PASSWORD})
    assert 'id="my-pieces"' in api.client.get("/my?leader=G01_1").text
