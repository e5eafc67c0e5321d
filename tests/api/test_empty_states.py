"""The early states of a store: coverage, maps, exports and the pages never crash on them.

States (issue 16, item 2), on SQLite and PostGIS: an empty store; layers loaded without leaders
(the state right after ``gridmgr load``); leaders imported but nothing assigned; one leader holding
part of one community. Coverage, the overview map and the briefing work on every loaded state;
on the empty store maps and exports refuse with a message naming ``gridmgr load``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

STATES = ("empty", "no_leaders", "no_assignments", "one_leader")


def _one_leader(store: Any, tmp: Path) -> None:
    from gridmgr.store import Change

    csv = tmp / "one.csv"
    csv.write_text(
        "id,name,role,department,phone,capacity,unit_packages,place_packages\n"
        "G01_1,网格长G01_1,grid_leader,,,1.0,220173001001,\n",
        encoding="utf-8",
    )
    store.import_leaders(csv, actor="test")
    pieces = store.pieces(geometry=False)
    mine = pieces.loc[pieces["unit_code"] == "220173001001", "id"].tolist()[:5]
    store.apply_changes([Change(int(p), "G01_1") for p in mine], actor="test", reason="one")


@pytest.fixture(params=STATES)
def state(
    request: pytest.FixtureRequest,
    store: Any,
    make_layers: Callable[..., Any],
    leaders_csv: Callable[..., Path],
    tmp_path: Path,
) -> tuple[str, Any]:
    """``(name, store)`` in one of :data:`STATES`."""
    name = request.param
    if name != "empty":
        store.load_layers(make_layers(2), res=10, actor="test")
    if name == "no_assignments":
        store.import_leaders(leaders_csv(2, 2), actor="test")
    elif name == "one_leader":
        _one_leader(store, tmp_path)
    return name, store


def test_coverage_report(state: tuple[str, Any]) -> None:
    from gridmgr.coverage.report import coverage_from_store

    name, store = state
    rep = coverage_from_store(store)
    doc = json.loads(json.dumps(rep.to_dict(), allow_nan=False, default=str))
    n = len(store.pieces(geometry=False))
    assert doc["pieces"] == n
    if name == "no_assignments":  # the package leaders hold every piece as 属地兜底
        assert (doc["blind_spot_pieces"], doc["fallback_pieces"]) == (0, n)
    else:
        assert doc["blind_spot_pieces"] == n - (5 if name == "one_leader" else 0)
    if name == "no_leaders":  # every place lacks its leader; the schools lack a package leader
        places = {f["place_code"] for f in doc["findings"] if f["kind"] == "place_without_leader"}
        assert places == {"KP001", "KP002", "KP900"}
        kinds = [f["kind"] for f in doc["findings"]]
        assert kinds.count("place_without_package_leader") == 2


def test_overview_map_and_briefing(state: tuple[str, Any], tmp_path: Path) -> None:
    from gridmgr.errors import UnitNotFoundError
    from gridmgr.export import export_briefing, export_data_from_store
    from gridmgr.maps import map_html, overview_map_from_store

    name, store = state
    if name == "empty":
        with pytest.raises(UnitNotFoundError, match="gridmgr load"):
            overview_map_from_store(store, basemap="none")
        data = export_data_from_store(store, roads=None)
        with pytest.raises(UnitNotFoundError, match="gridmgr load"):
            export_briefing(data, tmp_path / "b.docx")
        return
    html = map_html(overview_map_from_store(store, basemap="none"))
    assert "测试社区1" in html
    data = export_data_from_store(store, roads=None)
    for fmt in ("xlsx", "docx"):
        (path,) = export_briefing(data, tmp_path / f"b.{fmt}")
        assert path.stat().st_size > 1000


def test_pages_and_coverage_api(state: tuple[str, Any]) -> None:
    from apihelpers import settings
    from fastapi.testclient import TestClient

    from api.main import create_app
    from gridmgr.accounts import credentials

    name, store = state
    token = credentials.new_token()
    store.add_token(store.add_user("viewer", "viewer"), credentials.hash_token(token))
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings(), store=store)) as client:
        for url in ("/", "/dashboard", "/api/coverage"):
            r = client.get(url, headers=auth)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
        r = client.get("/api/maps/overview?basemap=none", headers=auth)
        if name == "empty":
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "gridmgr load" in r.json()["detail"]
        else:
            assert r.status_code == 200


@pytest.mark.parametrize("state", ["no_assignments"], indirect=True)
def test_leader_without_ground(state: tuple[str, Any], tmp_path: Path) -> None:
    """A leader holding nothing yet: field formats export (empty), the interactive map says why."""
    from gridmgr.errors import InputError
    from gridmgr.export import export_data_from_store, export_leader

    _name, store = state
    data = export_data_from_store(store, roads=None)
    (kml,) = export_leader(data, "G01_1", tmp_path / "g.kml")
    assert "网格长G01_1" in kml.read_text(encoding="utf-8")
    with pytest.raises(InputError, match="gridmgr assign"):
        export_leader(data, "G01_1", tmp_path / "g.html")
