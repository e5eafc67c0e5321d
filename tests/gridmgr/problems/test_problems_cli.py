"""The CLI over the whole cycle (SQLite and PostGIS): report, act, show, list --overdue, assess,
notice draft, ledger; an Excel ledger imported all or nothing, errors naming row and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import LAT, LNG, jpeg
from typer.testing import CliRunner

from gridmgr.cli import app


@pytest.fixture
def cli(loaded_store: Any, tmp_path: Path) -> Any:
    env = {"GRIDMGR_DATABASE_URL": loaded_store.url, "GRIDMGR_MEDIA_DIR": str(tmp_path / "media")}

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return run


def test_cycle_through_the_cli(cli: Any, tmp_path: Path) -> None:
    before = tmp_path / "before.jpg"
    before.write_bytes(jpeg())
    r = cli(
        "problems",
        "report",
        "--lat",
        str(LAT),
        "--lng",
        str(LNG),
        "--category",
        "ZZ01",
        "--text",
        "垃圾",
        "--reporter",
        "G01_1",
        "--at",
        "2026-11-02T09:00",
        "--photo",
        str(before),
        "--json",
    )
    assert r.exit_code == 0, r.output
    code = json.loads(r.output)["id"]
    for action, extra in (
        ("register", []),
        ("dispatch", ["--workdays", "1", "--department", "HWC"]),
    ):
        r = cli(
            "problems", "act", code, action, "--actor", "office", "--at", "2026-11-02T10:00", *extra
        )
        assert r.exit_code == 0, r.output
    r = cli("problems", "show", code, "--json")
    shown = json.loads(r.output)
    assert shown["status"] == "dispatched" and shown["due_at"] == "2026-11-04T00:00:00+08:00"
    assert shown["department"] == "HWC" and "leader_id" in shown
    assert [e["action"] for e in shown["events"]] == ["report", "register", "dispatch"]
    # a leader without that department may not handle it: refused, nothing changed
    r = cli("problems", "act", code, "handle", "--actor", "G01_1", "--photo", str(before))
    assert r.exit_code == 1 and "只能由" in r.output
    r = cli("problems", "list", "--overdue", "--as-of", "2026-11-05T08:00+08:00", "--json")
    listed = json.loads(r.output)
    assert [p["id"] for p in listed["problems"]] == [code] and listed["problems"][0][
        "overdue_workdays"
    ] == 2
    assert (
        json.loads(
            cli(
                "problems", "list", "--overdue", "--as-of", "2026-11-03T20:00+08:00", "--json"
            ).output
        )["count"]
        == 0
    )
    r = cli(
        "assess",
        "--period",
        "2026-11",
        "--by",
        "street",
        "--as-of",
        "2026-11-05T08:00+08:00",
        "--json",
    )
    rows = json.loads(r.output)["rows"]
    assert (
        rows[0]["key"] == "220173001" and rows[0]["overdue"] == 1 and rows[0]["on_time_rate"] == 0
    )
    out = tmp_path / "notice.docx"
    r = cli(
        "notice",
        "draft",
        "--period",
        "2026-11",
        "--out",
        str(out),
        "--as-of",
        "2026-11-05T08:00+08:00",
    )
    assert r.exit_code == 0, r.output
    from docx import Document

    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "逾期 1 件" in text and "通报" in text
    assert (
        cli(
            "problems", "ledger", "--out", str(tmp_path / "l.xlsx"), "--period", "2026-11"
        ).exit_code
        == 0
    )


def _ledger(path: Path, rows: list[list[Any]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["问题类别", "描述", "纬度", "经度", "上报人", "上报时间"])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_ledger_import_all_or_nothing(cli: Any, tmp_path: Path) -> None:
    good = [
        ["暴露垃圾", "旧台账一", LAT, LNG, "张三", "2026-10-12 09:00"],
        ["ZL03", "旧台账二", LAT, LNG, "李四", None],
    ]
    bad = _ledger(
        tmp_path / "bad.xlsx", [*good, ["乱堆乱放", "第三行坏", "北纬43", LNG, "王五", None]]
    )
    r = cli("problems", "import", str(bad), "--map", "描述=text")
    assert r.exit_code == 1 and "第 4 行" in r.output and "纬度" in r.output
    assert json.loads(cli("problems", "list", "--json").output)["count"] == 0
    ok = _ledger(tmp_path / "ok.xlsx", good)
    r = cli("problems", "import", str(ok), "--map", "描述=text")
    assert r.exit_code == 0, r.output
    assert json.loads(cli("problems", "list", "--json").output)["count"] == 2
