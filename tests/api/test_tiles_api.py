"""``GET /api/tiles/{z}/{x}/{y}``: the office's MBTiles/PMTiles file served byte for byte.

The files are built here (a few 1×1 PNG tiles; the PMTiles by the reference writer); the map
pages' ``local`` basemap points Leaflet at this route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apihelpers import make_users, root_conftest, settings
from fastapi.testclient import TestClient

pytest.importorskip("pmtiles")

from tests.gridmgr.test_tiles import sample_tiles, write_mbtiles, write_pmtiles  # noqa: E402
from tests.gridmgr.test_vector_base import base_kinds  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tiles")
    tiles = sample_tiles(2)
    return {
        "mbtiles": write_mbtiles(d / "office.mbtiles", tiles),
        "pmtiles": write_pmtiles(d / "office.pmtiles", tiles),
    }


@pytest.fixture(scope="module")
def app_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, str]]]:
    """A SQLite store with the tiny layers, leaders and users (the route reads no store data)."""
    from gridmgr.store import open_store

    root = root_conftest(request.config)
    d = tmp_path_factory.mktemp("db")
    store = open_store(f"sqlite:///{d / 'gridmgr.db'}")
    store.upgrade()
    store.load_layers(root._layers(2), res=9, actor="test")
    store.import_leaders(root.write_leaders_csv(d / "leaders.csv", 2, 2), actor="test")
    tokens = make_users(store)
    try:
        yield store, tokens
    finally:
        store.close()


def client(app_store: tuple[Any, dict[str, str]], tiles: str | None) -> TestClient:
    from api.main import create_app

    return TestClient(create_app(settings(tiles=tiles), store=app_store[0]))


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_tiles_byte_for_byte(
    kind: str, files: dict[str, Path], app_store: tuple[Any, dict[str, str]]
) -> None:
    auth = {"Authorization": f"Bearer {app_store[1]['leader']}"}
    want = sample_tiles(2)
    with client(app_store, str(files[kind])) as c:
        for (z, x, y), data in want.items():
            r = c.get(f"/api/tiles/{z}/{x}/{y}", headers=auth)
            assert r.status_code == 200, (z, x, y, r.text)
            assert r.content == data
            assert r.headers["content-type"] == "image/png"
            assert r.headers["cache-control"] == "private, max-age=86400"
            assert "content-encoding" not in r.headers
        etag = c.get("/api/tiles/2/3/1", headers=auth).headers["etag"]
        again = c.get("/api/tiles/2/3/1", headers={**auth, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = c.get("/api/tiles/2/1/3", headers={**auth, "If-None-Match": etag})
        assert other.status_code == 200 and other.content == want[(2, 1, 3)]
        missing = c.get("/api/tiles/5/0/0", headers=auth)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert c.get("/api/tiles/0/0/0").status_code == 401  # signed-in users only
        assert c.get("/api/tiles/31/0/0", headers=auth).status_code == 422


def test_without_or_with_a_broken_file_404_names_the_setting(
    tmp_path: Path, app_store: tuple[Any, dict[str, str]]
) -> None:
    auth = {"Authorization": f"Bearer {app_store[1]['viewer']}"}
    with client(app_store, None) as c:
        r = c.get("/api/tiles/0/0/0", headers=auth)
        assert r.status_code == 404 and "GRIDMGR_TILES" in r.json()["detail"]
    broken = tmp_path / "secret-folder" / "broken.pmtiles"
    broken.parent.mkdir()
    broken.write_bytes(b"garbage" * 30)
    with client(app_store, str(broken)) as c:
        r = c.get("/api/tiles/0/0/0", headers=auth)
        assert r.status_code == 404
        assert "GRIDMGR_TILES" in r.json()["detail"] and "secret-folder" not in r.text


def test_local_basemap_points_leaflet_at_the_route(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridmgr.maps import resolve_basemap
    from gridmgr.maps.basemap import _new_map
    from gridmgr.maps.leaflet import render_page

    monkeypatch.delenv("GRIDMGR_TILES", raising=False)
    name, note = resolve_basemap("local")
    assert name == "vector" and note is not None and "GRIDMGR_TILES" in note
    monkeypatch.setenv("GRIDMGR_TILES", str(files["pmtiles"]))
    assert resolve_basemap("local") == ("local", None)
    m, _ = _new_map((125.25, 43.80, 125.26, 43.81), "local", "t")
    page = render_page(m)
    assert '"/api/tiles/{z}/{x}/{y}"' in page
    assert '"maxNativeZoom": 2' in page and '"minNativeZoom": 0' in page
    assert "gmBase" in page  # the vector base stays below, for squares the file lacks


def test_api_map_pages_carry_the_base_by_default(api: Any) -> None:
    r = api.as_("viewer", "GET", "/api/maps/overview")
    assert r.status_code == 200
    assert "u2" in base_kinds(r.text) and "L.tileLayer(" not in r.text
    r = api.as_("viewer", "GET", "/api/maps/overview?basemap=osm")
    assert "tile.openstreetmap.org" in r.text and "gmBase" in r.text  # shows when tiles fail
    assert api.as_("viewer", "GET", "/api/maps/overview?basemap=local").status_code == 200
