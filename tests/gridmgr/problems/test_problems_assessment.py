"""The documented assessment formula on hand-made figures; periods; rules file errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gridmgr.errors import InputError, InvalidFieldError
from gridmgr.problems.assessment import period_bounds, score_frame
from gridmgr.problems.categories import Rules, read_categories, read_rules


def test_formula_by_hand() -> None:
    agg = pd.DataFrame(
        {
            "key": ["A", "B", "C"],
            "problems": [10, 4, 0],
            "dispatched": [8, 4, 0],
            "on_time": [6, 4, 0],
            "overdue": [2, 0, 0],
            "closed": [5, 4, 0],
            "close_workdays_sum": [15, 4, 0],
            "rework": [1, 0, 0],
            "repeats": [2, 0, 0],
        }
    )
    rules = Rules(
        weights={
            "on_time": 0.4,
            "overdue": 0.2,
            "speed": 0.1,
            "rework": 0.1,
            "repeats": 0.1,
            "patrol": 0.1,
        }
    )
    df = score_frame(agg, rules).set_index("key")
    # A: on_time 6/8, overdue part 1-2/8, speed 1-3/5, rework 1-1/8, repeats 1-2/10; patrol absent
    a = (0.4 * 0.75 + 0.2 * 0.75 + 0.1 * 0.4 + 0.1 * 0.875 + 0.1 * 0.8) / 0.9 * 100
    assert df.loc["A", "score"] == pytest.approx(round(a, 2))
    assert df.loc["A", "avg_close_workdays"] == 3.0
    b = (0.4 + 0.2 + 0.1 * 0.8 + 0.1 + 0.1) / 0.9 * 100
    assert df.loc["B", "score"] == pytest.approx(round(b, 2))
    assert df.loc["C", "score"] == 100.0  # nothing happened: nothing to answer for
    assert list(df.sort_values("rank").index) == ["C", "B", "A"]
    with_patrol = score_frame(agg, rules, {"A": 0.5, "B": 1.0, "C": 0.0}).set_index("key")
    assert with_patrol.loc["A", "score"] == pytest.approx(
        round((a * 0.9 / 100 + 0.1 * 0.5) * 100, 2)
    )


def test_periods() -> None:
    start, end = period_bounds("2026-Q4")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-09-30T16:00:00+00:00",
        "2026-12-31T16:00:00+00:00",
    )
    assert period_bounds("2026-02")[1].isoformat() == "2026-02-28T16:00:00+00:00"
    with pytest.raises(InputError, match="2026-Q3"):
        period_bounds("Q3 2026")


def test_bad_categories_and_rules_name_file_entry_and_field(tmp_path: Path) -> None:
    (tmp_path / "problem_categories.json").write_text(
        '{"categories": [{"code": "X1", "name": "脏", "group": "治脏", "department": "NOPE", "workdays": 2, "severity": 1}]}',
        "utf-8",
    )
    (tmp_path / "departments.json").write_text(
        '{"departments": [{"code": "HWC", "name": "环卫处"}]}', "utf-8"
    )
    with pytest.raises(InvalidFieldError, match=r"problem_categories.json.*X1.*department.*NOPE"):
        read_categories(tmp_path)
    (tmp_path / "problem_rules.json").write_text(
        '{"assessment": {"weights": {"speedy": 1}}}', "utf-8"
    )
    with pytest.raises(InvalidFieldError, match="speedy"):
        read_rules(tmp_path)
