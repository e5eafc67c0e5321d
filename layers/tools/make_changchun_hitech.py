#!/usr/bin/env python3
"""Generate the shipped layers of the Changchun High-tech Zone (``layers/changchun_hitech/``).

The boundaries are **approximations** drawn by hand against real OpenStreetMap major roads
(the reference extract ``changchun-southwest-major-roads-osm.geojson``, vendored in
``layers/tools/reference/``); they are not official survey data. See ``layers/README.md``.

Method (deterministic, no randomness without a fixed seed):

1. The district outline, the line between the two township-level units and the "zone" lines
   inside each unit (real roads and the 永春河 river) are given as coordinate lists below.
2. Inside every zone, communities are cut along the Voronoi bisectors of fixed seed points.
3. All lines are noded together on a fixed-precision grid (1e-7 degree, ~1 cm) with
   ``shapely.union_all(..., grid_size=1e-7)`` and polygonised: every face therefore shares its
   edges vertex for vertex with its neighbours, and all vertices lie on the 7-decimal grid.
4. Each face goes to the nearest seed of its zone; a community is the union of its faces, a
   street the union of its communities, the district the union of its streets (all on the same
   grid), so children tile their parent exactly (no gap, no overlap).
5. Key places are placed with a seeded random generator inside their community (at least
   ``PLACE_MARGIN_DEG`` from any community boundary), a few by hand.
6. Files are written with a fixed key order and 7-decimal coordinates, so that running this
   script again reproduces them byte for byte.

Run ``python layers/tools/make_changchun_hitech.py [--reference FILE] [--out DIR] [--png FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, mapping, shape

GRID = 1e-7  # degrees; ~1 cm. Coordinates are written with 7 decimals.
DECIMALS = 7
PLACE_MARGIN_DEG = 0.0006  # ~50-65 m from any community boundary
PLACE_SPACING_DEG = 0.0025  # ~200-280 m between sampled key places
RNG_SEED = 20190725  # the date of the campaign meeting in the seed report
NEAR_ROAD = frozenset({"mall", "transport_hub"})
NEAR_ROAD_DEG = 0.005  # ~400-550 m

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "changchun_hitech"
DEFAULT_REFERENCE = Path("/work/shared/reference/changchun-southwest-major-roads-osm.geojson")
VENDORED_REFERENCE = HERE / "reference" / "changchun-southwest-major-roads-osm.geojson"

Coords = list[tuple[float, float]]

# ---------------------------------------------------------------------------------------------
# 1. Hand-drawn linework (lon, lat; WGS-84). Vertices on real roads are copied from the OSM
#    reference; vertices marked "approx." are judgement calls between them.
# ---------------------------------------------------------------------------------------------

#: District outline, clockwise from the north-west.
DISTRICT_RING: Coords = [
    # north-west: 京哈线 railway
    (125.1922, 43.8046),
    (125.2071, 43.8157),
    (125.2125, 43.8201),
    (125.2214, 43.8276),  # railway (gap between OSM segments bridged)
    # north: 永春河 river
    (125.2240, 43.8256),
    (125.2288, 43.8253),
    (125.2372, 43.8288),
    (125.2402, 43.8288),
    (125.2440, 43.8268),
    (125.2497, 43.8248),
    # north-east: straight to 南部快速路 (approx.), then 南部快速路 / 卫星路
    (125.2680, 43.8283),
    (125.2708, 43.8296),
    (125.2723, 43.8300),
    (125.2829, 43.8302),
    (125.2893, 43.8302),
    # east: 前进大街 and its continuation 长伊公路
    (125.2893, 43.8013),
    (125.2892, 43.7750),
    (125.2893, 43.7673),
    (125.2893, 43.7420),  # approx. southern end
    # south (approx., rural fields)
    (125.2600, 43.7395),
    (125.2300, 43.7370),
    (125.2018, 43.7357),  # 京哈高速 north-eastern end of the OSM extract
    # west (approx.)
    (125.1975, 43.7550),
    (125.1990, 43.7720),
    (125.2063, 43.7796),  # 硅谷大街 south-western end of the OSM extract
    (125.1950, 43.7900),
    (125.1905, 43.7990),
]

#: Line between 硅谷街道 (north-east) and 双德乡 (west and south): 硅谷大街 from the north,
#: a diagonal to the western end of 长春绕城高速 (approx.), then 长春绕城高速 to 前进大街.
STREET_LINE: Coords = [
    (125.2620, 43.8290),  # beyond the district (overshoot, dropped when polygonising)
    (125.2540, 43.8203),
    (125.2372, 43.8042),
    (125.2218, 43.7917),
    (125.2394, 43.7536),
    (125.2648, 43.7605),
    (125.2708, 43.7626),
    (125.2774, 43.7651),
    (125.2915, 43.7718),  # beyond 前进大街 (overshoot)
]

#: Zone lines per street: real roads / the river that community boundaries follow.
ZONE_LINES: dict[str, list[Coords]] = {
    "220173001": [
        # 超达大路 / 盛世大路
        [
            (125.2328, 43.8026),
            (125.2364, 43.8023),
            (125.2422, 43.8022),
            (125.2700, 43.8020),
            (125.2827, 43.8019),
            (125.2904, 43.8021),
        ],
        # 永春河 (south to north), extended south across 长春绕城高速
        [
            (125.2770, 43.7630),
            (125.2736, 43.7675),
            (125.2709, 43.7698),
            (125.2702, 43.7800),
            (125.2691, 43.7845),
            (125.2686, 43.7854),
            (125.2679, 43.7866),
            (125.2646, 43.7901),
            (125.2666, 43.7945),
            (125.2648, 43.7980),
            (125.2642, 43.8012),
            (125.2649, 43.8055),
            (125.2634, 43.8096),
            (125.2607, 43.8124),
            (125.2593, 43.8150),
            (125.2593, 43.8183),
            (125.2552, 43.8201),
            (125.2526, 43.8214),
        ],
    ],
    "220173005": [
        # 硅谷大街, south-western part
        [(125.2040, 43.7777), (125.2063, 43.7796), (125.2097, 43.7824), (125.2107, 43.7829), (125.2218, 43.7917)],
        # 城南大路, western part, joined to the western end of 长春绕城高速
        [
            (125.1960, 43.7478),
            (125.2096, 43.7483),
            (125.2122, 43.7484),
            (125.2148, 43.7489),
            (125.2375, 43.7564),
            (125.2394, 43.7536),
        ],
    ],
}


@dataclass(frozen=True)
class Community:
    """A community or village: code, name, English name and its Voronoi seed point."""

    code: str
    name: str
    name_en: str
    seed: tuple[float, float]


def _guigu(n: int, seed: tuple[float, float]) -> Community:
    return Community(f"220173001{n:03d}", f"硅谷街道样例社区{n:02d}", f"Guigu sample community {n:02d}", seed)


def _shuangde_c(n: int, seed: tuple[float, float]) -> Community:
    return Community(f"220173005{n:03d}", f"双德乡样例社区{n:02d}", f"Shuangde sample community {n:02d}", seed)


def _shuangde_v(n: int, seed: tuple[float, float]) -> Community:
    return Community(f"220173005{200 + n:03d}", f"双德乡样例村{n:02d}", f"Shuangde sample village {n:02d}", seed)


#: Communities (NBS convention: 0xx residents' committees 社区, 2xx villagers' committees 村).
#: Seeds are placed so that each zone gets 1-3 communities of comparable size.
COMMUNITIES: dict[str, list[Community]] = {
    "220173001": [
        _guigu(1, (125.2530, 43.8120)),  # north of 超达大路, west of 永春河
        _guigu(2, (125.2740, 43.8210)),  # north of 超达大路, east of 永春河
        _guigu(3, (125.2790, 43.8080)),
        _guigu(4, (125.2450, 43.7960)),  # south of 超达大路, west of 永春河
        _guigu(5, (125.2500, 43.7700)),
        _guigu(6, (125.2800, 43.7930)),  # east of 永春河
        _guigu(7, (125.2810, 43.7730)),
    ],
    "220173005": [
        _shuangde_c(1, (125.2320, 43.8180)),  # north-west of 硅谷大街, near the city
        _shuangde_c(2, (125.2120, 43.8020)),
        _shuangde_v(1, (125.2020, 43.7870)),
        _shuangde_v(2, (125.2080, 43.7680)),  # between 硅谷大街 and 城南大路
        _shuangde_v(3, (125.2250, 43.7680)),
        _shuangde_v(4, (125.2200, 43.7440)),  # south of 城南大路 / 长春绕城高速
        _shuangde_v(5, (125.2650, 43.7500)),
    ],
}

STREETS: list[dict[str, Any]] = [
    {
        "code": "220173001",
        "name": "硅谷街道",
        "name_en": "Guigu Subdistrict",
        "alias": None,
    },
    {
        "code": "220173005",
        "name": "双德乡",
        "name_en": "Shuangde Township",
        "alias": "双德街道",
    },
]
DISTRICT: dict[str, Any] = {
    "code": "220173",
    "name": "长春高新技术产业开发区",
    "name_en": "Changchun High-tech Industrial Development Zone",
    "alias": "长春高新区",
}

# ---------------------------------------------------------------------------------------------
# 2. Departments and key-place categories
# ---------------------------------------------------------------------------------------------

DEPARTMENTS: list[dict[str, str]] = [
    {"code": "WJJ", "name": "卫健局", "name_en": "Health Commission"},
    {"code": "JYJ", "name": "教育局", "name_en": "Education Bureau"},
    {"code": "ZJZ", "name": "城建委质监站", "name_en": "Construction Quality Supervision Station"},
    {"code": "SJJ", "name": "市场监督管理分局", "name_en": "Market Supervision Branch"},
    {"code": "JJDD", "name": "交警大队", "name_en": "Traffic Police Brigade"},
    {"code": "XFDD", "name": "消防大队", "name_en": "Fire Brigade"},
    {"code": "STJ", "name": "生态环境分局", "name_en": "Ecology and Environment Branch"},
    {"code": "HWC", "name": "环卫处", "name_en": "Sanitation Office"},
    {"code": "ZHZF", "name": "综合执法大队", "name_en": "Comprehensive Law Enforcement Brigade"},
]

#: category, Chinese name, English name, owning department, requires a package leader.
CATEGORIES: list[tuple[str, str, str, str | None, bool]] = [
    ("school", "学校", "School", "JYJ", True),
    ("kindergarten", "幼儿园", "Kindergarten", "JYJ", False),
    ("mall", "商场", "Shopping mall", "SJJ", True),
    ("farmers_market", "农贸市场", "Farmers' market", "SJJ", True),
    ("restaurant", "餐饮店", "Restaurant", "SJJ", False),
    ("plaza", "广场", "Plaza", "HWC", True),
    ("park", "公园", "Park", "HWC", True),
    ("hospital", "医院", "Hospital", "WJJ", False),
    ("clinic", "卫生服务站/卫生室", "Clinic", "WJJ", False),
    ("residential", "居民小区", "Residential compound", "ZHZF", False),
    ("construction_site", "建筑工地", "Construction site", "ZJZ", True),
    ("transport_hub", "交通枢纽", "Transport hub", "JJDD", False),
]

# ---------------------------------------------------------------------------------------------
# 3. Key places
# ---------------------------------------------------------------------------------------------

#: The three sites of the inspection tour in the seed report. Real names; locations are
#: approximate placements (the report gives no coordinates; 林园路 is near 前进大街 according
#: to public address listings "高新区前进大街…林园路").
NAMED_PLACES: list[dict[str, Any]] = [
    {
        "name": "海融广场",
        "category": "plaza",
        "address": "长春高新区硅谷街道（示意位置，待核实）",
        # polygon, ~230 m x 170 m
        "polygon": [(125.2470, 43.7885), (125.2498, 43.7885), (125.2498, 43.7900), (125.2470, 43.7900)],
    },
    {
        "name": "富强城市公园",
        "category": "park",
        "address": "长春高新区硅谷街道（示意位置，待核实）",
        # polygon, ~480 m x 330 m
        "polygon": [
            (125.2735, 43.7900),
            (125.2790, 43.7898),
            (125.2795, 43.7925),
            (125.2760, 43.7930),
            (125.2738, 43.7924),
        ],
    },
    {
        "name": "林园路市场",
        "category": "farmers_market",
        "address": "长春高新区林园路，近前进大街（示意位置，待核实）",
        "point": (125.2852, 43.8160),
    },
]

#: Sample places per community: (category, count). Built-up 硅谷 gets schools, malls,
#: hospitals and construction sites; rural 双德 gets markets, village clinics and plazas.
SAMPLE_PLACES: dict[str, list[tuple[str, int]]] = {
    "220173001001": [("school", 1), ("kindergarten", 1), ("residential", 1), ("transport_hub", 1)],
    "220173001002": [("school", 1), ("mall", 1), ("residential", 1), ("clinic", 1)],
    "220173001003": [("hospital", 1), ("kindergarten", 1), ("construction_site", 1), ("restaurant", 1)],
    "220173001004": [("mall", 1), ("school", 1), ("residential", 1), ("clinic", 1), ("plaza", 1)],
    "220173001005": [("construction_site", 2), ("transport_hub", 1), ("park", 1)],
    "220173001006": [("school", 1), ("mall", 1), ("hospital", 1), ("residential", 1)],
    "220173001007": [("kindergarten", 1), ("construction_site", 1), ("farmers_market", 1)],
    "220173005001": [("school", 1), ("farmers_market", 1), ("residential", 1), ("clinic", 1)],
    "220173005002": [("kindergarten", 1), ("construction_site", 1), ("plaza", 1)],
    "220173005201": [("farmers_market", 1), ("clinic", 1)],
    "220173005202": [("school", 1), ("clinic", 1), ("plaza", 1)],
    "220173005203": [("farmers_market", 1), ("transport_hub", 1), ("residential", 1)],
    "220173005204": [("clinic", 1), ("park", 1)],
    "220173005205": [("farmers_market", 1), ("clinic", 1), ("construction_site", 1)],
}

SAMPLE_LABEL: dict[str, list[str]] = {
    "school": ["小学", "中学"],
    "kindergarten": ["幼儿园"],
    "mall": ["商场"],
    "farmers_market": ["农贸市场"],
    "restaurant": ["餐饮店"],
    "plaza": ["广场"],
    "park": ["公园"],
    "hospital": ["医院"],
    "clinic": ["社区卫生服务站"],
    "residential": ["小区"],
    "construction_site": ["建筑工地"],
    "transport_hub": ["公交枢纽站"],
}
VILLAGE_CLINIC = "村卫生室"

# ---------------------------------------------------------------------------------------------
# 4. Leaders (placeholder role titles only, never personal names)
# ---------------------------------------------------------------------------------------------

#: Department leaders per department that owns categories needing a package leader.
DEPARTMENT_LEADERS: dict[str, int] = {"JYJ": 2, "SJJ": 3, "HWC": 2, "ZJZ": 2}
STREET_LETTER = {"220173001": "A", "220173005": "B"}


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------


def _snap(geom: shapely.Geometry) -> shapely.Geometry:
    """Snap a geometry's coordinates to the ``GRID`` (keeps topology valid)."""
    return shapely.set_precision(geom, GRID)


def _faces(lines: list[shapely.Geometry]) -> list[Polygon]:
    """Node all lines on the fixed grid and return the faces of the arrangement.

    Parameters
    ----------
    lines
        Line geometries (rings, lines, multilines); overshoots become dangles and are dropped.

    Returns
    -------
    list of Polygon
        The faces, with all vertices on the grid and shared edges identical.
    """
    noded = shapely.union_all(np.array(lines, dtype=object), grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [f for f in faces if not f.is_empty]


def _pick(polys: list[Polygon], pt: tuple[float, float]) -> int:
    """Index of the polygon containing ``pt`` (exactly one must)."""
    hits = [i for i, p in enumerate(polys) if p.contains(Point(pt))]
    if len(hits) != 1:
        raise RuntimeError(f"point {pt} lies in {len(hits)} polygons, expected 1")
    return hits[0]


def _orient(geom: shapely.Geometry) -> shapely.Geometry:
    """RFC 7946 winding: exterior rings counter-clockwise, holes clockwise."""
    return shapely.orient_polygons(geom, exterior_cw=False)


def _round_coords(obj: Any) -> Any:
    """Round nested coordinate lists to ``DECIMALS`` (dropping ``-0.0``)."""
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), DECIMALS) + 0.0 for v in obj]
        return [_round_coords(o) for o in obj]
    return obj


def _geometry_json(geom: shapely.Geometry) -> dict[str, Any]:
    m = mapping(_orient(geom))
    return {"type": m["type"], "coordinates": _round_coords(m["coordinates"])}


def build_units() -> tuple[list[dict[str, Any]], dict[str, shapely.Geometry]]:
    """Build the unit hierarchy.

    Returns
    -------
    features, geoms
        GeoJSON-ready feature dicts (district, streets, communities) and their geometries by
        code.
    """
    district_rough = Polygon(DISTRICT_RING)
    if not district_rough.is_valid:
        raise RuntimeError(f"district ring invalid: {shapely.is_valid_reason(district_rough)}")
    ring = district_rough.exterior
    street_line = LineString(STREET_LINE)

    # Rough street and zone polygons (only to classify faces and seeds).
    street_faces = _faces([ring, street_line])
    if len(street_faces) != 2:
        raise RuntimeError(f"expected the street line to cut the district in 2, got {len(street_faces)}")
    rough_streets = {s["code"]: street_faces[_pick(street_faces, COMMUNITIES[s["code"]][0].seed)] for s in STREETS}

    lines: list[shapely.Geometry] = [ring, street_line]
    zones: list[tuple[str, Polygon, list[Community]]] = []
    for code, street in rough_streets.items():
        zlines = [LineString(c).intersection(street.buffer(2e-5)) for c in ZONE_LINES[code]]
        lines.extend(zlines)
        zfaces = _faces([street.exterior, *zlines])
        members: dict[int, list[Community]] = {}
        for com in COMMUNITIES[code]:
            members.setdefault(_pick(zfaces, com.seed), []).append(com)
        if sorted(members) != list(range(len(zfaces))):
            raise RuntimeError(f"street {code}: every zone needs at least one seed ({len(zfaces)} zones)")
        for zi, zface in enumerate(zfaces):
            coms = members[zi]
            zones.append((code, zface, coms))
            if len(coms) > 1:
                seeds = shapely.MultiPoint([c.seed for c in coms])
                cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=zface.buffer(0.05)))
                edges = shapely.union_all([c.exterior for c in cells]).intersection(zface.buffer(2e-5))
                lines.append(edges)

    faces = _faces(lines)
    assignment: dict[str, list[Polygon]] = {}
    for face in faces:
        rp = face.representative_point()
        zone_hits = [z for z in zones if z[1].contains(rp)]
        if len(zone_hits) != 1:
            raise RuntimeError(f"face at {rp.wkt} lies in {len(zone_hits)} zones")
        _, _, coms = zone_hits[0]
        best = min(coms, key=lambda c: (rp.x - c.seed[0]) ** 2 + (rp.y - c.seed[1]) ** 2)
        assignment.setdefault(best.code, []).append(face)

    geoms: dict[str, shapely.Geometry] = {}
    for coms in COMMUNITIES.values():
        for com in coms:
            if com.code not in assignment:
                raise RuntimeError(f"community {com.code} got no face")
            geoms[com.code] = _snap(shapely.union_all(assignment[com.code], grid_size=GRID))
    for s in STREETS:
        geoms[s["code"]] = _snap(shapely.union_all([geoms[c.code] for c in COMMUNITIES[s["code"]]], grid_size=GRID))
    geoms[DISTRICT["code"]] = _snap(shapely.union_all([geoms[s["code"]] for s in STREETS], grid_size=GRID))

    for code, g in geoms.items():
        if not g.is_valid or g.is_empty:
            raise RuntimeError(f"unit {code}: invalid geometry {shapely.is_valid_reason(g)}")

    features: list[dict[str, Any]] = []

    def add(props: dict[str, Any], geom: shapely.Geometry) -> None:
        features.append({"type": "Feature", "properties": props, "geometry": _geometry_json(geom)})

    add(
        {
            "code": DISTRICT["code"],
            "name": DISTRICT["name"],
            "level": "district",
            "parent": None,
            "name_en": DISTRICT["name_en"],
            "alias": DISTRICT["alias"],
            "sample": False,
        },
        geoms[DISTRICT["code"]],
    )
    for s in STREETS:
        add(
            {
                "code": s["code"],
                "name": s["name"],
                "level": "street",
                "parent": DISTRICT["code"],
                "name_en": s["name_en"],
                "alias": s["alias"],
                "sample": False,
            },
            geoms[s["code"]],
        )
    for s in STREETS:
        for com in COMMUNITIES[s["code"]]:
            add(
                {
                    "code": com.code,
                    "name": com.name,
                    "level": "community",
                    "parent": s["code"],
                    "name_en": com.name_en,
                    "alias": None,
                    "sample": True,
                },
                geoms[com.code],
            )
    return features, geoms


def _street_of(code: str) -> str:
    return code[:9]


def _street_name(code: str) -> str:
    return next(s["name"] for s in STREETS if s["code"] == _street_of(code))


def _major_roads(reference: Path) -> shapely.Geometry:
    """Union of the reference's road lines (no railway, no river)."""
    ref = json.loads(reference.read_text(encoding="utf-8"))
    lines = [
        shape(f["geometry"])
        for f in ref["features"]
        if f["properties"].get("layer") in {"motorway", "trunk", "primary", "secondary"}
    ]
    return shapely.union_all(lines)


def build_key_places(geoms: dict[str, shapely.Geometry], roads: shapely.Geometry) -> list[dict[str, Any]]:
    """Place the key places: the three named sites by hand, the samples with a seeded RNG.

    Malls and transport hubs are kept within ``NEAR_ROAD_DEG`` of a major road.
    """
    rng = np.random.default_rng(RNG_SEED)
    features: list[dict[str, Any]] = []
    taken: list[Point] = []
    community_codes = [c.code for s in STREETS for c in COMMUNITIES[s["code"]]]

    def inner(code: str) -> shapely.Geometry:
        return geoms[code].buffer(-PLACE_MARGIN_DEG)

    def community_of(geom: shapely.Geometry) -> str:
        hits = [c for c in community_codes if inner(c).contains(geom)]
        if len(hits) != 1:
            raise RuntimeError(f"key place {geom.wkt} lies well inside {len(hits)} communities")
        return hits[0]

    n = 0
    for place in NAMED_PLACES:
        n += 1
        geom: shapely.Geometry
        if "polygon" in place:
            geom = _snap(Polygon(place["polygon"]))
        else:
            geom = _snap(Point(place["point"]))
        community_of(geom)
        taken.append(geom.centroid)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": f"KP{n:03d}",
                    "name": place["name"],
                    "category": place["category"],
                    "address": place["address"],
                    "sample": False,
                },
                "geometry": _geometry_json(geom),
            }
        )

    counters: dict[tuple[str, str], int] = {}
    for code in community_codes:
        region = inner(code)
        minx, miny, maxx, maxy = region.bounds
        for category, count in SAMPLE_PLACES.get(code, []):
            for _ in range(count):
                street = _street_of(code)
                k = counters.get((street, category), 0) + 1
                counters[(street, category)] = k
                labels = SAMPLE_LABEL[category]
                label = labels[(k - 1) % len(labels)]
                if category == "clinic" and code[9] == "2":
                    label = VILLAGE_CLINIC
                for _attempt in range(10_000):
                    x = float(rng.uniform(minx, maxx))
                    y = float(rng.uniform(miny, maxy))
                    pt = _snap(Point(x, y))
                    near_ok = category not in NEAR_ROAD or pt.distance(roads) <= NEAR_ROAD_DEG
                    if near_ok and region.contains(pt) and all(pt.distance(t) >= PLACE_SPACING_DEG for t in taken):
                        break
                else:  # pragma: no cover - only when the layout above is changed badly
                    raise RuntimeError(f"could not place {category} in {code}")
                taken.append(pt)
                n += 1
                com_name = next(c.name for c in COMMUNITIES[street] if c.code == code)
                features.append(
                    {
                        "type": "Feature",
                        "properties": {
                            "code": f"KP{n:03d}",
                            "name": f"{_street_name(code)}样例{label}{k:02d}",
                            "category": category,
                            "address": f"{com_name}（示意位置）",
                            "sample": True,
                        },
                        "geometry": _geometry_json(pt),
                    }
                )
    return features


#: How often a key place of each category should be visited during a campaign, in days
#: (layers/README.md: a project decision for the demo, not from the campaign report).
VISIT_EVERY_DAYS = {
    "farmers_market": 1,
    "transport_hub": 1,
    "plaza": 3,
    "park": 3,
    "construction_site": 3,
    "clinic": 14,
    "residential": 14,
}


def build_departments() -> dict[str, Any]:
    """The departments (条) and the key-place categories each owns, with visiting frequencies."""
    return {
        "departments": [dict(d) for d in DEPARTMENTS],
        "categories": [
            {
                "category": cat,
                "name": name,
                "name_en": name_en,
                "department": dept,
                "requires_package_leader": req,
                "visit_every_days": VISIT_EVERY_DAYS.get(cat, 7),
            }
            for cat, name, name_en, dept, req in CATEGORIES
        ],
    }


def _capacity(i: int) -> str:
    """Deterministic capacities: mostly 1.0, every 5th 0.8, every 7th 1.2."""
    if i % 7 == 6:
        return "1.2"
    if i % 5 == 4:
        return "0.8"
    return "1.0"


def build_leaders(geoms: dict[str, shapely.Geometry], places: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Sample leaders with placeholder role titles and obviously fake phone numbers."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    rows: list[dict[str, str]] = []

    def add(lid: str, name: str, role: str, dept: str, units: list[str], plcs: list[str]) -> None:
        i = len(rows)
        rows.append(
            {
                "id": lid,
                "name": name,
                "role": role,
                "department": dept,
                "phone": f"138{i + 1:08d}" if i % 4 != 3 else "",
                "capacity": _capacity(i),
                "unit_packages": ";".join(units),
                "place_packages": ";".join(plcs),
            }
        )

    for s in STREETS:
        letter = STREET_LETTER[s["code"]]
        add(f"{letter}00", f"{s['name']}包保领导{letter}00", "package_leader", "", [s["code"]], [])
        for j, com in enumerate(COMMUNITIES[s["code"]], start=1):
            add(f"{letter}{j:02d}", f"{s['name']}包保领导{letter}{j:02d}", "package_leader", "", [com.code], [])
            area_km2 = abs(geod.geometry_area_perimeter(geoms[com.code])[0]) / 1e6
            n_grid = int(min(4, max(2, math.ceil(area_km2 / 2.5))))
            for g in range(1, n_grid + 1):
                lid = f"{letter}{j:02d}{g:02d}"
                add(lid, f"{s['name']}网格长{lid}", "grid_leader", "", [com.code], [])

    requires = {cat: dept for cat, _, _, dept, req in CATEGORIES if req}
    dept_name = {d["code"]: d["name"] for d in DEPARTMENTS}
    for dept, n_leaders in DEPARTMENT_LEADERS.items():
        owned = [
            f["properties"]["code"]
            for f in places
            if requires.get(f["properties"]["category"]) == dept
        ]
        for k in range(1, n_leaders + 1):
            share = owned[k - 1 :: n_leaders]
            lid = f"{dept}{k:02d}"
            add(lid, f"{dept_name[dept]}包保领导{dept}{k:02d}", "package_leader", dept, [], share)
    missing = {c for c, d in requires.items() if d not in DEPARTMENT_LEADERS}
    if missing:
        raise RuntimeError(f"categories {sorted(missing)} need package leaders but their department has none")
    return rows


def build_roads(reference: Path, district: shapely.Geometry) -> dict[str, Any]:
    """Road and river lines of the OSM reference near the district (ODbL)."""
    ref = json.loads(reference.read_text(encoding="utf-8"))
    window = shapely.box(*district.buffer(0.02).bounds)
    features = []
    for f in ref["features"]:
        if f["properties"].get("layer") == "place_label":
            continue
        geom = shape(f["geometry"])
        clipped = geom.intersection(window)
        if clipped.is_empty:
            continue
        clipped = shapely.line_merge(clipped) if clipped.geom_type == "MultiLineString" else clipped
        if clipped.geom_type == "LineString":
            clipped = shapely.MultiLineString([clipped])
        props = {
            "name": f["properties"]["name"],
            "kind": "waterway" if f["properties"]["layer"] == "waterway" else "road",
            "layer": f["properties"]["layer"],
            "source": "OpenStreetMap",
        }
        features.append({"type": "Feature", "properties": props, "geometry": _geometry_json(clipped)})
    meta = ref.get("metadata", {})
    return {
        "type": "FeatureCollection",
        "name": "changchun_hitech_roads",
        "license": "ODbL-1.0",
        "attribution": "© OpenStreetMap contributors",
        "source": meta.get("source", "OpenStreetMap"),
        "note": "Major roads, railway and the 永春河 river around the Changchun High-tech Zone, "
        "clipped to the district's bounding box plus ~2 km; one direction per carriageway.",
        "features": features,
    }


def _compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _dump_features(collection: dict[str, Any]) -> str:
    """Serialise a FeatureCollection with one feature per line: diff-friendly and deterministic."""
    head = ",".join(f"{_compact(k)}:{_compact(v)}" for k, v in collection.items() if k != "features")
    body = ",\n".join(_compact(f) for f in collection["features"])
    return "{" + head + ',"features":[\n' + body + "\n]}\n"


def write_all(out: Path, reference: Path) -> dict[str, shapely.Geometry]:
    """Build and write every file of the layers directory."""
    out.mkdir(parents=True, exist_ok=True)
    unit_features, geoms = build_units()
    places = build_key_places(geoms, _major_roads(reference))
    leaders = build_leaders(geoms, places)

    (out / "units.geojson").write_text(
        _dump_features({"type": "FeatureCollection", "name": "changchun_hitech_units", "features": unit_features}),
        encoding="utf-8",
    )
    (out / "key_places.geojson").write_text(
        _dump_features({"type": "FeatureCollection", "name": "changchun_hitech_key_places", "features": places}),
        encoding="utf-8",
    )
    (out / "departments.json").write_text(
        json.dumps(build_departments(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf,
        fieldnames=["id", "name", "role", "department", "phone", "capacity", "unit_packages", "place_packages"],
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(leaders)
    (out / "leaders_sample.csv").write_text(buf.getvalue(), encoding="utf-8")
    (out / "roads.geojson").write_text(_dump_features(build_roads(reference, geoms[DISTRICT["code"]])), encoding="utf-8")
    return geoms


def render_png(out: Path, png: Path, reference: Path) -> None:
    """Quick-look map (not committed): units, key places and the reference roads."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"):
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            plt.rcParams["font.family"] = font_manager.FontProperties(fname=path).get_name()
            break
    units = gpd.read_file(out / "units.geojson")
    places = gpd.read_file(out / "key_places.geojson")
    ref = gpd.read_file(reference)
    fig, ax = plt.subplots(figsize=(13, 13))
    com = units[units.level == "community"]
    com.plot(ax=ax, column="code", cmap="tab20", edgecolor="grey", linewidth=0.6, alpha=0.35)
    units[units.level == "street"].boundary.plot(ax=ax, color="black", linewidth=2)
    lines = ref[ref.geom_type != "Point"]
    lines[lines.layer != "waterway"].plot(ax=ax, color="darkorange", linewidth=1.2)
    lines[lines.layer == "waterway"].plot(ax=ax, color="royalblue", linewidth=1.2)
    for name, geom in zip(lines["name"], lines.geometry):
        p = geom.interpolate(0.5, normalized=True)
        ax.annotate(name, (p.x, p.y), fontsize=7, color="saddlebrown")
    labels = ref[ref.geom_type == "Point"]
    labels.plot(ax=ax, color="red", marker="*", markersize=80)
    for name, geom in zip(labels["name"], labels.geometry):
        ax.annotate(name, (geom.x, geom.y), fontsize=9, color="red")
    places[places.geom_type == "Polygon"].plot(ax=ax, color="green", alpha=0.5)
    places.set_geometry(places.representative_point()).plot(
        ax=ax, column="category", markersize=18, legend=True, cmap="tab20"
    )
    for name, geom in zip(com["name"], com.geometry):
        p = geom.representative_point()
        ax.annotate(name.replace("样例", "\n样例"), (p.x, p.y), fontsize=7, ha="center")
    real = places[~places["sample"]]
    for name, geom in zip(real["name"], real.geometry):
        p = geom.representative_point()
        ax.annotate(name, (p.x, p.y), fontsize=9, color="darkgreen", weight="bold")
    b = units.total_bounds
    ax.set_xlim(b[0] - 0.02, b[2] + 0.02)
    ax.set_ylim(b[1] - 0.01, b[3] + 0.02)
    ax.set_aspect(1 / math.cos(math.radians(43.78)))
    ax.set_title("长春高新区 shipped layers (approximate boundaries) + OSM major roads")
    fig.savefig(png, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=None, help="OSM reference roads GeoJSON")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--png", type=Path, default=None, help="also render a quick-look PNG here")
    args = parser.parse_args()
    reference = args.reference
    if reference is None:
        reference = DEFAULT_REFERENCE if DEFAULT_REFERENCE.exists() else VENDORED_REFERENCE
    write_all(args.out, reference)
    if args.png is not None:
        render_png(args.out, args.png, reference)


if __name__ == "__main__":
    main()
