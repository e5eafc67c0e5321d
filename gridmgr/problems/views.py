"""Problems as people read them: names not codes, Beijing times, deadline, overdue, escalation.

``due_at`` is shown as ISO 8601 with ``+08:00``; ``due_date`` is the last working day of the
period. A problem is overdue at ``t`` when its deadline has passed and it was not handled by then;
overdue problems escalate to the community after ``escalation.community_workdays`` working days
past the deadline and to the street after ``escalation.street_workdays``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from gridmgr.i18n import t
from gridmgr.problems import cycle, workdays
from gridmgr.problems.categories import Config, Rules
from gridmgr.store import problems as repo
from gridmgr.store import schema as s
from gridmgr.store.schema import utcnow

ESCALATION = {
    0: ("", ""),
    1: ("已升级至社区", "escalated to the community"),
    2: ("已升级至街道", "escalated to the street"),
}


def iso(when: dt.datetime | None) -> str | None:
    """Beijing-time ISO 8601 (``…+08:00``) of an aware datetime; ``None`` for a missing one
    (``None``, or pandas' NaT, which is a datetime but has no time zone to convert).

    >>> import pandas as pd
    >>> iso(dt.datetime(2026, 12, 5, 16, 0, tzinfo=dt.UTC)), iso(None), iso(pd.NaT)
    ('2026-12-06T00:00:00+08:00', None, None)
    """
    if when is None or when != when:  # NaT is not equal to itself
        return None
    return when.astimezone(workdays.BEIJING).isoformat(timespec="seconds")


def names(conn: Connection) -> dict[str, dict[str, str]]:
    """Display names: ``leader``, ``unit``, ``department`` → code → name."""
    lead = {str(i): str(n) for i, n in conn.execute(select(s.leaders.c.id, s.leaders.c.name)).all()}
    units = {str(c): str(n) for c, n in conn.execute(select(s.units.c.code, s.units.c.name)).all()}
    deps = {
        str(c): str(n)
        for c, n in conn.execute(select(s.departments.c.code, s.departments.c.name)).all()
    }
    return {"leader": lead, "unit": units, "department": deps}


def status_at(p: dict[str, Any], as_of: dt.datetime, rules: Rules) -> dict[str, Any]:
    """``overdue``, ``overdue_workdays``, ``escalation`` (0 none, 1 community, 2 street) and
    ``hours_left`` of a problem at ``as_of``."""
    due = p.get("due_at")
    handled = p.get("handled_at")
    if due is None or p["state"] == "rejected":
        return {"overdue": False, "overdue_workdays": 0, "escalation": 0, "hours_left": None}
    done_by = handled if handled is not None and handled <= as_of else None
    late = (done_by or as_of) > due
    open_late = late and done_by is None
    days = (
        workdays.workdays_between(
            workdays.beijing_date(due - dt.timedelta(microseconds=1)), workdays.beijing_date(as_of)
        )
        if open_late
        else 0
    )
    level = (
        2
        if open_late and days >= rules.escalation_street
        else 1
        if open_late and days >= rules.escalation_community
        else 0
    )
    left = None if done_by is not None else round((due - as_of).total_seconds() / 3600, 1)
    return {
        "overdue": bool(late),
        "overdue_workdays": int(days),
        "escalation": level,
        "hours_left": left,
    }


def show_in(
    conn: Connection, ref: str | int, cfg: Config, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """A problem with its events and photos, as the CLI and the API show it."""
    p = repo.get(conn, ref)
    if p is None:
        from gridmgr.errors import NotFoundError

        raise NotFoundError(t(f"问题 {ref} 不存在", f"problem {ref} does not exist"))
    nm = names(conn)
    when = as_of or utcnow()
    cat = cfg.categories.get(p["category"])
    out: dict[str, Any] = {k: v for k, v in p.items() if k != "idempotency_key"}
    for k, v in p.items():
        if isinstance(v, dt.datetime):
            out[k] = iso(v)
    out.update(
        id=p["code"],
        row_id=p["id"],
        status=p["state"],
        status_name=cycle.label(cycle.STATES, p["state"]),
        category_name=t(cat.name, cat.name_en) if cat else p["category"],
        group=cat.group if cat else None,
        leader_name=nm["leader"].get(p["leader_id"] or "", None),
        assignee_leader_name=nm["leader"].get(p["assignee_leader_id"] or "", None),
        department_name=nm["department"].get(p["department"] or "", None),
        assignee_department_name=nm["department"].get(p["assignee_department"] or "", None),
        unit_name=nm["unit"].get(p["unit_code"] or "", None),
        community_name=nm["unit"].get(p["community_code"] or "", None),
        street_name=nm["unit"].get(p["street_code"] or "", None),
        due_date=None
        if p["due_at"] is None
        else (workdays.beijing_date(p["due_at"] - dt.timedelta(microseconds=1))).isoformat(),
        **status_at(p, when, cfg.rules),
    )
    out["escalation_name"] = t(*ESCALATION[out["escalation"]])
    out["events"] = [
        {
            **e,
            "at": iso(e["at"]),
            "action_name": cycle.ACTIONS[e["action"]].zh
            if e["action"] in cycle.ACTIONS
            else t("补充照片", "photos added")
            if e["action"] == "photo"
            else t("上报", "report"),
            "role_name": cycle.label(cycle.ROLES, e["role"]),
        }
        for e in repo.events(conn, int(p["id"]))
    ]
    out["photos"] = [
        {k: (iso(v) if isinstance(v, dt.datetime) else v) for k, v in ph.items()}
        for ph in repo.photos(conn, int(p["id"]))
    ]
    return out


def frame_view(
    df: pd.DataFrame, nm: dict[str, dict[str, str]], cfg: Config, as_of: dt.datetime
) -> pd.DataFrame:
    """A list frame with names, Beijing due date, overdue and escalation columns added."""
    out = df.copy()
    out["category_name"] = [
        t(cfg.categories[c].name, cfg.categories[c].name_en) if c in cfg.categories else c
        for c in out["category"]
    ]
    out["leader_name"] = [nm["leader"].get(str(x), "") if x else "" for x in out["leader_id"]]
    out["community_name"] = [nm["unit"].get(str(x), "") if x else "" for x in out["community_code"]]
    out["department_name"] = [
        nm["department"].get(str(x), "") if x else ""
        for x in out["assignee_department"].fillna(out["department"])
    ]
    out["status_name"] = [cycle.label(cycle.STATES, x) for x in out["state"]]
    st = [
        status_at(r, as_of, cfg.rules)
        for r in out[["state", "due_at", "handled_at"]].to_dict("records")
    ]
    for key in ("overdue", "overdue_workdays", "escalation", "hours_left"):
        out[key] = [x[key] for x in st]
    out["escalation_name"] = [t(*ESCALATION[x]) for x in out["escalation"]]
    return out
