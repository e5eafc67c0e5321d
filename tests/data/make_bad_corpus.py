"""Generate the bad-input corpus ``tests/data/bad/`` and its ``manifest.json``.

Each file is small and triggers exactly one specific ingestion error. The manifest lists, per
file, the reader to call (``units``, ``key_places``, ``roads``, ``departments``), keyword
arguments, the expected error class name (from :mod:`gridmgr.errors`) and fragments the English
message must contain (feature index, code, field name …). ``tests/gridmgr/test_io.py`` runs the
manifest. The outputs are committed; rerun after changing this script::

    python tests/data/make_bad_corpus.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"
GOOD = HERE / "good"

#: Around the Changchun High-tech Zone (lon/lat).
X0, Y0 = 125.20, 43.80


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def unit_features() -> list[dict[str, Any]]:
    """A small valid units layer: district, two streets, two communities per street."""
    d = 0.02
    feats = [
        ("220173", "长春高新技术产业开发区", None, box(X0, Y0, X0 + 4 * d, Y0 + 2 * d)),
        ("220173001", "硅谷街道", "220173", box(X0, Y0, X0 + 2 * d, Y0 + 2 * d)),
        ("220173005", "双德乡", "220173", box(X0 + 2 * d, Y0, X0 + 4 * d, Y0 + 2 * d)),
        ("220173001001", "硅谷街道样例社区01", "220173001", box(X0, Y0, X0 + d, Y0 + 2 * d)),
        (
            "220173001002",
            "硅谷街道样例社区02",
            "220173001",
            box(X0 + d, Y0, X0 + 2 * d, Y0 + 2 * d),
        ),
        (
            "220173005001",
            "双德乡样例村01",
            "220173005",
            box(X0 + 2 * d, Y0, X0 + 3 * d, Y0 + 2 * d),
        ),
        (
            "220173005002",
            "双德乡样例村02",
            "220173005",
            box(X0 + 3 * d, Y0, X0 + 4 * d, Y0 + 2 * d),
        ),
    ]
    return [
        {
            "type": "Feature",
            "properties": {"code": c, "name": n, "parent": p},
            "geometry": {"type": "Polygon", "coordinates": g},
        }
        for c, n, p, g in feats
    ]


def fc(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", **extra, "features": features}


def write_json(name: str, obj: Any) -> None:
    (BAD / name).write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")


def build() -> list[dict[str, Any]]:
    """Write every corpus file; return the manifest entries."""
    if BAD.exists():
        shutil.rmtree(BAD)
    BAD.mkdir(parents=True)
    manifest: list[dict[str, Any]] = []

    def add(
        name: str,
        error: str,
        fragments: list[str],
        reader: str = "units",
        kwargs: dict[str, Any] | None = None,
        obj: Any = None,
    ) -> None:
        if obj is not None:
            write_json(name, obj)
        manifest.append(
            {
                "file": name,
                "reader": reader,
                "kwargs": kwargs or {},
                "error": error,
                "fragments": fragments,
            }
        )

    # --- rings (raw GeoJSON checks) ---
    f = unit_features()
    f[1]["geometry"]["coordinates"][0] = f[1]["geometry"]["coordinates"][0][:-1]
    add("unclosed_ring.geojson", "RingError", ["feature 1", "'220173001'", "not closed"], obj=fc(f))

    f = unit_features()
    ring = f[3]["geometry"]["coordinates"][0]
    f[3]["geometry"]["coordinates"][0] = [ring[0], ring[1], ring[0]]
    add(
        "short_ring.geojson",
        "RingError",
        ["feature 3", "'220173001001'", "only 3 positions"],
        obj=fc(f),
    )

    f = unit_features()
    f[2]["geometry"]["coordinates"].append(
        [[X0 + 0.05, Y0 + 0.01], [X0 + 0.051, Y0 + 0.01], [X0 + 0.05, Y0 + 0.01]]
    )
    add("short_hole.geojson", "RingError", ["feature 2", "'220173005'", "hole 1"], obj=fc(f))

    f = unit_features()
    f[4]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [
            box(X0 + 0.02, Y0, X0 + 0.03, Y0 + 0.01),
            [box(X0 + 0.03, Y0 + 0.01, X0 + 0.04, Y0 + 0.04)[0][:-1]],
        ],
    }
    add(
        "unclosed_multipolygon.geojson",
        "RingError",
        ["feature 4", "'220173001002'", "polygon 1 exterior ring"],
        obj=fc(f),
    )

    # --- validity ---
    f = unit_features()
    f[5]["geometry"]["coordinates"] = [
        [
            [X0 + 0.04, Y0],
            [X0 + 0.06, Y0 + 0.04],
            [X0 + 0.06, Y0],
            [X0 + 0.04, Y0 + 0.04],
            [X0 + 0.04, Y0],
        ]
    ]
    add(
        "self_intersection.geojson",
        "SelfIntersectionError",
        ["feature 5", "'220173005001'", "--repair"],
        obj=fc(f),
    )

    f = unit_features()
    f[6]["geometry"]["coordinates"].append(box(X0 + 0.5, Y0 + 0.5, X0 + 0.51, Y0 + 0.51)[0])
    add(
        "hole_outside_shell.geojson",
        "SelfIntersectionError",
        ["feature 6", "'220173005002'", "Hole lies outside shell"],
        obj=fc(f),
    )

    # --- empty / wrong type ---
    f = unit_features()
    f[2]["geometry"] = None
    add(
        "null_geometry.geojson",
        "EmptyGeometryError",
        ["feature 2", "'220173005'", "empty or missing"],
        obj=fc(f),
    )

    f = unit_features()
    f[4]["geometry"] = {"type": "Polygon", "coordinates": []}
    add("empty_polygon.geojson", "EmptyGeometryError", ["feature 4", "'220173001002'"], obj=fc(f))

    f = unit_features()
    f[3]["geometry"] = {"type": "Point", "coordinates": [X0 + 0.01, Y0 + 0.01]}
    add(
        "point_geometry.geojson",
        "GeometryTypeError",
        ["feature 3", "'220173001001'", "Point"],
        obj=fc(f),
    )

    f = unit_features()
    f[1]["geometry"] = {"type": "LineString", "coordinates": box(X0, Y0, X0 + 0.04, Y0 + 0.04)[0]}
    add(
        "linestring_geometry.geojson",
        "GeometryTypeError",
        ["feature 1", "'220173001'", "LineString"],
        obj=fc(f),
    )

    f = unit_features()
    f[0]["geometry"] = {
        "type": "GeometryCollection",
        "geometries": [f[1]["geometry"], f[2]["geometry"]],
    }
    add(
        "geometry_collection.geojson",
        "GeometryTypeError",
        ["feature 0", "'220173'", "GeometryCollection"],
        obj=fc(f),
    )

    f = unit_features()
    f[5]["geometry"] = {"type": "Polygon", "coordinates": "not coordinates"}
    add(
        "unparseable_geometry.geojson",
        "InvalidGeometryError",
        ["feature 5", "'220173005001'", "cannot be parsed"],
        obj=fc(f),
    )

    # --- codes and names ---
    f = unit_features()
    for x in f:
        x["properties"]["id"] = x["properties"].pop("code")
    add(
        "missing_code_field.geojson",
        "MissingFieldError",
        ["no code field", "--code-field", "'id'"],
        obj=fc(f),
    )

    f = unit_features()
    f[2]["properties"]["code"] = None
    add(
        "missing_code_value.geojson",
        "MissingFieldError",
        ["feature 2", "field 'code'", "empty"],
        obj=fc(f),
    )

    f = unit_features()
    f[6]["properties"]["code"] = "   "
    add("blank_code_value.geojson", "MissingFieldError", ["feature 6", "field 'code'"], obj=fc(f))

    f = unit_features()
    f[4]["properties"]["code"] = "220173001001"
    add(
        "duplicate_codes.geojson",
        "DuplicateCodeError",
        ["'220173001001'", "features 3, 4", "field 'code'"],
        obj=fc(f),
    )

    f = unit_features()
    for x in f:
        x["properties"]["名称"] = x["properties"].pop("name")
    f[3]["properties"]["名称"] = ""
    add(
        "missing_name_value.geojson",
        "MissingFieldError",
        ["feature 3", "'220173001001'", "field '名称'"],
        obj=fc(f),
    )

    f = unit_features()
    for x in f:
        x["properties"]["title"] = x["properties"].pop("name")
    add(
        "missing_name_field.geojson",
        "MissingFieldError",
        ["no name field", "--name-field", "'title'"],
        obj=fc(f),
    )

    f = unit_features()
    f[0]["properties"]["code"] = "A1"
    f[1]["properties"]["parent"] = None
    f[2]["properties"]["parent"] = None
    add("uninferable_level.geojson", "MissingFieldError", ["feature 0", "'A1'", "level"], obj=fc(f))

    f = unit_features()
    for x in f:
        x["properties"]["level"] = "community"
    f[0]["properties"]["level"] = "区"
    f[1]["properties"]["level"] = "街道"
    f[2]["properties"]["level"] = "省"
    add(
        "invalid_level.geojson",
        "InvalidFieldError",
        ["feature 2", "'220173005'", "'省'", "field 'level'"],
        obj=fc(f),
    )

    # --- hierarchy ---
    f = unit_features()
    f[5]["properties"]["parent"] = "220173009"
    add(
        "unknown_parent.geojson",
        "UnknownParentError",
        ["feature 5", "'220173005001'", "'220173009'", "field 'parent'"],
        obj=fc(f),
    )

    f = unit_features()
    f[3]["properties"]["parent"] = "220173001001"
    add(
        "self_parent.geojson",
        "HierarchyError",
        ["feature 3", "'220173001001'", "itself"],
        obj=fc(f),
    )

    f = unit_features()
    f[2]["properties"]["parent"] = "220173001001"
    add(
        "parent_lower_level.geojson",
        "HierarchyError",
        ["feature 2", "'220173005'", "not a higher level"],
        obj=fc(f),
    )

    # --- coordinates and CRS ---
    f = unit_features()
    f[3]["geometry"]["coordinates"] = [[[y, x] for x, y in f[3]["geometry"]["coordinates"][0]]]
    add(
        "swapped_latlon.geojson",
        "SwappedAxesError",
        ["feature 3", "'220173001001'", "swapped"],
        obj=fc(f),
    )

    f = unit_features()
    f[6]["geometry"]["coordinates"] = box(2.30, 48.80, 2.40, 48.90)
    add(
        "outside_china.geojson",
        "CoordinateRangeError",
        ["feature 6", "'220173005002'", "outside any plausible area"],
        obj=fc(f),
    )

    f = unit_features()
    f[1]["geometry"]["coordinates"] = box(190.0, 43.8, 190.1, 43.9)
    add(
        "longitude_beyond_180.geojson",
        "CoordinateRangeError",
        ["feature 1", "'220173001'", "x=190"],
        obj=fc(f),
    )

    f = unit_features()
    f[1]["geometry"]["coordinates"][0][2] = [float("nan"), Y0 + 0.04]
    add(
        "nan_coordinate.geojson",
        "CoordinateRangeError",
        ["feature 1", "'220173001'", "not finite"],
        obj=fc(f),
    )

    f = unit_features()
    for x in f:
        x["geometry"]["coordinates"] = [
            [
                [42_520_000 + (a - X0) * 80_000, 4_850_000 + (b - Y0) * 111_000]
                for a, b in x["geometry"]["coordinates"][0]
            ]
        ]
    add(
        "projected_in_geographic.geojson",
        "CRSMismatchError",
        ["feature 0", "projected", "EPSG:4530"],
        obj=fc(f),
    )

    add(
        "lonlat_declared_projected.geojson",
        "CRSMismatchError",
        ["feature 0", "look like lon/lat", "EPSG:4551"],
        obj=fc(
            unit_features(),
            crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4551"}},
        ),
    )

    f = unit_features()
    for x in f:
        x["geometry"]["coordinates"] = [
            [
                [520_000 + (a - X0) * 80_000, 4_850_000 + (b - Y0) * 111_000]
                for a, b in x["geometry"]["coordinates"][0]
            ]
        ]
    add(
        "wrong_gk_zone.geojson",
        "CoordinateRangeError",
        ["feature 0", "Gauss-Krüger zone", "EPSG:4530"],
        obj=fc(f, crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4530"}}),
    )

    add(
        "unknown_crs.geojson",
        "CRSError",
        ["unknown coordinate reference system", "EPSG:999999"],
        obj=fc(unit_features(), crs={"type": "name", "properties": {"name": "EPSG:999999"}}),
    )

    # --- unreadable ---
    (BAD / "not_json.geojson").write_text(
        '{"type": "FeatureCollection", "features": [', encoding="utf-8"
    )
    add("not_json.geojson", "UnreadableFileError", ["not valid JSON", "line 1"])
    add(
        "not_geojson.geojson",
        "UnreadableFileError",
        ["unknown GeoJSON type"],
        obj={"type": "Topology", "objects": {}},
    )

    # --- GeoPackage / Shapefile ---
    base = gpd.GeoDataFrame.from_features(unit_features(), crs=4326)
    dup = base.copy()
    dup.loc[2, "code"] = "220173001"
    dup.to_file(BAD / "duplicate_codes.gpkg", layer="units", driver="GPKG")
    add("duplicate_codes.gpkg", "DuplicateCodeError", ["'220173001'", "features 1, 2"])

    bow = base.copy()
    bow.loc[4, "geometry"] = shapely.Polygon(
        [(X0, Y0), (X0 + 0.02, Y0 + 0.02), (X0 + 0.02, Y0), (X0, Y0 + 0.02)]
    )
    bow.to_file(BAD / "self_intersection.gpkg", layer="units", driver="GPKG")
    add(
        "self_intersection.gpkg",
        "SelfIntersectionError",
        ["feature 4", "'220173001002'", "Self-intersection"],
    )

    multi = BAD / "multi_layer.gpkg"
    base.to_file(multi, layer="streets", driver="GPKG")
    base.to_file(multi, layer="communities", driver="GPKG")
    add(
        "multi_layer.gpkg",
        "UnreadableFileError",
        ["several layers", "streets", "communities", "layer="],
    )

    nan = base.copy()
    with np.errstate(invalid="ignore"):
        nan.loc[5, "geometry"] = shapely.Polygon(
            [(X0, Y0), (np.nan, Y0), (X0 + 0.01, Y0 + 0.01), (X0, Y0)]
        )
    nan.to_file(BAD / "nan_coordinates.gpkg", layer="units", driver="GPKG")
    add(
        "nan_coordinates.gpkg",
        "CoordinateRangeError",
        ["feature 5", "'220173005001'", "not finite"],
    )

    pts = base.copy()
    pts["geometry"] = pts.representative_point()
    pts.to_file(BAD / "points.shp", encoding="UTF-8")
    add("points.shp", "GeometryTypeError", ["feature 0", "'220173'", "Point"])

    gk = base.to_crs(4551)
    gk.to_file(BAD / "no_prj_projected.shp", encoding="UTF-8")
    (BAD / "no_prj_projected.prj").unlink()
    add(
        "no_prj_projected.shp", "CRSMismatchError", ["feature 0", "no CRS in the file", "EPSG:4551"]
    )

    empty_code = base.copy()
    empty_code.loc[3, "code"] = ""
    empty_code.to_file(BAD / "missing_code.shp", encoding="UTF-8")
    add("missing_code.shp", "MissingFieldError", ["feature 3", "field 'code'"])

    # --- key places, roads, departments ---
    kp = [
        {
            "type": "Feature",
            "properties": {"code": "KP001", "name": "样例学校01", "category": "school"},
            "geometry": {"type": "Point", "coordinates": [X0 + 0.01, Y0 + 0.01]},
        },
        {
            "type": "Feature",
            "properties": {"code": "KP002", "name": "样例市场01", "category": "market"},
            "geometry": {"type": "Point", "coordinates": [X0 + 0.02, Y0 + 0.01]},
        },
    ]
    add(
        "key_places_unknown_category.geojson",
        "InvalidFieldError",
        ["feature 1", "'KP002'", "'market'", "field 'category'"],
        reader="key_places",
        kwargs={"categories": ["school", "farmers_market"]},
        obj=fc(kp),
    )
    kp2 = json.loads(json.dumps(kp))
    kp2[0]["geometry"] = {"type": "LineString", "coordinates": [[X0, Y0], [X0 + 0.01, Y0]]}
    add(
        "key_places_linestring.geojson",
        "GeometryTypeError",
        ["feature 0", "'KP001'", "LineString"],
        reader="key_places",
        obj=fc(kp2),
    )
    kp3 = json.loads(json.dumps(kp))
    del kp3[1]["properties"]["category"]
    add(
        "key_places_missing_category.geojson",
        "MissingFieldError",
        ["feature 1", "'KP002'", "field 'category'"],
        reader="key_places",
        obj=fc(kp3),
    )

    roads = fc(
        [
            {
                "type": "Feature",
                "properties": {"name": "硅谷大街"},
                "geometry": {"type": "Polygon", "coordinates": box(X0, Y0, X0 + 0.01, Y0 + 0.01)},
            }
        ]
    )
    add(
        "roads_polygon.geojson",
        "GeometryTypeError",
        ["feature 0", "Polygon", "LineString"],
        reader="roads",
        obj=roads,
    )

    deps = {
        "departments": [{"code": "WJJ", "name": "卫健局", "name_en": "Health Bureau"}],
        "categories": [
            {
                "category": "hospital",
                "name": "医院",
                "name_en": "hospital",
                "department": "WJJ",
                "requires_package_leader": True,
            },
            {
                "category": "school",
                "name": "学校",
                "name_en": "school",
                "department": "JYJ",
                "requires_package_leader": True,
            },
        ],
    }
    add(
        "departments_unknown_department.json",
        "InvalidFieldError",
        ["categories[1]", "'school'", "'JYJ'"],
        reader="departments",
        obj=deps,
    )
    deps2 = json.loads(json.dumps(deps))
    deps2["departments"].append({"code": "WJJ", "name": "卫健局（重复）"})
    deps2["categories"] = deps2["categories"][:1]
    add(
        "departments_duplicate_code.json",
        "DuplicateCodeError",
        ["code='WJJ'", "entries 0, 1"],
        reader="departments",
        obj=deps2,
    )

    (BAD / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return manifest


def build_good() -> None:
    """Good inputs that need generating: a GBK Shapefile without ``.cpg``."""
    GOOD.mkdir(exist_ok=True)
    base = gpd.GeoDataFrame.from_features(unit_features(), crs=4326)
    for old in GOOD.glob("units_gbk_nocpg.*"):
        old.unlink()
    base.to_file(GOOD / "units_gbk_nocpg.shp", encoding="GBK")
    (GOOD / "units_gbk_nocpg.cpg").unlink()


if __name__ == "__main__":
    entries = build()
    build_good()
    print(f"{len(entries)} bad-input files in {BAD}")
