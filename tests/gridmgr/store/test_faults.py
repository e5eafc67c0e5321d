"""Fault injection: every write command SIGKILLed at random moments leaves a sound store.

A handful of trials per command and backend (``benchmarks/bench_faults.py`` runs ≥ 30); the
harness and the invariants are in ``benchmarks/_faults.py``: every piece exactly one assignment
row, the history replays to the current state, and the store is exactly the before or the after
state of the command (nothing half-loaded, half-imported or half-applied).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import _faults as F

#: Three communities of the shipped layers (≈ 870 pieces): real data, short commands.
COMMUNITIES = ["220173001001", "220173001003", "220173001007"]
TRIALS = 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def test_sigkill_leaves_before_or_after(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend_name == "postgis":
        import os

        request.getfixturevalue("postgis_url")  # skips (or fails under CI) without PostGIS
        admin = os.environ.get(
            "GRIDMGR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
        )
        backend: F.Backend = F.PostGISBackend(admin)
    else:
        backend = F.SQLiteBackend(tmp_path)
    try:
        F.write_layers(tmp_path, COMMUNITIES)
        F.build_templates(backend, tmp_path)
        outcomes = [
            F.trials(backend, tmp_path, command, TRIALS, seed=i)
            for i, command in enumerate(F.COMMANDS)
        ]
    finally:
        backend.close()
    assert [o.command for o in outcomes] == [c.name for c in F.COMMANDS]
    for o in outcomes:
        assert o.trials == TRIALS and o.before + o.after + len(o.violations) >= TRIALS
        assert o.seconds > 0
    assert [v for o in outcomes for v in o.violations] == []
    assert sum(o.killed for o in outcomes) > 0  # the kills happened


def test_the_invariants_catch_a_torn_store(loaded_store: object, store_url: str) -> None:
    """The checks can fail: a missing assignment row and an owner changed behind the history's
    back are both reported; a change of state shows in the fingerprint."""
    from sqlalchemy import select, update

    from gridmgr.store.schema import assignments

    assert F.invariants(store_url) == []
    before = F.fingerprint(store_url)
    engine = loaded_store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        first, second = conn.execute(select(assignments.c.piece_id).limit(2)).scalars().all()
        conn.execute(assignments.delete().where(assignments.c.piece_id == first))
        conn.execute(
            update(assignments).where(assignments.c.piece_id == second).values(leader_id="G01_1")
        )
    problems = F.invariants(store_url)
    assert any("no assignment row" in p for p in problems)
    assert any("history replays" in p for p in problems)
    assert F.fingerprint(store_url)["assignments"] != before["assignments"]
