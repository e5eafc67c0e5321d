"""The shipped layers of the Changchun High-tech Zone (``layers/changchun_hitech/``).

These tests read the files with geopandas/shapely directly (not through ``gridmgr.io``) so that
they check the data itself: codes and parent links, exact tiling of every parent by its
children, key places inside the jurisdiction, the department of every category, and a sample
leaders file that leaves no unit and no key place without its responsible leader.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmgr.settings import EQUAL_AREA_CRS

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "layers" / "changchun_hitech"
GENERATOR = ROOT / "layers" / "tools" / "make_changchun_hitech.py"
VENDORED_REFERENCE = (
    ROOT / "layers" / "tools" / "reference" / "changchun-southwest-major-roads-osm.geojson"
)

#: Official statistical division codes (NBS 2022 via modood/Administrative-divisions-of-China).
OFFICIAL = {
    "220173": "长春高新技术产业开发区",
    "220173001": "硅谷街道",
    "220173005": "双德街道",  # the 2019 campaign report calls it 双德乡
}
#: OSM place label of the district (reference file).
DISTRICT_LABEL = (125.2524398, 43.7862534)
#: The three sites of the inspection tour in the seed report.
TOUR = {"海融广场": "plaza", "富强城市公园": "park", "林园路市场": "farmers_market"}
MAX_SLIVER_M2 = 1.0
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})?$")


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    frame = gpd.read_file(LAYERS / "units.geojson")
    assert frame.crs is not None and frame.crs.to_epsg() == 4326
    return frame


@pytest.fixture(scope="module")
def units_ea(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return units.to_crs(EQUAL_AREA_CRS)


@pytest.fixture(scope="module")
def places() -> gpd.GeoDataFrame:
    return gpd.read_file(LAYERS / "key_places.geojson")


@pytest.fixture(scope="module")
def departments() -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads(
        (LAYERS / "departments.json").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture(scope="module")
def leaders() -> pd.DataFrame:
    frame = pd.read_csv(
        LAYERS / "leaders_sample.csv", dtype=str, keep_default_na=False, encoding="utf-8"
    )
    for col in ("unit_packages", "place_packages"):
        frame[col] = frame[col].map(lambda s: [x for x in s.split(";") if x])
    return frame


def _communities(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return units[units["level"] == "community"]


# --- units -----------------------------------------------------------------------------------


def test_codes_levels_and_parent_links(units: gpd.GeoDataFrame) -> None:
    assert units["code"].is_unique
    by_code = units.set_index("code")
    # official codes and names (双德乡 carries the later name 双德街道 as alias)
    assert by_code.loc["220173", "name"] == OFFICIAL["220173"]
    assert by_code.loc["220173001", "name"] == OFFICIAL["220173001"]
    assert OFFICIAL["220173005"] in {
        by_code.loc["220173005", "name"],
        by_code.loc["220173005", "alias"],
    }
    assert by_code.loc["220173", "level"] == "district"
    assert pd.isna(by_code.loc["220173", "parent"])
    pattern = {"district": r"^\d{6}$", "street": r"^\d{9}$", "community": r"^\d{12}$"}
    for row in units.itertuples():
        assert re.fullmatch(pattern[row.level], row.code), row.code
        if row.level != "district":
            assert row.parent == row.code[: len(row.code) - 3], row.code
            assert (
                by_code.loc[row.parent, "level"]
                == {"street": "district", "community": "street"}[row.level]
            )
    assert set(units.loc[units["level"] == "street", "code"]) == {"220173001", "220173005"}
    counts = _communities(units).groupby("parent").size()
    assert set(counts.index) == {"220173001", "220173005"}
    assert (counts >= 5).all(), counts.to_dict()


def test_sample_names_are_marked(units: gpd.GeoDataFrame) -> None:
    com = _communities(units)
    assert com["sample"].astype(bool).all()
    assert com["name"].str.contains("样例").all()
    assert not units.loc[units["level"] != "community", "sample"].astype(bool).any()
    assert units["name_en"].notna().all()


def test_geometries_valid_and_rfc7946_wound(units: gpd.GeoDataFrame) -> None:
    assert units.geometry.is_valid.all()
    assert set(units.geom_type) <= {"Polygon", "MultiPolygon"}
    polys = shapely.get_parts(units.geometry.values)
    assert shapely.is_ccw(shapely.get_exterior_ring(polys)).all()
    for p in polys:
        assert not any(shapely.is_ccw(r) for r in p.interiors)


def test_children_tile_parents_exactly(units_ea: gpd.GeoDataFrame) -> None:
    by_code = units_ea.set_index("code")
    for parent, children in units_ea[units_ea["parent"].notna()].groupby("parent"):
        outline = by_code.loc[parent, "geometry"]
        geoms = children.geometry.values
        union = shapely.union_all(geoms)
        gap = outline.difference(union).area
        outside = union.difference(outline).area
        left, right = np.triu_indices(len(geoms), k=1)
        overlap = shapely.area(shapely.intersection(geoms[left], geoms[right])).sum()
        assert gap < MAX_SLIVER_M2, (parent, gap)
        assert outside < MAX_SLIVER_M2, (parent, outside)
        assert overlap < MAX_SLIVER_M2, (parent, overlap)
        assert abs(children.area.sum() - outline.area) < MAX_SLIVER_M2


def test_extent_is_plausible(units: gpd.GeoDataFrame, units_ea: gpd.GeoDataFrame) -> None:
    district = units.set_index("code").loc["220173", "geometry"]
    assert district.contains(shapely.Point(DISTRICT_LABEL))
    area_km2 = units_ea.set_index("code").loc["220173", "geometry"].area / 1e6
    assert 60 <= area_km2 <= 150
    com_km2 = _communities(units_ea).area / 1e6
    assert com_km2.min() > 0.5, com_km2.min()


# --- key places ------------------------------------------------------------------------------


def test_key_places_count_codes_and_names(places: gpd.GeoDataFrame) -> None:
    assert len(places) >= 40
    assert places["code"].is_unique
    assert places["code"].str.fullmatch(r"KP\d{3}").all()
    named = places.set_index("name")
    for name, category in TOUR.items():
        assert name in named.index, name
        assert named.loc[name, "category"] == category
        assert not bool(named.loc[name, "sample"])
    samples = places[places["sample"].astype(bool)]
    assert samples["name"].str.contains("样例").all()
    assert set(places.loc[~places["sample"].astype(bool), "name"]) == set(TOUR)
    assert set(places.geom_type) <= {"Point", "Polygon"}
    assert places.geometry.is_valid.all()


def test_key_places_inside_exactly_one_community(
    places: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> None:
    district = units.set_index("code").loc["220173", "geometry"]
    assert places.geometry.within(district).all()
    com = _communities(units)
    hits = gpd.sjoin(
        places.set_geometry(places.representative_point()),
        com[["code", "geometry"]],
        predicate="within",
    )
    assert hits.groupby("code_left").size().reindex(places["code"]).eq(1).all()
    # polygon places lie wholly inside their community
    polys = places[places.geom_type == "Polygon"]
    assert len(polys) >= 2
    for geom in polys.geometry:
        assert com.geometry.contains(geom).sum() == 1
    # both streets get a plausible share, schools and malls in the built-up street
    street = hits.set_index("code_left")["code_right"].str[:9]
    assert street.value_counts().min() >= 10
    cats = places.set_index("code")["category"]
    guigu = cats[street.reindex(cats.index) == "220173001"]
    assert {"school", "mall", "hospital", "plaza", "park"} <= set(guigu)
    shuangde = cats[street.reindex(cats.index) == "220173005"]
    assert (shuangde == "farmers_market").sum() >= 3
    # malls and transport hubs sit by a major road (within 600 m)
    roads = gpd.read_file(LAYERS / "roads.geojson")
    road_lines = shapely.union_all(
        roads.loc[roads["kind"] == "road"].to_crs(EQUAL_AREA_CRS).geometry.values
    )
    by_road = places[places["category"].isin(["mall", "transport_hub"])].to_crs(EQUAL_AREA_CRS)
    assert len(by_road) >= 4
    assert (by_road.distance(road_lines) <= 600).all()


# --- departments -----------------------------------------------------------------------------


def test_every_category_has_one_existing_department(
    departments: dict[str, list[dict[str, object]]], places: gpd.GeoDataFrame
) -> None:
    depts = pd.DataFrame(departments["departments"])
    cats = pd.DataFrame(departments["categories"])
    assert depts["code"].is_unique and cats["category"].is_unique
    assert depts["code"].str.fullmatch(r"[A-Z]{2,5}").all()
    assert depts["name_en"].str.len().gt(0).all()
    for name in (
        "卫健局",
        "教育局",
        "城建委质监站",
        "市场监督管理分局",
        "交警大队",
        "消防大队",
        "生态环境分局",
        "环卫处",
        "综合执法大队",
    ):
        assert name in set(depts["name"]), name
    assert cats["department"].isin(depts["code"]).all()
    assert cats["requires_package_leader"].map(type).eq(bool).all()
    assert set(places["category"]) <= set(cats["category"])
    owner = cats.set_index("category")["department"]
    assert (
        owner["school"] == "JYJ" and owner["hospital"] == "WJJ" and owner["farmers_market"] == "SJJ"
    )


# --- leaders ---------------------------------------------------------------------------------


def test_leaders_file_is_consistent(
    leaders: pd.DataFrame,
    units: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    departments: dict[str, list[dict[str, object]]],
) -> None:
    header = (LAYERS / "leaders_sample.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,name,role,department,phone,capacity,unit_packages,place_packages"
    assert leaders["id"].is_unique and leaders["name"].is_unique
    assert leaders["role"].isin({"grid_leader", "package_leader"}).all()
    dept_codes = {str(d["code"]) for d in departments["departments"]}
    assert leaders["department"].map(lambda d: d == "" or d in dept_codes).all()
    assert leaders["phone"].str.fullmatch(PHONE).all()
    capacity = leaders["capacity"].astype(float)
    assert (capacity > 0).all() and capacity.between(0.5, 2.0).all()
    unit_codes = set(units["code"])
    place_codes = set(places["code"])
    assert all(set(u) <= unit_codes for u in leaders["unit_packages"])
    assert all(set(p) <= place_codes for p in leaders["place_packages"])
    # grid leaders work inside communities
    grid = leaders[leaders["role"] == "grid_leader"]
    com_codes = set(_communities(units)["code"])
    assert all(u and set(u) <= com_codes for u in grid["unit_packages"])
    assert grid["place_packages"].map(len).eq(0).all()


def test_every_unit_has_its_leaders(leaders: pd.DataFrame, units: gpd.GeoDataFrame) -> None:
    pkg = (
        leaders[leaders["role"] == "package_leader"]
        .explode("unit_packages")["unit_packages"]
        .value_counts()
    )
    grid = (
        leaders[leaders["role"] == "grid_leader"]
        .explode("unit_packages")["unit_packages"]
        .value_counts()
    )
    for code in units.loc[units["level"] == "street", "code"]:
        assert pkg.get(code, 0) >= 1, code
    for code in _communities(units)["code"]:
        assert pkg.get(code, 0) >= 1, f"community {code} has no package leader (属地兜底)"
        assert 2 <= grid.get(code, 0) <= 4, f"community {code} has {grid.get(code, 0)} grid leaders"


def test_every_place_needing_a_package_leader_has_one(
    leaders: pd.DataFrame, places: gpd.GeoDataFrame, departments: dict[str, list[dict[str, object]]]
) -> None:
    cats = pd.DataFrame(departments["categories"]).set_index("category")
    needs = places[places["category"].map(cats["requires_package_leader"]).astype(bool)]
    assert len(needs) >= 10
    pkg = (
        leaders[leaders["role"] == "package_leader"]
        .explode("place_packages")
        .dropna(subset=["place_packages"])
    )
    holder = pkg.groupby("place_packages")["id"].nunique()
    assert holder.reindex(needs["code"]).eq(1).all(), set(needs["code"]) - set(holder.index)
    # a department leader packages only places of categories their department owns
    owner = places.set_index("code")["category"].map(cats["department"])
    dept_rows = pkg[pkg["department"] != ""]
    assert (dept_rows["place_packages"].map(owner) == dept_rows["department"]).all()


def test_no_personal_names(
    leaders: pd.DataFrame, departments: dict[str, list[dict[str, object]]]
) -> None:
    prefixes = ["硅谷街道", "双德乡"] + [str(d["name"]) for d in departments["departments"]]
    pattern = re.compile(
        rf"^({'|'.join(map(re.escape, prefixes))})(包保领导|网格长|网格员)[A-Z0-9]+$"
    )
    bad = [n for n in leaders["name"] if not pattern.fullmatch(n)]
    assert not bad, bad
    # each placeholder carries its own id, so a name identifies exactly one row
    assert all(row.name.endswith(row.id) for row in leaders.itertuples())


# --- roads, provenance, reproducibility --------------------------------------------------------


def test_roads_are_attributed_osm_lines(units: gpd.GeoDataFrame) -> None:
    raw = json.loads((LAYERS / "roads.geojson").read_text(encoding="utf-8"))
    assert "OpenStreetMap" in raw["attribution"] and raw["license"] == "ODbL-1.0"
    roads = gpd.read_file(LAYERS / "roads.geojson")
    assert set(roads.geom_type) <= {"LineString", "MultiLineString"}
    assert {"硅谷大街", "超达大路", "前进大街", "长春绕城高速", "城南大路", "永春河"} <= set(
        roads["name"]
    )
    district = units.set_index("code").loc["220173", "geometry"]
    assert roads.intersects(district).sum() >= 6


def test_readme_gives_provenance_of_every_file() -> None:
    readme = (ROOT / "layers" / "README.md").read_text(encoding="utf-8")
    for path in LAYERS.iterdir():
        assert f"`{path.name}`" in readme, path.name
    for phrase in (
        "approximation",
        "OpenStreetMap",
        "ODbL",
        "modood/Administrative-divisions-of-China",
        "--code-field",
    ):
        assert phrase in readme, phrase


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_changchun_hitech", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    _generator().write_all(tmp_path, VENDORED_REFERENCE)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(
        [
            "units.geojson",
            "key_places.geojson",
            "departments.json",
            "leaders_sample.csv",
            "roads.geojson",
        ]
    )
    for name in written:
        assert (tmp_path / name).read_bytes() == (LAYERS / name).read_bytes(), (
            f"{name} differs: re-run the generator"
        )
