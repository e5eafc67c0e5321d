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


def test_reads_keep_ids_that_look_like_missing_values(
    store: Any, make_layers: Any, tmp_path: Any
) -> None:
    """Leader ids such as "NA" or "null" are ids, not missing values, in every read on both
    backends (the PostgreSQL read parses CSV, where those words are NULL by default)."""
    import pandas as pd

    store.load_layers(make_layers(2), res=10, actor="test")
    code = str(store.units().query("level == 'community'")["code"].iloc[0])
    path = tmp_path / "leaders.csv"
    path.write_text(
        "id,name,role,department,phone,capacity,unit_packages,place_packages\n"
        f"NA,网格长甲,grid_leader,,,1.0,{code},\nnull,网格长乙,grid_leader,,,1.0,{code},\n",
        encoding="utf-8",
    )
    store.import_leaders(path, actor="test")
    pieces = store.pieces(geometry=False)
    ids = pieces.loc[pieces["unit_code"] == code, "id"]
    owner: list[str | None] = ["NA" if k % 2 else "null" for k in range(len(ids))]
    owner[0] = None
    store.apply_changes(
        pd.DataFrame({"piece_id": ids, "leader_id": owner}), actor="test", reason="t", kind="auto"
    )
    for geometry in (False, "border", True):
        got = store.pieces(geometry=geometry).set_index("id")["leader_id"]
        assert got.loc[ids].tolist() == owner, geometry
        assert got.drop(index=ids).isna().all(), geometry
