"""Problems (repository): rows, events, photos, the guarded state change, lists and the
aggregates of the assessment.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`; the caller (``gridmgr.problems
.service``) opens the one transaction in which a state change and its event are written. The
state change is guarded by ``version`` *and* ``state`` (optimistic concurrency): of two
concurrent verifiers one updates a row, the other none, and gets a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, func, insert, or_, select, update

from gridmgr.store import schema as s
from gridmgr.store._sql import frame

P, E, PH = s.problems, s.problem_events, s.problem_photos
COLUMNS = [c.name for c in P.columns if c.name != "outline"]
#: States in which a deadline runs (``gridmgr.problems.cycle.RUNNING``; the store keeps the names
#: of its CHECK constraint).
RUNNING_STATES = ("dispatched", "extension_requested")


def _row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


def insert_problem(conn: Connection, values: Mapping[str, Any], code_prefix: str) -> int:
    """Insert one problem; its human id is ``code_prefix`` + the row id (e.g. WT20261205-000042)."""
    vals = dict(values)
    vals.setdefault("code", f"tmp-{code_prefix}-{id(vals)}-{vals.get('idempotency_key')}")
    pid = int(conn.execute(insert(P).values(**vals).returning(P.c.id)).scalar_one())
    conn.execute(update(P).where(P.c.id == pid).values(code=f"{code_prefix}-{pid:06d}"))
    return pid


def insert_event(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert one event row; its id."""
    return int(conn.execute(insert(E).values(**values).returning(E.c.id)).scalar_one())


def insert_photo(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert one photo row; its id."""
    return int(conn.execute(insert(PH).values(**values).returning(PH.c.id)).scalar_one())


def by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    """The problem reported with this Idempotency-Key, if any."""
    r = conn.execute(select(*[P.c[c] for c in COLUMNS]).where(P.c.idempotency_key == key)).first()
    return None if r is None else _row(r)


def get(conn: Connection, ref: str | int) -> dict[str, Any] | None:
    """One problem by code (``WT…``) or row id; None when absent."""
    cond = P.c.id == int(ref) if str(ref).isdigit() else P.c.code == str(ref)
    r = conn.execute(select(*[P.c[c] for c in COLUMNS]).where(cond)).first()
    return None if r is None else _row(r)


def events(conn: Connection, problem_id: int) -> list[dict[str, Any]]:
    """The events of a problem, oldest first."""
    rows = conn.execute(select(E).where(E.c.problem_id == problem_id).order_by(E.c.id)).all()
    return [_row(r) for r in rows]


def photos(conn: Connection, problem_id: int) -> list[dict[str, Any]]:
    """The photos of a problem, oldest first."""
    rows = conn.execute(select(PH).where(PH.c.problem_id == problem_id).order_by(PH.c.id)).all()
    return [_row(r) for r in rows]


def photo_by_hash(conn: Connection, problem_id: int, sha256: str) -> dict[str, Any] | None:
    """A photo of this problem with this content hash."""
    r = conn.execute(
        select(PH).where(and_(PH.c.problem_id == problem_id, PH.c.sha256 == sha256))
    ).first()
    return None if r is None else _row(r)


def change_state(
    conn: Connection, problem_id: int, *, version: int, state: str, values: Mapping[str, Any]
) -> bool:
    """Set ``values`` (with ``version + 1``) if the row still has ``version`` and ``state``."""
    res = conn.execute(
        update(P)
        .where(and_(P.c.id == problem_id, P.c.version == version, P.c.state == state))
        .values(**values, version=version + 1)
    )
    return res.rowcount == 1


def owner_at(conn: Connection, piece_id: int, at: dt.datetime) -> tuple[str | None, bool]:
    """Who held ``piece_id`` at ``at`` (from its last assignment event up to then)."""
    ev = s.assignment_events
    r = conn.execute(
        select(ev.c.to_leader, ev.c.to_fallback)
        .where(and_(ev.c.piece_id == piece_id, ev.c.at <= at))
        .order_by(ev.c.id.desc())
        .limit(1)
    ).first()
    if r is None:
        return None, False
    return (None if r[0] is None else str(r[0])), bool(r[1])


def pieces_of_cells(conn: Connection, cells: Sequence[str]) -> list[dict[str, Any]]:
    """Pieces (``id``, ``cell``, ``unit_code``, ``geom`` WKB) of the given H3 cells."""
    p = s.pieces
    rows = conn.execute(
        select(p.c.id, p.c.cell, p.c.unit_code, p.c.geom).where(p.c.cell.in_(list(cells)))
    ).all()
    return [_row(r) for r in rows]


def unit_table(conn: Connection) -> dict[str, tuple[str | None, str, str]]:
    """``code → (parent, level, name)`` of every unit."""
    u = s.units
    rows = conn.execute(select(u.c.code, u.c.parent, u.c.level, u.c.name)).all()
    return {str(c): (None if p is None else str(p), str(lv), str(n)) for c, p, lv, n in rows}


def earlier_same(
    conn: Connection,
    *,
    category: str,
    piece_id: int | None,
    place_code: str | None,
    since: dt.datetime,
    until: dt.datetime,
) -> int | None:
    """The latest problem of ``category`` at the same piece or key place reported in
    ``[since, until]`` (not rejected): what a new report repeats."""
    where = []
    if piece_id is not None:
        where.append(P.c.piece_id == piece_id)
    if place_code is not None:
        where.append(P.c.place_code == place_code)
    if not where:
        return None
    r = conn.execute(
        select(P.c.id)
        .where(
            and_(
                P.c.category == category,
                or_(*where),
                P.c.reported_at >= since,
                P.c.reported_at <= until,
                P.c.state != "rejected",
            )
        )
        .order_by(P.c.reported_at.desc(), P.c.id.desc())
        .limit(1)
    ).first()
    return None if r is None else int(r[0])


def listing(
    conn: Connection,
    *,
    states: Sequence[str] | None = None,
    overdue_at: dt.datetime | None = None,
    units: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    reported: tuple[dt.datetime, dt.datetime] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Problems as a frame (columns :data:`COLUMNS`), newest report first.

    ``overdue_at``: only problems overdue at that moment — dispatched by then, due by then, and
    not handled by then (``due_at <= t`` and ``handled_at`` null or later than ``t``).
    ``units``: problems whose piece lies in one of these (lowest-level) unit codes, or whose
    community or street is one of them. ``where``: column equals value. ``reported``:
    reported in ``[start, end)``.
    """
    stmt = select(*[P.c[c] for c in COLUMNS])
    conds: list[Any] = []
    if states is not None:
        conds.append(P.c.state.in_(list(states)))
    if overdue_at is not None:
        latest = conn.execute(select(func.max(P.c.handled_at))).scalar()
        if latest is None or overdue_at >= latest:
            # nothing was handled after ``overdue_at``: "not handled by then" is "still running",
            # which the state index finds at once (the usual case: the board as of now)
            conds.append(P.c.state.in_(RUNNING_STATES))
        conds += [
            P.c.due_at <= overdue_at,
            P.c.dispatched_at <= overdue_at,
            or_(P.c.handled_at.is_(None), P.c.handled_at > overdue_at),
            P.c.state != "rejected",
        ]
    if units is not None:
        u = list(units)
        conds.append(or_(P.c.unit_code.in_(u), P.c.community_code.in_(u), P.c.street_code.in_(u)))
    if reported is not None:
        conds += [P.c.reported_at >= reported[0], P.c.reported_at < reported[1]]
    for col, value in (where or {}).items():
        conds.append(P.c[col] == value)
    if conds:
        stmt = stmt.where(and_(*conds))
    stmt = stmt.order_by(P.c.reported_at.desc(), P.c.id.desc())
    if limit is not None:
        stmt = stmt.limit(int(limit))
    return frame(conn.execute(stmt).all(), COLUMNS)


#: The assessment's groups: name → column of ``problems``.
GROUPS = {
    "leader": "leader_id",
    "community": "community_code",
    "street": "street_code",
    "department": "department",
}


def aggregates(
    conn: Connection, group: str, t0: dt.datetime, t1: dt.datetime, as_of: dt.datetime
) -> pd.DataFrame:
    """Per group (see :data:`GROUPS`), over problems reported in ``[t0, t1)`` and not rejected:
    ``problems``, ``dispatched`` (has a deadline), ``on_time`` (handled by the deadline),
    ``overdue`` (not handled by the deadline, or still open past it at ``as_of``), ``closed``,
    ``close_workdays_sum``, ``rework``, ``repeats``. One GROUP BY query, both backends."""
    key = P.c[GROUPS[group]]
    handled_or_now = func.coalesce(P.c.handled_at, as_of)
    one = 1
    stmt = (
        select(
            key.label("key"),
            func.count().label("problems"),
            func.sum(case((P.c.due_at.is_not(None), one), else_=0)).label("dispatched"),
            func.sum(
                case(
                    (and_(P.c.handled_at.is_not(None), P.c.handled_at <= P.c.due_at), one), else_=0
                )
            ).label("on_time"),
            func.sum(
                case((and_(P.c.due_at.is_not(None), handled_or_now > P.c.due_at), one), else_=0)
            ).label("overdue"),
            func.sum(case((P.c.state == "closed", one), else_=0)).label("closed"),
            func.sum(func.coalesce(P.c.close_workdays, 0)).label("close_workdays_sum"),
            func.sum(P.c.rework).label("rework"),
            func.sum(case((P.c.repeat_of.is_not(None), one), else_=0)).label("repeats"),
        )
        .where(
            and_(
                P.c.reported_at >= t0,
                P.c.reported_at < t1,
                P.c.state != "rejected",
                key.is_not(None),
            )
        )
        .group_by(key)
        .order_by(key)
    )
    cols = [
        "key",
        "problems",
        "dispatched",
        "on_time",
        "overdue",
        "closed",
        "close_workdays_sum",
        "rework",
        "repeats",
    ]
    df = frame(conn.execute(stmt).all(), cols)
    for c in cols[1:]:
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    return df
