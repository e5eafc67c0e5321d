"""GCJ-02 / BD-09 conversions (gridmgr.io.crs) and CRS handling in gridmgr.io."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmgr.errors import CRSError
from gridmgr.io import crs as _crs
from gridmgr.io import read_units

GEOD = pyproj.Geod(ellps="WGS84")


def _dist_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def changchun_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20190601)
    return rng.uniform(124.5, 126.5, 10_000), rng.uniform(43.0, 45.0, 10_000)


def test_published_reference_vectors() -> None:
    # Reference outputs of the widely used coordtransform implementations (Tiananmen point).
    assert np.allclose(
        _crs.wgs84_to_gcj02(116.404, 39.915),
        (116.41024449916938, 39.91640428150164),
        atol=1e-12,
        rtol=0,
    )
    assert np.allclose(
        _crs.gcj02_to_bd09(116.404, 39.915),
        (116.41036949371029, 39.92133699351021),
        atol=1e-12,
        rtol=0,
    )
    assert np.allclose(
        _crs.wgs84_to_bd09(116.404, 39.915),
        (116.41662724378733, 39.922699552216216),
        atol=1e-12,
        rtol=0,
    )
    # The usual one-step inverses are approximations; ours iterate to the exact inverse, which
    # differs from them by well under a metre.
    assert np.allclose(
        _crs.gcj02_to_wgs84(116.404, 39.915),
        (116.39775550083061, 39.91359571849836),
        atol=1e-5,
        rtol=0,
    )
    assert np.allclose(
        _crs.bd09_to_gcj02(116.404, 39.915),
        (116.39762729119315, 39.90865673957631),
        atol=1e-5,
        rtol=0,
    )


def test_gcj02_round_trip_changchun(changchun_points: tuple[np.ndarray, np.ndarray]) -> None:
    glon, glat = changchun_points
    wlon, wlat = _crs.gcj02_to_wgs84(glon, glat)
    # The offset around Changchun is several hundred metres: the inverse really moved the points.
    assert _dist_m(glon, glat, wlon, wlat).min() > 100
    back = _crs.wgs84_to_gcj02(wlon, wlat)
    err = _dist_m(glon, glat, *back)
    assert err.max() < 1e-3  # 1 mm (issue target: 0.5 m)


def test_wgs84_round_trip_through_gcj02(changchun_points: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = changchun_points
    back = _crs.gcj02_to_wgs84(*_crs.wgs84_to_gcj02(lon, lat))
    assert _dist_m(lon, lat, *back).max() < 1e-3


def test_bd09_round_trips(changchun_points: tuple[np.ndarray, np.ndarray]) -> None:
    blon, blat = changchun_points
    wlon, wlat = _crs.bd09_to_wgs84(blon, blat)
    assert _dist_m(blon, blat, wlon, wlat).min() > 100
    assert _dist_m(blon, blat, *_crs.wgs84_to_bd09(wlon, wlat)).max() < 1e-3
    glon, glat = _crs.bd09_to_gcj02(blon, blat)
    assert _dist_m(blon, blat, *_crs.gcj02_to_bd09(glon, glat)).max() < 1e-3


def test_identity_outside_china() -> None:
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.85, 40.7, -33.9])
    assert _crs.out_of_china(lon, lat).all()
    for func in (_crs.wgs84_to_gcj02, _crs.gcj02_to_wgs84):
        x, y = func(lon, lat)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)
    assert not _crs.out_of_china(125.25, 43.85)


def test_transform_geometries_vectorised_and_inverse() -> None:
    rng = np.random.default_rng(7)
    centres = rng.uniform([125.0, 43.6], [125.5, 44.0], size=(200, 2))
    geoms = shapely.buffer(shapely.points(centres), 0.005)
    geoms[3] = None
    out = _crs.transform_geometries(geoms, "wgs84", "gcj02")
    assert out[3] is None
    # Vertex by vertex equal to the array function.
    src = shapely.get_coordinates(geoms)
    dst = shapely.get_coordinates(out)
    exp = np.column_stack(_crs.wgs84_to_gcj02(src[:, 0], src[:, 1]))
    assert np.allclose(dst, exp, atol=1e-12, rtol=0)
    back = _crs.transform_geometries(out, "gcj02", "wgs84")
    assert np.abs(shapely.get_coordinates(back) - src).max() < 1e-9
    with pytest.raises(CRSError, match="unsupported"):
        _crs.transform_geometries(geoms, "wgs84", "utm")  # type: ignore[arg-type]


def test_offset_size_in_changchun() -> None:
    off = _crs.gcj02_offset_m(np.array([125.25, 125.0]), np.array([43.85, 44.0]))
    assert ((off > 300) & (off < 800)).all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GCJ-02", "gcj02"),
        ("gcj02", "gcj02"),
        ("BD09", "bd09"),
        ("bd09ll", "bd09"),
        ("EPSG:4490", None),
    ],
)
def test_offset_crs_names(text: str, expected: str | None) -> None:
    assert _crs.offset_crs_name(text) == expected


def test_parse_crs_unknown() -> None:
    with pytest.raises(CRSError, match="EPSG:4551"):
        _crs.parse_crs("not a crs", where="--crs")


# --- reading files in other CRSs --------------------------------------------------------------

LON = np.array([125.10, 125.40, 125.40, 125.10, 125.10])
LAT = np.array([43.70, 43.70, 43.95, 43.95, 43.70])


def _write(path: Path, xs: np.ndarray, ys: np.ndarray, crs_name: str | None) -> Path:
    ring = np.column_stack([xs, ys]).tolist()
    obj: dict[str, object] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "220173", "name": "高新区"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    if crs_name:
        obj["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _lonlat(frame: object) -> np.ndarray:
    return shapely.get_coordinates(frame.geometry.to_numpy())  # type: ignore[attr-defined]


def test_gk_zone_for_changchun() -> None:
    # 125.25°E lies in the 3-degree zone with central meridian 126°E: EPSG:4551 (CM variant) and
    # EPSG:4530 (zone-numbered false easting, zone 42).
    assert "CM 126E" in pyproj.CRS.from_epsg(4551).name
    assert "zone 42" in pyproj.CRS.from_epsg(4530).name


@pytest.mark.parametrize("epsg", [4490, 4551, 4530])
def test_read_cgcs2000_files(tmp_path: Path, epsg: int) -> None:
    tr = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    xs, ys = tr.transform(LON, LAT)
    if epsg != 4490:
        assert np.abs(xs).max() > 1e5  # really projected metres
    path = _write(
        tmp_path / f"units_{epsg}.geojson",
        np.asarray(xs),
        np.asarray(ys),
        f"urn:ogc:def:crs:EPSG::{epsg}",
    )
    units = read_units(path)
    assert units.crs.to_epsg() == 4326
    assert units.attrs["source_crs"].endswith(str(epsg))
    got = _lonlat(units)
    assert np.abs(got - np.column_stack([LON, LAT])).max() < 1e-6


def test_crs_option_overrides_file_without_crs(tmp_path: Path) -> None:
    tr = pyproj.Transformer.from_crs(4326, 4551, always_xy=True)
    xs, ys = tr.transform(LON, LAT)
    path = _write(tmp_path / "units_gk.geojson", np.asarray(xs), np.asarray(ys), None)
    units = read_units(path, crs="EPSG:4551")
    assert np.abs(_lonlat(units) - np.column_stack([LON, LAT])).max() < 1e-6


@pytest.mark.parametrize(
    ("crs", "forward"), [("gcj02", _crs.wgs84_to_gcj02), ("bd09", _crs.wgs84_to_bd09)]
)
def test_read_offset_crs(tmp_path: Path, crs: str, forward: object) -> None:
    xs, ys = forward(LON, LAT)  # type: ignore[operator]
    path = _write(tmp_path / "units_offset.geojson", xs, ys, None)
    units = read_units(path, crs=crs)
    assert units.attrs["source_crs"] == crs
    assert np.abs(_lonlat(units) - np.column_stack([LON, LAT])).max() < 1e-9
    # Without crs= the offset data would be taken as WGS-84 and land hundreds of metres away.
    plain = read_units(path)
    assert np.abs(_lonlat(plain) - np.column_stack([LON, LAT])).max() > 1e-3


def test_gcj02_declared_in_file_crs_member(tmp_path: Path) -> None:
    xs, ys = _crs.wgs84_to_gcj02(LON, LAT)
    path = _write(tmp_path / "units.geojson", xs, ys, "GCJ-02")
    units = read_units(path)
    assert np.abs(_lonlat(units) - np.column_stack([LON, LAT])).max() < 1e-9


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(73.0, 136.0, allow_nan=False),
    lat=st.floats(3.0, 54.0, allow_nan=False),
)
def test_inverses_converge_anywhere_in_china(lon: float, lat: float) -> None:
    wlon, wlat = _crs.gcj02_to_wgs84(lon, lat)
    assert _dist_m(np.array(lon), np.array(lat), *_crs.wgs84_to_gcj02(wlon, wlat)) < 1e-3
    blon, blat = _crs.bd09_to_wgs84(lon, lat)
    assert _dist_m(np.array(lon), np.array(lat), *_crs.wgs84_to_bd09(blon, blat)) < 1e-3
