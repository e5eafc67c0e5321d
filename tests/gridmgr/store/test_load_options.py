"""``gridmgr load --crs --code-field --name-field --parent-field`` on someone else's boundary file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from typer.testing import CliRunner

from gridmgr import settings
from gridmgr.cli import app
from gridmgr.io import read_units
from gridmgr.io.crs import transform_geometries

runner = CliRunner()


def test_load_gcj02_units_with_custom_fields(store: Any, store_url: str, tmp_path: Path) -> None:
    original = read_units(settings.DEFAULT_LAYERS / "units.geojson")
    shifted = transform_geometries(np.asarray(original.geometry.values), "wgs84", "gcj02")
    features = [
        {
            "type": "Feature",
            "properties": {"DM": code, "MC": name, "SJDM": parent},
            "geometry": shapely.geometry.mapping(g),
        }
        for code, name, parent, g in zip(
            original["code"], original["name"], original["parent"], shifted, strict=True
        )
    ]
    folder = tmp_path / "official"
    folder.mkdir()
    (folder / "units.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), "utf-8"
    )
    result = runner.invoke(
        app,
        [
            "load",
            "--layers",
            str(folder),
            "--crs",
            "gcj02",
            "--code-field",
            "DM",
            "--name-field",
            "MC",
            "--parent-field",
            "SJDM",
            "--res",
            "9",
            "--database-url",
            store_url,
        ],
    )
    assert result.exit_code == 0, result.output
    stored = store.units().set_index("code").loc[original["code"]]
    # back in WGS-84: every boundary within a few millimetres of the original
    dist = shapely.hausdorff_distance(
        np.asarray(stored.geometry.values), np.asarray(original.geometry.values)
    )
    assert float(np.max(dist)) < 1e-7
    assert list(stored["name"]) == list(original["name"])
