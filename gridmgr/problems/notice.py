"""通报 (circular) and 表彰 (commendation) over a period, from the assessment.

A leader, community, street or department is a circular candidate when, over the period, its
overdue problems, failed verifications (返工) or repeats reach the thresholds of
``problem_rules.json`` (``notice.overdue``, ``notice.rework``, ``notice.repeats``). The
commendation list holds those with at least ``notice.commend_min_problems`` problems, no overdue
one, best on-time rate then best score (at most ``notice.commend_top`` per group). The DOCX is
written by :mod:`gridmgr.export.circular`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gridmgr.i18n import t
from gridmgr.problems.assessment import GROUP_NAMES, PatrolCoverage, assess
from gridmgr.problems.categories import Config, Rules
from gridmgr.problems.views import frame_view, names
from gridmgr.store import problems as repo
from gridmgr.store.engine import read_connection


@dataclass
class Circular:
    """Everything the circular says: figures, candidates, commendations, the overdue list."""

    period: str
    as_of: dt.datetime
    figures: dict[str, Any]
    candidates: pd.DataFrame
    commended: pd.DataFrame
    overdue: pd.DataFrame
    by_group: dict[str, pd.DataFrame] = field(default_factory=dict)


def _reasons(row: Any, rules: Rules) -> str:
    out = []
    if row["overdue"] >= rules.notice_overdue:
        out.append(t(f"逾期未整改 {row['overdue']} 件", f"{row['overdue']} overdue"))
    if row["rework"] >= rules.notice_rework:
        out.append(t(f"核查不通过返工 {row['rework']} 次", f"{row['rework']} failed verifications"))
    if row["repeats"] >= rules.notice_repeats:
        out.append(t(f"同一问题反复出现 {row['repeats']} 次", f"{row['repeats']} repeats"))
    return t("；", "; ").join(out)


def circular(
    store: Any,
    period: str,
    *,
    config: Config,
    as_of: dt.datetime | None = None,
    patrol_coverage: PatrolCoverage | None | str = "auto",
) -> Circular:
    """The circular of ``period``."""
    rules = config.rules
    cands, comms, groups = [], [], {}
    for group in repo.GROUPS:
        df = assess(
            store, period, group=group, rules=rules, as_of=as_of, patrol_coverage=patrol_coverage
        )
        groups[group] = df
        gname = t(*GROUP_NAMES[group])
        bad = df[
            (df["overdue"] >= rules.notice_overdue)
            | (df["rework"] >= rules.notice_rework)
            | (df["repeats"] >= rules.notice_repeats)
        ]
        for _, r in bad.iterrows():
            cands.append(
                {
                    "group": gname,
                    "name": r["name"],
                    "problems": r["problems"],
                    "overdue": r["overdue"],
                    "rework": r["rework"],
                    "repeats": r["repeats"],
                    "reasons": _reasons(r, rules),
                }
            )
        good = df[(df["problems"] >= rules.commend_min_problems) & (df["overdue"] == 0)]
        good = good.sort_values(["on_time_rate", "score"], ascending=False).head(rules.commend_top)
        for _, r in good.iterrows():
            comms.append(
                {
                    "group": gname,
                    "name": r["name"],
                    "problems": r["problems"],
                    "on_time_rate": r["on_time_rate"],
                    "score": r["score"],
                }
            )
    any_df = next(iter(groups.values()))
    when: dt.datetime = any_df.attrs["as_of"]
    street = groups["street"]
    figures: dict[str, Any] = {
        k: int(street[k].sum())
        for k in ("problems", "dispatched", "on_time", "overdue", "closed", "rework", "repeats")
    }
    decided = figures["on_time"] + figures["overdue"]
    figures["on_time_rate"] = round(figures["on_time"] / decided, 4) if decided else 1.0
    store.require_schema()
    with read_connection(store.engine) as conn:
        over = repo.listing(conn, overdue_at=when)
        over = frame_view(over, names(conn), config, when)
    return Circular(period, when, figures, pd.DataFrame(cands), pd.DataFrame(comms), over, groups)
