"""Province-scale paths: the street-by-street build into GeoParquet parts, on dask.distributed
and serially, equal the serial in-memory build exactly; the parts load into the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from gridmgr.cli import app
from gridmgr.errors import InputError, UnreadableFileError
from gridmgr.grid import parquet
from gridmgr.grid.chunked import build_parts, plan_chunks
from gridmgr.grid.pieces import build_grid, pieces_from_units

pytest.importorskip("pyarrow")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _chinese() -> Any:
    """Messages in Chinese (the default), whatever an earlier test set."""
    from gridmgr import i18n

    i18n.set_language("zh")
    yield
    i18n.set_language(None)


def _units() -> gpd.GeoDataFrame:
    """Two streets of 6 irregular (Voronoi) communities each, ≈ 11 km², seeded."""
    rng = np.random.default_rng(15)
    rows: list[dict[str, Any]] = [
        {"code": "220173", "name": "区", "level": "district", "parent": None},
    ]
    geoms: list[Any] = []
    district = []
    for s, x0 in enumerate((125.20, 125.22)):
        street = shapely.box(x0, 43.80, x0 + 0.02, 43.83)
        district.append(street)
        scode = f"220173{s + 1:03d}"
        rows.append({"code": scode, "name": f"街道{s + 1}", "level": "street", "parent": "220173"})
        geoms.append(street)
        pts = shapely.multipoints(
            np.c_[rng.uniform(x0, x0 + 0.02, 6), rng.uniform(43.80, 43.83, 6)]
        )
        cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=street))
        for i, c in enumerate(cells):
            rows.append(
                {
                    "code": f"{scode}{i + 1:03d}",
                    "name": f"社区{i}",
                    "level": "community",
                    "parent": scode,
                }
            )
            geoms.append(shapely.intersection(c, street))
    return gpd.GeoDataFrame(rows, geometry=[shapely.union_all(district), *geoms], crs="EPSG:4326")


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return _units()


@pytest.fixture(scope="module")
def serial(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return pieces_from_units(units, res=10)


def _assert_same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    assert (a["cell"].to_numpy() == b["cell"].to_numpy()).all()
    assert (a["unit_code"].to_numpy() == b["unit_code"].to_numpy()).all()
    assert (a["area_m2"].to_numpy() == b["area_m2"].to_numpy()).all()  # exact, not approx
    assert (a["whole"].to_numpy() == b["whole"].to_numpy()).all()
    wa, wb = shapely.to_wkb(a.geometry.values), shapely.to_wkb(b.geometry.values)
    assert (wa == wb).all()
    assert a.crs == b.crs


def test_plan_groups_by_street(units: gpd.GeoDataFrame) -> None:
    chunks = plan_chunks(units)
    assert [c.key for c in chunks] == ["220173001", "220173002"]
    assert all(len(c.codes) == 6 for c in chunks)
    assert all(str(code).startswith(c.key) for c in chunks for code in c.codes)


def test_dask_two_workers_equal_serial(
    units: gpd.GeoDataFrame, serial: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """A 2-worker LocalCluster (threads: processes=False, for speed) gives the serial pieces."""
    from gridmgr.grid.distributed import dask_runner

    built = build_parts(units, tmp_path, res=10, runner=dask_runner(2, processes=False))
    assert built.summary["parts"] == 2
    _assert_same(serial, parquet.read_pieces(built.directory))
    whole = build_grid(units, res=10).summary
    for key, value in whole.items():
        if key != "seconds":
            assert built.summary[key] == value, key


def test_serial_parts_equal_serial_and_read_back_in_any_part_order(
    units: gpd.GeoDataFrame, serial: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    built = build_parts(units, tmp_path, res=10)
    _assert_same(serial, parquet.read_pieces(built.directory))
    # parts listed out of order are put back in unit/cell order
    index = json.loads((built.directory / parquet.INDEX).read_text("utf-8"))
    index["parts"].reverse()
    (built.directory / parquet.INDEX).write_text(json.dumps(index), "utf-8")
    _assert_same(serial, parquet.read_pieces(built.directory))


def test_bad_pieces_directory_is_named(units: gpd.GeoDataFrame, tmp_path: Path) -> None:
    built = build_parts(units, tmp_path, res=10)
    with pytest.raises(InputError, match="分辨率 10"):
        parquet.pieces_for_load(tmp_path, 9)
    (built.directory / "part-00001.parquet").unlink()
    with pytest.raises(UnreadableFileError, match="part-00001.parquet"):
        parquet.read_pieces(built.directory)
    with pytest.raises(UnreadableFileError, match="parts.json"):
        parquet.read_pieces(tmp_path)


def test_load_from_parts_equals_cutting(
    store: Any, make_layers: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and PostGIS: loading the parts stores the pieces the store would cut, written
    in several COPY / executemany batches."""
    from gridmgr.store import bulk

    monkeypatch.setattr(bulk, "BULK_MIN", 10)
    monkeypatch.setattr(bulk, "INSERT_CHUNK", 25)  # 114 pieces: 5 batches
    layers = make_layers(3)
    build_parts(layers.units, tmp_path, res=10)
    given, res = parquet.pieces_for_load(tmp_path, None)
    report = store.load_layers(layers, res=res, actor="test", pieces=given)
    assert report.pieces.added == len(given) > 0
    stored = store.pieces().sort_values(["unit_code", "cell"]).reset_index(drop=True)
    cut = pieces_from_units(layers.units, res=10)
    assert (stored["cell"].to_numpy() == cut["cell"].to_numpy()).all()
    assert (stored["area_m2"].to_numpy() == cut["area_m2"].to_numpy()).all()
    # loading the same layers by cutting them changes nothing: the store's diff compares every
    # piece's geometry with equals_exact(tolerance=0)
    assert store.load_layers(layers, res=10, actor="test").changes == 0


def test_cli_parquet_build_and_refusals(units: gpd.GeoDataFrame, tmp_path: Path) -> None:
    src = tmp_path / "units.geojson"
    units.to_file(src, driver="GeoJSON")
    out = tmp_path / "grid"
    args = ["grid", "build", "--units", str(src), "--out", str(out), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert (out / "pieces.gpkg").is_file()
    res = runner.invoke(app, [*args, "--parquet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["parts"] == 2
    assert summary["pieces"] == json.loads(first.stdout)["pieces"]
    assert parquet.is_pieces_dir(out / "pieces")
    assert not (out / "pieces.gpkg").exists()  # no file of an earlier build is left
    for extra, says in (
        (["--workers", "0"], "至少为 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "只能给一个"),
        (["--parquet", "--geojson"], "--geojson"),
    ):
        bad = runner.invoke(app, [*args, *extra])
        assert bad.exit_code == 1, bad.output
        assert says in bad.output
    assert parquet.is_pieces_dir(out / "pieces")


def test_parts_are_lazy_and_old_full_parts_still_read(
    units: gpd.GeoDataFrame, serial: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """Whole pieces are written without geometry (their hexagon comes from h3); border pieces
    keep theirs; parts written in full (before the lazy form) read back the same."""
    built = build_parts(units, tmp_path, res=10)
    lazy = parquet.read_pieces(built.directory, lazy=True)
    whole = lazy["whole"].to_numpy()
    geoms = np.asarray(lazy.geometry.values, dtype=object)
    assert whole.any() and (~whole).any()
    assert shapely.is_missing(geoms[whole]).all() and not shapely.is_missing(geoms[~whole]).any()
    wkb = shapely.to_wkb(geoms[~whole])
    assert (wkb == shapely.to_wkb(np.asarray(serial.geometry.values)[~whole])).all()
    first = parquet.part_files(built.directory)[0]
    part = parquet.read_part(first)
    parquet.write_part(part, first, lazy=False)  # an old, full part
    assert not shapely.is_missing(
        np.asarray(parquet.read_part(first, lazy=True).geometry.values)
    ).any()
    _assert_same(serial, parquet.read_pieces(built.directory))
    given, res = parquet.pieces_for_load(tmp_path, None)
    assert res == 10
    _assert_same(serial, given)
