"""Reads through the HTTP interface (one loaded store per backend for the module)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from api.errors import PROBLEM

OUTSIDE = (43.70, 125.10)  # lat, lng: south-west of the tiny layers


def test_pieces_paging_bbox_and_limits(shared_api: Any) -> None:
    whole = shared_api.as_("viewer", "GET", "/api/pieces?limit=1000").json()
    n = whole["numberMatched"]
    assert n == len(shared_api.store.pieces(geometry=False)) == len(whole["features"])
    seen = []
    for off in range(0, n, 20):
        page = shared_api.as_("viewer", "GET", f"/api/pieces?limit=20&offset={off}")
        assert page.headers["content-type"].startswith("application/geo+json")
        seen += [f["id"] for f in page.json()["features"]]
    assert sorted(seen) == sorted(f["id"] for f in whole["features"])
    mine = shared_api.as_("viewer", "GET", "/api/pieces?leader=G01_1&limit=1000").json()
    assert {f["properties"]["leader_id"] for f in mine["features"]} == {"G01_1"}
    # bbox: a box around the first community only
    box = shared_api.as_(
        "viewer", "GET", "/api/pieces?bbox=125.250,43.800,125.2529,43.805&limit=1000"
    ).json()
    assert 0 < box["numberMatched"] < n
    r = shared_api.as_("viewer", "GET", "/api/pieces?limit=1001")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "1000" in r.json()["detail"]
    r = shared_api.as_("viewer", "GET", "/api/pieces?bbox=120,40,125,44")
    assert r.status_code == 422 and "square degrees" in r.json()["detail"]
    assert shared_api.as_("viewer", "GET", "/api/pieces?bbox=1,2,3").status_code == 422


def test_phones_only_for_planner_and_admin(shared_api: Any) -> None:
    def phone(role: str, leader: str) -> Any:
        return shared_api.as_(role, "GET", f"/api/leaders/{leader}").json()["phone"]

    want = shared_api.store.get_leader("P01", include_phone=True)["phone"]
    assert want
    assert phone("planner", "P01") == want and phone("admin", "P01") == want
    assert phone("viewer", "P01") is None and phone("leader", "P01") is None
    everyone = shared_api.as_("leader2", "GET", "/api/leaders").json()
    assert all(r["phone"] is None for r in everyone)


def test_locate(shared_api: Any) -> None:
    r = shared_api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253&category=school")
    body = r.json()
    assert body["inside"] is True
    assert [u["level"] for u in body["units"]] == ["district", "street", "community"]
    pieces = shared_api.store.pieces(geometry=False).set_index("id")
    assert body["leader"]["id"] == pieces.at[body["piece_id"], "leader_id"]
    assert body["cell"] == pieces.at[body["piece_id"], "cell"]
    assert [p["id"] for p in body["package_leaders"]] == ["P01"]
    assert [d["code"] for d in body["departments"]] == ["JYJ"]
    assert "phone" not in body["package_leaders"][0]
    planner = shared_api.as_("planner", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    assert planner["package_leaders"][0]["phone"]
    out = shared_api.as_("viewer", "GET", f"/api/locate?lat={OUTSIDE[0]}&lng={OUTSIDE[1]}").json()
    assert out["inside"] is False and out["leader"] is None
    assert shared_api.as_("viewer", "GET", "/api/locate?lat=91&lng=0").status_code == 422


def test_coverage_json_and_geojson(shared_api: Any) -> None:
    rep = shared_api.as_("viewer", "GET", "/api/coverage").json()
    assert rep["report"] == "gridmgr.coverage" and rep["pieces"] == len(
        shared_api.store.pieces(geometry=False)
    )
    gj = shared_api.as_("viewer", "GET", "/api/coverage/geojson")
    assert gj.headers["content-type"].startswith("application/geo+json")
    assert gj.json()["numberMatched"] == len(gj.json()["features"])
    assert shared_api.as_("viewer", "GET", "/api/coverage?scope=nope").status_code == 404


def test_ogc_features(shared_api: Any) -> None:
    land = shared_api.as_("viewer", "GET", "/ogc").json()
    assert {"self", "conformance", "data", "service-desc"} <= {
        link["rel"] for link in land["links"]
    }
    conf = shared_api.as_("viewer", "GET", "/ogc/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in conf)
    cols = shared_api.as_("viewer", "GET", "/ogc/collections").json()
    assert {c["id"] for c in cols["collections"]} == {"units", "pieces", "key_places"}
    page = shared_api.as_(
        "viewer", "GET", "/ogc/collections/pieces/items?limit=10&offset=10"
    ).json()
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert {"self", "next", "prev"} <= set(rels) and page["numberReturned"] == 10
    nxt = shared_api.as_("viewer", "GET", rels["next"].replace("http://testserver", "")).json()
    assert {f["id"] for f in nxt["features"]}.isdisjoint({f["id"] for f in page["features"]})
    fid = page["features"][0]["id"]
    one = shared_api.as_("viewer", "GET", f"/ogc/collections/pieces/items/{fid}").json()
    assert one["id"] == fid and one["type"] == "Feature"
    units = shared_api.as_("viewer", "GET", "/ogc/collections/units/items").json()
    assert units["numberMatched"] == len(shared_api.store.units())
    assert shared_api.as_("viewer", "GET", "/ogc/collections/nope/items").status_code == 422
    assert shared_api.as_("viewer", "GET", "/ogc/collections/units/items/nope").status_code == 404


def test_export_kml_has_utf8_filename(shared_api: Any) -> None:
    import xml.etree.ElementTree as ET

    r = shared_api.as_("leader", "GET", "/api/exports/leaders/G01_1?format=kml")
    assert r.status_code == 200, r.text
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;") and "filename*=UTF-8''" in cd
    name = unquote(cd.split("filename*=UTF-8''", 1)[1])
    assert name == "网格长G01_1_巡查图.kml"
    root = ET.fromstring(r.content)
    assert root.tag.endswith("kml") and "网格长G01_1" in r.content.decode()
    assert (
        shared_api.as_("planner", "GET", "/api/exports/leaders/NOPE?format=kml").status_code == 404
    )
    assert (
        shared_api.as_("leader", "GET", "/api/exports/leaders/G01_1?format=exe").status_code == 422
    )


def test_leader_map_page_is_offline(shared_api: Any) -> None:
    r = shared_api.as_("leader", "GET", "/api/maps/leaders/G01_1?basemap=none")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "unpkg.com" not in r.text and "cdn.jsdelivr" not in r.text


def test_bad_tokens_body_limit_and_health(shared_api: Any) -> None:
    r = shared_api.client.get("/api/units", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert (
        shared_api.client.get("/api/units", headers={"Authorization": "Basic eA=="}).status_code
        == 401
    )
    big = b"x" * (shared_api.client.app.state.settings.max_body_bytes + 1)
    r = shared_api.as_(
        "admin", "POST", "/api/admin/leaders", content=big, headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    h = shared_api.client.get("/healthz").json()
    assert h["status"] == "ok" and h["pieces"] == len(shared_api.store.pieces(geometry=False))


def test_login_cookie_and_csrf(shared_api: Any) -> None:
    c = shared_api.client
    r = c.post("/login", data={"username": "planner", "password": "wrong", "next": "/"})
    assert r.status_code == 401
    r = c.post(
        "/login",
        data={"username": "planner", "password": "correct-horse-battery", "next": "/dashboard"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert c.get("/api/me").json()["name"] == "planner"
    body = {"reason": "csrf", "moves": [{"cell": "x", "to_leader": None}]}
    assert c.post("/api/plans", json=body).status_code == 403  # cookie, no Origin
    r = c.post("/api/plans", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = c.post("/api/plans", json=body, headers={"Origin": "http://testserver"})
    assert r.status_code == 404  # passed the CSRF check; the cell does not exist
    c.post("/logout", headers={"Origin": "http://testserver"})
    c.cookies.clear()
    assert c.get("/api/me").status_code == 401
    r = c.post(
        "/login",
        data={
            "username": "planner",
            "password": "correct-horse-battery",
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"
    c.cookies.clear()


def test_cookie_secure_outside_local(shared_api: Any) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ServiceSettings

    app = create_app(
        ServiceSettings(env="production", access_log=False, allowed_hosts=["testserver"]),
        store=shared_api.store,
    )
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post(
            "/login",
            data={"username": "viewer", "password": "correct-horse-battery"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_access_log_is_one_json_line(shared_api: Any) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.middleware import access_log
    from api.settings import ServiceSettings

    tokens = shared_api.tokens
    lines: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    app = create_app(
        ServiceSettings(env="local", allowed_hosts=["testserver"]), store=shared_api.store
    )
    h = Grab()
    access_log.addHandler(h)
    try:
        with TestClient(app) as c:
            c.get("/api/units", headers={"Authorization": f"Bearer {tokens['viewer']}"})
            c.get("/api/units")
    finally:
        access_log.removeHandler(h)
    got = [json.loads(x) for x in lines]
    assert got[0] == {
        **got[0],
        "method": "GET",
        "path": "/api/units",
        "status": 200,
        "user": "viewer",
    }
    assert got[1]["status"] == 401 and got[1]["user"] is None and got[1]["ms"] >= 0


def test_locate_fast_path_matches_the_route(shared_api: Any) -> None:
    """The hot path (cached token) answers exactly what the FastAPI route answers."""
    import time

    from api.main import LocateFastPath

    url = "/api/locate?lat=43.8025&lng=125.2535&category=farmers_market"
    for role in ("viewer", "planner"):
        cache = shared_api.client.app.state.auth_cache
        cache.clear()
        slow = shared_api.as_(role, "GET", url)  # cache miss: through FastAPI
        scope = {
            "type": "http",
            "path": "/api/locate",
            "method": "GET",
            "query_string": url.split("?", 1)[1].encode(),
            "app": shared_api.client.app,
            "headers": [(b"authorization", shared_api.headers(role)["Authorization"].encode())],
        }
        shared_api.client.app.state.index.owners_at = time.monotonic()
        fast = LocateFastPath._answer(scope)
        assert fast is not None
        assert json.loads(fast) == slow.json()
        assert shared_api.as_(role, "GET", url).json() == slow.json()
    bad = dict(scope, query_string=b"lat=100&lng=0")
    assert LocateFastPath._answer(bad) is None  # → the route's 422
    assert shared_api.as_("viewer", "GET", "/api/locate?lat=100&lng=0").status_code == 422
