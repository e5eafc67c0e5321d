"""Login sessions: nothing to forge, revocation at once, no user enumeration (both backends)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from apihelpers import PASSWORD
from sqlalchemy import select

COOKIE = "gridmgr_session"


def _login(api: Any, name: str, password: str = PASSWORD) -> Any:
    return api.client.post(
        "/login", data={"username": name, "password": password}, follow_redirects=False
    )


def _with_cookie(api: Any, cookie: str) -> Any:
    """The test client holding exactly this session cookie."""
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE, cookie)
    return api.client


def _me(api: Any, cookie: str) -> Any:
    return _with_cookie(api, cookie).get("/api/me")


def _session_cookie(response: Any) -> str:
    assert response.status_code == 303, response.text
    value = response.cookies.get(COOKIE)
    assert value, response.headers.get("set-cookie")
    return str(value)


def _old_style_cookie(user_id: int, secret: str) -> str:
    """What the former signed cookies looked like: ``user_id.expiry.HMAC`` under a secret."""
    body = f"{user_id}.{int(time.time()) + 3600}"
    sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(sig).decode().rstrip("=")


def test_a_cookie_forged_with_the_old_placeholder_secret_is_refused(api: Any) -> None:
    admin_id = int(api.store.get_user("admin")["id"])
    forged = _old_style_cookie(admin_id, "dev-only-change-me")
    assert _me(api, forged).status_code == 401
    page = _with_cookie(api, forged).get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # and a random session-shaped id is nobody's session either
    assert _me(api, "gs_" + "A" * 43).status_code == 401


def test_login_then_logout_ends_the_session_at_once(api: Any) -> None:
    cookie = _session_cookie(_login(api, "planner"))
    assert _me(api, cookie).json()["name"] == "planner"
    out = _with_cookie(api, cookie).post(
        "/logout",
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert _me(api, cookie).status_code == 401  # the same cookie, replayed after logout


def test_the_store_keeps_only_a_hash_of_the_session_id(api: Any) -> None:
    from gridmgr.store import schema as s

    cookie = _session_cookie(_login(api, "viewer"))
    with api.store.engine.connect() as conn:
        rows = conn.execute(select(s.sessions.c.token_hash, s.sessions.c.user_id)).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(cookie.encode()).hexdigest()]
    assert cookie not in repr(rows)


def test_disabling_a_user_ends_their_session_and_token_at_once(api: Any) -> None:
    cookie = _session_cookie(_login(api, "leader"))
    assert _me(api, cookie).status_code == 200
    assert api.as_("leader", "GET", "/api/me").status_code == 200  # token now cached
    r = api.as_("admin", "POST", "/api/users/leader/disable", json={"reason": "left the post"})
    assert r.status_code == 200 and r.json() == {"user": "leader", "sessions": 1, "tokens": 1}
    assert _me(api, cookie).status_code == 401
    assert api.as_("leader", "GET", "/api/me").status_code == 401
    assert _login(api, "leader").status_code == 401  # and cannot log in again
    back = api.as_("admin", "POST", "/api/users/leader/enable", json={"reason": "back"})
    assert back.status_code == 200
    assert _login(api, "leader").status_code == 303


def test_admin_revoke_and_password_reset_end_sessions(api: Any) -> None:
    first = _session_cookie(_login(api, "viewer"))
    second = _session_cookie(_login(api, "viewer"))
    r = api.as_("admin", "POST", "/api/users/viewer/revoke", json={"reason": "lost phone"})
    assert r.json()["sessions"] == 2
    assert _me(api, first).status_code == 401 and _me(api, second).status_code == 401
    assert api.as_("viewer", "GET", "/api/me").status_code == 200  # tokens kept unless asked
    cookie = _session_cookie(_login(api, "viewer"))
    new = {"password": "another-good-pass"}
    assert api.as_("admin", "PUT", "/api/users/viewer/password", json=new).status_code == 200
    assert _me(api, cookie).status_code == 401
    assert _login(api, "viewer").status_code == 401
    assert _login(api, "viewer", "another-good-pass").status_code == 303
    own = api.as_("admin", "POST", "/api/users/admin/disable", json={"reason": "oops"})
    assert own.status_code == 409  # an admin cannot lock themself out


def test_unknown_and_known_users_cost_the_same_password_work(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No user enumeration by timing: every failed login runs exactly one Argon2 check."""
    from gridmgr.accounts import credentials

    calls: list[str] = []
    real = credentials._verify_argon2

    def counting(password: str, stored: str) -> bool:
        calls.append(stored[:9])
        return real(password, stored)

    monkeypatch.setattr(credentials, "_verify_argon2", counting)
    api.as_("admin", "POST", "/api/users/leader2/disable", json={"reason": "test"})
    for name in ("planner", "no-such-user", "leader2"):  # known, unknown, disabled
        calls.clear()
        assert _login(api, name, "wrong-password").status_code == 401
        assert calls == ["$argon2id"], name


def test_brute_force_is_throttled_per_account_then_per_client(api: Any) -> None:
    for _ in range(5):
        assert _login(api, "planner", "guess-guess").status_code == 401
    locked = _login(api, "planner")  # even the right password waits out the lock
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "planner" not in (locked.cookies.get(COOKIE) or "")
    assert _login(api, "viewer").status_code == 303  # other accounts are not locked
    for i in range(15):  # 5 + 15 = 20 failures from this client
        assert _login(api, f"nobody-{i}", "guess-guess").status_code == 401
    spray = _login(api, "admin")
    assert spray.status_code == 429 and int(spray.headers["Retry-After"]) > 0


def test_password_checks_are_bounded_in_parallel() -> None:
    import threading

    from api.throttle import LoginThrottle, Throttled

    throttle = LoginThrottle(concurrent_hashes=1, queue_seconds=0.05)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with throttle.hashing():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    assert inside.wait(5)
    with pytest.raises(Throttled) as exc:
        with throttle.hashing():
            pass
    assert exc.value.status == 503 and exc.value.retry_after >= 1
    release.set()
    worker.join(5)
    with throttle.hashing():  # the slot is free again
        pass


def test_a_deactivated_leader_cannot_log_in_or_keep_using_the_service(api: Any) -> None:
    cookie = _session_cookie(_login(api, "leader"))
    assert api.as_("leader", "GET", "/api/me").status_code == 200
    api.store.deactivate_leader("G01_1", reason="transferred", actor="test")
    api.client.app.state.auth_cache.clear()  # as a token cache expiry would
    assert _me(api, cookie).status_code == 401
    assert api.as_("leader", "GET", "/api/me").status_code == 401
    api.client.cookies.clear()
    refused = _login(api, "leader")
    assert refused.status_code == 403 and "领导记录已停用" in refused.text
    assert COOKIE not in refused.cookies
    assert _login(api, "leader2").status_code == 303  # other leaders unaffected


def test_a_leader_lands_on_their_own_ground(api: Any) -> None:
    api.client.cookies.clear()
    assert _login(api, "leader").headers["location"] == "/my"
    api.client.cookies.clear()
    assert _login(api, "planner").headers["location"] == "/"
    api.client.cookies.clear()
    asked = api.client.post(
        "/login",
        data={"username": "leader2", "password": PASSWORD, "next": "/dashboard"},
        follow_redirects=False,
    )
    assert asked.headers["location"] == "/dashboard"
