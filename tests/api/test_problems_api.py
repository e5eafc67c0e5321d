"""Problems over HTTP: Idempotency-Key, ETag / If-Match, multipart photos, who sees what."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from apihelpers import Api

LNG, LAT = 125.25 + 0.0021, 43.80 + 0.0013  # community 220173001001 of the tiny layers


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 60)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridmgr.problems.workdays import known_years

    if dt.date.today().year > known_years()[1]:
        pytest.skip(
            "today is beyond the installed chinesecalendar's years: deadlines cannot be computed"
        )
    monkeypatch.setenv("GRIDMGR_MEDIA_DIR", str(tmp_path / "media"))


def _step(api: Api, role: str, code: str, action: str, **kw: Any) -> Any:
    etag = api.as_(role, "GET", f"/api/problems/{code}").headers["ETag"]
    return api.as_(
        role, "POST", f"/api/problems/{code}/actions/{action}", headers={"If-Match": etag}, **kw
    )


def test_report_resend_and_cycle(api: Api) -> None:
    body = {"lat": LAT, "lng": LNG, "category": "ZZ01", "text": "路边暴露垃圾"}
    key = {"Idempotency-Key": "phone-1-000001"}
    r1 = api.as_("leader", "POST", "/api/problems", json=body, headers=key)
    r2 = api.as_("leader", "POST", "/api/problems", json=body, headers=key)
    assert r1.status_code == 201 and r2.status_code == 200
    code = r1.json()["id"]
    assert r2.json()["id"] == code and r1.json()["leader_id"] in {"G01_1", "G01_2"}
    assert api.as_("leader", "GET", "/api/problems").json()["count"] == 1

    # photos: multipart, JPEG by content; a renamed PDF is refused and nothing is added
    bad = api.as_(
        "leader",
        "POST",
        f"/api/problems/{code}/photos",
        files={"photo": ("x.jpg", b"%PDF-1.4 fake", "image/jpeg")},
    )
    assert bad.status_code == 422 and "JPEG" in bad.json()["detail"]
    ok = api.as_(
        "leader",
        "POST",
        f"/api/problems/{code}/photos",
        files={"photo": ("a.jpg", _jpeg(), "image/jpeg")},
    )
    assert ok.status_code == 200 and len(ok.json()["photos"]) == 1
    sha = ok.json()["photos"][0]["sha256"]
    assert api.as_("admin", "GET", f"/api/problems/{code}/photos/{sha}").content == _jpeg()
    assert api.as_("leader2", "GET", f"/api/problems/{code}/photos/{sha}").status_code == 404
    assert api.as_("leader2", "GET", f"/api/problems/{code}").status_code == 404

    # If-Match: missing → 428, stale → 412; role rules → 403; wrong state → 409
    assert api.as_("planner", "POST", f"/api/problems/{code}/actions/register").status_code == 428
    stale = api.as_(
        "planner", "POST", f"/api/problems/{code}/actions/register", headers={"If-Match": '"v99"'}
    )
    assert stale.status_code == 412
    assert _step(api, "leader", code, "register").status_code == 403
    assert _step(api, "planner", code, "register").status_code == 200
    assert _step(api, "planner", code, "handle").status_code == 409
    r = _step(api, "planner", code, "dispatch", data={"leader_id": "G01_1", "workdays": "2"})
    assert r.status_code == 200 and r.json()["due_at"].endswith("+08:00")
    no_photo = _step(api, "leader", code, "handle")
    assert no_photo.status_code == 422
    done = _step(
        api, "leader", code, "handle", files={"photo": ("after.jpg", _jpeg(), "image/jpeg")}
    )
    assert done.status_code == 200 and done.json()["status"] == "handled"
    assert _step(api, "planner", code, "verify-pass").status_code == 403  # planners do not verify
    closed = _step(api, "admin", code, "verify-pass")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    page = api.as_("planner", "GET", "/api/maps/problems?basemap=none")
    assert page.status_code == 200 and "未结案问题" in page.text and "cdn" not in page.text
    assert [e["action"] for e in closed.json()["events"]] == [
        "report",
        "photo",
        "register",
        "dispatch",
        "handle",
        "verify-pass",
    ]


def test_invalid_report_is_422_and_writes_nothing(api: Api) -> None:
    r = api.as_("leader", "POST", "/api/problems", json={"lat": 43.8, "category": "ZZ01"})
    assert r.status_code == 422
    r = api.as_(
        "leader",
        "POST",
        "/api/problems",
        json={"lat": 43.8, "lng": 125.1, "category": "NOPE", "text": "x"},
    )
    assert r.status_code == 422
    assert api.as_("admin", "GET", "/api/problems").json()["count"] == 0


def test_pages_render_chinese_first(api: Api) -> None:
    from apihelpers import PASSWORD
    from test_pages_chinese import english_identifiers, visible_text

    c = api.client
    c.cookies.clear()
    assert c.get("/problems/mine", follow_redirects=False).status_code == 303
    assert (
        c.post(
            "/login", data={"username": "planner", "password": PASSWORD}, follow_redirects=False
        ).status_code
        == 303
    )
    for url, words in (
        ("/problems/report", "上报问题"),
        ("/problems/mine", "我的问题"),
        ("/problems/queue", "待整改"),
        ("/problems/verify", "待核查"),
        ("/problems/board", "下载通报"),
    ):
        r = c.get(url)
        assert r.status_code == 200 and words in r.text, url
        assert english_identifiers(visible_text(r.text)) == [], url
    assert "Overdue board" in c.get("/problems/board?lang=en").text


def test_the_list_mixes_problems_with_and_without_a_deadline(api: Api) -> None:
    """One dispatched (a deadline) beside one just reported (none): the list must not fail on
    the missing deadline (pandas gives NaT there, which cannot be converted to Beijing time)."""
    body = {"lat": LAT, "lng": LNG, "category": "ZZ01", "text": "路边暴露垃圾"}
    first = api.as_("leader", "POST", "/api/problems", json=body).json()["id"]
    api.as_("leader", "POST", "/api/problems", json={**body, "text": "又一处"})
    assert _step(api, "planner", first, "register").status_code == 200
    r = _step(api, "planner", first, "dispatch", data={"leader_id": "G01_1", "workdays": "2"})
    assert r.status_code == 200
    listed = api.as_("planner", "GET", "/api/problems")
    assert listed.status_code == 200, listed.text
    due = {p["id"]: p["due_at"] for p in listed.json()["problems"]}
    assert due[first].endswith("+08:00") and None in due.values()
