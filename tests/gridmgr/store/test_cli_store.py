"""The store's CLI commands end to end (both backends): load, leaders, assign, history, undo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gridmgr.cli import app
from gridmgr.store import open_store


@pytest.fixture
def layers_dir(tmp_path: Path, make_layers, write_layers_dir) -> Path:
    """The tiny layers written as a layers directory (units, key places, departments.json)."""
    return write_layers_dir(make_layers(2), tmp_path / "layers")


def _run(url: str, *args: str) -> object:
    runner = CliRunner()
    return runner.invoke(app, ["--lang", "en", *args], env={"GRIDMGR_DATABASE_URL": url})


def test_cli_load_leaders_assign_history_undo(store_url, layers_dir, leaders_csv, tmp_path):
    res = _run(store_url, "db", "upgrade")
    assert res.exit_code == 0, res.output
    res = _run(store_url, "load", "--layers", str(layers_dir), "--res", "10", "--json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert first["pieces"]["added"] > 20 and first["changes"] > 0
    res = _run(store_url, "load", "--layers", str(layers_dir), "--json")
    assert json.loads(res.stdout)["changes"] == 0
    res = _run(store_url, "leaders", "import", str(leaders_csv(2, 2)), "--actor", "admin")
    assert res.exit_code == 0 and "6 created" in res.stdout
    res = _run(store_url, "leaders", "list", "--json")
    listed = json.loads(res.stdout)
    assert {r["id"] for r in listed} >= {"P01", "G01_1"}
    assert all("phone" not in r for r in listed)

    store = open_store(store_url)
    try:
        p = store.pieces(geometry=False)
        whole = p[(p["unit_code"] == "220173001001") & ~p["cell"].duplicated(keep=False)]
        cells = list(whole["cell"][:3])
        res = _run(
            store_url,
            "assign",
            "set",
            "--leader",
            "G01_1",
            "--cells",
            ",".join(cells),
            "--reason",
            "first",
            "--actor",
            "planner",
            "--expect-version",
            "0",
            "--json",
        )
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["changed"] == 3
        # the same edit based on version 0 again is stale: exit 1, one clear line naming a cell
        res = _run(
            store_url,
            "assign",
            "set",
            "--leader",
            "G01_2",
            "--cells",
            cells[0],
            "--reason",
            "late",
            "--actor",
            "other",
            "--expect-version",
            "0",
        )
        assert res.exit_code == 1
        assert cells[0] in res.output and "Traceback" not in res.output
        res = _run(store_url, "history", "--cell", cells[0], "--json")
        events = json.loads(res.stdout)["events"]
        assert len(events) == 1 and events[0]["to_leader"] == "G01_1"
        res = _run(store_url, "assign", "undo", out["changeset_id"], "--actor", "planner")
        assert res.exit_code == 0, res.output
        assert store.pieces(geometry=False).set_index("cell").loc[cells, "leader_id"].isna().all()
        res = _run(store_url, "history", "--leader", "G01_1")
        assert res.exit_code == 0 and "G01_1" in res.stdout
        hist = json.loads(_run(store_url, "history", "--leader", "G01_1", "--json").stdout)
        assert len(hist["events"]) == 6  # three edits, three undone
        assert [e["kind"] for e in hist["leader_events"]] == ["created"]

        # round trip through a CSV export
        out_csv = tmp_path / "a.csv"
        assert _run(store_url, "assign", "export", "--out", str(out_csv)).exit_code == 0
        df = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
        df.loc[df["cell"] == cells[1], "leader_id"] = "G01_2"
        df.to_csv(out_csv, index=False)
        res = _run(store_url, "assign", "import", str(out_csv), "--actor", "qgis", "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["changed"] == 1
        res = _run(
            store_url,
            "leaders",
            "deactivate",
            "G01_2",
            "--reason",
            "transferred",
            "--actor",
            "admin",
        )
        assert res.exit_code == 0 and "1 pieces" in res.stdout
        bad = tmp_path / "bad.csv"
        shutil.copyfile(out_csv, bad)
        res = _run(store_url, "assign", "import", str(bad), "--actor", "qgis")
        assert res.exit_code == 1 and "G01_2" in res.output  # G01_2 is inactive
    finally:
        store.close()


def test_cli_refuses_to_orphan_without_force(store_url, layers_dir, leaders_csv, make_layers):
    assert _run(store_url, "load", "--layers", str(layers_dir), "--res", "10").exit_code == 0
    assert _run(store_url, "leaders", "import", str(leaders_csv(2, 2))).exit_code == 0
    store = open_store(store_url)
    try:
        p = store.pieces(geometry=False)
        last = p[p["unit_code"] == "220173001002"]
        from gridmgr.store import Change

        store.apply_changes([Change(int(i), "G02_1") for i in last["id"]], actor="a", reason="r")
    finally:
        store.close()
    smaller = make_layers(2, shrink_last=0.5)
    smaller.units.to_file(layers_dir / "units.geojson", driver="GeoJSON", engine="pyogrio")
    res = _run(store_url, "load", "--layers", str(layers_dir))
    assert res.exit_code == 1 and "--force" in res.output and "G02_1" in res.output
    res = _run(store_url, "load", "--layers", str(layers_dir), "--force", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["orphaned"]) > 0


def test_cli_assign_set_within_a_polygon_file(store_url, layers_dir, leaders_csv, tmp_path):
    import geopandas as gpd
    import shapely
    from shapely.geometry import box

    assert _run(store_url, "load", "--layers", str(layers_dir), "--res", "10").exit_code == 0
    assert _run(store_url, "leaders", "import", str(leaders_csv(2, 2))).exit_code == 0
    # the western half of the first community
    area = box(125.25, 43.80, 125.253, 43.805)
    gpd.GeoDataFrame(geometry=[area], crs="EPSG:4326").to_file(
        tmp_path / "area.geojson", driver="GeoJSON", engine="pyogrio"
    )
    res = _run(
        store_url,
        "assign",
        "set",
        "--leader",
        "G01_1",
        "--within",
        str(tmp_path / "area.geojson"),
        "--reason",
        "west half",
        "--actor",
        "p",
        "--json",
    )
    assert res.exit_code == 0, res.output
    store = open_store(store_url)
    try:
        pieces = store.pieces()
    finally:
        store.close()
    inside = shapely.within(shapely.point_on_surface(pieces.geometry.values), area)
    assert inside.sum() == json.loads(res.stdout)["changed"] > 0
    assert (pieces.loc[inside, "leader_id"] == "G01_1").all()
    assert pieces.loc[~inside, "leader_id"].isna().all()
