"""Leaders import: validation naming row and column, all-or-nothing, upsert, XLSX, privacy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmgr.errors import InvalidFieldError
from gridmgr.settings import DEFAULT_LAYERS

HEADER = "id,name,role,department,phone,capacity,unit_packages,place_packages"


def _write(path: Path, *rows: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding)
    return path


def test_import_creates_leaders_with_packages_and_hides_phones(store, make_layers, leaders_csv):
    store.load_layers(make_layers(2), res=10, actor="t")
    rep = store.import_leaders(leaders_csv(2, 2), actor="admin")
    assert sorted(rep.created) == ["G01_1", "G01_2", "G02_1", "G02_2", "P01", "P02"]
    leaders = store.leaders().set_index("id")
    assert "phone" not in leaders.columns
    assert leaders.loc["P01", "unit_packages"] == ["220173001001"]
    assert leaders.loc["P01", "place_packages"] == ["KP001"]
    assert leaders.loc["G02_1", "role"] == "grid_leader"
    assert store.leaders(include_phone=True).set_index("id").loc["P01", "phone"] == "13800000001"
    assert store.key_places().set_index("code").loc["KP001", "package_leader_id"] == "P01"
    ev = store.leader_events()
    assert (ev["kind"] == "created").sum() == 6


def test_every_problem_is_named_and_nothing_is_imported(store, make_layers, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMGR_LANG", "en")  # asserts the English row/column wording
    store.load_layers(make_layers(2), res=10, actor="t")
    path = _write(
        tmp_path / "bad.csv",
        "A1,包保领导A1,包保领导,,13800000001,1,220173001001,KP001",  # fine (Chinese role alias)
        "A2,网格长A2,grid_leader,NOPE,,1,220173001001,",  # unknown department (row 3)
        "A3,网格长A3,grid_leader,,12345,1,220173001001,",  # malformed phone (row 4)
        "A4,网格长A4,grid_leader,,,-2,220173001001,",  # capacity (row 5)
        "A1,网格长A5,grid_leader,,,1,220173001001,",  # duplicate id (row 6)
        "A6,网格长A6,boss,,,1,220173001001,",  # unknown role (row 7)
        "A7,网格长A7,grid_leader,,,1,999999,KP404",  # unknown unit and place (row 8)
        "A8,网格长A8,grid_leader,,0431-85551234,abc,220173001002,",  # capacity again (row 9)
    )
    before = store.dump()
    with pytest.raises(InvalidFieldError) as err:
        store.import_leaders(path, actor="admin")
    msg = str(err.value)
    for expected in (
        "row 3, column department",
        "row 4, column phone",
        "row 5, column capacity",
        "row 6, column id",
        "row 7, column role",
        "row 8, column unit_packages",
        "row 8, column place_packages",
        "row 9, column capacity",
    ):
        assert expected in msg
    assert "row 2, column" not in msg and "nothing imported" in msg
    assert store.dump() == before


def test_a_bad_last_row_leaves_the_store_as_before(loaded_store, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMGR_LANG", "en")  # asserts the English row/column wording
    store = loaded_store
    before = store.dump()
    rows = [f"N{i:02d},网格长N{i:02d},grid_leader,,,1,220173001001," for i in range(30)]
    rows.append("N99,网格长N99,grid_leader,,1380000,1,220173001001,")  # bad phone, last row
    with pytest.raises(InvalidFieldError, match="row 32, column phone"):
        store.import_leaders(_write(tmp_path / "l.csv", *rows), actor="admin")
    assert store.dump() == before


def test_reimport_updates_in_place_and_reports_unchanged(loaded_store, tmp_path):
    store = loaded_store
    path = _write(
        tmp_path / "l.csv",
        "G01_1,网格长G01_1,grid_leader,JYJ,,2.5,220173001001,",  # changed department/capacity
        "G01_2,网格长G01_2,grid_leader,,,1.0,220173001001,",  # unchanged
        "G03_1,网格长G03_1,grid_leader,,,1.0,220173001002,",  # new
    )
    rep = store.import_leaders(path, actor="admin")
    assert rep.created == ("G03_1",) and rep.updated == ("G01_1",) and rep.unchanged == 1
    leaders = store.leaders().set_index("id")
    assert leaders.loc["G01_1", "capacity"] == 2.5 and leaders.loc["G01_1", "department"] == "JYJ"
    assert "P01" in leaders.index  # leaders not in the file are kept
    again = store.import_leaders(path, actor="admin")
    assert again.changeset_id is None and again.unchanged == 3


def test_xlsx_and_gb18030_files(loaded_store, tmp_path):
    import openpyxl

    store = loaded_store
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "姓名", "角色", "部门", "电话", "承载能力", "包保单元", "包保点位"])
    ws.append(["X1", "网格员X1", "网格员", "", 13912345678, 1.5, "220173001002", ""])
    ws.append(["X2", "网格员X2", "网格员", "", None, 1, "220173001002", "KP900；KP002"])
    wb.save(tmp_path / "l.xlsx")
    rep = store.import_leaders(tmp_path / "l.xlsx", actor="admin")
    assert rep.created == ("X1", "X2")
    leaders = store.leaders(include_phone=True).set_index("id")
    assert leaders.loc["X1", "phone"] == "13912345678" and leaders.loc["X1", "capacity"] == 1.5
    assert sorted(leaders.loc["X2", "place_packages"]) == ["KP002", "KP900"]
    gb = _write(tmp_path / "gb.csv", "X3,包保领导X3,包保领导,,,1,220173001001,", encoding="gb18030")
    assert store.import_leaders(gb, actor="admin").created == ("X3",)
    assert store.leaders().set_index("id").loc["X3", "name"] == "包保领导X3"


def test_the_shipped_sample_leaders_import_after_the_shipped_layers(store):
    from gridmgr.io import read_layers

    store.load_layers(read_layers(DEFAULT_LAYERS), res=9, actor="t")
    rep = store.import_leaders(DEFAULT_LAYERS / "leaders_sample.csv", actor="admin")
    leaders = store.leaders()
    assert len(rep.created) == len(leaders) > 5
    # placeholder titles, not invented personal names
    assert leaders["name"].str.contains("领导|网格").all()
