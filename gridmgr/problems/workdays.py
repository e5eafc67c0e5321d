"""Deadlines in working days on China's official calendar (``chinesecalendar`` on PyPI).

Public holidays and the adjusted working weekends (调休) come from the maintained library, never
from a hand-kept list. Periods are counted as Chinese law counts them: the day of dispatch does
not count; a period of N working days ends at the close (24:00, Beijing time) of the Nth working
day after that day. ``due_at`` is that moment, as an aware UTC datetime; a problem is overdue
when it is not handled by then (``as_of >= due_at``). A date outside the years the library knows
raises :class:`CalendarRangeError` (never a silent Monday-to-Friday count).

Examples
--------
>>> import datetime as dt
>>> # dispatched before National Day: 10-8, 10-9 and Saturday 10-10 (调休) are the 3 days
>>> d = due_at(dt.datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING), 3)
>>> d.astimezone(BEIJING).isoformat()
'2026-10-11T00:00:00+08:00'
>>> workdays_between(dt.date(2026, 9, 30), dt.date(2026, 10, 9))
2
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from gridmgr.errors import InputError
from gridmgr.i18n import t

BEIJING = ZoneInfo("Asia/Shanghai")


class CalendarRangeError(InputError):
    """A date lies outside the years the official calendar library knows."""


@lru_cache(maxsize=1)
def known_years() -> tuple[int, int]:
    """First and last year the installed calendar library covers."""
    import chinese_calendar as cc

    years = sorted({d.year for d in cc.holidays} | {d.year for d in cc.workdays})
    return years[0], years[-1]


def _check(day: dt.date) -> None:
    lo, hi = known_years()
    if not lo <= day.year <= hi:
        raise CalendarRangeError(
            t(
                f"日期 {day.isoformat()} 超出法定节假日日历的已知年份（{lo}–{hi}）；"
                f"请升级 chinesecalendar 后再计算工作日期限",
                f"date {day.isoformat()} is beyond the years the official calendar knows "
                f"({lo}–{hi}); upgrade chinesecalendar to count working days",
            )
        )


def is_workday(day: dt.date) -> bool:
    """True on an official working day (调休 weekends included, holidays excluded)."""
    import chinese_calendar as cc

    _check(day)
    return bool(cc.is_workday(day))


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """(ordinal of every day in the known years, cumulative working-day count up to that day)."""
    import chinese_calendar as cc

    lo, hi = known_years()
    days = np.arange(dt.date(lo, 1, 1).toordinal(), dt.date(hi, 12, 31).toordinal() + 1)
    holidays = np.array(sorted(d.toordinal() for d in cc.holidays), dtype=np.int64)
    extra = np.array(sorted(d.toordinal() for d in cc.workdays), dtype=np.int64)
    weekday = ((days + 6) % 7) < 5  # date.fromordinal(1) is a Monday
    work = (weekday & ~np.isin(days, holidays)) | np.isin(days, extra)
    return days, np.cumsum(work)


def beijing_date(when: dt.datetime) -> dt.date:
    """The Beijing calendar date of an aware datetime (naive: taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(BEIJING).date()


def end_of_period(start: dt.date, n: int) -> dt.date:
    """The Nth working day after ``start`` (``start`` itself never counts)."""
    if n < 1:
        raise InputError(t(f"工作日数应 ≥ 1，实为 {n}", f"working days must be ≥ 1, got {n}"))
    _check(start)
    days, cum = _table()
    i = int(np.searchsorted(cum, cum[start.toordinal() - days[0]] + n))
    if i >= len(days):
        _check(dt.date(known_years()[1] + 1, 1, 1))
    return dt.date.fromordinal(int(days[i]))


def due_at(dispatched: dt.datetime, n: int) -> dt.datetime:
    """When a period of ``n`` working days from ``dispatched`` ends: 24:00 Beijing of its last day
    (as an aware UTC datetime)."""
    last = end_of_period(beijing_date(dispatched), n)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), BEIJING)
    return end.astimezone(dt.UTC)


def extend(due: dt.datetime, n: int) -> dt.datetime:
    """A deadline moved by ``n`` more working days (counted after the old period's last day)."""
    last = beijing_date(due - dt.timedelta(microseconds=1))
    return due_at(dt.datetime.combine(last, dt.time(12), BEIJING), n)


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days ``d`` with ``start < d <= end`` (0 when ``end <= start``)."""
    _check(start)
    _check(end)
    days, cum = _table()
    return max(0, int(cum[end.toordinal() - days[0]] - cum[start.toordinal() - days[0]]))


def workdays_between_many(
    starts: Sequence[dt.date] | np.ndarray, ends: Sequence[dt.date] | np.ndarray
) -> np.ndarray:
    """:func:`workdays_between` over arrays of ordinals or dates (vectorised)."""
    days, cum = _table()
    s = np.asarray(
        [d.toordinal() if isinstance(d, dt.date) else int(d) for d in starts], dtype=np.int64
    )
    e = np.asarray(
        [d.toordinal() if isinstance(d, dt.date) else int(d) for d in ends], dtype=np.int64
    )
    for arr in (s, e):
        if len(arr) and (arr.min() < days[0] or arr.max() > days[-1]):
            bad = int(arr.min() if arr.min() < days[0] else arr.max())
            _check(dt.date.fromordinal(bad))
    out: np.ndarray = np.maximum(cum[e - days[0]] - cum[s - days[0]], 0)
    return out
