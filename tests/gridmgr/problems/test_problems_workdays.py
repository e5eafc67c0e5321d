"""Working-day deadlines against chinesecalendar's own day list, across holidays with 调休,
at the Beijing midnight edge, and beyond the known years."""

from __future__ import annotations

import datetime as dt

import chinese_calendar as cc
import pytest

from gridmgr.problems import workdays as wd
from gridmgr.problems.workdays import BEIJING, CalendarRangeError


def test_every_day_agrees_with_the_library() -> None:
    lo, hi = wd.known_years()
    d = dt.date(hi - 1, 1, 1)
    while d <= dt.date(hi, 12, 31):
        assert wd.is_workday(d) == cc.is_workday(d), d
        d += dt.timedelta(days=1)


# starts just before and inside holiday periods with adjusted working weekends (2025, 2026)
STARTS = [
    dt.date(2025, 1, 24),
    dt.date(2025, 1, 27),
    dt.date(2025, 4, 30),
    dt.date(2025, 9, 26),
    dt.date(2025, 9, 30),
    dt.date(2026, 2, 12),
    dt.date(2026, 2, 13),
    dt.date(2026, 4, 30),
    dt.date(2026, 9, 18),
    dt.date(2026, 9, 30),
    dt.date(2026, 10, 3),
]


@pytest.mark.parametrize("start", STARTS, ids=str)
def test_period_end_is_the_libraries_nth_working_day(start: dt.date) -> None:
    days = cc.get_workdays(start + dt.timedelta(days=1), start + dt.timedelta(days=60))
    for n in range(1, 11):
        assert wd.end_of_period(start, n) == days[n - 1], (start, n)
        assert wd.workdays_between(start, days[n - 1]) == n


def test_adjusted_saturday_counts_and_holidays_do_not() -> None:
    # dispatched 2026-09-30: 10-1…10-7 are holidays, 10-8, 10-9 and Saturday 10-10 (调休) work
    assert [wd.end_of_period(dt.date(2026, 9, 30), n) for n in (1, 2, 3, 4)] == [
        dt.date(2026, 10, 8),
        dt.date(2026, 10, 9),
        dt.date(2026, 10, 10),
        dt.date(2026, 10, 12),
    ]


def test_beijing_midnight_edge() -> None:
    # one second before midnight in Beijing the dispatch day is Friday 10-9 (UTC still 10-9 15:59)
    before = dt.datetime(2026, 10, 9, 15, 59, 59, tzinfo=dt.UTC)
    after = dt.datetime(2026, 10, 9, 16, 0, 0, tzinfo=dt.UTC)  # Saturday 10-10 00:00 Beijing
    assert wd.due_at(before, 1).astimezone(BEIJING).isoformat() == "2026-10-11T00:00:00+08:00"
    assert wd.due_at(after, 1).astimezone(BEIJING).isoformat() == "2026-10-13T00:00:00+08:00"
    # the period closes at 24:00 Beijing of its last day
    due = wd.due_at(before, 1)
    assert wd.beijing_date(due - dt.timedelta(microseconds=1)) == dt.date(2026, 10, 10)


def test_beyond_the_known_years_is_an_error_not_a_weekday_count() -> None:
    _, hi = wd.known_years()
    with pytest.raises(CalendarRangeError, match="chinesecalendar"):
        wd.due_at(dt.datetime(hi + 1, 3, 2, 10, tzinfo=BEIJING), 1)
    with pytest.raises(CalendarRangeError):  # the period itself runs past the last known day
        wd.end_of_period(dt.date(hi, 12, 30), 5)
    with pytest.raises(CalendarRangeError):
        wd.is_workday(dt.date(hi + 1, 1, 5))
