"""The service through its HTTP interface, on SQLite and PostGIS."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

import pytest

from api.errors import PROBLEM

OUTSIDE = (43.70, 125.10)  # lat, lng: south-west of the tiny layers


def _put(api: Any, role: str, cell: str, leader: str | None, etag: str | None, **kw: Any) -> Any:
    headers = {} if etag is None else {"If-Match": etag}
    return api.as_(role, "PUT", f"/api/assignments/{cell}", headers=headers,
                   json={"leader_id": leader, "reason": "测试调整", **kw})


# ------------------------------------------------------------------ reads


def test_pieces_paging_bbox_and_limits(api: Any) -> None:
    whole = api.as_("viewer", "GET", "/api/pieces?limit=1000").json()
    n = whole["numberMatched"]
    assert n == len(api.store.pieces(geometry=False)) == len(whole["features"])
    seen = []
    for off in range(0, n, 20):
        page = api.as_("viewer", "GET", f"/api/pieces?limit=20&offset={off}")
        assert page.headers["content-type"].startswith("application/geo+json")
        seen += [f["id"] for f in page.json()["features"]]
    assert sorted(seen) == sorted(f["id"] for f in whole["features"])
    mine = api.as_("viewer", "GET", "/api/pieces?leader=G01_1&limit=1000").json()
    assert {f["properties"]["leader_id"] for f in mine["features"]} == {"G01_1"}
    # bbox: a box around the first community only
    box = api.as_("viewer", "GET", "/api/pieces?bbox=125.250,43.800,125.2529,43.805&limit=1000").json()
    assert 0 < box["numberMatched"] < n
    r = api.as_("viewer", "GET", "/api/pieces?limit=1001")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "1000" in r.json()["detail"]
    r = api.as_("viewer", "GET", "/api/pieces?bbox=120,40,125,44")
    assert r.status_code == 422 and "square degrees" in r.json()["detail"]
    assert api.as_("viewer", "GET", "/api/pieces?bbox=1,2,3").status_code == 422


def test_phones_only_for_planner_and_admin(api: Any) -> None:
    def phone(role: str, leader: str) -> Any:
        return api.as_(role, "GET", f"/api/leaders/{leader}").json()["phone"]

    want = api.store.get_leader("P01", include_phone=True)["phone"]
    assert want
    assert phone("planner", "P01") == want and phone("admin", "P01") == want
    assert phone("viewer", "P01") is None and phone("leader", "P01") is None
    everyone = api.as_("leader2", "GET", "/api/leaders").json()
    assert all(r["phone"] is None for r in everyone)


def test_locate(api: Any) -> None:
    r = api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253&category=school")
    body = r.json()
    assert body["inside"] is True
    assert [u["level"] for u in body["units"]] == ["district", "street", "community"]
    pieces = api.store.pieces(geometry=False).set_index("id")
    assert body["leader"]["id"] == pieces.at[body["piece_id"], "leader_id"]
    assert body["cell"] == pieces.at[body["piece_id"], "cell"]
    assert [p["id"] for p in body["package_leaders"]] == ["P01"]
    assert [d["code"] for d in body["departments"]] == ["JYJ"]
    assert "phone" not in body["package_leaders"][0]
    planner = api.as_("planner", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    assert planner["package_leaders"][0]["phone"]
    out = api.as_("viewer", "GET", f"/api/locate?lat={OUTSIDE[0]}&lng={OUTSIDE[1]}").json()
    assert out["inside"] is False and out["leader"] is None
    assert api.as_("viewer", "GET", "/api/locate?lat=91&lng=0").status_code == 422


def test_locate_follows_edits(api: Any) -> None:
    r = api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    cell, old = r["cell"], r["leader"]["id"]
    new = "G01_2" if old == "G01_1" else "G01_1"
    etag = api.as_("planner", "GET", f"/api/assignments/{cell}").headers["etag"]
    assert _put(api, "planner", cell, new, etag).status_code == 200
    again = api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    assert again["leader"]["id"] == new


# ------------------------------------------------------------------ writes, ETags, leaders


def test_etag_if_match(api: Any, cells_of: Any) -> None:
    cell = cells_of("G01_1")[0]
    r = api.as_("planner", "GET", f"/api/assignments/{cell}")
    etag = r.headers["etag"]
    assert r.json()["etag"] == etag
    r = _put(api, "planner", cell, "G01_2", None)
    assert r.status_code == 428 and r.headers["content-type"] == PROBLEM
    r = _put(api, "planner", cell, "G01_2", '"999"')
    assert r.status_code == 412
    r = _put(api, "planner", cell, "G01_2", etag)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] != etag
    assert {p["leader_id"] for p in r.json()["pieces"]} == {"G01_2"}
    assert _put(api, "planner", cell, "G01_1", etag).status_code == 412  # stale now
    hist = api.as_("viewer", "GET", f"/api/history?cell={cell}").json()
    assert hist[-1]["actor"] == "planner" and hist[-1]["reason"] == "测试调整"


def test_leader_changes_only_their_own_ground(api: Any, cells_of: Any) -> None:
    own = cells_of("G01_1")[0]
    neighbour = cells_of("G01_2")[0]  # same community, another grid leader
    foreign = cells_of("G02_1")[0]  # another community
    missing = "8a31766f0000fff"

    def attempt(cell: str) -> Any:
        etag = api.as_("leader", "GET", f"/api/assignments/{cell}").headers.get("etag", '"1"')
        return _put(api, "leader", cell, "G01_2", etag)

    answers = [attempt(c) for c in (neighbour, foreign, missing)]
    for cell, r in zip((neighbour, foreign, missing), answers, strict=True):
        assert r.status_code == 404
        body = r.json()
        body["detail"] = body["detail"].replace(cell, "CELL")
        body["instance"] = body["instance"].replace(cell, "CELL")
        answers[answers.index(r)] = body
    assert answers[0] == answers[1] == answers[2]  # "not yours" == "not there"
    before = api.store.pieces(geometry=False)
    assert set(before.loc[before["cell"] == foreign, "leader_id"]) == {"G02_1"}
    r = attempt(own)
    assert r.status_code == 200, r.text
    hist = api.as_("viewer", "GET", f"/api/history?cell={own}").json()
    assert hist[-1]["actor"] == "leader"
    # the new owner must work in the piece's community (store rule): G02_2 does not
    etag = api.as_("leader", "GET", f"/api/assignments/{cells_of('G01_1')[0]}").headers["etag"]
    r = _put(api, "leader", cells_of("G01_1")[0], "G02_2", etag)
    assert r.status_code in (404, 409, 422) and r.headers["content-type"] == PROBLEM


def test_plans_conflict_names_pieces_and_undo(api: Any, cells_of: Any) -> None:
    a, b = cells_of("G01_1")[:2]
    r = api.as_("planner", "POST", "/api/plans",
                json={"reason": "两格对调", "moves": [{"cell": a, "to_leader": "G01_2"},
                                                  {"cell": b, "to_leader": "G01_2"}]})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["status"] == "proposed" and {m["cell"] for m in plan["moves"]} == {a, b}
    # someone edits b meanwhile → apply is refused as a whole, naming b
    etag = api.as_("planner", "GET", f"/api/assignments/{b}").headers["etag"]
    assert _put(api, "admin", b, "G01_2", etag).status_code == 200
    r = api.as_("planner", "POST", f"/api/plans/{plan['id']}/apply")
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert b in json.dumps(r.json()["pieces"]) or b in r.json()["detail"]
    pieces = api.store.pieces(geometry=False)
    assert set(pieces.loc[pieces["cell"] == a, "leader_id"]) == {"G01_1"}  # nothing written
    # a fresh plan applies, lands in history under the planner, and undoes
    r = api.as_("planner", "POST", "/api/plans",
                json={"reason": "移交", "moves": [{"cell": a, "to_leader": "G01_2"}]})
    pid = r.json()["id"]
    r = api.as_("planner", "POST", f"/api/plans/{pid}/apply")
    assert r.status_code == 200 and r.json()["changed"] >= 1
    assert api.as_("viewer", "GET", f"/api/plans/{pid}").json()["status"] == "applied"
    hist = api.as_("viewer", "GET", f"/api/history?cell={a}").json()
    assert hist[-1]["actor"] == "planner" and hist[-1]["to_leader"] == "G01_2"
    r = api.as_("planner", "POST", f"/api/plans/{pid}/undo")
    assert r.status_code == 200
    pieces = api.store.pieces(geometry=False)
    assert set(pieces.loc[pieces["cell"] == a, "leader_id"]) == {"G01_1"}
    assert api.as_("planner", "POST", f"/api/plans/{pid}/apply").status_code == 409


def test_rebalance_propose_show_diff_apply(api: Any) -> None:
    r = api.as_("planner", "POST", "/api/plans/rebalance",
                json={"scope": "220173001001", "target_ratio": 1.05})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["moves"], "halves by id order are unbalanced: the plan must move pieces"
    diff = api.as_("viewer", "GET", f"/api/plans/{plan['id']}/diff").json()
    assert diff["type"] == "FeatureCollection" and len(diff["features"]) >= 1
    before = api.as_("viewer", "GET", "/api/coverage?scope=220173001001").json()
    r = api.as_("planner", "POST", f"/api/plans/{plan['id']}/apply")
    assert r.status_code == 200, r.text
    after = api.as_("viewer", "GET", "/api/coverage?scope=220173001001").json()
    ratio = {r_["id"]: r_["load_ratio"] for r_ in after["leaders"] if r_["id"].startswith("G01")}
    old = {r_["id"]: r_["load_ratio"] for r_ in before["leaders"] if r_["id"].startswith("G01")}
    assert max(ratio.values()) < max(old.values())
    r = api.as_("planner", "POST", f"/api/plans/{plan['id']}/discard")
    assert r.status_code == 409  # only a proposed plan can be discarded


def test_coverage_json_and_geojson(api: Any) -> None:
    rep = api.as_("viewer", "GET", "/api/coverage").json()
    assert rep["report"] == "gridmgr.coverage" and rep["pieces"] == len(api.store.pieces(geometry=False))
    gj = api.as_("viewer", "GET", "/api/coverage/geojson")
    assert gj.headers["content-type"].startswith("application/geo+json")
    assert gj.json()["numberMatched"] == len(gj.json()["features"])
    assert api.as_("viewer", "GET", "/api/coverage?scope=nope").status_code == 404


# ------------------------------------------------------------------ OGC, exports, maps


def test_ogc_features(api: Any) -> None:
    land = api.as_("viewer", "GET", "/ogc").json()
    assert {"self", "conformance", "data", "service-desc"} <= {l["rel"] for l in land["links"]}
    conf = api.as_("viewer", "GET", "/ogc/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in conf)
    cols = api.as_("viewer", "GET", "/ogc/collections").json()
    assert {c["id"] for c in cols["collections"]} == {"units", "pieces", "key_places"}
    page = api.as_("viewer", "GET", "/ogc/collections/pieces/items?limit=10&offset=10").json()
    rels = {l["rel"]: l["href"] for l in page["links"]}
    assert {"self", "next", "prev"} <= set(rels) and page["numberReturned"] == 10
    nxt = api.as_("viewer", "GET", rels["next"].replace("http://testserver", "")).json()
    assert {f["id"] for f in nxt["features"]}.isdisjoint({f["id"] for f in page["features"]})
    fid = page["features"][0]["id"]
    one = api.as_("viewer", "GET", f"/ogc/collections/pieces/items/{fid}").json()
    assert one["id"] == fid and one["type"] == "Feature"
    units = api.as_("viewer", "GET", "/ogc/collections/units/items").json()
    assert units["numberMatched"] == len(api.store.units())
    assert api.as_("viewer", "GET", "/ogc/collections/nope/items").status_code == 422
    assert api.as_("viewer", "GET", "/ogc/collections/units/items/nope").status_code == 404


def test_export_kml_has_utf8_filename(api: Any) -> None:
    import xml.etree.ElementTree as ET

    r = api.as_("leader", "GET", "/api/exports/leaders/G01_1?format=kml")
    assert r.status_code == 200, r.text
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;") and "filename*=UTF-8''" in cd
    name = unquote(cd.split("filename*=UTF-8''", 1)[1])
    assert name == "网格长G01_1_巡查图.kml"
    root = ET.fromstring(r.content)
    assert root.tag.endswith("kml") and "网格长G01_1" in r.content.decode()
    assert api.as_("viewer", "GET", "/api/exports/leaders/NOPE?format=kml").status_code == 404
    assert api.as_("viewer", "GET", "/api/exports/leaders/G01_1?format=exe").status_code == 422


def test_leader_map_page_is_offline(api: Any) -> None:
    r = api.as_("viewer", "GET", "/api/maps/leaders/G01_1?basemap=none")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "unpkg.com" not in r.text and "cdn.jsdelivr" not in r.text


# ------------------------------------------------------------------ security and plumbing


def test_bad_tokens_body_limit_and_health(api: Any) -> None:
    r = api.client.get("/api/units", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/api/units", headers={"Authorization": "Basic eA=="}).status_code == 401
    big = b"x" * (api.client.app.state.settings.max_body_bytes + 1)
    r = api.as_("admin", "POST", "/api/admin/leaders", content=big,
                headers={"Content-Type": "text/csv"})
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    h = api.client.get("/healthz").json()
    assert h["status"] == "ok" and h["pieces"] == len(api.store.pieces(geometry=False))


def test_login_cookie_and_csrf(api: Any) -> None:
    c = api.client
    r = c.post("/login", data={"username": "planner", "password": "wrong", "next": "/"})
    assert r.status_code == 401
    r = c.post("/login", data={"username": "planner", "password": "correct-horse-battery",
                               "next": "/dashboard"}, follow_redirects=False)
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
    r = c.post("/login", data={"username": "planner", "password": "correct-horse-battery",
                               "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"
    c.cookies.clear()


def test_production_refuses_default_secret() -> None:
    from api.main import create_app
    from api.settings import ServiceSettings

    with pytest.raises(RuntimeError, match="GRIDMGR_SECRET_KEY"):
        create_app(ServiceSettings(env="production"))
    create_app(ServiceSettings(env="production", secret_key="k" * 40, access_log=False))


def test_cookie_secure_outside_local(loaded_store: Any) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ServiceSettings
    from apihelpers import make_users

    make_users(loaded_store)
    app = create_app(ServiceSettings(env="production", secret_key="s" * 40, access_log=False),
                     store=loaded_store)
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post("/login", data={"username": "viewer", "password": "correct-horse-battery"},
                   follow_redirects=False)
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_access_log_is_one_json_line(loaded_store: Any) -> None:
    from fastapi.testclient import TestClient

    from api.main import access_log, create_app
    from api.settings import ServiceSettings
    from apihelpers import make_users

    tokens = make_users(loaded_store)
    lines: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    app = create_app(ServiceSettings(env="local"), store=loaded_store)
    h = Grab()
    access_log.addHandler(h)
    try:
        with TestClient(app) as c:
            c.get("/api/units", headers={"Authorization": f"Bearer {tokens['viewer']}"})
            c.get("/api/units")
    finally:
        access_log.removeHandler(h)
    got = [json.loads(x) for x in lines]
    assert got[0] == {**got[0], "method": "GET", "path": "/api/units", "status": 200, "user": "viewer"}
    assert got[1]["status"] == 401 and got[1]["user"] is None and got[1]["ms"] >= 0
