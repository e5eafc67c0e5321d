"""Recorded patrols in the store (SQLite and PostGIS): imports, phone batches (resent, late),
visits, last seen, temporal coverage, monthly partitions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from gridmgr.errors import PatrolNotFoundError, PermissionDeniedError
from gridmgr.patrol.live import add_batch, check_in, finish_patrol, start_patrol
from gridmgr.patrol.recorded import import_tracks
from gridmgr.patrol.temporal import temporal_coverage
from gridmgr.store import patrols as repo
from gridmgr.store import schema as s

T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 Beijing


def _gpx(lon0: float, lat: float, n: int, t0: dt.datetime) -> str:
    rows = "".join(
        f'<trkpt lat="{lat}" lon="{lon0 + 0.0001 * i}"><time>'
        f"{(t0 + dt.timedelta(seconds=10 * i)):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>"
        for i in range(n)
    )
    return f'<gpx version="1.1"><trk><trkseg>{rows}</trkseg></trk></gpx>'


def _count(store: Any, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


#: The partition checks run on PostGIS only (SQLite has no table partitions): the backend is
#: chosen up front, so no SQLite variant is generated and then skipped.
POSTGIS_ONLY = pytest.mark.parametrize(
    "store_url", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)


@pytest.fixture
def assigned(loaded_store: Any) -> Any:
    from gridmgr.assign.auto import auto_assign

    auto_assign(loaded_store, actor="test")
    return loaded_store


def test_import_is_idempotent_and_finds_visits(assigned: Any, tmp_path: Path) -> None:
    f = tmp_path / "G01_1.gpx"
    # a walk across the first community past KP900 (125.2515, 43.8015)
    f.write_text(_gpx(125.2505, 43.8015, 40, T0), "utf-8")
    [first] = import_tracks(assigned, f)
    assert first.created and first.points == 40 and first.marked == 0
    assert first.pieces_visited > 0 and first.places_visited >= 1
    assert 250 < first.distance_m < 350
    [again] = import_tracks(assigned, f)
    assert not again.created and again.patrol_id == first.patrol_id
    assert _count(assigned, s.patrol_points) == 40
    with assigned.engine.connect() as conn:
        visited = repo.last_seen(conn, "piece", T0 + dt.timedelta(days=1))
        pid = int(visited["target_id"].iloc[0])
        seen = repo.piece_last_seen(conn, pid)
    assert seen is not None and T0 <= seen <= T0 + dt.timedelta(minutes=7)


def test_resent_and_late_batches(assigned: Any) -> None:
    pid, created = start_patrol(assigned, "G01_1", client_id="phone-1", started_at=T0)
    assert created
    assert start_patrol(assigned, "G01_1", client_id="phone-1") == (pid, False)
    fixes = [
        {"at": T0 + dt.timedelta(seconds=5 * i), "lon": 125.2505 + 0.00005 * i, "lat": 43.8015}
        for i in range(30)
    ]
    assert add_batch(assigned, pid, "b1", fixes[:20])["stored"]
    assert not add_batch(assigned, pid, "b1", fixes[:20])["stored"]  # resent: stored once
    summary = finish_patrol(assigned, pid, ended_at=T0 + dt.timedelta(minutes=2))
    n_before = summary.pieces_visited
    late = add_batch(assigned, pid, "b2", fixes[20:] + [{**fixes[-1], "lon": 125.2560}])
    assert late["stored"] and late["late"]
    assert _count(assigned, s.patrol_points) == 31
    with assigned.engine.connect() as conn:
        info = repo.get_patrol(conn, pid)
        n_visits = conn.execute(
            select(func.count()).select_from(s.visits).where(s.visits.c.patrol_id == pid)
        ).scalar()
    assert info["n_points"] == 31 and info["ended_at"] >= T0 + dt.timedelta(seconds=145)
    assert n_visits and n_visits >= n_before
    # another leader can neither write to it nor start patrols for G01_1
    with pytest.raises(PatrolNotFoundError):
        add_batch(assigned, pid, "b3", fixes[:1], owner="G01_2")
    with pytest.raises(PermissionDeniedError):
        start_patrol(assigned, "G01_1", owner="G01_2")


def test_checkin_visits_a_key_place(assigned: Any) -> None:
    kp = assigned.key_places().set_index("code").loc["KP001"]
    pid, _ = start_patrol(assigned, "P01", started_at=T0)
    out = check_in(
        assigned,
        pid,
        lon=kp.geometry.x + 0.0002,
        lat=kp.geometry.y,
        at=T0 + dt.timedelta(minutes=1),
        key_place_code="KP001",
        photo=b"\x89PNG...",
        photo_type="image/png",
        client_id="ck-1",
    )
    assert out["stored"] and out["places_visited"] == 1
    assert not check_in(assigned, pid, lon=kp.geometry.x, lat=kp.geometry.y, client_id="ck-1")[
        "stored"
    ]


def test_temporal_coverage_window(assigned: Any, tmp_path: Path) -> None:
    f = tmp_path / "G01_1.gpx"
    f.write_text(_gpx(125.2505, 43.8015, 40, T0), "utf-8")
    import_tracks(assigned, f)
    day3 = T0 + dt.timedelta(days=3)
    cov = temporal_coverage(assigned, days=7, as_of=day3)
    d = cov.to_dict()
    assert d["pieces"] == len(assigned.pieces(geometry=False))
    assert 0 < d["visited_pieces"] < d["pieces"]
    assert d["stale_pieces"] == d["pieces"] - d["visited_pieces"] == d["never_visited_pieces"]
    lead = {r["id"]: r for r in d["leaders"]}
    assert lead["G01_1"]["last_patrol_at"].startswith("2026-12-01T01:00")
    # the tiny layers' categories have no visiting frequency: nothing is ever overdue
    assert d["key_places_overdue"] == 0
    # a window that ends before the patrol: nothing visited; one that starts after: all stale
    before = temporal_coverage(assigned, days=7, as_of=T0 - dt.timedelta(hours=1)).summary()
    assert before["visited_pieces"] == 0 and before["never_visited_pieces"] == d["pieces"]
    later = temporal_coverage(assigned, days=2, as_of=T0 + dt.timedelta(days=10)).summary()
    assert later["visited_pieces"] == 0
    assert later["never_visited_pieces"] == d["never_visited_pieces"]


def test_overdue_key_places_follow_the_category_frequency(
    store: Any, make_layers: Any, leaders_csv: Any, tmp_path: Path
) -> None:
    lay = make_layers(2)
    lay.categories["visit_every_days"] = [7.0, 1.0]  # school weekly, market daily
    store.load_layers(lay, res=10, actor="test")
    store.import_leaders(leaders_csv(2, 2), actor="test")
    f = tmp_path / "G01_1.gpx"
    f.write_text(_gpx(125.2505, 43.8015, 40, T0), "utf-8")  # passes KP900 (the market)
    import_tracks(store, f)
    over = lambda when: set(  # noqa: E731
        temporal_coverage(store, days=1, as_of=when).places.query("overdue")["code"]
    )
    # the day after: the market is fine (a full day has not passed), schools never visited
    assert over(T0 + dt.timedelta(days=1)) == {"KP001", "KP002"}
    assert over(T0 + dt.timedelta(days=2)) == {"KP001", "KP002", "KP900"}


@POSTGIS_ONLY
def test_points_are_partitioned_by_month_on_postgis(assigned: Any) -> None:
    pid, _ = start_patrol(assigned, "G01_1", started_at=T0)
    fixes = [
        {"at": T0 - dt.timedelta(days=40 * i), "lon": 125.2505, "lat": 43.8015} for i in range(2)
    ]
    add_batch(assigned, pid, "b1", fixes)
    with assigned.engine.connect() as conn:
        parts = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'patrol_points'::regclass"
            )
        ).scalars()
        names = set(parts)
    assert {"patrol_points_y2026m12", "patrol_points_y2026m10"} <= names


@POSTGIS_ONLY
def test_a_partition_rolled_back_is_made_again(assigned: Any) -> None:
    """A month's partition created in a transaction that rolls back must not be assumed later."""
    import pandas as pd

    from gridmgr.store.patrols import ensure_partitions

    month = pd.DatetimeIndex([pd.Timestamp("2025-03-15", tz="UTC")])
    with pytest.raises(RuntimeError), assigned.transaction() as conn:
        ensure_partitions(conn, month)
        raise RuntimeError("the import failed after the partition was made")
    pid, _ = start_patrol(assigned, "G01_1", started_at=dt.datetime(2025, 3, 15, 1, tzinfo=dt.UTC))
    fix = {"at": dt.datetime(2025, 3, 15, 2, tzinfo=dt.UTC), "lon": 125.2505, "lat": 43.8015}
    add_batch(assigned, pid, "late-march", [fix])  # lands: the partition is made again


def test_days_since_last_visit_layer(assigned: Any, tmp_path: Path) -> None:
    from gridmgr.maps.interactive import leader_map_from_store, map_html

    layer = "距上次走访天数"
    assert layer not in map_html(leader_map_from_store(assigned, "G01_1"))  # no patrol yet
    f = tmp_path / "G01_1.gpx"
    f.write_text(_gpx(125.2505, 43.8015, 40, T0), "utf-8")
    import_tracks(assigned, f)
    html = map_html(leader_map_from_store(assigned, "G01_1"))
    assert layer in html and "从未走访" in html


def test_patrol_ledger_and_cli(assigned: Any, tmp_path: Path) -> None:
    import openpyxl
    from typer.testing import CliRunner

    from gridmgr.cli import app

    f = tmp_path / "G01_1.gpx"
    f.write_text(_gpx(125.2505, 43.8015, 40, T0), "utf-8")
    url = str(assigned.url)
    run = CliRunner().invoke
    r = run(app, ["patrols", "import", str(f), "--json", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert '"pieces_visited"' in r.output
    r = run(
        app,
        [
            "patrols",
            "coverage",
            "--days",
            "3",
            "--as-of",
            "2026-12-02T12:00",
            "--json",
            "--database-url",
            url,
        ],
    )
    assert r.exit_code == 0, r.output
    assert '"stale_pieces"' in r.output and '"key_places_overdue": 0' in r.output
    gj = tmp_path / "coverage.geojson"
    r = run(app, ["patrols", "coverage", "--geojson", str(gj), "--database-url", url])
    assert r.exit_code == 0, r.output
    import json

    feats = json.loads(gj.read_text("utf-8"))["features"]
    assert len(feats) == len(assigned.pieces(geometry=False))
    assert {f["properties"]["state"] for f in feats} >= {"never"}
    out = tmp_path / "ledger.xlsx"
    r = run(app, ["patrols", "ledger", "--out", str(out), "--database-url", url])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out)["巡查台账"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1
    day, name, patrols, km, hours, pieces, places, _ = rows[0]
    assert day == "2026-12-01" and name == "网格长G01_1" and patrols == 1
    assert 0.25 < km < 0.35 and pieces > 0 and places >= 1
    bad = run(app, ["patrols", "import", str(tmp_path / "nope.gpx"), "--database-url", url])
    assert bad.exit_code == 1 and "nope.gpx" in bad.output


def test_gcj02_track_is_flagged_against_the_roads(assigned: Any, tmp_path: Path) -> None:
    import geopandas as gpd
    import numpy as np
    import shapely

    from gridmgr.io.crs import wgs84_to_gcj02

    lon = np.linspace(125.2505, 125.2595, 60)
    lat = np.full(60, 43.8025)
    roads = gpd.GeoDataFrame(
        {"name": ["测试路"]},
        geometry=[shapely.LineString([(125.2500, 43.8025), (125.2600, 43.8025)])],
        crs=4326,
    )
    glon, glat = wgs84_to_gcj02(lon, lat)
    rows = "".join(
        f'<trkpt lat="{y:.7f}" lon="{x:.7f}"><time>'
        f"{(T0 + dt.timedelta(seconds=10 * i)):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>"
        for i, (x, y) in enumerate(zip(glon, glat, strict=True))
    )
    f = tmp_path / "G01_1.gpx"
    f.write_text(f'<gpx version="1.1"><trk><trkseg>{rows}</trkseg></trk></gpx>', "utf-8")
    [as_wgs] = import_tracks(assigned, f, roads=roads)
    assert any("--crs gcj02" in w for w in as_wgs.warnings)
    [as_gcj] = import_tracks(assigned, f, roads=roads, crs="gcj02")
    assert as_gcj.warnings == [] and as_gcj.patrol_id != as_wgs.patrol_id
