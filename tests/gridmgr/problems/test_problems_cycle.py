"""The cycle: every (state, action, role) triple on both backends; derivation at report time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from helpers import CONFIG, LAT, LNG, T0, assigned, bring_to, photo

from gridmgr.errors import ConflictError, NotFoundError, PermissionDeniedError, StaleVersionError
from gridmgr.problems import cycle, service
from gridmgr.store import problems as repo


@pytest.fixture(autouse=True)
def _media(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMGR_MEDIA_DIR", str(tmp_path / "media"))


def _snapshot(store: Any, ref: str) -> tuple[Any, ...]:
    with store.engine.connect() as conn:
        p = repo.get(conn, ref)
        assert p is not None
        return (p, repo.events(conn, int(p["id"])), repo.photos(conn, int(p["id"])))


def _act(store: Any, ref: str, action: str, role: str) -> dict[str, Any]:
    when = T0 + dt.timedelta(days=1)
    return service.act(
        store,
        ref,
        action,
        actor="m",
        roles={role},
        note="说明",
        n_workdays=3,
        at=when,
        uploads=[photo(when)],
        department="HWC",
        config=CONFIG,
    )


def test_every_state_action_role_triple(loaded_store: Any) -> None:
    store = loaded_store
    shared = {state: bring_to(store, state) for state in cycle.STATES}
    allowed_seen = 0
    for state, ref in shared.items():
        for action in cycle.ACTIONS:
            for role in cycle.ROLES:
                if cycle.allowed(state, action, role):
                    fresh = bring_to(store, state)
                    before = _snapshot(store, fresh)
                    p = _act(store, fresh, action, role)
                    after = _snapshot(store, fresh)
                    assert p["status"] == cycle.ACTIONS[action].to_state
                    assert after[0]["version"] == before[0]["version"] + 1
                    assert len(after[1]) == len(before[1]) + 1
                    assert after[1][-1]["action"] == action and after[1][-1]["role"] == role
                    allowed_seen += 1
                    continue
                before = _snapshot(store, ref)
                err = (
                    PermissionDeniedError
                    if state in cycle.ACTIONS[action].from_states
                    else ConflictError
                )
                with pytest.raises(err):
                    _act(store, ref, action, role)
                assert _snapshot(store, ref) == before, (state, action, role)
    # every action is allowed somewhere, and only for its roles
    assert allowed_seen == sum(len(a.from_states) * len(a.roles) for a in cycle.ACTIONS.values())


def test_stale_version_and_unknown_problem_change_nothing(loaded_store: Any) -> None:
    ref = bring_to(loaded_store, "reported")
    before = _snapshot(loaded_store, ref)
    with pytest.raises(StaleVersionError):
        service.act(
            loaded_store,
            ref,
            "register",
            actor="c",
            roles={"center"},
            expected_version=7,
            config=CONFIG,
        )
    assert _snapshot(loaded_store, ref) == before
    with pytest.raises(NotFoundError):
        service.act(
            loaded_store,
            "WT19990101-000001",
            "register",
            actor="c",
            roles={"center"},
            config=CONFIG,
        )


def test_rework_extension_and_deadline(loaded_store: Any) -> None:
    ref = bring_to(loaded_store, "handled")
    p = service.act(
        loaded_store,
        ref,
        "verify-fail",
        actor="s",
        roles={"supervisor"},
        note="未清理干净",
        at=T0 + dt.timedelta(days=1),
        config=CONFIG,
    )
    assert p["status"] == "dispatched" and p["rework"] == 1 and p["handled_at"] is None
    due = p["due_at"]
    p = service.act(
        loaded_store,
        ref,
        "request-extension",
        actor="h",
        roles={"handler"},
        note="需要机械",
        n_workdays=2,
        config=CONFIG,
    )
    assert p["status"] == "extension_requested" and p["due_at"] == due
    p = service.act(loaded_store, ref, "extend", actor="s", roles={"supervisor"}, config=CONFIG)
    # two more working days after the old period's last day
    assert p["status"] == "dispatched" and p["due_at"] > due and p["workdays"] == 4


def test_derived_leader_is_kept_after_reassignment(loaded_store: Any) -> None:
    from gridmgr.store import Change

    store = assigned(loaded_store)
    p = service.report(
        store, lat=LAT, lng=LNG, category="ZL01", text="乱堆", reporter="G01_1", config=CONFIG
    )
    first = p["leader_id"]
    assert first is not None and p["piece_id"] is not None
    assert p["community_code"] == "220173001001" and p["street_code"] == "220173001"
    assert p["department"] == "ZHZF"
    other = next(x for x in store.leaders()["id"] if x != first and x.startswith("G01"))
    store.apply_changes(
        [Change(piece=int(p["piece_id"]), leader_id=other)], actor="t", reason="调整"
    )
    with store.engine.connect() as conn:
        assert repo.get(conn, p["id"])["leader_id"] == first  # type: ignore[index]
    q = service.report(
        store, lat=LAT, lng=LNG, category="ZL01", text="又乱堆", reporter="G01_1", config=CONFIG
    )
    assert q["leader_id"] == other
    assert q["repeat_of"] == p["row_id"]  # same category, same piece, within the window


def test_a_step_dated_before_the_report_is_refused(loaded_store: Any) -> None:
    from gridmgr.errors import InputError

    ref = bring_to(loaded_store, "reported", at=T0)
    before = _snapshot(loaded_store, ref)
    with pytest.raises(InputError):
        service.act(
            loaded_store,
            ref,
            "register",
            actor="c",
            roles={"center"},
            at=T0 - dt.timedelta(hours=1),
            config=CONFIG,
        )
    assert _snapshot(loaded_store, ref) == before
    done = service.act(
        loaded_store, ref, "register", actor="c", roles={"center"}, at=T0, config=CONFIG
    )
    assert done["state"] == "registered"
