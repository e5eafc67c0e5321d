"""Loading layers: contents, idempotence, changed layers, orphan refusal, atomicity."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import shapely

from gridmgr.errors import InvalidFieldError, OrphanedAssignmentsError, SchemaError
from gridmgr.store import Change, open_store


def test_load_puts_every_layer_in_the_store(store, make_layers):
    layers = make_layers(2)
    report = store.load_layers(layers, res=10, actor="t")
    units = store.units()
    pieces = store.pieces()
    assert set(units["code"]) == set(layers.units["code"])
    assert report.pieces.added == len(pieces) > 20
    # pieces cover the communities exactly: equal-area sums match the unit areas
    comm = units[units["level"] == "community"]
    assert pieces["area_m2"].sum() == pytest.approx(comm["area_m2"].sum(), rel=1e-6)
    assert set(pieces["unit_code"]) == set(comm["code"])
    # every piece has an (empty) assignment row at version 0
    assert pieces["leader_id"].isna().all() and (pieces["version"] == 0).all()
    # key places got their unit and piece by point-in-polygon
    kp = store.key_places().set_index("code")
    assert kp.loc["KP001", "unit_code"] == "220173001001"
    assert kp.loc["KP002", "unit_code"] == "220173001002"
    assert kp.loc["KP001", "department"] == "JYJ"
    piece_geom = pieces.set_index("id").geometry
    for code in ("KP001", "KP002", "KP900"):
        pid = int(kp.loc[code, "piece_id"])
        assert piece_geom.loc[pid].intersects(kp.loc[code, "geometry"])
    assert set(store.departments()["code"]) == {"JYJ", "SJJ"}
    assert store.categories().set_index("category").loc["school", "requires_package_leader"]
    assert store.res == 10
    # geometry survives the round trip exactly
    mine = layers.units.set_index("code").geometry
    back = units.set_index("code").geometry
    assert all(shapely.equals(mine.loc[c], back.loc[c]) for c in mine.index)


def test_reloading_the_same_layers_changes_nothing(store, make_layers):
    store.load_layers(make_layers(2), res=10, actor="t")
    before = store.dump()
    report = store.load_layers(make_layers(2), res=10, actor="t")
    assert report.changes == 0
    assert report.changeset_id is None
    assert store.dump() == before


def test_changed_layers_report_and_refuse_to_orphan(loaded_store, make_layers):
    store = loaded_store
    pieces = store.pieces(geometry=False)
    last = pieces[pieces["unit_code"] == "220173001002"]
    # assign every piece of the last community, then shrink it: some pieces disappear
    store.apply_changes(
        [Change(int(i), "G02_1") for i in last["id"]], actor="planner", reason="initial"
    )
    before = store.dump()
    with pytest.raises(OrphanedAssignmentsError) as err:
        store.load_layers(make_layers(2, shrink_last=0.5), res=10, actor="t")
    msg = str(err.value)
    assert "G02_1" in msg and "--force" in msg
    removed = set(last["cell"]) - set(store.pieces(geometry=False)["cell"])  # still nothing removed
    assert removed == set()
    assert any(cell in msg for cell in last["cell"])
    assert store.dump() == before


def test_forced_reload_ends_orphaned_assignments_with_events(loaded_store, make_layers):
    store = loaded_store
    pieces = store.pieces(geometry=False)
    last = pieces[pieces["unit_code"] == "220173001002"]
    store.apply_changes([Change(int(i), "G02_1") for i in last["id"]], actor="p", reason="r")
    report = store.load_layers(
        make_layers(2, shrink_last=0.5), res=10, actor="t", allow_orphans=True
    )
    assert report.pieces.removed > 0 and report.pieces.changed > 0
    assert len(report.orphaned) > 0
    after = store.pieces(geometry=False)
    gone = set(zip(last["cell"], last["unit_code"], strict=True)) - set(
        zip(after["cell"], after["unit_code"], strict=True)
    )
    assert {o["cell"] for o in report.orphaned} <= {c for c, _ in gone}
    hist = store.history(changeset=report.changeset_id)
    assert (hist["kind"] == "orphan").all() and len(hist) == len(report.orphaned)
    assert hist["to_leader"].isna().all() and (hist["from_leader"] == "G02_1").all()
    # the unchanged first community kept its pieces (same ids)
    first = pieces[pieces["unit_code"] == "220173001001"]
    assert set(first["id"]) <= set(after["id"])
    # areas still add up to the (smaller) units
    units = store.units()
    comm = units[units["level"] == "community"]
    assert after["area_m2"].sum() == pytest.approx(comm["area_m2"].sum(), rel=1e-6)


def test_a_failing_last_feature_leaves_the_store_as_before(loaded_store, make_layers):
    store = loaded_store
    before = store.dump()
    layers = make_layers(3)  # a new community, new pieces …
    kp = layers.key_places
    kp.loc[len(kp) - 1, "category"] = "no_such_category"  # … and a bad last key place
    with pytest.raises(InvalidFieldError, match="no_such_category"):
        store.load_layers(layers, res=10, actor="t")
    assert store.dump() == before


def test_a_failure_after_writes_began_rolls_everything_back(loaded_store, make_layers, monkeypatch):
    """The last step of a load fails after units and pieces were written: all rolled back."""
    from gridmgr.store import layers_load as _load

    store = loaded_store
    before = store.dump()
    calls = {"n": 0}
    real = _load._with_piece_ids

    def failing(prep, pieces_now):
        calls["n"] += 1
        if calls["n"] >= 1 and len(pieces_now) > 0:
            raise RuntimeError("disk full while writing the last key place")
        return real(prep, pieces_now)

    monkeypatch.setattr(_load, "_with_piece_ids", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        store.load_layers(make_layers(3), res=10, actor="t")
    assert calls["n"] == 1
    assert store.dump() == before


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from conftest import _layers
    from gridmgr.store import layers_load as _load, open_store

    real = _load._upsert
    def dying(conn, table, *args, **kwargs):
        real(conn, table, *args, **kwargs)
        if table.name == "key_places":
            os._exit(9)  # killed mid-load: after units, pieces and key places were written
        return None
    _load._upsert = dying
    store = open_store({url!r})
    store.load_layers(_layers(3), res=10, actor="killed")
    os._exit(0)
    """
)


def test_a_process_killed_mid_load_leaves_the_store_as_before(loaded_store, tmp_path):
    store = loaded_store
    before = store.dump()
    root = str(Path(__file__).resolve().parents[3])
    script = KILL_SCRIPT.format(root=root, tests=str(Path(root) / "tests"), url=store.url)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 9, proc.stderr
    store.close()
    again = open_store(store.url)
    try:
        assert again.dump() == before
        assert np.array_equal(
            again.pieces(geometry=False)["id"], store.pieces(geometry=False)["id"]
        )
    finally:
        again.close()


def test_a_store_without_schema_is_refused_with_the_fix(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SchemaError, match="gridmgr db upgrade"):
            store.pieces()
    finally:
        store.close()


def test_upgrade_is_idempotent(store):
    assert store.upgrade() == "0004"
    assert store.upgrade() == "0004"
    assert store.revision() == "0004"
