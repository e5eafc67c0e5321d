"""Ingestion (gridmgr.io): the bad-input corpus, field detection, encodings, repair, layers dirs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gridmgr import errors, io
from gridmgr.i18n import set_language
from gridmgr.io import readers as _readers
from gridmgr.settings import DEFAULT_LAYERS, EQUAL_AREA_CRS

DATA = Path(__file__).resolve().parents[1] / "data"
BAD = DATA / "bad"
GOOD = DATA / "good"
MANIFEST: list[dict[str, Any]] = json.loads((BAD / "manifest.json").read_text(encoding="utf-8"))
READERS: dict[str, Callable[..., Any]] = {
    "units": io.read_units,
    "key_places": io.read_key_places,
    "roads": io.read_roads,
    "departments": io.read_departments,
}

X0, Y0 = 125.20, 43.80


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def _feature(props: dict[str, Any], coords: Any, kind: str = "Polygon") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": kind, "coordinates": coords},
    }


def _write_fc(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    obj = {"type": "FeatureCollection", **extra, "features": features}
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _units(
    props_of: Callable[[str, str, str | None], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    d = 0.02
    rows = [
        ("220173", "长春高新技术产业开发区", None, _box(X0, Y0, X0 + 4 * d, Y0 + 2 * d)),
        ("220173001", "硅谷街道", "220173", _box(X0, Y0, X0 + 2 * d, Y0 + 2 * d)),
        ("220173005", "双德乡", "220173", _box(X0 + 2 * d, Y0, X0 + 4 * d, Y0 + 2 * d)),
        ("220173001001", "硅谷街道样例社区01", "220173001", _box(X0, Y0, X0 + 2 * d, Y0 + 2 * d)),
        (
            "220173005001",
            "双德乡样例村01",
            "220173005",
            _box(X0 + 2 * d, Y0, X0 + 4 * d, Y0 + 2 * d),
        ),
    ]
    make = props_of or (lambda c, n, p: {"code": c, "name": n, "parent": p})
    return [_feature(make(c, n, p), g) for c, n, p, g in rows]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the bad-input corpus ---------------------------------------------------------------------


def test_corpus_is_large_and_complete() -> None:
    files = {e["file"] for e in MANIFEST}
    assert len(files) == len(MANIFEST) >= 25
    main_files = {
        p.name for p in BAD.iterdir() if p.suffix in (".geojson", ".json", ".gpkg", ".shp")
    }
    assert main_files - {"manifest.json"} == files
    # Every entry expects its own error: no two files share (class, fragments).
    keys = {(e["error"], tuple(e["fragments"])) for e in MANIFEST}
    assert len(keys) == len(MANIFEST)
    # At least a dozen distinct error classes, GeoPackage and Shapefile included.
    assert len({e["error"] for e in MANIFEST}) >= 12
    assert {Path(f).suffix for f in files} >= {".geojson", ".gpkg", ".shp", ".json"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_bad_input_raises_specific_error(
    entry: dict[str, Any], english: None, tmp_path: Path
) -> None:
    path = BAD / entry["file"]
    expected = getattr(errors, entry["error"])
    before = _sha(path)
    out = tmp_path / "out"

    def pipeline() -> None:  # read, and only then write: a rejected input must write nothing
        frame = READERS[entry["reader"]](path, **entry["kwargs"])
        out.mkdir()
        frame.to_file(out / "pieces.gpkg", driver="GPKG")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(errors.GridMgrError) as info:
            pipeline()
    assert type(info.value) is expected, (
        f"{entry['file']}: {type(info.value).__name__}: {info.value}"
    )
    message = str(info.value)
    assert str(path) in message or entry["file"] in message
    for fragment in entry["fragments"]:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert isinstance(info.value, ValueError)  # every input error is also a ValueError
    assert not out.exists()
    assert _sha(path) == before


def test_messages_are_chinese_by_default(tmp_path: Path) -> None:
    set_language("zh")
    try:
        with pytest.raises(errors.DuplicateCodeError, match="重复"):
            io.read_units(BAD / "duplicate_codes.geojson")
        with pytest.raises(
            errors.SelfIntersectionError, match=r"要素 5（code='220173005001'）.*--repair"
        ):
            io.read_units(BAD / "self_intersection.geojson")
    finally:
        set_language(None)


def test_many_bad_features_are_counted(tmp_path: Path, english: None) -> None:
    feats = _units()
    for f in feats[1:4]:
        f["geometry"] = None
    with pytest.raises(
        errors.EmptyGeometryError, match=r"feature 1 .*3 features in total: 1, 2, 3"
    ):
        io.read_units(_write_fc(tmp_path / "u.geojson", feats))


# --- successful reads -------------------------------------------------------------------------


def test_read_units_contract_and_inference(tmp_path: Path) -> None:
    # No parent and no level fields: levels from code lengths, parents from code prefixes.
    path = _write_fc(tmp_path / "u.geojson", _units(lambda c, n, p: {"code": c, "name": n}))
    units = io.read_units(path)
    assert list(units.columns) == ["code", "name", "level", "parent", "geometry"]
    assert units.crs.to_epsg() == 4326
    got = dict(zip(units.code, zip(units.level, units.parent, strict=True), strict=True))
    assert got == {
        "220173": ("district", None),
        "220173001": ("street", "220173"),
        "220173005": ("street", "220173"),
        "220173001001": ("community", "220173001"),
        "220173005001": ("community", "220173005"),
    }
    assert set(units.geom_type) == {"Polygon"}
    assert units.attrs["repairs"] == []


@pytest.mark.parametrize(
    ("names", "detected"),
    [
        (("区划代码", "名称", "上级代码", "层级"), ("区划代码", "名称", "上级代码", "层级")),
        (("XZQDM", "XZQMC", "SJDM", None), ("XZQDM", "XZQMC", "SJDM", None)),
        (("adcode", "NAME", "parent_code", "level"), ("adcode", "NAME", "parent_code", "level")),
    ],
)
def test_field_variants_detected(
    tmp_path: Path, names: tuple[str, str, str, str | None], detected: tuple[str, ...]
) -> None:
    cf, nf, pf, lf = names
    levels = {6: "区", 9: "街道", 12: "社区"}

    def props(c: str, n: str, p: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {cf: int(c), nf: n, pf: p}  # numeric codes are normalised to strings
        if lf:
            out[lf] = levels[len(c)]
        return out

    units = io.read_units(_write_fc(tmp_path / "u.geojson", _units(props)))
    assert tuple(units.attrs["fields"].values()) == detected
    assert units.code.tolist()[:2] == ["220173", "220173001"]
    assert set(units.level) == {"district", "street", "community"}
    assert units.set_index("code").loc["220173001001", "parent"] == "220173001"


def test_explicit_field_names(tmp_path: Path, english: None) -> None:
    path = _write_fc(tmp_path / "u.geojson", _units(lambda c, n, p: {"dm1": c, "mc1": n, "sj1": p}))
    units = io.read_units(path, code_field="dm1", name_field="mc1", parent_field="sj1")
    assert len(units) == 5
    with pytest.raises(errors.MissingFieldError, match="'nope'.*'dm1', 'mc1', 'sj1'"):
        io.read_units(path, code_field="nope")


def test_padded_statistical_codes_and_external_parent(tmp_path: Path) -> None:
    mapping = {
        "220173": "220173000000",
        "220173001": "220173001000",
        "220173005": "220173005000",
        "220173001001": "220173001001",
        "220173005001": "220173005001",
    }

    def props(c: str, n: str, p: str | None) -> dict[str, Any]:
        return {"code": mapping[c], "name": n, "parent": "2201" if p is None else None}

    units = io.read_units(_write_fc(tmp_path / "u.geojson", _units(props))).set_index("code")
    assert units.loc["220173000000", "level"] == "district"
    assert units.loc["220173001000", "level"] == "street"
    assert units.loc["220173001000", "parent"] == "220173000000"
    assert units.loc["220173005001", "parent"] == "220173005000"
    assert units.loc["220173000000", "parent"] is None
    assert units.attrs["external_parents"] == [{"code": "220173000000", "parent": "2201"}]


def test_custom_grid_codes_take_level_below_parent(tmp_path: Path) -> None:
    feats = _units()
    feats.append(
        _feature(
            {"code": "G01", "name": "第一网格", "parent": "220173001001"},
            _box(X0, Y0, X0 + 0.01, Y0 + 0.01),
        )
    )
    units = io.read_units(_write_fc(tmp_path / "u.geojson", feats)).set_index("code")
    assert units.loc["G01", "level"] == "grid"
    assert units.loc["G01", "parent"] == "220173001001"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_geojson_text_encodings(tmp_path: Path, encoding: str) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": _units()}, ensure_ascii=False)
    path = tmp_path / "u.geojson"
    path.write_bytes(text.encode(encoding))
    assert "硅谷街道" in io.read_units(path).name.tolist()


def test_z_and_m_dropped(tmp_path: Path) -> None:
    feats = _units()
    ring = feats[0]["geometry"]["coordinates"][0]
    feats[0]["geometry"]["coordinates"] = [[[x, y, 235.0] for x, y in ring]]
    units = io.read_units(_write_fc(tmp_path / "u.geojson", feats))
    assert not shapely.has_z(units.geometry.to_numpy()).any()


def _write_polygonzm_shp(
    path: Path, codes: list[str], names: list[str], rings: list[list[tuple[float, float]]]
) -> None:
    """Minimal PolygonZ-with-M Shapefile writer (pyogrio cannot write M), one ring per record."""
    import struct

    recs = []
    allx = [p[0] for r in rings for p in r]
    ally = [p[1] for r in rings for p in r]
    for ring in rings:
        xs, ys, n = [p[0] for p in ring], [p[1] for p in ring], len(ring)
        c = struct.pack("<i4d2i", 15, min(xs), min(ys), max(xs), max(ys), 1, n) + struct.pack(
            "<i", 0
        )
        c += b"".join(struct.pack("<2d", x, y) for x, y in ring)
        c += struct.pack("<2d", 235.0, 235.0) + struct.pack(f"<{n}d", *([235.0] * n))  # Z
        c += struct.pack("<2d", 0.0, n - 1.0) + struct.pack(f"<{n}d", *map(float, range(n)))  # M
        recs.append(c)

    def header(nbytes: int) -> bytes:
        return (
            struct.pack(">7i", 9994, 0, 0, 0, 0, 0, nbytes // 2)
            + struct.pack("<2i", 1000, 15)
            + struct.pack("<8d", min(allx), min(ally), max(allx), max(ally), 235.0, 235.0, 0.0, 9.0)
        )

    body, shx, off = b"", b"", 100
    for i, c in enumerate(recs, 1):
        shx += struct.pack(">2i", off // 2, len(c) // 2)
        body += struct.pack(">2i", i, len(c) // 2) + c
        off += 8 + len(c)
    path.write_bytes(header(100 + len(body)) + body)
    path.with_suffix(".shx").write_bytes(header(100 + len(shx)) + shx)
    hdr = struct.pack("<B3BiHH20x", 3, 126, 1, 1, len(codes), 32 + 32 * 2 + 1, 1 + 20 + 40)
    for name, width in ((b"code", 20), (b"name", 40)):
        hdr += name.ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([width, 0]) + b"\0" * 14
    rows = b"".join(
        b" " + c.encode().ljust(20) + n.encode("utf-8").ljust(40)
        for c, n in zip(codes, names, strict=True)
    )
    path.with_suffix(".dbf").write_bytes(hdr + b"\r" + rows + b"\x1a")
    path.with_suffix(".cpg").write_text("UTF-8")


def test_shapefile_with_z_and_m(tmp_path: Path) -> None:
    ring = [
        (X0, Y0),
        (X0, Y0 + 0.04),
        (X0 + 0.04, Y0 + 0.04),
        (X0 + 0.04, Y0),
        (X0, Y0),
    ]  # clockwise
    shp = tmp_path / "zm.shp"
    _write_polygonzm_shp(shp, ["220173"], ["长春高新技术产业开发区"], [ring])
    with pytest.warns(UserWarning, match="Measured"):  # what GDAL alone says about this file
        pyogrio.read_info(shp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        units = io.read_units(shp)
    assert units.name.tolist() == ["长春高新技术产业开发区"]
    geom = units.geometry.iloc[0]
    assert not geom.has_z
    assert shapely.equals(geom, shapely.Polygon(ring))


def test_repair_reports_area_change(tmp_path: Path, english: None) -> None:
    feats = _units()
    bow = [[X0, Y0], [X0 + 0.04, Y0 + 0.04], [X0 + 0.04, Y0], [X0, Y0 + 0.04], [X0, Y0]]
    feats[3]["geometry"]["coordinates"] = [bow]
    path = _write_fc(tmp_path / "u.geojson", feats)
    with pytest.raises(errors.SelfIntersectionError, match="Self-intersection"):
        io.read_units(path)
    units = io.read_units(path, repair=True)
    geom = units.set_index("code").loc["220173001001", "geometry"]
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    [rep] = units.attrs["repairs"]
    assert rep["code"] == "220173001001" and rep["index"] == 3
    # Independent: the two triangles of the bow-tie, area in the equal-area CRS.
    tri = [
        shapely.Polygon([(X0, Y0), (X0 + 0.02, Y0 + 0.02), (X0, Y0 + 0.04)]),
        shapely.Polygon([(X0 + 0.04, Y0), (X0 + 0.02, Y0 + 0.02), (X0 + 0.04, Y0 + 0.04)]),
    ]
    expected = gpd.GeoSeries(tri, crs=4326).to_crs(EQUAL_AREA_CRS).area.sum()
    assert rep["area_after_m2"] == pytest.approx(expected, rel=1e-6)
    assert rep["area_change_m2"] == pytest.approx(rep["area_after_m2"] - rep["area_before_m2"])
    assert abs(rep["area_before_m2"]) < 0.1 * expected  # GEOS' shoelace: the two lobes cancel


def test_gbk_shapefile_without_cpg() -> None:
    shp = GOOD / "units_gbk_nocpg.shp"
    assert not shp.with_suffix(".cpg").exists()
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "硅谷街道".encode("gbk") in raw and "硅谷街道".encode() not in raw
    # GDAL on its own would not decode these names as Chinese.
    plain = pyogrio.read_dataframe(shp, read_geometry=False)
    assert "硅谷街道" not in plain["name"].tolist()
    units = io.read_units(shp)
    assert "硅谷街道" in units.name.tolist() and "双德乡样例村01" in units.name.tolist()
    assert units.crs.to_epsg() == 4326


def test_utf8_shapefile_without_cpg(tmp_path: Path) -> None:
    src = GOOD / "units_gbk_nocpg.shp"
    frame = io.read_units(src)
    frame["note"] = "长" * 70  # a 210-byte field: its descriptor holds a length byte >= 0x80
    frame.to_file(tmp_path / "u.shp", encoding="UTF-8")
    tmp_path.joinpath("u.cpg").unlink()
    assert "硅谷街道".encode() in tmp_path.joinpath("u.dbf").read_bytes()
    assert "硅谷街道" in io.read_units(tmp_path / "u.shp").name.tolist()
    assert _readers.dbf_encoding(tmp_path / "u.shp") == "UTF-8"
    assert _readers.dbf_encoding(src) == "GB18030"


def test_geopackage_layer_option(english: None) -> None:
    units = io.read_units(BAD / "multi_layer.gpkg", layer="communities")
    assert len(units) == 7
    with pytest.raises(errors.UnreadableFileError, match="no layer 'wards'"):
        io.read_units(BAD / "multi_layer.gpkg", layer="wards")


def test_gcj02_suspicion_warning(tmp_path: Path) -> None:
    feats = _units(lambda c, n, p: {"code": c, "name": n, "parent": p, "gcj_lng": 125.2})
    path = _write_fc(tmp_path / "u.geojson", feats)
    with pytest.warns(errors.CRSSuspicionWarning, match="gcj_lng"):
        units = io.read_units(path)
    assert units.attrs["crs_hints"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.read_units(path, crs="gcj02")  # explicit CRS: no warning
        io.read_units(_write_fc(tmp_path / "plain.geojson", _units()))
    named = _write_fc(tmp_path / "units_amap.geojson", _units())
    with pytest.warns(errors.CRSSuspicionWarning, match="file name"):
        io.read_units(named)
    coordsys = _units(lambda c, n, p: {"code": c, "name": n, "parent": p, "坐标系": "GCJ02"})
    with pytest.warns(errors.CRSSuspicionWarning, match="坐标系"):
        io.read_units(_write_fc(tmp_path / "u2.geojson", coordsys))


def test_gcj02_suspicion_against_reference_roads(tmp_path: Path) -> None:
    from gridmgr.io.crs import transform_geometries

    feats = _units()
    truth = gpd.GeoDataFrame.from_features(feats, crs=4326)
    roads = gpd.GeoDataFrame(geometry=truth.boundary, crs=4326)  # boundaries that follow roads
    shifted = transform_geometries(truth.geometry.to_numpy(), "wgs84", "gcj02")
    for f, g in zip(feats, shifted, strict=True):
        f["geometry"] = shapely.geometry.mapping(g)
    path = _write_fc(tmp_path / "u.geojson", feats)
    with pytest.warns(errors.CRSSuspicionWarning, match="GCJ02"):
        units = io.read_units(path, reference=roads)
    assert units.attrs["alignment"]["likely"] == "gcj02"
    assert units.attrs["alignment"]["median_m_if_gcj02"] < 1.0
    assert units.attrs["alignment"]["median_m"] > 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = io.read_units(path, crs="gcj02", reference=roads)
        assert fixed.attrs["alignment"]["median_m"] < 1.0
        plain = io.read_units(_write_fc(tmp_path / "plain.geojson", _units()), reference=roads)
        assert not plain.attrs["alignment"]["suspicious"]


def test_projected_file_without_crs_is_not_guessed(english: None) -> None:
    with pytest.raises(errors.CRSMismatchError):
        io.read_units(BAD / "no_prj_projected.shp")
    units = io.read_units(BAD / "no_prj_projected.shp", crs="EPSG:4551")
    assert units.total_bounds[0] == pytest.approx(X0, abs=1e-6)


# --- key places, departments, roads, layers dirs ----------------------------------------------

DEPARTMENTS = {
    "departments": [
        {"code": "JYJ", "name": "教育局", "name_en": "Education Bureau"},
        {"code": "SCJ", "name": "市场监督管理分局", "name_en": "Market Supervision Branch"},
    ],
    "categories": [
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
            "name_en": "farmers' market",
            "department": "SCJ",
            "requires_package_leader": True,
        },
        {
            "category": "plaza",
            "name": "广场",
            "name_en": "plaza",
            "department": None,
            "requires_package_leader": False,
        },
    ],
}


def _key_places() -> list[dict[str, Any]]:
    return [
        _feature(
            {
                "code": "KP001",
                "name": "样例学校01",
                "category": "school",
                "地址": "硅谷大街1号",
                "sample": True,
            },
            [X0 + 0.01, Y0 + 0.01],
            "Point",
        ),
        _feature(
            {"code": "KP002", "name": "林园路市场", "category": "farmers_market", "sample": False},
            _box(X0 + 0.05, Y0 + 0.01, X0 + 0.051, Y0 + 0.011),
        ),
    ]


def _roads() -> list[dict[str, Any]]:
    return [
        _feature(
            {"name": "硅谷大街", "highway": "primary"},
            [[X0, Y0], [X0 + 0.08, Y0 + 0.04]],
            "LineString",
        ),
        _feature(
            {"name": "超然街", "highway": "secondary"},
            [[[X0, Y0 + 0.01], [X0 + 0.08, Y0 + 0.01]], [[X0, Y0 + 0.03], [X0 + 0.08, Y0 + 0.03]]],
            "MultiLineString",
        ),
    ]


def test_read_key_places(tmp_path: Path) -> None:
    places = io.read_key_places(_write_fc(tmp_path / "kp.geojson", _key_places()))
    assert places.code.tolist() == ["KP001", "KP002"]
    assert places.geom_type.tolist() == ["Point", "Polygon"]
    assert places.address.tolist() == ["硅谷大街1号", None]
    assert places["sample"].tolist() == [True, False]


def test_read_departments(tmp_path: Path) -> None:
    path = tmp_path / "departments.json"
    path.write_text(json.dumps(DEPARTMENTS, ensure_ascii=False), encoding="utf-8")
    tables = io.read_departments(path)
    assert tables.departments.code.tolist() == ["JYJ", "SCJ"]
    cats = tables.categories.set_index("category")
    assert cats.loc["school", "department"] == "JYJ"
    assert cats.loc["plaza", "department"] is None
    assert cats.requires_package_leader.tolist() == [True, True, False]


def test_read_roads(tmp_path: Path) -> None:
    roads = io.read_roads(_write_fc(tmp_path / "roads.geojson", _roads()))
    assert roads.geom_type.tolist() == ["LineString", "MultiLineString"]
    assert roads.name.tolist() == ["硅谷大街", "超然街"]
    assert roads.highway.tolist() == ["primary", "secondary"]


def _layers_dir(root: Path, *, roads: bool = True) -> Path:
    d = root / "layers" / "sample"
    d.mkdir(parents=True)
    _write_fc(d / "units.geojson", _units())
    _write_fc(d / "key_places.geojson", _key_places())
    (d / "departments.json").write_text(
        json.dumps(DEPARTMENTS, ensure_ascii=False), encoding="utf-8"
    )
    if roads:
        _write_fc(d / "roads.geojson", _roads())
    return d


def test_read_layers_generated(tmp_path: Path) -> None:
    d = _layers_dir(tmp_path)
    layers = io.read_layers(d)
    assert layers.source == d
    assert len(layers.units) == 5 and len(layers.key_places) == 2
    assert set(layers.categories.category) == {"school", "farmers_market", "plaza"}
    assert layers.roads is not None and len(layers.roads) == 2
    with pytest.raises(AttributeError):
        layers.units = layers.units  # type: ignore[misc]  # frozen
    (d / "roads.geojson").unlink()
    assert io.read_layers(d).roads is None


def test_read_layers_rejects_unknown_category(tmp_path: Path, english: None) -> None:
    d = _layers_dir(tmp_path, roads=False)
    places = _key_places()
    places[1]["properties"]["category"] = "market"
    _write_fc(d / "key_places.geojson", places)
    with pytest.raises(errors.InvalidFieldError, match=r"feature 1 \(code='KP002'\).*'market'"):
        io.read_layers(d)


def test_read_layers_reports_bad_unit_file(tmp_path: Path, english: None) -> None:
    d = _layers_dir(tmp_path, roads=False)
    shutil.copy(BAD / "unknown_parent.geojson", d / "units.geojson")
    with pytest.raises(errors.UnknownParentError, match="units.geojson"):
        io.read_layers(d)


@pytest.mark.skipif(
    not (DEFAULT_LAYERS / "units.geojson").exists(), reason="shipped layers not written yet"
)
def test_read_shipped_layers() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers = io.read_layers(DEFAULT_LAYERS)
    units = layers.units.set_index("code")
    assert units.loc["220173", "level"] == "district"
    assert units.loc["220173001", "parent"] == "220173"
    assert units.loc["220173005", "parent"] == "220173"
    for street in ("220173001", "220173005"):
        assert (units.parent == street).sum() >= 5
    assert len(layers.key_places) >= 40
    assert set(layers.key_places.category) <= set(layers.categories.category)
    assert np.isin(layers.categories.department.dropna(), layers.departments.code).all()


# --- file policy, encodings and text (issue 16) -------------------------------------------------

TRAD = {
    "220173": "長春高新技術產業開發區",
    "220173001": "矽谷街道",
    "220173005": "雙德鄉",
    "220173001001": "矽谷街道樣例社區01",
    "220173001002": "矽谷街道樣例社區02",
    "220173005001": "雙德鄉樣例村01",
    "220173005002": "雙德鄉樣例村02",
}


def _units_gdf() -> Any:
    return gpd.read_file(DATA / "good" / "units_gbk_nocpg.shp", encoding="gbk")


def test_big5_shapefile_without_cpg_is_decoded_right(tmp_path: Path) -> None:
    from gridmgr.io import read_units

    gdf = _units_gdf()
    gdf["name"] = gdf["code"].map(TRAD)
    gdf.to_file(tmp_path / "u.shp", encoding="big5")
    (tmp_path / "u.cpg").unlink(missing_ok=True)
    units = read_units(tmp_path / "u.shp")
    assert dict(zip(units["code"], units["name"], strict=True)) == TRAD


def test_ambiguous_encoding_is_refused_then_read_with_encoding(
    tmp_path: Path, english: None
) -> None:
    from gridmgr.errors import UnreadableFileError
    from gridmgr.io import read_units

    gdf = _units_gdf()
    gdf["name"] = "李娜"  # a personal name only: GB18030 and Big5 both read as Chinese
    gdf.to_file(tmp_path / "u.shp", encoding="gb18030")
    (tmp_path / "u.cpg").unlink(missing_ok=True)
    with pytest.raises(UnreadableFileError, match="--encoding") as err:
        read_units(tmp_path / "u.shp")
    assert "u.dbf" in str(err.value) and "GB18030" in str(err.value)
    assert set(read_units(tmp_path / "u.shp", encoding="gb18030")["name"]) == {"李娜"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_geojson_with_bom_is_decoded(tmp_path: Path, encoding: str) -> None:
    from gridmgr.io import read_units

    text = _units_gdf().to_json(ensure_ascii=False)
    (tmp_path / "u.geojson").write_bytes(text.encode(encoding))
    assert "硅谷街道" in set(read_units(tmp_path / "u.geojson")["name"])


def test_big5_leaders_csv_is_decoded_right_and_maybe_is_no_flag(tmp_path: Path) -> None:
    import pandas as pd

    from gridmgr.errors import InvalidFieldError
    from gridmgr.io.fields import bool_values
    from gridmgr.store.leaders_file import read_table

    csv_text = "id,name,role\nA1,包保領導A1,package_leader\n"
    (tmp_path / "l.csv").write_bytes(csv_text.encode("big5"))
    _, rows = read_table(tmp_path / "l.csv")
    assert rows[0][1]["name"] == "包保領導A1"
    with pytest.raises(InvalidFieldError, match="maybe"):
        bool_values(pd.Series(["true", "maybe"]))


def test_size_cap_is_checked_before_reading(tmp_path: Path, monkeypatch: Any) -> None:
    from gridmgr.errors import UnreadableFileError
    from gridmgr.io import files

    big = tmp_path / "units.geojson"
    with open(big, "wb") as fh:
        fh.truncate(3 * 1024 * 1024)
    monkeypatch.setenv("GRIDMGR_MAX_INPUT_MB", "1")
    with pytest.raises(UnreadableFileError, match="GRIDMGR_MAX_INPUT_MB"):
        files.read_bytes(big)


def test_json_depth_ignores_brackets_in_strings() -> None:
    from gridmgr.io.files import json_depth

    assert json_depth(b'{"a": "[[[[\\"[[", "b": [[[1]]]}') == 4
    assert json_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("张\x00三", "U+0000"),
        ("张\r\n三", "U+000D"),
        ("\u202e三张", "U+202E"),
        ("张\x85三", "U+0085"),
        ("长" * 201, "201"),
    ],
)
def test_text_validator_refuses(value: str, fragment: str, english: None) -> None:
    from gridmgr.errors import InvalidFieldError
    from gridmgr.io.text import clean_text

    with pytest.raises(InvalidFieldError, match=re.escape(fragment)):
        clean_text(value, "leader name")


def test_text_validator_normalises_nfc_and_allows_lines_in_free_text() -> None:
    from gridmgr.io.text import clean_text

    assert clean_text("e\u0301", "name") == "\u00e9"
    assert clean_text("第一行\n第二行", "reason", single_line=False) == "第一行\n第二行"
