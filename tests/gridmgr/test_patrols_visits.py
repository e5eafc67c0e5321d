"""Visits against an independent oracle, cleaning marks, temporal windows (no store).

The oracle: the pieces (and key places) that intersect the shapely buffer of the walked path
in UTM zone 51N (EPSG:32651, pyproj via geopandas) — another projection and another algorithm
(a polygon buffer and ``intersects``) than gridmgr's (a local transverse Mercator and an STRtree
``dwithin`` query). A piece whose distance to the path lies within 0.1 m of R is left out of the
comparison: there the buffer's polygon approximation and the two projections' scale (≈1e-4)
may honestly disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmgr.grid.pieces import pieces_from_units
from gridmgr.io.crs import wgs84_to_gcj02
from gridmgr.patrol.records import DUPLICATE, KEPT, POOR_ACCURACY, TOO_FAST, clean_flags, path_of
from gridmgr.patrol.temporal import window
from gridmgr.patrol.tracks import read_track
from gridmgr.patrol.visits import VisitIndex, piece_radii

UTM = 32651
R = 50.0
BAND = 0.1


def _tiny() -> dict[str, Any]:
    # tests/conftest.py's tiny layers near Changchun, loaded by path ("conftest" alone may
    # name tests/api/conftest.py when both directories are collected)
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_patrols_root_conftest", path)
    assert spec is not None and spec.loader is not None
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    lay = root._layers(2)
    pieces = pieces_from_units(lay.units, res=10).reset_index(drop=True)
    pieces["id"] = np.arange(len(pieces)) + 1
    kp = lay.key_places.reset_index(drop=True)
    kp["id"] = np.arange(len(kp)) + 1
    index = VisitIndex.build(
        pieces["id"],
        pieces.geometry.to_numpy(),
        np.full(len(pieces), R),
        kp["id"],
        kp.geometry.to_numpy(),
        np.full(len(kp), R),
    )
    return {
        "pieces": pieces,
        "places": kp,
        "index": index,
        "pieces_m": pieces.to_crs(UTM).geometry.to_numpy(),
        "places_m": kp.to_crs(UTM).geometry.to_numpy(),
    }


TINY = _tiny()


def _oracle(lines_ll: list[Any], geoms_m: np.ndarray, ids: np.ndarray) -> tuple[set[int], set[int]]:
    """(ids intersecting the buffer of the lines in UTM, ids too close to R to judge)."""
    path = gpd.GeoSeries(lines_ll, crs=4326).to_crs(UTM).union_all()
    buf = shapely.buffer(path, R, quad_segs=64)
    hit = shapely.intersects(geoms_m, buf)
    d = shapely.distance(geoms_m, path)
    unsure = np.abs(d - R) < BAND
    return set(ids[hit & ~unsure].tolist()), set(ids[unsure].tolist())


# waypoints in and around the two tiny communities (they span 0.012° × 0.005°)
lon_st = st.floats(125.2490, 125.2630, allow_nan=False)
lat_st = st.floats(43.7990, 43.8060, allow_nan=False)
walk_st = st.lists(st.tuples(lon_st, lat_st), min_size=1, max_size=12)


def _times(n: int, t0: int = 1_764_900_000) -> np.ndarray:
    # one hour between waypoints: never an impossible speed, never a gap under 15 min… except
    # that a gap over 15 min cuts the path, so use 10 minutes (≤ 1.5 km / 10 min = 9 km/h)
    return (t0 + np.arange(n, dtype=np.int64) * 600) * 1_000_000_000


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=walk_st, b=st.one_of(st.just([]), walk_st))
def test_visits_equal_the_buffer_oracle(a: list[tuple[float, float]], b: list[Any]) -> None:
    """Random tracks (crossing the border of the two communities and split cells), optionally
    with a jump to a second walk (an impossible speed cuts the path there)."""
    pts = np.array(a + b, dtype=float)
    t_ns = _times(len(pts))
    if b:  # b starts 1 s after a ends: a jump unless it is the same spot
        t_ns[len(a) :] = t_ns[len(a) - 1] + (1 + np.arange(len(b), dtype=np.int64) * 600) * 10**9
    flags = clean_flags(t_ns, pts[:, 0], pts[:, 1])
    path = path_of(t_ns, pts[:, 0], pts[:, 1], flags)
    got = TINY["index"].visits([path])
    # oracle path: the same kept fixes, cut where gridmgr cuts (the cut rule is tested below)
    lines: list[Any] = []
    start = 0
    for i in [*np.flatnonzero(~path.leg_ok), len(path) - 1]:
        seg = np.column_stack([path.lon[start : i + 1], path.lat[start : i + 1]])
        line = shapely.LineString(seg) if len(seg) > 1 else None
        # a line of one repeated position has an empty buffer in GEOS: it is that point
        lines.append(line if line is not None and line.length > 0 else shapely.Point(seg[0]))
        start = i + 1
    if start <= len(path) - 1:
        lines.append(shapely.Point(path.lon[start], path.lat[start]))
    for kind, geoms_m, frame in (
        ("piece", TINY["pieces_m"], TINY["pieces"]),
        ("place", TINY["places_m"], TINY["places"]),
    ):
        want, unsure = _oracle(lines, geoms_m, frame["id"].to_numpy())
        have = set(got.loc[got["kind"] == kind, "target_id"].tolist())
        assert have - unsure == want


def test_cut_rule_and_marks() -> None:
    t_ns = np.array([0, 5, 10, 10, 15, 20, 25, 2000], dtype=np.int64) * 10**9
    lon = np.array([125.25, 125.2501, 125.2502, 125.2502, 125.40, 125.2503, 125.2, 125.2504])
    lat = np.full(8, 43.80)
    acc = np.array([5, 5, 5, 5, 5, 5, 300, np.nan], dtype=float)
    flags = clean_flags(t_ns, lon, lat, acc)
    kept_marks = [KEPT, KEPT, KEPT, DUPLICATE, TOO_FAST, KEPT, POOR_ACCURACY, KEPT]
    assert flags.tolist() == kept_marks
    path = path_of(t_ns, lon, lat, flags)
    # the last fix comes after a 33-minute gap: that leg is not walked
    assert path.leg_ok.tolist() == [True, True, True, False]
    assert 20 < path.distance_m < 30


def test_a_lone_fix_visits_what_is_within_reach() -> None:
    kp = TINY["places"].iloc[0]
    p = kp.geometry
    t_ns = np.array([0], dtype=np.int64)
    path = path_of(t_ns, np.array([p.x]), np.array([p.y + 0.0003]), np.array([KEPT]))  # ~33 m
    got = TINY["index"].visits([path])
    assert int(kp["id"]) in set(got.loc[got["kind"] == "place", "target_id"])


def test_checkins_visit_key_places_but_not_pieces() -> None:
    kp = TINY["places"].iloc[1]
    empty = path_of(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    got = TINY["index"].visits(
        [empty],
        (np.array([0]), np.array([10**18]), np.array([kp.geometry.x]), np.array([kp.geometry.y])),
    )
    assert got["kind"].tolist() == ["place"]
    assert got["target_id"].tolist()[0] == int(kp["id"])


def test_radius_per_unit_level() -> None:
    radii = piece_radii(["a", "b", "c"], {"a": "grid", "b": "community"}, 50.0, {"grid": 30.0})
    assert radii.tolist() == [30.0, 50.0, 50.0]


def test_gcj02_track_lands_on_the_same_pieces(tmp_path: Any) -> None:
    rng = np.random.default_rng(3)
    lon = 125.250 + np.cumsum(rng.uniform(0, 0.0004, 40))
    lat = 43.8002 + np.cumsum(rng.uniform(0, 0.0001, 40))
    t0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    times = [(t0 + dt.timedelta(seconds=30 * i)).isoformat() for i in range(40)]
    glon, glat = wgs84_to_gcj02(lon, lat)
    for name, x, y in (("w.csv", lon, lat), ("g.csv", glon, glat)):
        rows = "\n".join(f"{a},{b:.8f},{c:.8f}" for a, b, c in zip(times, x, y, strict=True))
        (tmp_path / name).write_text("time,lon,lat\n" + rows + "\n", "utf-8")
    seen = []
    for name, crs in (("w.csv", "wgs84"), ("g.csv", "gcj02")):
        tr = read_track(tmp_path / name, crs=crs)
        path = path_of(tr.t_ns, tr.lon, tr.lat, clean_flags(tr.t_ns, tr.lon, tr.lat))
        v = TINY["index"].visits([path])
        seen.append(set(v.loc[v["kind"] == "piece", "target_id"]))
    assert seen[0] and seen[0] == seen[1]
    # read as WGS-84, the GCJ-02 track sits ~500 m off and lands elsewhere
    tr = read_track(tmp_path / "g.csv")
    path = path_of(tr.t_ns, tr.lon, tr.lat, clean_flags(tr.t_ns, tr.lon, tr.lat))
    v = TINY["index"].visits([path])
    assert set(v.loc[v["kind"] == "piece", "target_id"]) != seen[0]


def test_window_is_in_beijing_days() -> None:
    # 2026-12-05 17:00 UTC is already 12-06 01:00 in Beijing: "today" starts 12-05 16:00 UTC
    start, end = window(dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC), 1)
    assert start == dt.datetime(2026, 12, 5, 16, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC)


def test_standing_still_visits_what_is_within_reach() -> None:
    """A path that never moves (two fixes at one spot) is that point, not an empty line."""
    kp = TINY["places"].iloc[0].geometry
    t_ns = np.array([0, 600], dtype=np.int64) * 10**9
    lon, lat = np.full(2, kp.x), np.full(2, kp.y + 0.0003)
    path = path_of(t_ns, lon, lat, clean_flags(t_ns, lon, lat))
    assert path.leg_ok.tolist() == [True]
    got = TINY["index"].visits([path])
    assert (got["kind"] == "place").sum() == 1 and (got["kind"] == "piece").sum() >= 1
