"""Lazy pieces read from the store: geometry only where a unit border cuts a cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from gridmgr.grid.lazy import LazyGeoms, is_lazy, materialize


def test_border_read_is_the_full_read_without_whole_geometries(loaded_store: Any) -> None:
    full = loaded_store.pieces()
    lazy = loaded_store.pieces(geometry="border")
    assert list(lazy["id"]) == list(full["id"])
    whole = lazy["whole"].to_numpy()
    assert whole.any() and (~whole).any()  # the fixture has both kinds
    geoms = np.asarray(lazy.geometry.values, dtype=object)
    assert shapely.is_missing(geoms[whole]).all()
    assert not shapely.is_missing(geoms[~whole]).any()
    assert is_lazy(lazy) and not is_lazy(full)
    filled = materialize(lazy, multi=True)
    assert shapely.equals_exact(
        np.asarray(filled.geometry.values), np.asarray(full.geometry.values), tolerance=0
    ).all()
    for col in ("cell", "unit_code", "leader_id", "area_m2", "whole", "fallback", "version"):
        assert lazy[col].tolist() == full[col].tolist(), col


def test_lazy_geoms_fill_only_what_is_selected(loaded_store: Any) -> None:
    lazy = loaded_store.pieces(geometry="border")
    full = np.asarray(loaded_store.pieces().geometry.values, dtype=object)
    geoms = LazyGeoms(lazy["cell"], lazy.geometry.values, lazy["whole"], multi=True)
    sel = np.flatnonzero(lazy["whole"].to_numpy())[:3]
    got = geoms[sel]
    assert len(got) == 3 and shapely.equals_exact(got, full[sel], tolerance=0).all()
    mask = ~lazy["whole"].to_numpy()
    assert shapely.equals_exact(geoms[mask], full[mask], tolerance=0).all()
    assert shapely.is_missing(np.asarray(lazy.geometry.values, dtype=object)[sel]).all()


def test_scoped_border_read(loaded_store: Any) -> None:
    code = str(loaded_store.units().query("level == 'community'")["code"].iloc[0])
    lazy = loaded_store.pieces(code, geometry="border")
    assert set(lazy["unit_code"]) == {code}
    full = loaded_store.pieces(code)
    assert shapely.equals_exact(
        np.asarray(materialize(lazy, multi=True).geometry.values),
        np.asarray(full.geometry.values),
        tolerance=0,
    ).all()
