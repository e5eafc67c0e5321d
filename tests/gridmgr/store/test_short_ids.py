"""Short ids (a unique prefix of ≥ 6 characters, as pages and history show them) are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from gridmgr.errors import InputError, NotFoundError, PlanNotFoundError
from gridmgr.store import Change


def _ids(store: Any) -> list[int]:
    return store.pieces(geometry=False)["id"].astype(int).tolist()


def test_changesets_by_unique_prefix_and_ambiguity_named(loaded_store: Any) -> None:
    store = loaded_store
    ids = _ids(store)
    store.apply_changes(
        [Change(ids[0], "G01_1")], actor="a", reason="r", changeset_id="abcdef01" + "0" * 24
    )
    store.apply_changes(
        [Change(ids[1], "G01_1")], actor="a", reason="r", changeset_id="abcdef02" + "0" * 24
    )
    with pytest.raises(InputError) as exc:
        store.undo_changeset("abcdef", actor="a")
    assert "abcdef01" in str(exc.value) and "abcdef02" in str(exc.value)
    with pytest.raises(NotFoundError):
        store.undo_changeset("abcde", actor="a")  # shorter than 6: never a prefix
    res = store.undo_changeset("abcdef02", actor="a")
    owners = store.pieces(geometry=False).set_index("id")["leader_id"]
    assert res.changed == 1 and owners[ids[1]] is None and owners[ids[0]] == "G01_1"


def test_plans_by_short_id(loaded_store: Any) -> None:
    from gridmgr import rebalance

    store = loaded_store
    pieces = store.pieces(geometry=False)
    mine = pieces.loc[pieces["unit_code"] == "220173001001", "id"].astype(int).tolist()
    store.apply_changes([Change(i, "G01_1") for i in mine], actor="a", reason="all to one")
    plan = rebalance.propose(store, scope="220173001001", actor="planner", leaders_add=["G01_2"])
    assert plan.moves  # G01_2 takes a share
    short = plan.id[:8]
    assert rebalance.get_plan(store, short).id == plan.id
    rebalance.apply_plan(store, short, actor="planner", reason="balance")
    assert rebalance.get_plan(store, plan.id).status == "applied"
    rebalance.undo_plan(store, short, actor="planner", reason="back")
    assert rebalance.get_plan(store, plan.id).status == "undone"
    with pytest.raises(PlanNotFoundError):
        rebalance.get_plan(store, "zzzzzzzz")


def test_a_plan_that_moves_nothing_is_not_saved(loaded_store: Any) -> None:
    from gridmgr import rebalance
    from gridmgr.errors import NothingToMoveError

    store = loaded_store
    pieces = store.pieces(geometry=False)
    mine = pieces.loc[pieces["unit_code"] == "220173001001", "id"].astype(int).tolist()
    half = len(mine) // 2
    store.apply_changes(
        [Change(i, "G01_1" if k < half else "G01_2") for k, i in enumerate(mine)],
        actor="a",
        reason="split",
    )
    before = len(store.list_plans())
    with pytest.raises(NothingToMoveError) as exc:  # a loose target: both halves are within it
        rebalance.propose(store, scope="220173001001", actor="p", target_ratio=9.0)
    assert "220173001001" in str(exc.value)
    assert len(store.list_plans()) == before  # nothing saved


@pytest.mark.parametrize("bad", ["a\x00b", "line\r\nbreak", "\u202eevil"])
def test_edit_actor_with_control_characters_is_refused_and_changes_nothing(
    loaded_store: Any, bad: str
) -> None:
    from gridmgr.errors import InvalidFieldError

    store = loaded_store
    ids = _ids(store)
    before = store.dump()
    with pytest.raises(InvalidFieldError):
        store.apply_changes([Change(ids[0], "G01_1")], actor=bad, reason="r")
    with pytest.raises(InvalidFieldError):
        store.apply_changes([Change(ids[0], "G01_1")], actor="ok", reason="bad \x00 reason")
    assert store.dump() == before
