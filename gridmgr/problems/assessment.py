"""Assessment (综合评价 / 绩效考核) per leader, community, street or department over a period.

Metrics over the problems *reported* in the period (rejected ones left out), counted at
``as_of`` (the period's end, or now for the current period):

* ``problems``; ``dispatched`` (given a deadline); ``on_time`` (handled by the deadline);
  ``overdue`` (handled after it, or still unhandled past it); ``on_time_rate`` = on_time /
  (on_time + overdue), 1 when neither; ``avg_close_workdays`` (working days from dispatch to
  结案 over the closed ones); ``rework`` (failed verifications); ``repeats`` (reports repeating
  an earlier one); ``patrol_coverage`` (0–1, from the patrol hook when given, else absent).

The score (0–100) combines parts in [0, 1] with the weights of ``problem_rules.json``::

    on_time = on_time_rate
    overdue = 1 - overdue / dispatched                (1 when nothing was dispatched)
    speed   = clip(1 - avg_close_workdays / speed_ref_workdays, 0, 1)
              (1 when nothing was dispatched, 0 when something was but nothing closed)
    rework  = 1 - min(1, rework / dispatched)
    repeats = 1 - min(1, repeats / problems)
    patrol  = patrol_coverage
    score   = 100 * Σ w_i · part_i / Σ w_i     (over the parts present: without patrol data the
                                               patrol weight drops out and the rest renormalise)

Ranked by score (then on-time rate, then more problems handled), rank 1 best.

Examples
--------
>>> period_bounds("2026-Q3")[0].isoformat()
'2026-06-30T16:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.problems.categories import Rules
from gridmgr.problems.views import names
from gridmgr.problems.workdays import BEIJING
from gridmgr.store import problems as repo
from gridmgr.store.engine import read_connection
from gridmgr.store.schema import utcnow

#: Temporal patrol coverage: ``(group, t0, t1) -> {key: share 0–1}``, or None when it has no
#: figure for that group (the patrol part then drops out). :func:`patrol_hook` builds it from the
#: recorded patrols (``gridmgr.patrol.temporal``).
PatrolCoverage = Callable[[str, dt.datetime, dt.datetime], Mapping[str, float] | None]

GROUP_NAMES = {
    "leader": ("包保责任人", "leader"),
    "community": ("社区", "community"),
    "street": ("街道", "street"),
    "department": ("部门", "department"),
}


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY`` | ``YYYY-Qn`` | ``YYYY-MM`` → [start, end) in UTC, the period taken in Beijing time."""
    p = period.strip().upper()
    if m := re.fullmatch(r"(\d{4})", p):
        y = _year(m[1], period)
        a, b = dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
    elif m := re.fullmatch(r"(\d{4})-?Q([1-4])", p):
        y, q = _year(m[1], period), int(m[2])
        a = dt.date(y, 3 * q - 2, 1)
        b = dt.date(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    elif m := re.fullmatch(r"(\d{4})-(\d{1,2})", p):
        y, mo = _year(m[1], period), int(m[2])
        if not 1 <= mo <= 12:
            raise InputError(
                t(f"期间 {period!r} 的月份无效", f"period {period!r}: month out of range")
            )
        a = dt.date(y, mo, 1)
        b = dt.date(y + (mo == 12), 1 if mo == 12 else mo + 1, 1)
    else:
        raise InputError(
            t(
                f"期间 {period!r} 无效；请用 2026、2026-Q3 或 2026-09",
                f"period {period!r} is not valid; use 2026, 2026-Q3 or 2026-09",
            )
        )

    def utc(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(0), BEIJING).astimezone(dt.UTC)

    return utc(a), utc(b)


def _year(text: str, period: str) -> int:
    """A period's year, refused outside 1900–2999 (``0000`` is no year)."""
    year = int(text)
    if not 1900 <= year <= 2999:
        raise InputError(
            t(f"期间 {period!r} 的年份无效", f"period {period!r}: the year is out of range")
        )
    return year


def patrol_hook(store: Any) -> PatrolCoverage | None:
    """Patrol coverage per leader from the recorded patrols: the share of a leader's ground
    (by area) a patrol came near within the period (``temporal_coverage`` over the period's
    days up to its end). None when no patrol was ever recorded (the part drops out)."""
    from sqlalchemy import func, select

    from gridmgr.patrol.temporal import MAX_DAYS, temporal_coverage
    from gridmgr.store import schema as s

    store.require_schema()
    with read_connection(store.engine) as conn:
        if not conn.execute(select(func.count()).select_from(s.patrols)).scalar_one():
            return None

    def coverage(group: str, t0: dt.datetime, t1: dt.datetime) -> Mapping[str, float] | None:
        if group != "leader":
            return None
        end = min(t1, utcnow()) - dt.timedelta(microseconds=1)
        days = max(1, min(MAX_DAYS, (end - t0).days + 1))
        lead = temporal_coverage(store, days=days, as_of=end).leaders
        return {str(k): float(v) for k, v in zip(lead["id"], lead["seen_share"], strict=True)}

    return coverage


def score_frame(
    agg: pd.DataFrame, rules: Rules, patrol: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Metrics, parts, score and rank from :func:`gridmgr.store.problems.aggregates` rows."""
    df = agg.copy()
    decided = df["on_time"] + df["overdue"]
    disp = df["dispatched"].to_numpy(float)
    df["on_time_rate"] = np.where(decided > 0, df["on_time"] / decided.where(decided > 0, 1), 1.0)
    df["avg_close_workdays"] = np.where(
        df["closed"] > 0, df["close_workdays_sum"] / df["closed"].where(df["closed"] > 0, 1), np.nan
    )
    parts = {
        "on_time": df["on_time_rate"].to_numpy(float),
        "overdue": np.where(disp > 0, 1 - df["overdue"] / np.where(disp > 0, disp, 1), 1.0),
        "speed": np.where(
            disp == 0,
            1.0,
            np.where(
                df["closed"] > 0,
                np.clip(1 - df["avg_close_workdays"].fillna(0) / rules.speed_ref_workdays, 0, 1),
                0.0,
            ),
        ),
        "rework": np.where(
            disp > 0, 1 - np.minimum(1, df["rework"] / np.where(disp > 0, disp, 1)), 1.0
        ),
        "repeats": 1 - np.minimum(1, df["repeats"] / df["problems"].where(df["problems"] > 0, 1)),
    }
    if patrol is not None:
        df["patrol_coverage"] = [float(patrol.get(str(k), 0.0)) for k in df["key"]]
        parts["patrol"] = df["patrol_coverage"].to_numpy(float)
    weights = {k: rules.weights.get(k, 0.0) for k in parts}
    total = sum(weights.values()) or 1.0
    df["score"] = np.round(
        100 * sum(weights[k] * np.asarray(v, float) for k, v in parts.items()) / total, 2
    )
    df["on_time_rate"] = df["on_time_rate"].round(4)
    df["avg_close_workdays"] = df["avg_close_workdays"].round(2)
    df = df.sort_values(
        ["score", "on_time_rate", "problems", "key"],
        ascending=[False, False, False, True],
        kind="stable",
    )
    df["rank"] = np.arange(1, len(df) + 1)
    return df.reset_index(drop=True)


def assess(
    store: Any,
    period: str,
    *,
    group: str = "leader",
    rules: Rules,
    as_of: dt.datetime | None = None,
    patrol_coverage: PatrolCoverage | None | str = "auto",
) -> pd.DataFrame:
    """The ranked assessment of ``group`` over ``period`` (columns: ``key``, ``name``, metrics,
    ``score``, ``rank``). ``patrol_coverage``: ``"auto"`` (from the recorded patrols, see
    :func:`patrol_hook`), a hook of your own, or None (no patrol part)."""
    if group not in repo.GROUPS:
        raise InputError(
            t(
                f"考核对象 {group!r} 无效；可用：{', '.join(repo.GROUPS)}",
                f"group {group!r} is not valid; use {', '.join(repo.GROUPS)}",
            )
        )
    t0, t1 = period_bounds(period)
    when = as_of or min(t1, utcnow())
    store.require_schema()
    with read_connection(store.engine) as conn:
        agg = repo.aggregates(conn, group, t0, t1, when)
        nm = names(conn)
    hook = patrol_hook(store) if patrol_coverage == "auto" else patrol_coverage
    patrol = hook(group, t0, t1) if callable(hook) else None
    df = score_frame(agg, rules, patrol)
    lookup = (
        nm["leader"]
        if group == "leader"
        else nm["department"]
        if group == "department"
        else nm["unit"]
    )
    df.insert(1, "name", [lookup.get(str(k), str(k)) for k in df["key"]])
    df.attrs.update(period=period, group=group, as_of=when, start=t0, end=t1)
    return df
