"""One definition of load ratio: the coverage report (dashboard) and a rebalance proposal's
"before" figure are the same number for the same scope, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from gridmgr.store import Change

STREET, C1, C2 = "220173001", "220173001001", "220173001002"


def _uneven(store: Any) -> None:
    """Two thirds of C1 to G01_1, a third to G01_2; C2 split evenly between its leaders."""
    pieces = store.pieces(geometry=False).sort_values("id")
    changes = []
    for code, (a, b), cut in ((C1, ("G01_1", "G01_2"), 2 / 3), (C2, ("G02_1", "G02_2"), 1 / 2)):
        ids = pieces.loc[pieces["unit_code"] == code, "id"].astype(int).tolist()
        k = int(len(ids) * cut)
        changes += [Change(i, a if n < k else b) for n, i in enumerate(ids)]
    store.apply_changes(changes, actor="t", reason="uneven")


@pytest.mark.parametrize("scope", [C1, STREET])
def test_dashboard_ratio_equals_rebalance_before(loaded_store: Any, scope: str) -> None:
    from gridmgr import rebalance
    from gridmgr.coverage import coverage_from_store

    _uneven(loaded_store)
    report = coverage_from_store(loaded_store, scope=scope)
    shown = report.summary["max_load_ratio"]
    plan = rebalance.propose(loaded_store, scope=scope, actor="planner")
    before = plan.metrics["before"]["max_ratio"]
    assert shown == pytest.approx(before, rel=1e-6)
    assert shown > 1.2  # the uneven community shows, not an average over the street
    row = report.units.set_index("code").loc[scope, "max_load_ratio"]
    assert row == pytest.approx(shown, rel=1e-6)
