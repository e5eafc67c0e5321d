"""Coverage from the store, on SQLite and PostGIS: complete assignment, deactivation, identity
across backends, and the ``gridmgr coverage`` command (JSON, GeoJSON, exit codes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from gridmgr.coverage import coverage_from_store

C1, C2, STREET = "220173001001", "220173001002", "220173001"


def _leaders_file(path: Path) -> Path:
    lines = [
        "id,name,role,department,phone,capacity,unit_packages,place_packages",
        f"PS,街道包保领导,package_leader,,,1.0,{STREET},",
        f"P01,社区包保领导一,package_leader,,,1.0,{C1},KP001",
        f"P02,社区包保领导二,package_leader,,,1.0,{C2},KP002",
        f"G01,网格长一,grid_leader,,,1.0,{C1},",
        f"G02,网格长二,grid_leader,,,1.0,{C2},",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fill(store: Any, make_layers: Callable[..., Any], tmp_path: Path) -> pd.DataFrame:
    """Load two communities, five leaders, and assign every piece to its community's grid leader."""
    store.load_layers(make_layers(2), res=10, actor="test")
    store.import_leaders(_leaders_file(tmp_path / f"leaders_{store.backend}.csv"), actor="test")
    pieces = store.pieces(geometry=False)
    owner = {C1: "G01", C2: "G02"}
    changes = pd.DataFrame({"piece_id": pieces["id"], "leader_id": pieces["unit_code"].map(owner)})
    store.apply_changes(changes, actor="test", reason="complete assignment", kind="auto")
    return pieces


def test_complete_assignment_then_deactivation(
    store: Any, make_layers: Callable[..., Any], tmp_path: Path
) -> None:
    pieces = _fill(store, make_layers, tmp_path)
    rep = coverage_from_store(store)
    assert rep.findings == (), [f.kind for f in rep.findings]
    assert rep.summary["pieces"] == len(pieces) and rep.summary["gaps"] == 0
    assert rep.summary["coverage_pct"] == pytest.approx(100.0, abs=1e-3)
    g02 = set(pieces.loc[pieces["unit_code"] == C2, "id"].astype(str))

    # G02 retires: the community package leader P02 holds their pieces as territorial default
    store.deactivate_leader("G02", reason="调离", actor="test")
    rep = coverage_from_store(store)
    assert rep.summary["blind_spot_pieces"] == 0
    assert rep.summary["fallback_pieces"] == len(g02)
    fb = [f for f in rep.findings if f.kind == "fallback"]
    assert [f.leader_id for f in fb] == ["P02"] and set(fb[0].detail["pieces"]) == g02
    assert not rep.has_gaps

    # P02 retires too: exactly G02's pieces are blind spots (and KP002 loses leader and package leader)
    store.deactivate_leader("P02", reason="调离", actor="test")
    rep = coverage_from_store(store)
    s = rep.summary
    assert s["blind_spot_pieces"] == s["inactive_leader_pieces"] == len(g02)
    assert s["fallback_pieces"] == 0
    blind = [f for f in rep.findings if f.kind == "inactive_leader"]
    assert [f.leader_id for f in blind] == ["G02"] and set(blind[0].detail["pieces"]) == g02
    area = float(pieces.loc[pieces["unit_code"] == C2, "area_m2"].sum())
    assert s["blind_spot_area_m2"] == pytest.approx(area, abs=1e-3)
    assert s["key_places_without_leader"] == 1 and s["key_places_without_package_leader"] == 1
    assert s["communities_without_package_leader"] == 1
    assert rep.has_gaps
    units = rep.units.set_index("code")
    assert units.loc[C2, "coverage_pct"] == pytest.approx(0.0, abs=1e-9)
    # scope: the other community is clean
    assert not coverage_from_store(store, scope=C1).has_gaps


def test_report_identical_on_both_backends(
    store: Any, make_layers: Callable[..., Any], tmp_path: Path
) -> None:
    from gridmgr.store import open_store

    _fill(store, make_layers, tmp_path)
    store.deactivate_leader("G02", reason="调离", actor="test")
    ref = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        ref.upgrade()
        _fill(ref, make_layers, tmp_path)
        ref.deactivate_leader("G02", reason="调离", actor="test")
        expected = coverage_from_store(ref, weights="area=1,key_places=3").to_dict()
    finally:
        ref.close()
    got = coverage_from_store(store, weights="area=1,key_places=3").to_dict()
    assert got["fallback_pieces"] > 0
    assert json.dumps(got, sort_keys=True, ensure_ascii=False) == json.dumps(
        expected, sort_keys=True, ensure_ascii=False
    )


def test_cli_json_geojson_and_exit_codes(
    store: Any, store_url: str, make_layers: Callable[..., Any], tmp_path: Path
) -> None:
    from gridmgr.cli import app

    _fill(store, make_layers, tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["coverage", "--database-url", store_url, "--json", "--fail-on-gaps"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["blind_spot_pieces"] == 0 and report["gaps"] == 0
    assert {u["code"] for u in report["units"]} == {"220173", STREET, C1, C2}

    store.deactivate_leader("G02", reason="调离", actor="test")
    store.deactivate_leader("P02", reason="调离", actor="test")
    out = tmp_path / "findings.geojson"
    bad = runner.invoke(
        app,
        [
            "coverage",
            "--database-url",
            store_url,
            "--geojson",
            str(out),
            "--fail-on-gaps",
            "--top",
            "3",
        ],
    )
    assert bad.exit_code == 2, bad.output
    assert "盲点" in bad.stdout and "覆盖率" in bad.stdout
    fc = json.loads(out.read_text("utf-8"))
    kinds = {f["properties"]["kind"] for f in fc["features"]}
    assert {"inactive_leader", "place_without_leader", "unit_without_package_leader"} <= kinds
    # without --fail-on-gaps the same data exits 0
    plain = runner.invoke(app, ["coverage", "--database-url", store_url, "--scope", C2, "--json"])
    assert plain.exit_code == 0 and json.loads(plain.stdout)["scope"] == C2
    missing = runner.invoke(app, ["coverage", "--database-url", store_url, "--scope", "nope"])
    assert missing.exit_code == 1
    for args, says in (
        (["--workers", "0"], "至少为 1"),
        (["--workers", "2", "--scheduler", "x"], "只能给一个"),
    ):
        refused = runner.invoke(app, ["coverage", "--database-url", store_url, *args])
        assert refused.exit_code == 1 and says in refused.output, refused.output


@pytest.mark.slow
def test_shipped_sample_with_auto_assignment_has_no_gap(tmp_path: Path) -> None:
    """The main job's data: shipped layers + sample leaders + automatic assignment → no gap."""
    from gridmgr import io, settings
    from gridmgr.assign import auto_assign
    from gridmgr.store import open_store

    layers = io.read_layers(settings.DEFAULT_LAYERS)
    store = open_store(f"sqlite:///{tmp_path / 'sample.db'}")
    try:
        store.upgrade()
        store.load_layers(layers, res=10, actor="test")
        store.import_leaders(settings.DEFAULT_LAYERS / "leaders_sample.csv", actor="test")
        auto_assign(store, actor="test")
        rep = coverage_from_store(store)
        assert rep.gaps == (), [(f.kind, f.unit_code, f.place_code) for f in rep.gaps]
        assert rep.summary["coverage_pct"] == pytest.approx(100.0, abs=1e-3)
        assert rep.summary["key_places"] == len(layers.key_places)
        # one grid leader retires: their pieces fall back to the community package leader
        leader = rep.leaders[rep.leaders["role"] == "grid_leader"].iloc[0]
        store.deactivate_leader(str(leader["id"]), reason="调离", actor="test")
        after = coverage_from_store(store)
        assert after.summary["fallback_pieces"] == int(leader["pieces"])
        assert after.summary["blind_spot_pieces"] == 0
    finally:
        store.close()


def test_report_from_the_lazy_read_equals_the_full_frames(
    store: Any, make_layers: Callable[..., Any], tmp_path: Path
) -> None:
    """``coverage_from_store`` reads border geometries only; the report (figures, findings and
    their shapes) equals the report over the store's full frames."""
    import shapely

    from gridmgr.coverage import coverage_from_frames

    _fill(store, make_layers, tmp_path)
    store.deactivate_leader("G02", reason="调离", actor="test")
    store.deactivate_leader("P02", reason="调离", actor="test")  # C2 turns into blind spots
    lazy = coverage_from_store(store)
    full = coverage_from_frames(
        store.units(), store.pieces(), store.leaders(), store.key_places(), store.categories()
    )
    assert lazy.to_dict() == full.to_dict()
    assert lazy.summary["blind_spot_pieces"] > 0
    for a, b in zip(lazy.findings, full.findings, strict=True):
        assert (a.geometry is None) == (b.geometry is None)
        if a.geometry is not None:
            assert shapely.equals_exact(
                shapely.normalize(a.geometry), shapely.normalize(b.geometry), tolerance=0
            ), a.kind
