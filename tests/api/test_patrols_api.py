"""The patrols API: the phone's flow (start, batches resent and late, check-in, finish), who may
write what, and temporal coverage — on both backends."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from gridmgr.store import schema as s

T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)


def _fixes(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "at": (T0 + dt.timedelta(seconds=5 * i)).isoformat(),
            "lon": 125.2505 + 0.00005 * i,
            "lat": 43.8015,
            "accuracy": 8.0,
        }
        for i in range(start, start + n)
    ]


def _count(store: Any, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_phone_flow_resent_and_late_batches(api: Any) -> None:
    r = api.as_(
        "leader", "POST", "/api/patrols", json={"client_id": "p-1", "started_at": T0.isoformat()}
    )
    assert r.status_code == 201, r.text
    pid = r.json()["patrol_id"]
    again = api.as_("leader", "POST", "/api/patrols", json={"client_id": "p-1"})
    assert again.json() == {"patrol_id": pid, "created": False}
    url = f"/api/patrols/{pid}/points"
    b1 = {"batch_id": "b1", "points": _fixes(0, 20)}
    assert api.as_("leader", "POST", url, json=b1).json()["stored"] is True
    resent = api.as_("leader", "POST", url, json=b1).json()
    assert resent["stored"] is False  # a resent batch: stored once
    assert _count(api.store, s.patrol_points) == 20
    fin = api.as_("leader", "POST", f"/api/patrols/{pid}/finish", json={})
    assert fin.status_code == 200, fin.text
    assert fin.json()["points"] == 20 and fin.json()["pieces_visited"] > 0
    late = api.as_("leader", "POST", url, json={"batch_id": "b2", "points": _fixes(20, 20)})
    assert late.json()["stored"] is True and late.json()["late"] is True
    assert _count(api.store, s.patrol_points) == 40
    [row] = api.as_("viewer", "GET", "/api/patrols").json()
    assert row["id"] == pid and row["points"] == 40 and row["leader_name"]
    assert row["distance_m"] > fin.json()["distance_m"]  # the late batch is in the path


def test_checkin_with_photo(api: Any) -> None:
    kp = api.store.key_places().set_index("code").loc["KP001"]
    pid = api.as_("leader", "POST", "/api/patrols", json={"client_id": "p-2"}).json()["patrol_id"]
    body = {
        "lon": kp.geometry.x,
        "lat": kp.geometry.y,
        "key_place_code": "KP001",
        "client_id": "c-1",
        "photo_base64": base64.b64encode(b"\xff\xd8\xff fake jpeg").decode(),
        "photo_type": "image/jpeg",
    }
    r = api.as_("leader", "POST", f"/api/patrols/{pid}/checkins", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["stored"] and r.json()["places_visited"] == 1
    assert (
        api.as_("leader", "POST", f"/api/patrols/{pid}/checkins", json=body).json()["stored"]
        is False
    )
    bad = api.as_(
        "leader",
        "POST",
        f"/api/patrols/{pid}/checkins",
        json={**body, "client_id": "c-2", "photo_base64": "***"},
    )
    assert bad.status_code == 422


def test_a_leader_writes_only_their_own_patrols(api: Any) -> None:
    pid = api.as_("leader", "POST", "/api/patrols", json={"client_id": "p-3"}).json()["patrol_id"]
    other = api.as_(
        "leader2",
        "POST",
        f"/api/patrols/{pid}/points",
        json={"batch_id": "x", "points": _fixes(0, 2)},
    )
    assert other.status_code == 404
    r = api.as_("leader2", "POST", "/api/patrols", json={"client_id": "p-4", "leader_id": "G01_1"})
    assert r.status_code == 403
    assert api.as_("viewer", "POST", "/api/patrols", json={"client_id": "p-5"}).status_code == 403
    # a planner writes for any leader, naming them
    r = api.as_("planner", "POST", "/api/patrols", json={"client_id": "p-6", "leader_id": "G02_1"})
    assert r.status_code == 201
    assert _count(api.store, s.patrol_points) == 0


def test_bad_batches_are_refused_and_write_nothing(api: Any) -> None:
    pid = api.as_("leader", "POST", "/api/patrols", json={"client_id": "p-7"}).json()["patrol_id"]
    url = f"/api/patrols/{pid}/points"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    for points in (
        [],
        [{"at": T0.isoformat(), "lon": 5.0, "lat": 43.8}],  # outside China
        [{"at": "2026-12-01T01:00:00", "lon": 125.25, "lat": 43.8}],  # no time zone
        [{"at": future, "lon": 125.25, "lat": 43.8}],
    ):
        r = api.as_("leader", "POST", url, json={"batch_id": "bad", "points": points})
        assert r.status_code == 422, (points, r.text)
    assert _count(api.store, s.patrol_points) == 0
    assert _count(api.store, s.patrol_batches) == 0


def test_temporal_coverage(api: Any) -> None:
    pid = api.as_(
        "leader", "POST", "/api/patrols", json={"client_id": "p-8", "started_at": T0.isoformat()}
    ).json()["patrol_id"]
    api.as_(
        "leader",
        "POST",
        f"/api/patrols/{pid}/points",
        json={"batch_id": "b", "points": _fixes(0, 40)},
    )
    api.as_("leader", "POST", f"/api/patrols/{pid}/finish", json={})
    as_of = (T0 + dt.timedelta(days=1)).isoformat()
    r = api.as_("viewer", "GET", "/api/patrols/coverage", params={"days": 7, "as_of": as_of})
    assert r.status_code == 200, r.text
    d = r.json()
    assert 0 < d["visited_pieces"] < d["pieces"]
    assert d["stale_pieces"] == d["pieces"] - d["visited_pieces"]
    lead = {x["id"]: x for x in d["leaders"]}
    assert lead["G01_1"]["last_patrol_beijing"].startswith("2026-12-01 09:00")
    assert lead["G02_1"]["last_patrol_at"] is None
    r = api.as_("viewer", "GET", "/api/patrols/coverage", params={"scope": "nosuchunit"})
    assert r.status_code == 404


def test_patrol_page(api: Any) -> None:
    r = api.as_("leader", "GET", "/patrol")
    assert r.status_code == 200
    assert "开始巡查" in r.text and 'id="stale-pieces"' in r.text
    assert 'src="/static/patrol.js"' in r.text
    assert "下一次巡查路线" in r.text and 'id="next-route"' in r.text  # nothing seen yet
    assert api.as_("viewer", "GET", "/patrol").status_code == 403
    r = api.as_("planner", "GET", "/patrol?leader=G02_1&lang=en")
    assert r.status_code == 200 and "Start patrol" in r.text
