"""Edits: one-owner constraint, optimistic concurrency, history, replay, undo, round trips."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gridmgr.errors import (
    ConflictError,
    InputError,
    InvalidFieldError,
    LeaderNotFoundError,
    NotFoundError,
    StaleVersionError,
)
from gridmgr.store import Change, open_store
from gridmgr.store import schema as s
from gridmgr.store.history import as_mapping


def _community(store, code):
    p = store.pieces(geometry=False)
    return p[p["unit_code"] == code].reset_index(drop=True)


def test_a_second_owner_for_a_piece_is_refused_by_the_database(loaded_store):
    store = loaded_store
    pid = int(store.pieces(geometry=False)["id"].iloc[0])
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            sa.insert(s.assignments).values(
                piece_id=pid, leader_id="G01_1", fallback=False, version=0
            )
        )
    # and it is the primary key, on both backends
    insp = sa.inspect(store.engine)
    assert insp.get_pk_constraint("assignments")["constrained_columns"] == ["piece_id"]


def test_apply_changes_writes_owner_version_and_one_event_each(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    ids = [int(i) for i in c1["id"][:5]]
    res = store.apply_changes(
        [Change(i, "G01_1") for i in ids], actor="planner1", reason="初始分配"
    )
    assert res.changed == 5 and res.unchanged == 0 and res.changeset_id
    after = store.pieces(geometry=False).set_index("id")
    assert (after.loc[ids, "leader_id"] == "G01_1").all()
    assert (after.loc[ids, "version"] == 1).all()
    hist = store.history(changeset=res.changeset_id)
    assert sorted(hist["piece_id"]) == sorted(ids)
    assert (hist["actor"] == "planner1").all() and (hist["reason"] == "初始分配").all()
    assert hist["from_leader"].isna().all() and (hist["to_version"] == 1).all()
    # the same change again is a no-op: no event, no version bump
    again = store.apply_changes([Change(i, "G01_1") for i in ids], actor="p", reason="r")
    assert again.changed == 0 and again.unchanged == 5 and again.changeset_id is None
    assert len(store.history()) == 5


def test_cells_name_every_piece_of_the_cell(loaded_store):
    store = loaded_store
    p = store.pieces(geometry=False)
    split = p[p["cell"].duplicated(keep=False)]
    assert len(split) >= 2, "the tiny layers have cells on the community border"
    cell = split["cell"].iloc[0]
    # a border cell lies in both communities: only a leader of both may take it whole
    with pytest.raises(InputError, match=cell):  # outside the units of G01_1
        store.apply_changes([Change(cell, "G01_1")], actor="p", reason="r")
    res = store.apply_changes([Change(cell, None)], actor="p", reason="r")
    assert res.changed == 0 and res.unchanged == (p["cell"] == cell).sum()


def test_edits_are_checked_before_anything_is_written(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    pid, cell = int(c1["id"].iloc[0]), str(c1["cell"].iloc[0])
    before = store.dump()
    with pytest.raises(NotFoundError, match="8a0000000000000"):
        store.apply_changes(
            [Change(pid, "G01_1"), Change("8a0000000000000", "G01_1")], actor="p", reason="r"
        )
    with pytest.raises(LeaderNotFoundError, match="NOBODY"):
        store.apply_changes([Change(pid, "NOBODY")], actor="p", reason="r")
    with pytest.raises(InputError, match=f"{cell}.*G02_1"):
        store.apply_changes([Change(pid, "G02_1")], actor="p", reason="r")  # other community
    with pytest.raises(InputError, match="--reason"):
        store.apply_changes([Change(pid, "G01_1")], actor="p", reason=" ")
    with pytest.raises(InputError, match=cell):  # the same piece more than once
        store.apply_changes([Change(pid, "G01_1"), Change(pid, "G01_2")], actor="p", reason="r")
    assert store.dump() == before


def test_a_stale_version_is_refused_naming_the_pieces(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    a, b = int(c1["id"][0]), int(c1["id"][1])
    store.apply_changes([Change(a, "G01_1", expected_version=0)], actor="p1", reason="r")
    before = store.dump()
    with pytest.raises(StaleVersionError) as err:
        store.apply_changes(
            [Change(b, "G01_2", expected_version=0), Change(a, "G01_2", expected_version=0)],
            actor="p2",
            reason="r",
        )
    assert err.value.pieces == [c1["cell"][0]]
    assert c1["cell"][0] in str(err.value)
    assert store.dump() == before  # b was not changed either


def test_deactivated_leaders_keep_their_pieces_and_take_no_new_ones(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    a, b = int(c1["id"][0]), int(c1["id"][1])
    store.apply_changes([Change(a, "G01_1")], actor="p", reason="r")
    n_events = len(store.history())
    cid = store.deactivate_leader("G01_1", reason="调离", actor="admin")
    assert not bool(store.leaders().set_index("id").loc["G01_1", "active"])
    assert store.pieces(geometry=False).set_index("id").loc[a, "leader_id"] == "G01_1"
    assert len(store.history()) == n_events
    ev = store.leader_events("G01_1")
    assert list(ev["kind"])[-1] == "deactivated" and ev["changeset_id"].iloc[-1] == cid
    with pytest.raises(ConflictError, match="G01_1"):  # inactive
        store.apply_changes([Change(b, "G01_1")], actor="p", reason="r")
    with pytest.raises(ConflictError, match="G01_1"):  # already inactive
        store.deactivate_leader("G01_1", reason="again", actor="admin")


def test_history_replays_to_the_current_state(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    c2 = _community(store, "220173001002")
    ids1 = [int(i) for i in c1["id"]]
    ids2 = [int(i) for i in c2["id"]]
    store.apply_changes([Change(i, "G01_1") for i in ids1[::2]], actor="a", reason="1")
    store.apply_changes([Change(i, "G02_2") for i in ids2], actor="a", reason="2")
    time.sleep(0.01)
    mid = dt.datetime.now(dt.UTC)
    snapshot = as_mapping(store.pieces(geometry=False).rename(columns={"id": "piece_id"}))
    time.sleep(0.01)
    store.apply_changes([Change(i, "G01_2") for i in ids1[:4]], actor="b", reason="3")
    third = store.apply_changes(
        [Change(i, "P01", fallback=True) for i in ids1[-3:]], actor="b", reason="4"
    )
    store.apply_changes([Change(i, None) for i in ids2[:2]], actor="c", reason="5")
    store.undo_changeset(third.changeset_id, actor="c")
    current = store.pieces(geometry=False).rename(columns={"id": "piece_id"})
    assert as_mapping(store.owners_at(dt.datetime.now(dt.UTC))) == as_mapping(current)
    assert as_mapping(store.owners_at(mid)) == snapshot
    before_all = store.owners_at("2000-01-01")
    assert before_all["leader_id"].isna().all()


def test_undo_restores_and_refuses_when_pieces_moved_on(loaded_store):
    store = loaded_store
    c1 = _community(store, "220173001001")
    ids = [int(i) for i in c1["id"][:3]]
    first = store.apply_changes([Change(i, "G01_1") for i in ids], actor="a", reason="r")
    second = store.apply_changes([Change(ids[0], "G01_2")], actor="a", reason="r")
    with pytest.raises(StaleVersionError) as err:
        store.undo_changeset(first.changeset_id, actor="a")
    assert err.value.pieces == [c1["cell"][0]]
    undo2 = store.undo_changeset(second.changeset_id, actor="a")
    assert store.pieces(geometry=False).set_index("id").loc[ids[0], "leader_id"] == "G01_1"
    # the piece is back to G01_1 but at a newer version: undoing ``first`` is still refused
    with pytest.raises(StaleVersionError):
        store.undo_changeset(first.changeset_id, actor="a")
    third = store.apply_changes([Change(i, "G01_2") for i in ids[1:]], actor="a", reason="r")
    undo3 = store.undo_changeset(third.changeset_id, actor="a", reason="误操作")
    now = store.pieces(geometry=False).set_index("id")
    assert (now.loc[ids[1:], "leader_id"] == "G01_1").all()
    assert (now.loc[ids[1:], "version"] == 3).all()
    cs = store.changesets().set_index("id")
    assert cs.loc[third.changeset_id, "undone_by"] == undo3.changeset_id
    assert cs.loc[undo2.changeset_id, "undoes"] == second.changeset_id
    assert cs.loc[undo3.changeset_id, "reason"] == "误操作"
    with pytest.raises(ConflictError, match=re.escape(undo3.changeset_id)):  # already undone
        store.undo_changeset(third.changeset_id, actor="a")
    # undoing the undo re-applies the change
    store.undo_changeset(undo3.changeset_id, actor="a")
    assert (store.pieces(geometry=False).set_index("id").loc[ids[1:], "leader_id"] == "G01_2").all()


def test_fifty_concurrent_conflicting_edits_have_one_winner(store, make_layers, leaders_csv):
    store.load_layers(make_layers(1), res=10, actor="t")
    store.import_leaders(leaders_csv(1, 50), actor="t")
    piece = int(store.pieces(geometry=False)["id"].iloc[0])
    n = 50
    barrier = threading.Barrier(n)
    outcomes: list[object] = [None] * n
    # each thread its own store (engine), hence its own connection
    # (NullPool: each connection closes with its transaction, sparing a shared server's slots)
    from sqlalchemy.pool import NullPool

    stores = [open_store(store.url, poolclass=NullPool) for _ in range(n)]

    def edit(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = stores[k].apply_changes(
                [Change(piece, f"G01_{k + 1}", expected_version=0)], actor=f"u{k}", reason="race"
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            outcomes[k] = exc

    threads = [threading.Thread(target=edit, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for st in stores:
        st.close()
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    stale = [o for o in outcomes if isinstance(o, StaleVersionError)]
    others = [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, StaleVersionError)
    ]
    assert others == []
    assert len(winners) == 1 and len(stale) == n - 1
    hist = store.history(piece_id=piece)
    assert len(hist) == 1
    row = store.pieces(geometry=False).set_index("id").loc[piece]
    assert row["version"] == 1
    assert row["leader_id"] == hist["to_leader"].iloc[0]
    assert winners[0].changeset_id == hist["changeset_id"].iloc[0]


def test_export_then_import_round_trip(loaded_store, tmp_path):
    store = loaded_store
    c1 = _community(store, "220173001001")
    ids = [int(i) for i in c1["id"]]
    store.apply_changes([Change(i, "G01_1") for i in ids], actor="a", reason="r")
    store.save_grid_codes(
        pd.DataFrame(
            {
                "leader_id": ["G01_1"],
                "unit_code": ["220173001001"],
                "grid_code": ["220173001001001"],
            }
        )
    )
    out = store.export_assignments(tmp_path / "a.csv")
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert {"cell", "unit_code", "leader_id", "grid_code", "version"} <= set(df.columns)
    assert set(df.loc[df["leader_id"] == "G01_1", "grid_code"]) == {"220173001001001"}
    # edit three rows as a planner would in Excel, import back
    mine = df["unit_code"] == "220173001001"
    rows = df.index[mine][:3]
    df.loc[rows, "leader_id"] = "G01_2"
    df.to_csv(tmp_path / "b.csv", index=False)
    rep = store.import_assignments(tmp_path / "b.csv", actor="planner", reason="QGIS edit")
    assert rep.changed == 3 and rep.unchanged == len(df) - 3
    now = store.pieces(geometry=False).set_index("id")
    assert (now.loc[[int(i) for i in df.loc[rows, "piece_id"]], "leader_id"] == "G01_2").all()
    # importing the same (now stale) file again changes nothing
    rep2 = store.import_assignments(tmp_path / "b.csv", actor="planner", reason="again")
    assert rep2.changed == 0
    # the first export is stale for those rows: refused, naming the pieces
    df0 = pd.read_csv(out, dtype=str, keep_default_na=False)
    df0.loc[rows, "leader_id"] = "G01_1"
    df0.loc[rows[0], "leader_id"] = "P01"
    df0.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(StaleVersionError):
        store.import_assignments(tmp_path / "c.csv", actor="p", reason="stale")
    # GeoJSON round trip
    gj = store.export_assignments(tmp_path / "a.geojson")
    rep3 = store.import_assignments(gj, actor="p", reason="unchanged geojson")
    assert rep3.changed == 0 and rep3.rows == len(df)


def test_import_names_every_bad_row_and_writes_nothing(loaded_store, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMGR_LANG", "en")  # asserts the English row/column wording
    store = loaded_store
    out = store.export_assignments(tmp_path / "a.csv")
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    c1 = df.index[df["unit_code"] == "220173001001"]
    df.loc[c1[0], "leader_id"] = "NOBODY"
    df.loc[c1[1], "leader_id"] = "G02_1"  # a leader of another community
    df.loc[c1[2], "cell"] = "8a0000000000000"
    df.loc[c1[3], "version"] = "x"
    df.loc[c1[4], "leader_id"] = "G01_1"  # a good row: must not be written either
    df.to_csv(tmp_path / "bad.csv", index=False)
    before = store.dump()
    with pytest.raises(InvalidFieldError) as err:
        store.import_assignments(tmp_path / "bad.csv", actor="p", reason="r")
    msg = str(err.value)
    for k, col in ((0, "leader_id"), (1, "leader_id"), (2, "cell"), (3, "version")):
        assert f"row {c1[k] + 2}, column {col}" in msg
    assert "another community" in msg
    assert store.dump() == before


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edit_sequences_replay_exactly(loaded_store, seed):
    """Random edits, unassignments and undos (some refused): replay always equals the state."""
    import numpy as np

    store = loaded_store
    rng = np.random.default_rng(seed)
    p = store.pieces(geometry=False)
    owners = {"220173001001": ["G01_1", "G01_2", "P01"], "220173001002": ["G02_1", "G02_2", "P02"]}
    done: list[str] = []
    for _ in range(12):
        action = rng.choice(["edit", "edit", "unassign", "undo"])
        if action == "undo" and done:
            try:
                store.undo_changeset(done[int(rng.integers(len(done)))], actor="r")
            except (StaleVersionError, ConflictError):
                pass
        else:
            unit = str(rng.choice(list(owners)))
            pool = p[p["unit_code"] == unit]["id"].to_numpy()
            ids = rng.choice(pool, size=int(rng.integers(1, 6)), replace=False)
            leader = None if action == "unassign" else str(rng.choice(owners[unit]))
            fb = leader is not None and leader.startswith("P")
            res = store.apply_changes(
                [Change(int(i), leader, fallback=fb) for i in ids], actor="r", reason=str(action)
            )
            if res.changeset_id:
                done.append(res.changeset_id)
        current = store.pieces(geometry=False).rename(columns={"id": "piece_id"})
        assert as_mapping(store.owners_at(dt.datetime.now(dt.UTC))) == as_mapping(current)
        hist = store.history()
        # versions are consecutive per piece: no lost or duplicated event
        for _, g in hist.groupby("piece_id"):
            assert list(g["from_version"]) == list(range(len(g)))
            assert list(g["to_version"]) == list(range(1, len(g) + 1))


def test_xlsx_round_trip_with_names_beside_codes(loaded_store, tmp_path):
    import openpyxl

    store = loaded_store
    c1 = _community(store, "220173001001")
    ids = [int(i) for i in c1["id"]]
    store.apply_changes([Change(i, "G01_1") for i in ids], actor="a", reason="r")
    out = store.export_assignments(tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[0] == "网格单元 cell" and "责任人 leader_name" in header
    col = {h.split()[-1]: i for i, h in enumerate(header)}
    names = dict(zip(store.leaders()["id"], store.leaders()["name"], strict=True))
    first = [c.value for c in ws[2]]
    if first[col["leader_id"]]:
        assert first[col["leader_name"]] == names[first[col["leader_id"]]]
    # a planner reassigns three of G01_1's rows in Excel and imports the workbook back
    rows = [
        r for r in range(2, ws.max_row + 1) if ws.cell(r, col["leader_id"] + 1).value == "G01_1"
    ][:3]
    for r in rows:
        ws.cell(r, col["leader_id"] + 1).value = "G01_2"
    wb.save(tmp_path / "b.xlsx")
    rep = store.import_assignments(tmp_path / "b.xlsx", actor="planner", reason="Excel edit")
    assert rep.changed == 3
    moved = {int(ws.cell(r, col["piece_id"] + 1).value) for r in rows}
    now = store.pieces(geometry=False).set_index("id")
    assert (now.loc[sorted(moved), "leader_id"] == "G01_2").all()
