"""Coverage gaps over constructed scenarios: exact counts and areas for every gap kind.

Units are built as rectangles in a local Lambert equal-area projection around Changchun (metres),
converted to lon/lat; expected areas are the rectangles' areas in m² (computed from the metres,
not from the code under test) and expected piece sets are selected by position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import Point, box

from gridmgr.coverage import (
    KINDS,
    CoverageReport,
    Thresholds,
    coverage_from_frames,
)
from gridmgr.errors import InvalidFieldError, UnitNotFoundError
from gridmgr.grid import pieces_from_units
from gridmgr.grid.piece_graph import piece_graph

LAEA = "+proj=laea +lat_0=43.83 +lon_0=125.27 +datum=WGS84 +units=m +no_defs"
_FWD = Transformer.from_crs("EPSG:4326", LAEA, always_xy=True)
_INV = Transformer.from_crs(LAEA, "EPSG:4326", always_xy=True)
RTOL = 1e-5  # lon/lat edges vs straight metric edges, densified every 25 m


def _ll(geom: shapely.Geometry) -> shapely.Geometry:
    """A metric geometry (densified every 25 m at exact multiples) to lon/lat."""
    dense = shapely.segmentize(geom, 25.0)
    return shapely.transform(dense, lambda xy: np.column_stack(_INV.transform(xy[:, 0], xy[:, 1])))


def _m(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(_FWD.transform(xy[:, 0], xy[:, 1])))


def _pt(x: float, y: float) -> Point:
    lng, lat = _INV.transform(x, y)
    return Point(lng, lat)


def make_units(
    c1: tuple[float, float, float, float] = (0, 0, 600, 500),
    c2: tuple[float, float, float, float] = (600, 0, 1200, 500),
    street: tuple[float, float, float, float] = (0, 0, 1200, 500),
    district: tuple[float, float, float, float] = (0, 0, 1200, 500),
) -> gpd.GeoDataFrame:
    rows = [
        ("D", "高新区", "district", None, district),
        ("S", "硅谷街道", "street", "D", street),
        ("C1", "一社区", "community", "S", c1),
        ("C2", "二社区", "community", "S", c2),
    ]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent": [r[3] for r in rows],
        },
        geometry=[_ll(box(*r[4])) for r in rows],
        crs="EPSG:4326",
    )


def make_leaders(**overrides: dict[str, Any]) -> pd.DataFrame:
    base = {
        "G1": {
            "name": "网格长一",
            "role": "grid_leader",
            "unit_packages": ["C1"],
            "place_packages": [],
        },
        "G2": {
            "name": "网格长二",
            "role": "grid_leader",
            "unit_packages": ["C2"],
            "place_packages": [],
        },
        "P1": {
            "name": "包保一",
            "role": "package_leader",
            "unit_packages": ["C1"],
            "place_packages": ["KP1"],
        },
        "P2": {
            "name": "包保二",
            "role": "package_leader",
            "unit_packages": ["C2"],
            "place_packages": ["KP2"],
        },
        "PS": {
            "name": "街道包保",
            "role": "package_leader",
            "unit_packages": ["S"],
            "place_packages": [],
        },
    }
    for k, v in overrides.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = {
                **base.get(
                    k, {"name": k, "role": "grid_leader", "unit_packages": [], "place_packages": []}
                ),
                **v,
            }
    rows = [
        {"id": k, "department": None, "capacity": 1.0, "active": True, **v} for k, v in base.items()
    ]
    return pd.DataFrame(rows)


def make_key_places(extra: list[tuple[str, str, float, float]] | None = None) -> gpd.GeoDataFrame:
    places = [
        ("KP1", "school", 150.0, 250.0),
        ("KP2", "school", 900.0, 250.0),
        ("KPM", "farmers_market", 450.0, 100.0),
    ]
    places += extra or []
    return gpd.GeoDataFrame(
        {
            "code": [p[0] for p in places],
            "name": [p[0] for p in places],
            "category": [p[1] for p in places],
        },
        geometry=[_pt(p[2], p[3]) for p in places],
        crs="EPSG:4326",
    )


CATEGORIES = pd.DataFrame(
    [
        {
            "category": "school",
            "name": "学校",
            "name_en": "school",
            "department": "JYJ",
            "requires_package_leader": True,
        },
        {
            "category": "farmers_market",
            "name": "农贸市场",
            "name_en": "market",
            "department": "SJJ",
            "requires_package_leader": False,
        },
        {
            "category": "plaza",
            "name": "广场",
            "name_en": "plaza",
            "department": None,
            "requires_package_leader": False,
        },
    ]
)


def centroid_xy(pieces: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    c = shapely.centroid(np.asarray(pieces.geometry.values))
    x, y = _FWD.transform(shapely.get_x(c), shapely.get_y(c))
    return np.asarray(x), np.asarray(y)


def assign_complete(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    p = pieces.copy()
    p["leader_id"] = np.where(p["unit_code"] == "C1", "G1", "G2").astype(object)
    p["fallback"] = False
    return p


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return make_units()


@pytest.fixture(scope="module")
def base_pieces(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return pieces_from_units(units, res=10)


@pytest.fixture
def run(units: gpd.GeoDataFrame) -> Callable[..., CoverageReport]:
    def _run(
        pieces: gpd.GeoDataFrame,
        leaders: pd.DataFrame | None = None,
        key_places: Any = "default",
        units_: gpd.GeoDataFrame | None = None,
        **kw: Any,
    ) -> CoverageReport:
        kp = make_key_places() if isinstance(key_places, str) else key_places
        return coverage_from_frames(
            units if units_ is None else units_,
            pieces,
            make_leaders() if leaders is None else leaders,
            kp,
            CATEGORIES,
            **kw,
        )

    return _run


def kinds(report: CoverageReport) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in report.findings:
        out[f.kind] = out.get(f.kind, 0) + f.count
    return out


# ------------------------------------------------------------------ complete assignment


def test_complete_assignment_reports_zero_of_every_kind(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    rep = run(assign_complete(base_pieces))
    assert rep.findings == ()
    assert not rep.has_gaps
    s = rep.summary
    for key in (
        "blind_spot_pieces",
        "dead_corner_area_m2",
        "overlap_area_m2",
        "key_places_without_leader",
        "key_places_without_department",
        "key_places_without_package_leader",
        "key_places_outside",
        "fragmented_leaders",
        "enclaves",
        "fallback_pieces",
        "misplaced_pieces",
        "gaps",
        "warnings",
        "overloaded_leaders",
        "idle_leaders",
        "leaders_without_duty",
    ):
        assert s[key] == 0, key
    assert s["coverage_pct"] == pytest.approx(100.0, abs=1e-6)
    assert s["jurisdiction_area_m2"] == pytest.approx(1200 * 500, rel=RTOL)
    units_rows = rep.units.set_index("code")
    assert units_rows.loc["C1", "area_m2"] == pytest.approx(300_000, rel=RTOL)
    assert units_rows.loc["C1", "coverage_pct"] == pytest.approx(100.0, abs=1e-4)
    assert units_rows.loc["S", "pieces"] == len(base_pieces)
    assert units_rows.loc["C1", "package_leaders"] == ["P1"]
    # loads: 30 ha + 2 key places × 5 in C1, 30 ha + 1 × 5 in C2; each is the only leader of
    # their community, so each carries exactly their community's share: ratio 1 (leaders of
    # different communities are not compared — the one definition of docs/coverage.md)
    assert s["max_load_ratio"] == pytest.approx(1.0, rel=1e-6)
    assert rep.leaders.set_index("id").loc["G1", "load"] == pytest.approx(40.0, rel=1e-4)


# ------------------------------------------------------------------ 1. dead corners


def test_jurisdiction_gap_in_district_and_street(run: Callable[..., CoverageReport]) -> None:
    u = make_units(c2=(600, 0, 1100, 500), district=(0, 0, 1200, 600))
    p = assign_complete(pieces_from_units(u, res=10))
    rep = run(p, units_=u)
    gaps = {f.unit_code: f for f in rep.findings if f.kind == "jurisdiction_gap"}
    assert set(gaps) == {"D", "S"}
    assert gaps["D"].area_m2 == pytest.approx(1200 * 100, rel=RTOL)
    assert gaps["S"].area_m2 == pytest.approx(100 * 500, rel=RTOL)
    assert _m(gaps["S"].geometry).area == pytest.approx(100 * 500, rel=RTOL)
    assert rep.summary["dead_corner_area_m2"] == pytest.approx(170_000, rel=RTOL)
    assert rep.summary["overlap_area_m2"] == 0
    assert rep.has_gaps
    rows = rep.units.set_index("code")
    assert rows.loc["S", "coverage_pct"] == pytest.approx(100 * 550_000 / 600_000, rel=RTOL)
    assert rows.loc["D", "dead_corner_area_m2"] == pytest.approx(170_000, rel=RTOL)


def test_sibling_overlap(run: Callable[..., CoverageReport]) -> None:
    u = make_units(c2=(500, 0, 1200, 500))
    p = assign_complete(pieces_from_units(u, res=10))
    rep = run(p, units_=u)
    ov = [f for f in rep.findings if f.kind == "unit_overlap"]
    assert len(ov) == 1 and ov[0].unit_code == "S"
    assert sorted(ov[0].detail["codes"]) == ["C1", "C2"]
    assert rep.summary["overlap_area_m2"] == pytest.approx(100 * 500, rel=RTOL)
    assert rep.summary["dead_corner_area_m2"] == 0


def test_stale_grid_unpieced_area_and_orphans(
    run: Callable[..., CoverageReport], units: gpd.GeoDataFrame
) -> None:
    old = make_units(c2=(600, 0, 1100, 500))
    p = assign_complete(pieces_from_units(old, res=10))
    orphan = p[p["unit_code"] == "C1"].head(3).copy()
    orphan["unit_code"] = "C9"
    p = pd.concat([p, orphan], ignore_index=True)
    rep = run(gpd.GeoDataFrame(p, crs="EPSG:4326"))
    up = [f for f in rep.findings if f.kind == "unpieced_area"]
    assert [f.unit_code for f in up] == ["C2"]
    assert up[0].area_m2 == pytest.approx(100 * 500, rel=RTOL)
    assert _m(up[0].geometry).area == pytest.approx(100 * 500, rel=RTOL)
    assert rep.summary["unpieced_area_m2"] == pytest.approx(50_000, rel=RTOL)
    assert rep.summary["dead_corner_area_m2"] == pytest.approx(50_000, rel=RTOL)
    assert rep.summary["orphan_pieces"] == 3
    assert rep.units.set_index("code").loc["C2", "coverage_pct"] == pytest.approx(
        100 * 250_000 / 300_000, rel=RTOL
    )


# ------------------------------------------------------------------ 2. blind spots


def test_unassigned_pieces_are_blind_spots_without_package_leader(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    c2 = p["unit_code"] == "C2"
    p.loc[c2, "leader_id"] = None
    rep = run(p, make_leaders(P2=None, G2=None))
    s = rep.summary
    assert s["blind_spot_pieces"] == s["unassigned_pieces"] == int(c2.sum())
    assert s["blind_spot_area_m2"] == pytest.approx(300_000, rel=RTOL)
    assert s["fallback_pieces"] == 0
    f = [f for f in rep.findings if f.kind == "unassigned"]
    assert len(f) == 1 and f[0].unit_code == "C2" and f[0].count == int(c2.sum())
    assert _m(f[0].geometry).area == pytest.approx(300_000, rel=RTOL)
    assert rep.units.set_index("code").loc["C2", "coverage_pct"] == pytest.approx(0.0, abs=1e-9)
    assert rep.units.set_index("code").loc["S", "coverage_pct"] == pytest.approx(50.0, rel=RTOL)
    # KP2 lies in C2: its piece is a blind spot; C2 has no package leader, KP2 no package leader
    assert s["key_places_without_leader"] == 1
    assert s["communities_without_package_leader"] == 1
    assert s["key_places_without_package_leader"] == 1


def test_unassigned_pieces_fall_back_to_the_community_package_leader(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    c2 = p["unit_code"] == "C2"
    p.loc[c2, "leader_id"] = None
    rep = run(p, make_leaders(G2=None))
    s = rep.summary
    assert s["blind_spot_pieces"] == 0
    assert s["fallback_pieces"] == int(c2.sum())
    assert s["fallback_area_m2"] == pytest.approx(300_000, rel=RTOL)
    fb = [f for f in rep.findings if f.kind == "fallback"]
    assert [(f.unit_code, f.leader_id, f.severity) for f in fb] == [("C2", "P2", "warning")]
    assert not rep.has_gaps  # the territorial default is not a gap
    assert s["key_places_without_leader"] == 0


@pytest.mark.parametrize("package_leader_active", [False, True])
def test_deactivating_a_leader_turns_exactly_their_pieces_into_blind_spots(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame, package_leader_active: bool
) -> None:
    p = assign_complete(base_pieces)
    # G1 and G3 share C1; G3 holds the western third
    x, _ = centroid_xy(p)
    west = (p["unit_code"] == "C1").to_numpy() & (x < 200)
    p.loc[west, "leader_id"] = "G3"
    leaders = make_leaders(G3={"unit_packages": ["C1"]}, P1={"active": package_leader_active})
    before = run(p, leaders, key_places=None)
    assert before.summary["blind_spot_pieces"] == 0
    leaders.loc[leaders["id"] == "G3", "active"] = False
    rep = run(p, leaders, key_places=None)
    s = rep.summary
    n3 = int(west.sum())
    if package_leader_active:
        assert s["blind_spot_pieces"] == 0 and s["fallback_pieces"] == n3
        f = [f for f in rep.findings if f.kind == "fallback"]
        assert f[0].detail["pieces"] == [str(k) for k in (p["cell"] + "@" + p["unit_code"])[west]]
    else:
        assert s["blind_spot_pieces"] == s["inactive_leader_pieces"] == n3
        assert s["fallback_pieces"] == 0
        f = [f for f in rep.findings if f.kind == "inactive_leader"]
        assert len(f) == 1 and f[0].leader_id == "G3" and f[0].count == n3
        assert f[0].area_m2 == pytest.approx(float(p.loc[west, "area_m2"].sum()), abs=1e-9)


def test_explicit_fallback_flag_and_misplaced_pieces(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    x, _ = centroid_xy(p)
    c1 = (p["unit_code"] == "C1").to_numpy()
    fb = c1 & (x < 100)
    wrong = c1 & (x > 500)
    p.loc[fb, "leader_id"] = "P1"
    p.loc[fb, "fallback"] = True
    p.loc[wrong, "leader_id"] = "G2"  # G2's packages are C2 only: 属地 violated
    rep = run(p)
    s = rep.summary
    assert s["fallback_pieces"] == int(fb.sum())
    assert s["misplaced_pieces"] == int(wrong.sum())
    assert s["misplaced_area_m2"] == pytest.approx(float(p.loc[wrong, "area_m2"].sum()), abs=1e-3)
    assert s["blind_spot_pieces"] == 0
    mis = [f for f in rep.findings if f.kind == "misplaced"]
    assert [(f.unit_code, f.leader_id) for f in mis] == [("C1", "G2")]
    # a leader packaged for the street may hold any piece below it
    p2 = assign_complete(base_pieces)
    p2.loc[wrong, "leader_id"] = "GS"
    rep2 = run(p2, make_leaders(GS={"unit_packages": ["S"]}))
    assert rep2.summary["misplaced_pieces"] == 0


def test_unknown_leader_id_counts_as_inactive(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    sel = (p["unit_code"] == "C2").to_numpy()
    p.loc[sel, "leader_id"] = "NOBODY"
    rep = run(p, make_leaders(P2={"active": False}))
    assert rep.summary["inactive_leader_pieces"] == int(sel.sum())
    f = [f for f in rep.findings if f.kind == "inactive_leader"]
    assert f[0].detail["unknown_leader_ids"] == ["NOBODY"]


# ------------------------------------------------------------------ 3. key places


def test_key_place_kinds(run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame) -> None:
    p = assign_complete(base_pieces)
    kp = make_key_places(
        [
            ("KPX", "plaza", 300.0, 400.0),
            ("KPO", "school", 2000.0, 250.0),
            ("KPU", "unknown_cat", 800.0, 100.0),
        ]
    )
    leaders = make_leaders(P2={"place_packages": []})  # KP2 (a school) loses its package leader
    rep = run(p, leaders, kp)
    s = rep.summary
    assert s["key_places"] == 6
    assert s["key_places_outside"] == 1
    assert s["key_places_without_department"] == 2  # plaza (no department), unknown category
    assert s["key_places_without_package_leader"] == 1
    assert s["key_places_without_leader"] == 0
    by = {(f.kind, f.place_code) for f in rep.findings if f.group == "key_place"}
    assert by == {
        ("place_outside", "KPO"),
        ("place_without_department", "KPX"),
        ("place_without_department", "KPU"),
        ("place_without_package_leader", "KP2"),
    }
    # an inactive package leader counts as none
    rep2 = run(p, make_leaders(P1={"active": False}), make_key_places())
    assert {f.place_code for f in rep2.findings if f.kind == "place_without_package_leader"} == {
        "KP1"
    }
    # the package leader may also come from the key place's package_leader_id column
    kp3 = make_key_places()
    kp3["package_leader_id"] = [None, "G2", None]
    rep3 = run(p, leaders, kp3)
    assert rep3.summary["key_places_without_package_leader"] == 0


def test_key_place_on_blind_spot_has_no_leader(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    kp = make_key_places()
    hit = p.geometry.intersects(kp.geometry.iloc[0]).to_numpy()
    assert hit.sum() == 1
    p.loc[hit, "leader_id"] = None
    rep = run(p, make_leaders(P1={"unit_packages": []}))
    assert rep.summary["blind_spot_pieces"] == 1
    assert [f.place_code for f in rep.findings if f.kind == "place_without_leader"] == ["KP1"]
    assert rep.units.set_index("code").loc["C1", "key_places_without_leader"] == 1


# ------------------------------------------------------------------ 4. packages


def test_units_without_package_leader_and_idle_leaders(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    leaders = make_leaders(
        PS={"active": False},
        P2=None,
        X={"role": "package_leader"},
        Y={"role": "grid_leader", "unit_packages": ["C1"]},
    )
    rep = run(p, leaders, make_key_places()[lambda d: d["code"] != "KP2"])
    s = rep.summary
    assert s["streets_without_package_leader"] == 1
    assert s["communities_without_package_leader"] == 1
    units_missing = {f.unit_code for f in rep.findings if f.kind == "unit_without_package_leader"}
    assert units_missing == {"S", "C2"}
    area = {f.unit_code: f.area_m2 for f in rep.findings if f.kind == "unit_without_package_leader"}
    assert area["S"] == pytest.approx(600_000, rel=RTOL)
    assert {f.leader_id for f in rep.findings if f.kind == "leader_without_duty"} == {"X", "Y"}
    assert s["leaders_without_duty"] == 2


# ------------------------------------------------------------------ 5. shape


def _reference_compactness(p: gpd.GeoDataFrame, leader: str) -> float:
    geom = _m(
        shapely.segmentize(shapely.union_all(p[p["leader_id"] == leader].geometry.values), 1e-4)
    )
    return 4 * math.pi * geom.area / geom.length**2


def test_fragment_enclave_and_compactness(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    x, _y = centroid_xy(p)
    c1 = (p["unit_code"] == "C1").to_numpy()
    west = c1 & (x < 250)
    p.loc[west, "leader_id"] = "G3"
    inner = np.flatnonzero(p.geometry.intersects(_pt(450, 250)).to_numpy())
    assert len(inner) == 1
    p.loc[p.index[inner], "leader_id"] = "G3"
    leaders = make_leaders(G3={"unit_packages": ["C1"]})
    rep = run(p, leaders, key_places=None, thresholds=Thresholds(idle=0.0, overload=10.0))
    s = rep.summary
    assert s["fragmented_leaders"] == 1 and s["enclaves"] == 1
    frag = next(f for f in rep.findings if f.kind == "fragmented_territory")
    assert frag.leader_id == "G3" and frag.count == 2 and frag.detail["detached_pieces"] == 1
    enc = next(f for f in rep.findings if f.kind == "enclave")
    assert enc.leader_id == "G3" and enc.detail["surrounded_by"] == "G1" and enc.count == 1
    assert enc.area_m2 == pytest.approx(float(p["area_m2"].iloc[inner[0]]), abs=1e-9)
    rows = rep.leaders.set_index("id")
    assert (
        rows.loc["G3", "parts"] == 2
        and rows.loc["G1", "parts"] == 1
        and rows.loc["G1", "enclaves"] == 0
    )
    for leader in ("G1", "G2", "G3"):
        assert rows.loc[leader, "compactness"] == pytest.approx(
            _reference_compactness(p, leader), abs=2e-6
        )
    # G1 has a hole where G3's enclave sits: its perimeter counts the hole's ring
    g1 = _m(shapely.union_all(p[p["leader_id"] == "G1"].geometry.values))
    assert len(g1.interiors) == 1
    assert rows.loc["G1", "perimeter_m"] == pytest.approx(g1.length, rel=1e-5)
    # a rectangle 600 m × 500 m: 4π·300000/2200²
    assert rows.loc["G2", "compactness"] == pytest.approx(4 * math.pi * 300_000 / 2200**2, rel=1e-4)
    # thresholds: everything / nothing below
    all_low = run(
        p,
        leaders,
        key_places=None,
        thresholds=Thresholds(min_compactness=1.0, idle=0.0, overload=10.0),
    )
    assert all_low.summary["low_compactness_leaders"] == 3
    assert not rep.has_gaps  # shape findings are warnings


def test_piece_on_the_jurisdiction_edge_is_not_an_enclave(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    edge = np.flatnonzero(p.geometry.intersects(_pt(300, 1)).to_numpy())
    p.loc[p.index[edge], "leader_id"] = "G3"
    rep = run(p, make_leaders(G3={"unit_packages": ["C1"]}), key_places=None)
    assert rep.summary["enclaves"] == 0
    assert rep.leaders.set_index("id").loc["G3", "parts"] == len(edge)


def test_piece_graph_matches_graph_module_and_dissolve(units: gpd.GeoDataFrame) -> None:
    from gridmgr.grid.graph import piece_adjacency

    u = make_units(c1=(0, 0, 630, 500), c2=(630, 0, 1200, 500))  # border through cells
    p = pieces_from_units(u, res=10)
    assert (~p["whole"]).sum() > 0
    g = piece_graph(p)
    adj = piece_adjacency(p)
    upper = sorted(
        zip(*[a.tolist() for a in np.nonzero(__import__("scipy").sparse.triu(adj, 1))], strict=True)
    )
    assert sorted(zip(g.i.tolist(), g.j.tolist(), strict=True)) == upper
    # perimeter of the whole street from pieces: Σ perimeters − 2 Σ shared = exposed boundary
    street = _m(shapely.segmentize(u.geometry.iloc[1], 1e-4))
    assert g.exposed_m.sum() == pytest.approx(street.length, rel=1e-6)
    assert g.perimeter_m.sum() - 2 * g.shared_m.sum() == pytest.approx(street.length, rel=1e-6)


# ------------------------------------------------------------------ 6. workload


def test_overloaded_and_idle_leaders(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    kp = make_key_places()
    x, _ = centroid_xy(p)
    one = np.flatnonzero(((p["unit_code"] == "C1").to_numpy()) & (x < 60))[:1]
    p.loc[p.index[one], "leader_id"] = "G3"
    leaders = make_leaders(G3={"unit_packages": ["C1"]}, G4={"unit_packages": ["C2"]})
    rep = run(p, leaders, kp)
    over = {f.leader_id for f in rep.findings if f.kind == "overloaded_leader"}
    idle = {f.leader_id for f in rep.findings if f.kind == "idle_leader"}
    assert over == {"G1", "G2"} and idle == {"G3", "G4"}
    # independent loads: hectares + 5 per key place in the leader's pieces
    a3 = float(p["area_m2"].iloc[one[0]]) / 1e4
    kp_in_3 = int(p.geometry.iloc[one[0]].intersects(kp.geometry).sum())
    load1 = 30.0 + 10.0 - a3 - 5 * kp_in_3
    load3 = a3 + 5 * kp_in_3
    mean_c1 = (load1 + load3) / 2
    rows = rep.leaders.set_index("id")
    assert rows.loc["G1", "load"] == pytest.approx(load1, rel=1e-4)
    assert rows.loc["G1", "load_ratio"] == pytest.approx(load1 / mean_c1, rel=1e-4)
    u = rep.units.set_index("code")
    assert u.loc["C1", "max_load_ratio"] == pytest.approx(load1 / mean_c1, rel=1e-4)
    assert u.loc["C2", "max_load_ratio"] == pytest.approx(2.0, rel=1e-6)  # 35 vs (35 + 0) / 2
    street_ratio = max(load1 / mean_c1, 2.0)  # the worst community's leader, against their own
    assert u.loc["S", "max_load_ratio"] == pytest.approx(street_ratio, rel=1e-4)
    assert rep.summary["max_load_ratio"] == pytest.approx(
        max(street_ratio, 2.0, load1 / mean_c1), rel=1e-4
    )
    assert rep.summary["overloaded_leaders"] == 2 and rep.summary["idle_leaders"] == 2
    # capacity doubles what a leader can carry: G2 with capacity 2 and G4 with 0.0001 work
    lead2 = make_leaders(G3={"unit_packages": ["C1"]}, G4={"unit_packages": ["C2"]})
    lead2.loc[lead2["id"] == "G1", "capacity"] = 100.0
    rep2 = run(p, lead2, kp, thresholds=Thresholds(overload=1.5, idle=0.1))
    assert "G1" not in {f.leader_id for f in rep2.findings if f.kind == "overloaded_leader"}
    # weights change the loads
    rep3 = run(p, leaders, kp, weights="area=0,key_places=0,pieces=1")
    assert rep3.leaders.set_index("id").loc["G2", "load"] == pytest.approx(
        float((p["leader_id"] == "G2").sum())
    )


# ------------------------------------------------------------------ combinations, scope, outputs


def test_combination_counts_add_up(run: Callable[..., CoverageReport]) -> None:
    u = make_units(c2=(600, 0, 1100, 500))
    p = assign_complete(pieces_from_units(u, res=10))
    c2 = (p["unit_code"] == "C2").to_numpy()
    p.loc[c2, "leader_id"] = None
    leaders = make_leaders(P2={"active": False}, G2={"active": False})
    rep = run(p, leaders, make_key_places([("KPO", "school", -500.0, 0.0)]), units_=u)
    s = rep.summary
    assert s["blind_spot_pieces"] == int(c2.sum())
    assert s["blind_spot_area_m2"] == pytest.approx(250_000, rel=RTOL)
    assert s["dead_corner_area_m2"] == pytest.approx(50_000, rel=RTOL)
    assert s["key_places_without_leader"] == 1  # KP2
    assert s["key_places_outside"] == 1
    assert (
        s["key_places_without_package_leader"] == 1
    )  # KP2 (P2 inactive); KPO only counts as outside
    assert s["communities_without_package_leader"] == 1
    assert s["gaps"] == sum(1 for f in rep.findings if f.severity == "gap")
    assert s["coverage_pct"] == pytest.approx(100 * 300_000 / 600_000, rel=RTOL)
    # worst first: gaps before warnings, larger areas first
    sev = [f.severity for f in rep.findings]
    assert sev == sorted(sev, key=lambda v: v != "gap")
    gap_areas = [f.area_m2 for f in rep.findings if f.severity == "gap"]
    assert gap_areas == sorted(gap_areas, reverse=True)


def test_scope_limits_the_report(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    p.loc[(p["unit_code"] == "C2").to_numpy(), "leader_id"] = None
    leaders = make_leaders(P2=None)
    rep = run(p, leaders, scope="C1")
    assert rep.summary["blind_spot_pieces"] == 0
    assert list(rep.units["code"]) == ["C1"]
    assert rep.summary["jurisdiction_area_m2"] == pytest.approx(300_000, rel=RTOL)
    assert rep.summary["key_places"] == 2
    rep2 = run(p, leaders, scope="C2")
    assert rep2.summary["blind_spot_pieces"] == int((p["unit_code"] == "C2").sum())
    with pytest.raises(UnitNotFoundError, match="C7"):
        run(p, leaders, scope="C7")


def test_json_and_geojson_outputs(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame, tmp_path: Any
) -> None:
    p = assign_complete(base_pieces)
    p.loc[(p["unit_code"] == "C2").to_numpy(), "leader_id"] = None
    rep = run(p, make_leaders(P2=None))
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    for key in (
        "blind_spot_pieces",
        "blind_spot_area_m2",
        "dead_corner_area_m2",
        "overlap_area_m2",
        "key_places_without_leader",
        "key_places_without_department",
        "fragmented_leaders",
        "max_load_ratio",
        "units",
        "findings",
        "leaders",
    ):
        assert key in d
    unit0 = d["units"][0]
    for key in (
        "code",
        "name",
        "level",
        "area_m2",
        "covered_area_m2",
        "coverage_pct",
        "blind_spot_pieces",
    ):
        assert key in unit0
    out = tmp_path / "gaps.geojson"
    n = rep.to_geojson(out)
    fc = json.loads(out.read_text("utf-8"))
    assert len(fc["features"]) == n == sum(1 for f in rep.findings if f.geometry is not None)
    assert {f["properties"]["kind"] for f in fc["features"]} == {
        "unassigned",
        "place_without_leader",
        "place_without_package_leader",
        "unit_without_package_leader",
    }
    frame = gpd.read_file(out)
    blind = frame[frame["kind"] == "unassigned"]
    assert _m(blind.geometry.iloc[0]).area == pytest.approx(300_000, rel=RTOL)


def test_bad_inputs_are_refused(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    p = assign_complete(base_pieces)
    with pytest.raises(InvalidFieldError, match="weights"):
        run(p, weights="area=-1")
    with pytest.raises(InvalidFieldError, match="duplicate id"):
        run(p, pd.concat([make_leaders(), make_leaders()]))
    with pytest.raises(InvalidFieldError, match="overload"):
        Thresholds(overload=0.9)
    rep = run(p)
    with pytest.raises(InvalidFieldError, match="unknown finding kind"):
        rep.count("nope")
    assert set(KINDS) >= {"unassigned", "fallback", "enclave"}


def test_piece_graph_three_units_in_one_cell_and_territory_perimeters() -> None:
    from scipy.sparse import triu

    from gridmgr.grid.graph import piece_adjacency

    # edges at multiples of 25 m, so neighbouring units share their densified vertices exactly
    rects = {"A": (0, 0, 625, 275), "B": (0, 275, 625, 500), "C": (625, 0, 1000, 500)}
    u = gpd.GeoDataFrame(
        {
            "code": ["S", *rects],
            "name": ["s", *rects],
            "level": ["street"] + ["community"] * 3,
            "parent": [None, "S", "S", "S"],
        },
        geometry=[_ll(box(0, 0, 1000, 500))] + [_ll(box(*r)) for r in rects.values()],
        crs="EPSG:4326",
    )
    p = pieces_from_units(u, res=10)
    assert (p.groupby("cell").size() == 3).any()  # the triple point lies inside one cell
    g = piece_graph(p)
    up = triu(piece_adjacency(p), 1).tocoo()
    assert sorted(zip(g.i.tolist(), g.j.tolist(), strict=True)) == sorted(
        zip(up.row.tolist(), up.col.tolist(), strict=True)
    )
    street = _m(shapely.segmentize(u.geometry.iloc[0], 1e-4))
    assert g.exposed_m.sum() == pytest.approx(street.length, rel=1e-6)
    # each community as one leader's territory: perimeters equal the dissolved rectangles'
    p["leader_id"] = p["unit_code"].map({"A": "LA", "B": "LB", "C": "LC"})
    p["fallback"] = False
    leaders = pd.DataFrame(
        {
            "id": ["LA", "LB", "LC"],
            "role": "grid_leader",
            "capacity": 1.0,
            "active": True,
            "unit_packages": [["A"], ["B"], ["C"]],
            "place_packages": [[], [], []],
        }
    )
    rep = coverage_from_frames(u, p, leaders)
    rows = rep.leaders.set_index("id")
    for lid, code in (("LA", "A"), ("LB", "B"), ("LC", "C")):
        x0, y0, x1, y1 = rects[code]
        assert rows.loc[lid, "perimeter_m"] == pytest.approx(2 * (x1 - x0 + y1 - y0), rel=1e-5)
        assert rows.loc[lid, "parts"] == 1


_GRID: dict[str, gpd.GeoDataFrame] = {}


def _grid() -> gpd.GeoDataFrame:
    if "p" not in _GRID:
        u = make_units(c1=(0, 0, 625, 500), c2=(625, 0, 1200, 500))  # a border through cells
        _GRID["u"] = u
        _GRID["p"] = pieces_from_units(u, res=10)
    return _GRID["p"]


@given(
    labels=st.lists(st.sampled_from([None, "G1", "G2", "G3", "GX"]), min_size=1, max_size=400),
    p1_active=st.booleans(),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_assignments_match_geometry(labels: list[str | None], p1_active: bool) -> None:
    """Statuses partition the pieces; parts and perimeters equal those of the dissolved shapes."""
    base = _grid()
    p = base.copy()
    p["leader_id"] = [labels[k % len(labels)] for k in range(len(p))]
    p["fallback"] = False
    leaders = make_leaders(
        G1={"unit_packages": ["S"]},
        G2={"unit_packages": ["S"]},
        G3={"unit_packages": ["S"], "active": False},
        P1={"active": p1_active},
    )
    rep = coverage_from_frames(_GRID["u"], p, leaders, None, CATEGORIES)
    s = rep.summary
    lid = p["leader_id"].to_numpy(dtype=object)
    no_owner = np.isin(lid, [None, "G3", "GX"]) | pd.isna(p["leader_id"]).to_numpy()
    rescued = no_owner & (p["unit_code"].to_numpy() == "C1") & p1_active | no_owner & (
        p["unit_code"].to_numpy() == "C2"
    )
    assert s["fallback_pieces"] == int(rescued.sum())
    assert s["blind_spot_pieces"] == int((no_owner & ~rescued).sum())
    assert s["misplaced_pieces"] == 0
    rows = rep.leaders.set_index("id")
    for leader in ("G1", "G2"):
        mine = p[p["leader_id"] == leader]
        if mine.empty:
            assert rows.loc[leader, "territory_pieces"] == 0
            continue
        union = _m(shapely.segmentize(shapely.union_all(mine.geometry.values), 1e-4))
        assert rows.loc[leader, "parts"] == len(shapely.get_parts(union))
        assert rows.loc[leader, "perimeter_m"] == pytest.approx(union.length, rel=1e-5)


def _same_report(a: CoverageReport, b: CoverageReport) -> None:
    assert a.to_dict() == b.to_dict()
    assert len(a.findings) == len(b.findings)
    for fa, fb in zip(a.findings, b.findings, strict=True):
        ga, gb = fa.geometry, fb.geometry
        assert (ga is None) == (gb is None), fa.kind
        if ga is not None:
            assert shapely.equals_exact(
                shapely.normalize(ga), shapely.normalize(gb), tolerance=0
            ), fa.kind


@given(
    labels=st.lists(st.sampled_from([None, "G1", "G2", "G3", "GX"]), min_size=1, max_size=200),
    orphans=st.booleans(),
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_lazy_pieces_give_the_same_report(labels: list[str | None], orphans: bool) -> None:
    """Whole pieces without geometry (the lazy form) change nothing: figures, rows, findings and
    every finding's shape equal the report over full geometries."""
    from gridmgr.grid.lazy import drop_whole

    base = _grid()
    p = base.copy()
    p["leader_id"] = [labels[k % len(labels)] for k in range(len(p))]
    p["fallback"] = False
    if orphans:  # pieces of a unit that is not in the units layer
        p.loc[p.index[:5], "unit_code"] = "GONE"
    lazy = p.copy()
    lazy["geometry"] = drop_whole(p.geometry.values, p["whole"].to_numpy())
    assert lazy.geometry.isna().sum() == int(p["whole"].sum()) > 0
    leaders = make_leaders(G1={"unit_packages": ["S"]}, G3={"active": False})
    full_rep = coverage_from_frames(_GRID["u"], p, leaders, make_key_places(), CATEGORIES)
    lazy_rep = coverage_from_frames(_GRID["u"], lazy, leaders, make_key_places(), CATEGORIES)
    _same_report(full_rep, lazy_rep)


def test_piece_graph_is_the_same_for_lazy_and_store_forms() -> None:
    """The piece graph of the lazy form, and of one-part MultiPolygons (as the store keeps
    pieces), equals the graph of the grid build's Polygons."""
    from gridmgr.grid.lazy import drop_whole
    from gridmgr.grid.piece_graph import piece_graph

    p = _grid()
    lazy, multi = p.copy(), p.copy()
    lazy["geometry"] = drop_whole(p.geometry.values, p["whole"].to_numpy())
    multi["geometry"] = shapely.multipolygons(
        np.asarray(p.geometry.values), indices=np.arange(len(p))
    )
    ref = piece_graph(p)
    for other in (piece_graph(lazy), piece_graph(multi)):
        assert np.array_equal(other.i, ref.i) and np.array_equal(other.j, ref.j)
        assert np.array_equal(other.shared_m, ref.shared_m)
        assert np.array_equal(other.perimeter_m, ref.perimeter_m)
        assert np.array_equal(other.exposed_m, ref.exposed_m)


def test_per_unit_checks_on_a_dask_cluster_give_the_same_report(
    run: Callable[..., CoverageReport],
) -> None:
    """``coverage --workers``: the per-unit overlays run as dask tasks (a 2-worker LocalCluster,
    threads to keep the test fast) and the report equals the serial one, shapes included."""
    pytest.importorskip("distributed")
    from gridmgr.grid.distributed import dask_mapper

    stale = make_units(c1=(0, 0, 560, 500), c2=(600, 0, 1100, 500))  # both communities stale
    p = assign_complete(pieces_from_units(stale, res=10))
    calls: list[int] = []
    inner = dask_mapper(2, processes=False)

    def counting(fn: Any, args: Any) -> list[Any]:
        args = list(args)
        calls.append(len(args))
        return inner(fn, args)

    serial = run(p)
    dist = run(p, mapper=counting)
    assert calls == [2]  # one task per stale community
    assert sorted(f.unit_code for f in dist.findings if f.kind == "unpieced_area") == ["C1", "C2"]
    _same_report(serial, dist)


def test_chunked_piece_graph_gives_the_same_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above GRAPH_CHUNK_PIECES the graph is built per chunk of units with a halo of neighbour
    cells: the same pairs, lengths and exposed boundaries bit for bit, so the same report."""
    import gridmgr.coverage.report as report_mod
    from gridmgr.grid.piece_graph import piece_graph
    from gridmgr.grid.piece_graph_chunks import chunks_by_unit, piece_graph_by_chunks

    p = _grid().copy()
    assert len(p) > 50  # so that the patched limit below takes the chunked path
    p["leader_id"] = ["G1" if k % 7 else "G2" for k in range(len(p))]
    p["fallback"] = False
    punit = pd.factorize(p["unit_code"])[0].astype(np.int64)
    for target in (1, 40):  # one unit per chunk; chunks cutting through units
        chunk = chunks_by_unit(punit, target) if target > 1 else punit
        ref, got = piece_graph(p), piece_graph_by_chunks(p, np.asarray(chunk, dtype=np.int64))
        a, b = np.lexsort((ref.j, ref.i)), np.lexsort((got.j, got.i))
        assert np.array_equal(ref.i[a], got.i[b]) and np.array_equal(ref.j[a], got.j[b])
        assert np.array_equal(ref.shared_m[a], got.shared_m[b])
        assert np.array_equal(ref.exposed_m, got.exposed_m)
        assert np.array_equal(ref.perimeter_m, got.perimeter_m)
    leaders = make_leaders(G1={"unit_packages": ["S"]})
    whole = coverage_from_frames(_GRID["u"], p, leaders, make_key_places(), CATEGORIES)
    monkeypatch.setattr(report_mod, "GRAPH_CHUNK_PIECES", 50)
    chunked = coverage_from_frames(_GRID["u"], p, leaders, make_key_places(), CATEGORIES)
    _same_report(whole, chunked)


def test_frames_without_whole_or_cell_columns_still_report(
    run: Callable[..., CoverageReport], base_pieces: gpd.GeoDataFrame
) -> None:
    """``whole`` (and ``cell``, when every geometry is there) may be left out of a frame: the
    report is the one of the complete frame."""
    p = assign_complete(base_pieces)
    full = run(p)
    bare = run(p.drop(columns=["whole"]))
    assert bare.to_dict() == full.to_dict()
