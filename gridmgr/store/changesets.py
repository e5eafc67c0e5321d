"""Change sets: the audit record every write of the store opens (repository functions).

Every function takes the SQLAlchemy :class:`~sqlalchemy.Connection` of the caller's transaction.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, insert, select, update

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.io.text import clean_text
from gridmgr.store import schema as s
from gridmgr.store._sql import frame, new_id

CHANGESET_KINDS = ("edit", "auto", "plan", "undo", "import", "load", "leaders", "deactivate")


def new_changeset(
    conn: Connection,
    *,
    kind: str,
    actor: str,
    reason: str,
    at: dt.datetime,
    changeset_id: str | None = None,
    plan_id: str | None = None,
    undoes: str | None = None,
) -> str:
    """Insert a change set (no events yet) and return its id."""
    if kind not in CHANGESET_KINDS:
        kinds = ", ".join(CHANGESET_KINDS)
        msg = t(
            f"未知的变更集类型 {kind!r}，请使用 {kinds} 之一",
            f"change set kind {kind!r} is unknown; use one of {kinds}",
        )
        raise InputError(msg)
    cid = changeset_id or new_id()
    actor = clean_text(actor, t("操作人", "actor"))
    reason = clean_text(reason, t("原因", "reason"), single_line=False)
    conn.execute(
        insert(s.changesets).values(
            id=cid,
            kind=kind,
            actor=actor,
            reason=reason,
            at=at,
            n_events=0,
            plan_id=plan_id,
            undoes=undoes,
        )
    )
    return cid


def set_event_count(conn: Connection, changeset_id: str, n_events: int) -> None:
    """Record how many events a change set wrote."""
    cs = s.changesets
    conn.execute(update(cs).where(cs.c.id == changeset_id).values(n_events=n_events))


def list_changesets(
    conn: Connection, *, kind: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Change sets, newest first: ``id``, ``kind``, ``actor``, ``reason``, ``at``,
    ``n_events``, ``undone_by``, ``undoes``, ``plan_id``."""
    cs = s.changesets
    stmt = select(cs).order_by(cs.c.at.desc(), cs.c.id)
    if kind is not None:
        stmt = stmt.where(cs.c.kind == kind)
    if limit is not None:
        stmt = stmt.limit(limit)
    return frame(conn.execute(stmt).all(), [c.name for c in cs.columns])
