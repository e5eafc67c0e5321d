"""Account administration: passwords, disabling and revoking, each ending sessions at once.

Used by ``gridmgr users …`` and the admin API. Every change is one transaction: the user row
and the revocation of their sessions (and, on disable, API tokens) commit together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from gridmgr.accounts.credentials import hash_password
from gridmgr.errors import InputError, NotFoundError
from gridmgr.i18n import t
from gridmgr.store import users as repo
from gridmgr.store.sessions import revoke_user_sessions

#: Shortest password accepted.
MIN_PASSWORD = 8


def check_password(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD` characters."""
    if len(password) < MIN_PASSWORD:
        raise InputError(
            t(
                f"密码至少 {MIN_PASSWORD} 位",
                f"the password needs at least {MIN_PASSWORD} characters",
            )
        )


def _user_id(conn: Connection, name: str) -> int:
    row = repo.get_user(conn, name)
    if row is None:
        raise NotFoundError(
            t(
                f"用户 {name!r} 不存在；先用 `gridmgr users add` 创建",
                f"user {name!r} does not exist; create it with `gridmgr users add`",
            )
        )
    return int(row["id"])


def set_password(store: Any, name: str, password: str) -> int:
    """Set ``name``'s login password; ends their sessions. Returns how many sessions ended."""
    check_password(password)
    digest = hash_password(password)
    with store.transaction() as conn:
        uid = _user_id(conn, name)
        repo.set_password_hash(conn, uid, digest)
        return revoke_user_sessions(conn, uid)


def set_active(store: Any, name: str, active: bool) -> dict[str, int]:
    """Enable or disable ``name``; disabling ends their sessions and revokes their API tokens."""
    with store.transaction() as conn:
        uid = _user_id(conn, name)
        repo.set_active(conn, uid, active)
        if active:
            return {"sessions": 0, "tokens": 0}
        return {
            "sessions": revoke_user_sessions(conn, uid),
            "tokens": repo.revoke_user_tokens(conn, uid),
        }


def revoke(store: Any, name: str, *, tokens: bool = False) -> dict[str, int]:
    """End every session of ``name`` (and revoke their API tokens when ``tokens``)."""
    with store.transaction() as conn:
        uid = _user_id(conn, name)
        return {
            "sessions": revoke_user_sessions(conn, uid),
            "tokens": repo.revoke_user_tokens(conn, uid) if tokens else 0,
        }
