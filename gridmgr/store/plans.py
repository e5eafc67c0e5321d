"""Rebalance plans (repository): save, read, list and move a plan through its statuses.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select, update

from gridmgr.errors import InputError, PlanNotFoundError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import frame, new_id, resolve_id

PLAN_STATUSES = ("proposed", "applied", "discarded", "undone")


def save_plan(
    conn: Connection,
    *,
    scope: str | None,
    params: Mapping[str, Any],
    moves: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any],
    actor: str,
    plan_id: str | None = None,
) -> str:
    """Insert a plan with status ``proposed``; returns its id."""
    pid = plan_id or new_id()
    at = s.utcnow()
    conn.execute(
        insert(s.plans).values(
            id=pid,
            scope=scope,
            params=dict(params),
            moves=[dict(m) for m in moves],
            metrics=dict(metrics),
            status="proposed",
            actor=actor,
            created_at=at,
            updated_at=at,
            changeset_id=None,
        )
    )
    return pid


def get_plan(conn: Connection, plan_id: str) -> dict[str, Any]:
    """A plan as a dict, by its id or a unique prefix of ≥ 6 characters;
    :class:`PlanNotFoundError` when unknown."""
    full = resolve_id(conn, s.plans.c.id, plan_id, what=("方案", "plan"))
    row = None
    if full is not None:
        row = conn.execute(select(s.plans).where(s.plans.c.id == full)).mappings().first()
    if row is None:
        msg = t(
            f"方案 {plan_id!r} 不在库中；请用 `gridmgr rebalance list` 查看方案列表",
            f"plan {plan_id!r} is not in the store; list plans with `gridmgr rebalance list`",
        )
        raise PlanNotFoundError(msg)
    return dict(row)


def list_plans(conn: Connection, *, status: str | None = None) -> pd.DataFrame:
    """Plans without their moves, newest first."""
    p = s.plans
    cols = [
        p.c.id,
        p.c.scope,
        p.c.status,
        p.c.actor,
        p.c.created_at,
        p.c.updated_at,
        p.c.changeset_id,
        p.c.metrics,
    ]
    stmt = select(*cols).order_by(p.c.created_at.desc())
    if status is not None:
        stmt = stmt.where(p.c.status == status)
    return frame(conn.execute(stmt).all(), [c.name for c in cols])


def set_plan_status(
    conn: Connection, plan_id: str, status: str, *, changeset_id: str | None = None
) -> None:
    """Set a plan's status (``proposed|applied|discarded|undone``), and its change set."""
    if status not in PLAN_STATUSES:
        statuses = ", ".join(PLAN_STATUSES)
        raise InputError(
            t(
                f"未知的方案状态 {status!r}，请使用 {statuses}",
                f"plan status {status!r} is unknown; use {statuses}",
            )
        )
    values: dict[str, Any] = {"status": status, "updated_at": s.utcnow()}
    if changeset_id is not None:
        values["changeset_id"] = changeset_id
    n = conn.execute(update(s.plans).where(s.plans.c.id == plan_id).values(**values)).rowcount
    if n != 1:
        raise PlanNotFoundError(
            t(f"方案 {plan_id!r} 不在库中", f"plan {plan_id!r} is not in the store")
        )
