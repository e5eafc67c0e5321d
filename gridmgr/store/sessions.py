"""Login sessions (repository) for the service's web pages: server-side, so they can be revoked.

The cookie carries a random session id; the store keeps only its SHA-256 (``token_hash``), the
user, the expiry and when it was revoked. A session is valid while it is unexpired, unrevoked and
its user is active; logout, a password change, disabling the user and an admin's revoke end it
at once, on every worker. Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from gridmgr.store import schema as s
from gridmgr.store.users import usable


def create_session(
    conn: Connection,
    user_id: int,
    token_hash: str,
    *,
    expires_at: dt.datetime,
    client: str | None = None,
) -> int:
    """Record a new session (its id's hash only); returns the session row id."""
    res = conn.execute(
        insert(s.sessions)
        .values(
            user_id=user_id,
            token_hash=token_hash,
            created_at=s.utcnow(),
            expires_at=expires_at,
            client=client,
        )
        .returning(s.sessions.c.id)
    )
    return int(res.scalar_one())


def user_for_session(
    conn: Connection, token_hash: str, *, now: dt.datetime
) -> dict[str, Any] | None:
    """The usable user (:func:`~gridmgr.store.users.usable`) of a live session, or ``None``."""
    u, se = s.users, s.sessions
    stmt = (
        select(u.c.id, u.c.name, u.c.role, u.c.leader_id)
        .select_from(u.join(se, se.c.user_id == u.c.id))
        .where(
            se.c.token_hash == token_hash,
            se.c.revoked_at.is_(None),
            se.c.expires_at > now,
            usable(),
        )
    )
    row = conn.execute(stmt).mappings().first()
    return None if row is None else dict(row)


def revoke_session(conn: Connection, token_hash: str) -> bool:
    """End one session (logout); returns whether it was live."""
    se = s.sessions
    n = conn.execute(
        update(se)
        .where(se.c.token_hash == token_hash, se.c.revoked_at.is_(None))
        .values(revoked_at=s.utcnow())
    ).rowcount
    return bool(n)


def revoke_user_sessions(conn: Connection, user_id: int) -> int:
    """End every live session of a user; returns how many."""
    se = s.sessions
    n = conn.execute(
        update(se)
        .where(se.c.user_id == user_id, se.c.revoked_at.is_(None))
        .values(revoked_at=s.utcnow())
    ).rowcount
    return int(n)


def purge_sessions(conn: Connection, *, before: dt.datetime) -> int:
    """Delete sessions that expired or were revoked before ``before``; returns how many."""
    se = s.sessions
    stmt = delete(se).where((se.c.expires_at < before) | (se.c.revoked_at < before))
    return int(conn.execute(stmt).rowcount)
