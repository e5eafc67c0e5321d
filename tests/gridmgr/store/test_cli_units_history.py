"""``gridmgr units`` and ``gridmgr history`` (newest events, truncation note) on both backends."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from gridmgr.cli import app

runner = CliRunner()


def test_units_lists_codes_levels_and_rolled_up_pieces(loaded_store: Any, store_url: str) -> None:
    result = runner.invoke(app, ["units", "--json", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    rows = {r["code"]: r for r in json.loads(result.stdout)}
    units = loaded_store.units()
    assert set(rows) == set(units["code"].astype(str))
    pieces = loaded_store.pieces(geometry=False)
    lowest = pieces["unit_code"].value_counts()
    for code, n in lowest.items():
        assert rows[code]["pieces"] == n
    parents = {r["parent"] for r in rows.values() if r["parent"]}
    top = [c for c in rows if rows[c]["parent"] is None]
    assert rows[top[0]]["pieces"] == len(pieces)
    assert parents  # a hierarchy, not a flat list


def test_history_shows_the_newest_events(loaded_store: Any, store_url: str) -> None:
    pieces = loaded_store.pieces(geometry=False).sort_values("id")
    leaders = loaded_store.leaders()
    grid = leaders[leaders["role"] == "grid_leader"]
    comm = str(pieces["unit_code"].iloc[0])
    ok = grid[[comm in list(p) for p in grid["unit_packages"]]]
    first, second = str(ok["id"].iloc[0]), str(ok["id"].iloc[1])
    cell = str(pieces["cell"].iloc[0])
    loaded_store.apply_changes([(cell, first, None, False)], actor="t", reason="one", kind="edit")
    loaded_store.apply_changes([(cell, second, None, False)], actor="t", reason="two", kind="edit")
    result = runner.invoke(app, ["history", "--json", "--limit", "1", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)["events"]
    assert len(events) == 1 and events[0]["reason"] == "two"
    text = runner.invoke(app, ["history", "--limit", "1", "--database-url", store_url]).output
    assert "--limit" in text


def test_history_times_are_beijing_time(loaded_store: Any, store_url: str) -> None:
    import datetime as dt

    pieces = loaded_store.pieces(geometry=False).sort_values("id")
    cell, comm = str(pieces["cell"].iloc[0]), str(pieces["unit_code"].iloc[0])
    leaders = loaded_store.leaders()
    grid = leaders[(leaders["role"] == "grid_leader")]
    lid = str(grid[[comm in list(p) for p in grid["unit_packages"]]]["id"].iloc[0])
    loaded_store.apply_changes([(cell, lid, None, False)], actor="t", reason="bj", kind="edit")
    at = loaded_store.history(cell=cell)["at"].iloc[-1].to_pydatetime()
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    beijing = at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    result = runner.invoke(
        app,
        ["--lang", "zh", "history", "--cell", cell, "--database-url", store_url],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    assert "北京时间" in result.stdout
    assert f"{beijing:%Y-%m-%d %H:%M}" in result.stdout
    if beijing.date() != at.date() or beijing.hour != at.hour:
        assert f"{at:%Y-%m-%d %H:%M}" not in result.stdout  # not the UTC time
