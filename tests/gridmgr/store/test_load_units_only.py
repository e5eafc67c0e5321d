"""A layers folder with only units (no key places, no departments) loads, and reloads as a no-op."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gridmgr import settings
from gridmgr.io import read_layers


def test_units_only_folder_loads_twice(store: Any, tmp_path: Path) -> None:
    folder = tmp_path / "units_only"
    folder.mkdir()
    shutil.copy(settings.DEFAULT_LAYERS / "units.geojson", folder / "units.geojson")
    layers = read_layers(folder)
    store.upgrade()
    first = store.load_layers(layers, res=9)
    assert first.pieces.added > 0 and first.departments.total == 0 and first.key_places.total == 0
    again = store.load_layers(layers, res=9)
    assert again.changes == 0
    assert len(store.pieces(geometry=False)) == first.pieces.added
