"""Users and API tokens (repository) for the service in ``api/``; the domain never reads them.

Login sessions are in :mod:`gridmgr.store.sessions`; password hashing and the rules around
accounts are :mod:`gridmgr.accounts`.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`. Tokens are stored as hashes
only; hashing and checking passwords is the caller's business.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, and_, exists, insert, or_, select, update

from gridmgr.errors import ConflictError, InputError, LeaderNotFoundError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import frame

USER_ROLES = ("admin", "planner", "leader", "viewer")


def _check_role(name: str, role: str, leader_id: str | None) -> None:
    """Refuse an unknown role, and role ``leader`` without a leader id."""
    if role not in USER_ROLES:
        roles = ", ".join(USER_ROLES)
        raise InputError(
            t(
                f"用户 {name!r}：未知角色 {role!r}，请使用 {roles}",
                f"user {name!r}: role {role!r} is unknown; use {roles}",
            )
        )
    if role == "leader" and not leader_id:
        raise InputError(
            t(
                f"用户 {name!r}：角色 leader 需要填写 leader_id",
                f"user {name!r}: role leader needs leader_id",
            )
        )


def add_user(
    conn: Connection,
    name: str,
    role: str,
    *,
    leader_id: str | None = None,
    password_hash: str | None = None,
) -> int:
    """Create a user (role ``admin|planner|leader|viewer``); returns its integer id."""
    _check_role(name, role, leader_id)
    if (
        leader_id is not None
        and conn.execute(select(s.leaders.c.pk).where(s.leaders.c.id == leader_id)).first() is None
    ):
        raise LeaderNotFoundError(
            t(
                f"用户 {name!r}：领导 {leader_id!r} 不在库中",
                f"user {name!r}: leader {leader_id!r} is not in the store",
            )
        )
    if conn.execute(select(s.users.c.id).where(s.users.c.name == name)).first() is not None:
        raise ConflictError(t(f"用户 {name!r} 已存在", f"user {name!r} already exists"))
    res = conn.execute(
        insert(s.users)
        .values(
            name=name,
            role=role,
            leader_id=leader_id,
            password_hash=password_hash,
            created_at=s.utcnow(),
            active=True,
        )
        .returning(s.users.c.id)
    )
    return int(res.scalar_one())


def get_user(conn: Connection, name: str) -> dict[str, Any] | None:
    """A user by name (with ``password_hash``), or ``None`` (also for a name no user can have,
    e.g. with a NUL, which PostgreSQL would refuse to even compare)."""
    if "\x00" in name or len(name) > 200:
        return None
    row = conn.execute(select(s.users).where(s.users.c.name == name)).mappings().first()
    return None if row is None else dict(row)


def list_users(conn: Connection) -> pd.DataFrame:
    """Users without password hashes, by id."""
    u = s.users
    cols = [u.c.id, u.c.name, u.c.role, u.c.leader_id, u.c.created_at, u.c.active]
    return frame(conn.execute(select(*cols).order_by(u.c.id)).all(), [c.name for c in cols])


def add_token(conn: Connection, user_id: int, token_hash: str, *, name: str | None = None) -> int:
    """Record an API token (its hash only); returns the token row id."""
    res = conn.execute(
        insert(s.api_tokens)
        .values(
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            created_at=s.utcnow(),
            active=True,
        )
        .returning(s.api_tokens.c.id)
    )
    return int(res.scalar_one())


def usable() -> ColumnElement[bool]:
    """SQL condition: the user is active and, for role ``leader``, so is their leader record."""
    u, le = s.users, s.leaders
    leader_active = exists(select(le.c.pk).where(le.c.id == u.c.leader_id, le.c.active.is_(True)))
    return and_(u.c.active.is_(True), or_(u.c.role != "leader", leader_active))


def leader_inactive(conn: Connection, user: dict[str, Any]) -> bool:
    """Whether ``user`` has role leader and their leader record is missing or deactivated."""
    if user.get("role") != "leader":
        return False
    le = s.leaders
    stmt = select(le.c.active).where(le.c.id == user.get("leader_id"))
    active = conn.execute(stmt).scalar_one_or_none()
    return not bool(active)


def user_for_token(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The usable user (:func:`usable`) owning an active token with this hash, or ``None``."""
    u, tk = s.users, s.api_tokens
    stmt = (
        select(u.c.id, u.c.name, u.c.role, u.c.leader_id)
        .select_from(u.join(tk, tk.c.user_id == u.c.id))
        .where(tk.c.token_hash == token_hash, tk.c.active.is_(True), usable())
    )
    row = conn.execute(stmt).mappings().first()
    return None if row is None else dict(row)


def revoke_token(conn: Connection, token_hash: str) -> bool:
    """Deactivate a token; returns whether one was active."""
    tk = s.api_tokens
    n = conn.execute(
        update(tk).where(tk.c.token_hash == token_hash, tk.c.active.is_(True)).values(active=False)
    ).rowcount
    return bool(n)


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    """Replace a user's password hash."""
    conn.execute(update(s.users).where(s.users.c.id == user_id).values(password_hash=password_hash))


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    """Enable or disable a user (a disabled user cannot log in or use a token)."""
    conn.execute(update(s.users).where(s.users.c.id == user_id).values(active=active))


def revoke_user_tokens(conn: Connection, user_id: int) -> int:
    """Deactivate every active API token of a user; returns how many."""
    tk = s.api_tokens
    stmt = update(tk).where(tk.c.user_id == user_id, tk.c.active.is_(True)).values(active=False)
    return int(conn.execute(stmt).rowcount)
