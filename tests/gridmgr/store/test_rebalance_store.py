"""Rebalance plans against the real store (SQLite and PostGIS): propose, apply, undo, stale, CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gridmgr import rebalance as rb
from gridmgr.assign import auto_assign
from gridmgr.errors import (
    ConflictError,
    InfeasibleError,
    LeaderNotFoundError,
    StaleVersionError,
    UnitNotFoundError,
)

STREET = "220173001"
C1, C2 = "220173001001", "220173001002"


@pytest.fixture
def assigned(loaded_store: Any) -> Any:
    """Two tiny communities, two grid leaders each (G01_1, G01_2 / G02_1, G02_2), auto-assigned."""
    auto_assign(loaded_store, scope=STREET, actor="test")
    return loaded_store


def owners(store: Any) -> pd.DataFrame:
    return store.pieces(STREET, geometry=False)[["id", "leader_id", "fallback"]].reset_index(
        drop=True
    )


def territory_parts(store: Any, leader: str) -> int:
    from scipy.sparse.csgraph import connected_components

    from gridmgr.grid.graph import piece_adjacency

    pieces = store.pieces(STREET)
    idx = np.flatnonzero(pieces["leader_id"].to_numpy(dtype=object) == leader)
    adj = piece_adjacency(pieces.iloc[idx].reset_index(drop=True))
    return int(connected_components(adj, directed=False)[0])


def test_remove_leader_apply_then_undo_restores_exactly(assigned: Any) -> None:
    start = owners(assigned)
    held = set(start.loc[start["leader_id"] == "G01_1", "id"])
    plan = rb.propose(assigned, scope=STREET, leaders_remove=["G01_1"], actor="planner")
    assert plan.status == "proposed"
    moved = {m["piece_id"] for m in plan.moves}
    assert held <= moved
    assert all(m["to_leader"] == "G01_2" for m in plan.moves)  # inside community 1 only
    assert plan.metrics["before"]["unassigned_pieces"] == len(held)
    assert plan.metrics["after"]["unassigned_pieces"] == 0
    assert owners(assigned).equals(start)  # proposing writes no assignment

    res = rb.apply_plan(assigned, plan.id, actor="planner")
    assert res.changed == len(plan.moves) and res.changeset_id == plan.id
    now = owners(assigned)
    assert not (now["leader_id"] == "G01_1").any()
    assert territory_parts(assigned, "G01_2") == 1
    events = assigned.history(changeset=plan.id)
    assert len(events) == len(plan.moves) and set(events["changeset_kind"]) == {"plan"}
    assert rb.get_plan(assigned, plan.id).status == "applied"

    rb.undo_plan(assigned, plan.id, actor="planner")
    assert owners(assigned).equals(start)
    assert rb.get_plan(assigned, plan.id).status == "undone"
    with pytest.raises(ConflictError, match="undone"):
        rb.apply_plan(assigned, plan.id, actor="planner")


def test_stale_plan_is_refused_naming_the_cells(assigned: Any) -> None:
    plan = rb.propose(assigned, scope=STREET, leaders_remove=["G02_2"], actor="planner")
    victim = plan.moves[0]
    assigned.apply_changes(
        [(int(victim["piece_id"]), "G02_1")], actor="someone", reason="field fix"
    )
    before = owners(assigned)
    with pytest.raises(StaleVersionError) as err:
        rb.apply_plan(assigned, plan.id, actor="planner")
    assert victim["cell"] in str(err.value)
    assert victim["cell"] in err.value.pieces
    assert owners(assigned).equals(before)  # nothing written
    assert rb.get_plan(assigned, plan.id).status == "proposed"


def test_added_leader_takes_ground_in_its_community(
    assigned: Any, leaders_csv: Callable[..., Path]
) -> None:
    assigned.import_leaders(leaders_csv(2, 3), actor="test")  # adds G01_3 and G02_3
    plan = rb.propose(assigned, scope=STREET, leaders_add=["G01_3"], actor="planner")
    to = {m["to_leader"] for m in plan.moves}
    assert to == {"G01_3"} or to <= {"G01_3", "G01_1", "G01_2"}
    assert all(m["unit_code"] == C1 for m in plan.moves)
    taken = [m for m in plan.moves if m["to_leader"] == "G01_3"]
    assert len(taken) > 5
    rb.apply_plan(assigned, plan.id, actor="planner")
    assert territory_parts(assigned, "G01_3") == 1
    row = next(x for x in plan.metrics["leaders"] if x["leader_id"] == "G01_3")
    assert row["added"] and row["ratio_before"] == 0.0 and row["ratio_after"] > 0.9


def test_locked_leader_and_cells_are_untouched(assigned: Any) -> None:
    start = owners(assigned)
    pieces = assigned.pieces(STREET, geometry=False)
    locked_cell = str(pieces.loc[pieces["leader_id"] == "G02_2", "cell"].iloc[0])
    plan = rb.propose(
        assigned,
        scope=STREET,
        capacity={"G02_1": 1.5},
        lock=["G01_2", locked_cell],
        actor="planner",
    )
    assert plan.moves and {m["to_leader"] for m in plan.moves} == {"G02_1"}
    assert all("G01_2" not in (m["from_leader"], m["to_leader"]) for m in plan.moves)
    assert all(m["cell"] != locked_cell for m in plan.moves)
    assert plan.params["lock"] == ["G01_2", locked_cell]
    row = next(x for x in plan.metrics["leaders"] if x["leader_id"] == "G01_2")
    assert row["locked"] and row["ratio_before"] == row["ratio_after"]
    assert owners(assigned).equals(start)


def test_discard_and_diff_geojson(assigned: Any) -> None:
    plan = rb.propose(assigned, scope=STREET, leaders_remove=["G01_2"], actor="planner")
    gj = rb.plan_diff_geojson(assigned, plan.id)
    assert gj["type"] == "FeatureCollection"
    assert len(gj["features"]) == len(plan.moves)
    props = gj["features"][0]["properties"]
    assert {"cell", "unit_code", "from_leader", "to_leader", "area_m2"} <= set(props)
    assert props["from_leader"] == "G01_2"
    assert gj["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    rb.discard_plan(assigned, plan.id, actor="planner")
    assert rb.get_plan(assigned, plan.id).status == "discarded"
    with pytest.raises(ConflictError):
        rb.apply_plan(assigned, plan.id, actor="planner")


def test_nothing_assigned_yet_is_explained(loaded_store: Any) -> None:
    with pytest.raises(InfeasibleError, match="assign"):
        rb.propose(loaded_store, scope=STREET)


def test_unknown_names_are_refused(assigned: Any) -> None:
    with pytest.raises(LeaderNotFoundError, match="NOPE"):
        rb.propose(assigned, scope=STREET, leaders_add=["NOPE"])
    with pytest.raises(UnitNotFoundError):
        rb.propose(assigned, scope="999")


def test_cli_propose_json_apply_undo(assigned: Any) -> None:
    from gridmgr.cli import app

    runner = CliRunner()
    url = str(assigned.engine.url.render_as_string(hide_password=False))
    start = owners(assigned)
    out = runner.invoke(
        app,
        [
            "rebalance",
            "propose",
            "--scope",
            STREET,
            "--leaders-remove",
            "G02_1",
            "--json",
            "--database-url",
            url,
        ],
    )
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert plan["id"] and plan["status"] == "proposed" and plan["moves"]
    shown = runner.invoke(app, ["rebalance", "show", plan["id"], "--database-url", url])
    assert shown.exit_code == 0 and "G02_1" in shown.stdout
    diff = runner.invoke(app, ["rebalance", "show", plan["id"], "--geojson", "--database-url", url])
    assert len(json.loads(diff.stdout)["features"]) == len(plan["moves"])
    applied = runner.invoke(
        app,
        [
            "rebalance",
            "apply",
            plan["id"],
            "--actor",
            "cli-test",
            "--reason",
            "test",
            "--database-url",
            url,
        ],
    )
    assert applied.exit_code == 0, applied.output
    assert not (owners(assigned)["leader_id"] == "G02_1").any()
    undone = runner.invoke(
        app,
        [
            "rebalance",
            "undo",
            plan["id"],
            "--actor",
            "cli-test",
            "--reason",
            "test",
            "--database-url",
            url,
        ],
    )
    assert undone.exit_code == 0, undone.output
    assert owners(assigned).equals(start)
    again = runner.invoke(
        app, ["rebalance", "apply", plan["id"], "--reason", "again", "--database-url", url]
    )
    assert again.exit_code == 1
    listed = runner.invoke(app, ["rebalance", "list", "--json", "--database-url", url])
    assert json.loads(listed.stdout)[0]["status"] == "undone"
