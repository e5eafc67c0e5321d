"""``gridmgr grid build`` end to end: shipped layers, JSON summary, and bad input writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from typer.testing import CliRunner

from gridmgr import settings
from gridmgr.cli import app
from gridmgr.grid.units import area_m2, lowest_units
from gridmgr.io import read_layers

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
runner = CliRunner()


def test_shipped_layers_grid_invariants(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "grid",
            "build",
            "--layers",
            str(settings.DEFAULT_LAYERS),
            "--out",
            str(tmp_path),
            "--json",
            "--geojson",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in (
        "res",
        "units",
        "cells",
        "pieces",
        "unit_area_m2",
        "piece_area_m2",
        "gap_area_m2",
        "overlap_area_m2",
    ):
        assert key in summary
    assert summary["res"] == 10
    assert abs(summary["piece_area_m2"] / summary["unit_area_m2"] - 1) < 1e-6
    assert summary["gap_area_m2"] < 1.0 and summary["overlap_area_m2"] < 1.0
    assert pyogrio.list_layers(tmp_path / "pieces.gpkg")[0][0] == "pieces"
    pieces = gpd.read_file(tmp_path / "pieces.gpkg", layer="pieces")
    assert len(pieces) == summary["pieces"] and pieces["cell"].nunique() == summary["cells"]
    units = read_layers(settings.DEFAULT_LAYERS).units
    low = lowest_units(units)
    per_unit = pieces.groupby("unit_code")["area_m2"].sum()
    expected = dict(zip(low["code"], area_m2(low.geometry), strict=True))
    for code, a in expected.items():
        assert abs(per_unit[code] / a - 1) < 1e-6, code
    gj = json.loads((tmp_path / "pieces.geojson").read_text("utf-8"))
    assert len(gj["features"]) == summary["pieces"]


def _bad_unit_files() -> list[Path]:
    manifest = json.loads((BAD / "manifest.json").read_text("utf-8"))
    entries = manifest if isinstance(manifest, list) else manifest.get("files", manifest)
    names = []
    for entry in entries if isinstance(entries, list) else entries.items():
        if isinstance(entry, tuple):
            name, spec = entry
        else:
            name, spec = entry.get("file"), entry
        reader = spec.get("reader", "units") if isinstance(spec, dict) else "units"
        if reader == "units" and name and (BAD / name).suffix in {".geojson", ".gpkg", ".shp"}:
            names.append(BAD / name)
    return sorted(names)


@pytest.mark.parametrize("path", _bad_unit_files(), ids=lambda p: p.name)
def test_bad_units_file_writes_nothing(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["grid", "build", "--units", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert path.name in result.output, "the error must name the file"
    assert not out.exists() or not any(out.iterdir())


def _square_units(tmp_path: Path, size: float) -> Path:
    path = tmp_path / f"units_{size}.geojson"
    lon, lat = 125.25, 43.79
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "220173001001", "name": "样例社区"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(fc), "utf-8")
    return path


def test_rebuild_without_geojson_leaves_no_stale_geojson(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = runner.invoke(
        app,
        [
            "grid",
            "build",
            "--units",
            str(_square_units(tmp_path, 0.01)),
            "--res",
            "9",
            "--out",
            str(out),
            "--geojson",
            "--json",
        ],
    )
    assert first.exit_code == 0, first.output
    assert (out / "pieces.geojson").exists()
    second = runner.invoke(
        app,
        [
            "grid",
            "build",
            "--units",
            str(_square_units(tmp_path, 0.02)),
            "--res",
            "10",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["res"] == 10
    assert not (out / "pieces.geojson").exists()  # it held the res-9 pieces of the first build
    assert sorted(p.name for p in out.iterdir()) == ["pieces.gpkg", "summary.json"]


def test_empty_units_layer_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', "utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["grid", "build", "--units", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "empty.geojson" in result.output and "要素数为 0" in result.output
    assert not out.exists()
