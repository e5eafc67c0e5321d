"""The admin's users page: new password, disable, enable, revoke from the browser form."""

from __future__ import annotations

from typing import Any

from apihelpers import PASSWORD

ORIGIN = {"Origin": "http://testserver"}


def _login(api: Any, name: str, password: str = PASSWORD) -> Any:
    api.client.cookies.clear()
    return api.client.post(
        "/login", data={"username": name, "password": password}, follow_redirects=False
    )


def test_admin_manages_accounts_from_the_page(api: Any) -> None:
    assert _login(api, "admin").status_code == 303
    page = api.client.get("/admin/users")
    assert page.status_code == 200 and 'data-user="viewer"' in page.text and "只读用户" in page.text
    reset = api.client.post(
        "/admin/users/viewer/password", data={"password": "fresh-password-1"}, headers=ORIGIN
    )
    assert reset.status_code == 200 and "已为 viewer 设置新密码" in reset.text
    off = api.client.post("/admin/users/viewer/disable", headers=ORIGIN)
    assert off.status_code == 200 and "已停用 viewer" in off.text
    assert api.client.post("/admin/users/admin/disable", headers=ORIGIN).status_code == 409
    foreign = api.client.post("/admin/users/viewer/enable", headers={"Origin": "http://evil"})
    assert foreign.status_code == 403  # the CSRF check holds on these forms too
    assert _login(api, "viewer", "fresh-password-1").status_code == 401  # disabled
    assert _login(api, "admin").status_code == 303
    api.client.post("/admin/users/viewer/enable", headers=ORIGIN)
    assert _login(api, "viewer", "fresh-password-1").status_code == 303
    assert api.client.get("/admin/users").status_code == 403  # a viewer is no admin
