"""Two supervisors verifying at once → one wins, one conflict; a resent report → one problem.
On SQLite and PostGIS, with real threads and connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from helpers import CONFIG, LAT, LNG, T0, bring_to
from sqlalchemy import func, select

from gridmgr.errors import ConflictError, StaleVersionError
from gridmgr.problems import service
from gridmgr.store import problems as repo
from gridmgr.store import schema as s


@pytest.fixture(autouse=True)
def _media(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMGR_MEDIA_DIR", str(tmp_path / "media"))


def _race(fns: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(fns))
    out: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return out


def test_two_verifiers_one_wins(loaded_store: Any) -> None:
    ref = bring_to(loaded_store, "handled")
    with loaded_store.engine.connect() as conn:
        version = int(repo.get(conn, ref)["version"])  # type: ignore[index]

    def verify(action: str) -> Callable[[], Any]:
        return lambda: service.act(
            loaded_store,
            ref,
            action,
            actor=action,
            roles={"supervisor"},
            note="n",
            expected_version=version,
            config=CONFIG,
        )

    out = _race([verify("verify-pass"), verify("verify-fail")])
    wins = [o for o in out if isinstance(o, dict)]
    losses = [o for o in out if isinstance(o, StaleVersionError)]
    assert len(wins) == 1 and len(losses) == 1, out
    with loaded_store.engine.connect() as conn:
        p = repo.get(conn, ref)
        assert p is not None and p["version"] == version + 1
        events = repo.events(conn, int(p["id"]))
    assert [e["action"] for e in events].count("verify-pass") + [e["action"] for e in events].count(
        "verify-fail"
    ) == 1
    # without a version, the loser meets the new state: still a conflict, still nothing changed
    with pytest.raises(ConflictError):
        service.act(
            loaded_store, ref, "verify-pass", actor="late", roles={"supervisor"}, config=CONFIG
        )


def test_resent_report_makes_one_problem(loaded_store: Any) -> None:
    def send() -> Any:
        return service.report(
            loaded_store,
            lat=LAT,
            lng=LNG,
            category="ZZ02",
            text="卫生死角",
            reporter="G01_1",
            at=T0,
            idempotency_key="phone-42-0001",
            config=CONFIG,
        )

    out = _race([send, send, send])
    assert all(isinstance(o, dict) for o in out), out
    assert len({o["id"] for o in out}) == 1
    assert sum(o["created"] for o in out) == 1
    again = send()
    assert again["id"] == out[0]["id"] and again["created"] is False
    with loaded_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.problems)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(s.problem_events)).scalar_one() == 1
