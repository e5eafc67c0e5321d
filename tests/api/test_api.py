"""The service through its HTTP interface, on SQLite and PostGIS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.errors import PROBLEM

OUTSIDE = (43.70, 125.10)  # lat, lng: south-west of the tiny layers


def _put(api: Any, role: str, cell: str, leader: str | None, etag: str | None, **kw: Any) -> Any:
    headers = {} if etag is None else {"If-Match": etag}
    return api.as_(
        role,
        "PUT",
        f"/api/assignments/{cell}",
        headers=headers,
        json={"leader_id": leader, "reason": "测试调整", **kw},
    )


def test_locate_follows_edits(api: Any) -> None:
    r = api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    cell, old = r["cell"], r["leader"]["id"]
    new = "G01_2" if old == "G01_1" else "G01_1"
    etag = api.as_("planner", "GET", f"/api/assignments/{cell}").headers["etag"]
    assert _put(api, "planner", cell, new, etag).status_code == 200
    again = api.as_("viewer", "GET", "/api/locate?lat=43.8025&lng=125.253").json()
    assert again["leader"]["id"] == new


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
    r = api.as_(
        "planner",
        "POST",
        "/api/plans",
        json={
            "reason": "两格对调",
            "moves": [{"cell": a, "to_leader": "G01_2"}, {"cell": b, "to_leader": "G01_2"}],
        },
    )
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
    r = api.as_(
        "planner",
        "POST",
        "/api/plans",
        json={"reason": "移交", "moves": [{"cell": a, "to_leader": "G01_2"}]},
    )
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
    r = api.as_(
        "planner",
        "POST",
        "/api/plans/rebalance",
        json={"scope": "220173001001", "target_ratio": 1.05},
    )
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


def test_unknown_environment_is_refused() -> None:
    from api.main import create_app
    from api.settings import ServiceSettings

    with pytest.raises(ValueError, match="GRIDMGR_ENV='prod'"):
        create_app(ServiceSettings(env="prod"))
    create_app(ServiceSettings(env="production", access_log=False))


def test_empty_store_serves(store: Any) -> None:
    """A fresh store (nothing loaded yet) still starts, answers /healthz and /api/locate."""
    from apihelpers import settings
    from fastapi.testclient import TestClient

    from api.main import create_app

    tokens = make_users_no_leaders(store)
    with TestClient(create_app(settings(), store=store)) as c:
        assert c.get("/healthz").json() == {
            "status": "ok",
            "backend": store.backend,
            "res": None,
            "pieces": 0,
        }
        r = c.get("/api/locate?lat=43.8&lng=125.25", headers={"Authorization": f"Bearer {tokens}"})
        assert r.status_code == 200 and r.json()["inside"] is False


def make_users_no_leaders(store: Any) -> str:
    from gridmgr.accounts import credentials as security

    uid = store.add_user("solo", "viewer")
    tok = security.new_token()
    store.add_token(uid, security.hash_token(tok))
    return tok
