"""One route: a leader's patrol route has the same length in every entry point (the library,
``gridmgr map leader``, 我的责任区 and the GPX export), along the shipped roads by default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

LEADER = "A0101"


@pytest.fixture
def shipped(store_url: str) -> Any:
    from gridmgr import settings
    from gridmgr.assign import auto_assign
    from gridmgr.io import read_layers
    from gridmgr.store import open_store

    store = open_store(store_url)
    store.upgrade()
    store.load_layers(read_layers(settings.DEFAULT_LAYERS), actor="test")
    store.import_leaders(settings.DEFAULT_LAYERS / "leaders_sample.csv", actor="test")
    auto_assign(store, actor="test")
    yield store
    store.close()


def _gpx_length_m(path: Path) -> float:
    import gpxpy
    from gpxpy.geo import length_2d

    gpx = gpxpy.parse(path.read_text(encoding="utf-8"))
    lengths = [length_2d(r.points) for r in gpx.routes] + [t.length_2d() for t in gpx.tracks]
    return float(max(lengths))


def test_the_same_route_everywhere(shipped: Any, store_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ServiceSettings
    from gridmgr.cli import app
    from gridmgr.export import export_data_from_store, export_leader
    from gridmgr.patrol import patrol_route_from_store

    route = patrol_route_from_store(shipped, LEADER)
    assert route.follows_roads  # the shipped roads, by default
    km = route.length_m / 1000
    # gridmgr map leader (no --roads)
    out = CliRunner().invoke(
        app,
        [
            "--lang",
            "en",
            "map",
            "leader",
            LEADER,
            "--out",
            str(tmp_path / "m.html"),
            "--basemap",
            "none",
            "--database-url",
            store_url,
        ],
    )
    assert out.exit_code == 0, out.output
    cli_km = float(re.search(r"([\d.]+) km", out.output).group(1))
    assert "along roads" in out.output and cli_km == pytest.approx(km, abs=0.006)
    # 我的责任区
    settings = ServiceSettings(env="local", access_log=False, allowed_hosts=["testserver"])
    with TestClient(create_app(settings, store=shipped)) as c:
        uid = shipped.add_user("a0101", "leader", leader_id=LEADER)
        from gridmgr.accounts import sessions

        c.cookies.set("gridmgr_session", sessions.start_session(shipped, uid, hours=1))
        page = c.get("/my").text
    my_km = float(re.search(r'id="route-km">([\d.]+) km', page).group(1))
    assert my_km == pytest.approx(km, abs=0.006)
    # the GPX a leader loads into a navigation app
    (gpx,) = export_leader(export_data_from_store(shipped), LEADER, tmp_path / "r.gpx", fmt="gpx")
    assert _gpx_length_m(gpx) == pytest.approx(route.length_m, rel=0.005)
