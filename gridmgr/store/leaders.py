"""Leaders (repository): read them, import a leaders file all-or-nothing, retire one, and their
history.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`; reading and validating the
file is :mod:`gridmgr.store.leaders_file` (its names are re-exported here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from gridmgr.errors import ConflictError, InputError, LeaderNotFoundError
from gridmgr.i18n import t
from gridmgr.io.text import clean_optional, clean_text
from gridmgr.store import schema as s
from gridmgr.store._sql import chunks, for_update, frame
from gridmgr.store.changesets import new_changeset, set_event_count
from gridmgr.store.leaders_file import COLUMNS, LeaderRow, read_table, validate_rows
from gridmgr.store.types import LeadersImportReport

__all__ = [
    "COLUMNS",
    "LeaderRow",
    "deactivate_leader",
    "get_leader",
    "import_leaders",
    "leader_events",
    "list_leaders",
    "read_table",
    "validate_rows",
]


# ---------------------------------------------------------------------- reads


def _packages_by_leader(conn: Connection) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Unit packages and key-place packages of every leader, in insertion order."""
    pk = s.packages
    rows = conn.execute(select(pk.c.leader_id, pk.c.kind, pk.c.target).order_by(pk.c.id)).all()
    units: dict[str, list[str]] = {}
    places: dict[str, list[str]] = {}
    for leader_id, kind, target in rows:
        (units if kind == "unit" else places).setdefault(leader_id, []).append(target)
    return units, places


def list_leaders(
    conn: Connection, *, include_phone: bool = False, active: bool | None = None
) -> pd.DataFrame:
    """Leaders: ``pk``, ``id``, ``name``, ``role``, ``department``, ``capacity``, ``active``,
    timestamps, ``unit_packages`` (list of unit codes), ``place_packages`` (key-place codes).

    ``phone`` is personal data and is only included with ``include_phone=True``.
    """
    ld = s.leaders
    cols = [
        ld.c.pk,
        ld.c.id,
        ld.c.name,
        ld.c.role,
        ld.c.department,
        ld.c.capacity,
        ld.c.active,
        ld.c.created_at,
        ld.c.updated_at,
    ]
    if include_phone:
        cols.insert(5, ld.c.phone)
    stmt = select(*cols).order_by(ld.c.id)
    if active is not None:
        stmt = stmt.where(ld.c.active == active)
    df = frame(conn.execute(stmt).all(), [c.name for c in cols])
    units, places = _packages_by_leader(conn)
    df["unit_packages"] = [units.get(i, []) for i in df["id"]]
    df["place_packages"] = [places.get(i, []) for i in df["id"]]
    df["capacity"] = df["capacity"].astype(float)
    df["active"] = df["active"].astype(bool)
    for col in ("department", "phone"):
        if col in df.columns:
            df[col] = pd.Series(
                [None if pd.isna(v) else str(v) for v in df[col]], index=df.index, dtype=object
            )
    return df


def get_leader(conn: Connection, leader_id: str, *, include_phone: bool = False) -> dict[str, Any]:
    """One leader as a dict (see :func:`list_leaders`); :class:`LeaderNotFoundError` if unknown."""
    df = list_leaders(conn, include_phone=include_phone)
    hit = df[df["id"] == leader_id]
    if hit.empty:
        msg = t(
            f"领导 {leader_id!r} 不在库中；请用 `gridmgr leaders list` 查看领导名单",
            f"leader {leader_id!r} is not in the store; list them with `gridmgr leaders list`",
        )
        raise LeaderNotFoundError(msg)
    return dict(hit.iloc[0].to_dict())


def leader_events(conn: Connection, leader_id: str | None = None) -> pd.DataFrame:
    """Leader history (created / updated / deactivated), oldest first."""
    le = s.leader_events
    stmt = select(le).order_by(le.c.id)
    if leader_id is not None:
        stmt = stmt.where(le.c.leader_id == leader_id)
    return frame(conn.execute(stmt).all(), [c.name for c in le.columns])


# ---------------------------------------------------------------------- deactivate


def deactivate_leader(conn: Connection, leader_id: str, *, reason: str, actor: str) -> str:
    """Retire a leader (``active = false``) with a change set and an event; returns its id."""
    if not reason or not reason.strip():
        raise InputError(
            t(
                "deactivate：必须填写 --reason（该领导为何停止包保？）",
                "deactivate: --reason is required (why is this leader retired?)",
            )
        )
    at = s.utcnow()
    ld = s.leaders
    row = conn.execute(for_update(conn, select(ld.c.active).where(ld.c.id == leader_id))).first()
    if row is None:
        raise LeaderNotFoundError(
            t(f"领导 {leader_id!r} 不在库中", f"leader {leader_id!r} is not in the store")
        )
    if not row[0]:
        raise ConflictError(
            t(f"领导 {leader_id!r} 已是停用状态", f"leader {leader_id!r} is already inactive")
        )
    cid = new_changeset(conn, kind="deactivate", actor=actor, reason=reason, at=at)
    conn.execute(update(ld).where(ld.c.id == leader_id).values(active=False, updated_at=at))
    conn.execute(
        insert(s.leader_events).values(
            changeset_id=cid,
            leader_id=leader_id,
            kind="deactivated",
            actor=actor,
            reason=reason,
            at=at,
            detail=None,
        )
    )
    return cid


# ---------------------------------------------------------------------- import


@dataclass
class _ImportPlan:
    """The writes a leaders file needs: rows to insert/update, packages to replace, events."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    replace_packs: list[str] = field(default_factory=list)


def _validate_against_store(
    conn: Connection, path: str | Path, rows: list[tuple[int, dict[str, str]]]
) -> list[LeaderRow]:
    """:func:`validate_rows` against the departments, units and key places in the store."""
    departments = {r[0] for r in conn.execute(select(s.departments.c.code))}
    units = {r[0] for r in conn.execute(select(s.units.c.code))}
    places = {r[0] for r in conn.execute(select(s.key_places.c.code))}
    return validate_rows(path, rows, departments=departments, units=units, places=places)


def _current_leaders(conn: Connection) -> tuple[dict[str, Any], dict[tuple[str, str], set[str]]]:
    """Leaders now in the store by id, and their package targets by ``(id, kind)``."""
    ld, pk = s.leaders, s.packages
    cols = [ld.c.id, ld.c.name, ld.c.role, ld.c.department, ld.c.phone, ld.c.capacity, ld.c.active]
    current = {r.id: r for r in conn.execute(select(*cols))}
    packs: dict[tuple[str, str], set[str]] = {}
    for leader_id, kind, target in conn.execute(select(pk.c.leader_id, pk.c.kind, pk.c.target)):
        packs.setdefault((leader_id, kind), set()).add(target)
    return current, packs


def _plan_new(plan: _ImportPlan, r: LeaderRow, values: dict[str, Any], at: dt.datetime) -> None:
    """Add the insert of a leader not yet in the store."""
    active = True if r.active is None else r.active
    plan.inserts.append(
        {"id": r.id, **values, "active": active, "created_at": at, "updated_at": at}
    )
    plan.created.append(r.id)
    plan.replace_packs.append(r.id)
    plan.events.append({"leader_id": r.id, "kind": "created", "detail": {"row": r.row}})


def _plan_existing(
    plan: _ImportPlan,
    r: LeaderRow,
    values: dict[str, Any],
    old: Any,
    packs: dict[tuple[str, str], set[str]],
    at: dt.datetime,
) -> None:
    """Add the update of a leader already in the store, when any field or package changed."""
    changed = [k for k, v in values.items() if getattr(old, k) != v]
    active = bool(old.active) if r.active is None else r.active
    if active != bool(old.active):
        changed.append("active")
    packs_changed = packs.get((r.id, "unit"), set()) != set(r.unit_packages) or packs.get(
        (r.id, "place"), set()
    ) != set(r.place_packages)
    if packs_changed:
        changed.append("packages")
        plan.replace_packs.append(r.id)
    if not changed:
        return
    update_row = {"b_id": r.id, **{f"b_{k}": v for k, v in values.items()}}
    plan.updates.append({**update_row, "b_active": active, "b_at": at})
    plan.updated.append(r.id)
    detail = {"row": r.row, "fields": changed}
    plan.events.append({"leader_id": r.id, "kind": "updated", "detail": detail})


def _plan_import(conn: Connection, valid: list[LeaderRow], at: dt.datetime) -> _ImportPlan:
    """Compare the file's rows with the store: what to create, update and record."""
    current, packs = _current_leaders(conn)
    plan = _ImportPlan()
    for r in valid:
        values = {
            "name": r.name,
            "role": r.role,
            "department": r.department,
            "phone": r.phone,
            "capacity": r.capacity,
        }
        old = current.get(r.id)
        if old is None:
            _plan_new(plan, r, values, at)
        else:
            _plan_existing(plan, r, values, old, packs, at)
    return plan


def _update_leaders(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """Update changed leaders set-wise (``b_*`` bound parameters)."""
    ld = s.leaders
    conn.execute(
        update(ld)
        .where(ld.c.id == bindparam("b_id"))
        .values(
            name=bindparam("b_name"),
            role=bindparam("b_role"),
            department=bindparam("b_department"),
            phone=bindparam("b_phone"),
            capacity=bindparam("b_capacity"),
            active=bindparam("b_active"),
            updated_at=bindparam("b_at"),
        ),
        updates,
    )


def _replace_packages(conn: Connection, leader_ids: list[str], valid: list[LeaderRow]) -> None:
    """Replace the unit and key-place packages of ``leader_ids`` by those of the file."""
    pk = s.packages
    for part in chunks(leader_ids):
        conn.execute(delete(pk).where(pk.c.leader_id.in_(list(part))))
    by_id = {r.id: r for r in valid}
    new_packs = [
        {"leader_id": lid, "kind": kind, "target": target}
        for lid in leader_ids
        for kind, targets in (
            ("unit", by_id[lid].unit_packages),
            ("place", by_id[lid].place_packages),
        )
        for target in dict.fromkeys(targets)
    ]
    if new_packs:
        conn.execute(insert(pk), new_packs)


def _write_import(
    conn: Connection,
    plan: _ImportPlan,
    valid: list[LeaderRow],
    *,
    actor: str,
    reason: str,
    at: dt.datetime,
) -> str:
    """Write a planned import under a new ``leaders`` change set; returns its id."""
    cid = new_changeset(conn, kind="leaders", actor=actor, reason=reason, at=at)
    if plan.inserts:
        conn.execute(insert(s.leaders), plan.inserts)
    if plan.updates:
        _update_leaders(conn, plan.updates)
    if plan.replace_packs:
        _replace_packages(conn, plan.replace_packs, valid)
    conn.execute(
        insert(s.leader_events),
        [
            {"changeset_id": cid, "actor": actor, "reason": reason, "at": at, **e}
            for e in plan.events
        ],
    )
    set_event_count(conn, cid, len(plan.events))
    return cid


def import_leaders(
    conn: Connection,
    path: str | Path,
    rows: list[tuple[int, dict[str, str]]],
    *,
    actor: str,
    reason: str | None = None,
) -> LeadersImportReport:
    """Create or update leaders from the rows of ``path`` (see :func:`read_table`).

    Nothing is written on any problem. Leaders not in the file are left as they are; a leader in
    the file replaces their unit and key-place packages. Without an ``active`` column, new
    leaders are active and existing ones keep their state.
    """
    actor = clean_text(actor, t("操作人", "actor"))
    reason = clean_optional(reason, t("原因", "reason"), single_line=False)
    at = s.utcnow()
    valid = _validate_against_store(conn, path, rows)
    plan = _plan_import(conn, valid, at)
    if not plan.events:
        return LeadersImportReport(str(path), len(valid), unchanged=len(valid))
    why = reason or f"import leaders from {path}"
    cid = _write_import(conn, plan, valid, actor=actor, reason=why, at=at)
    return LeadersImportReport(
        str(path),
        len(valid),
        tuple(plan.created),
        tuple(plan.updated),
        unchanged=len(valid) - len(plan.created) - len(plan.updated),
        changeset_id=cid,
    )
