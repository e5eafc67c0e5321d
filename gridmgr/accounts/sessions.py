"""Logging in and out of the web pages: password checks and server-side sessions.

A session id is random (:func:`~gridmgr.accounts.credentials.new_session_token`); the browser
keeps it in an HttpOnly cookie and the store keeps its hash (:mod:`gridmgr.store.sessions`).
Nothing about a session can be forged from the source code or a leaked configuration: there is
no signing secret, and a session is live only while its row says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gridmgr.accounts.credentials import (
    hash_password,
    hash_token,
    needs_rehash,
    new_session_token,
    verify_password,
)
from gridmgr.store import sessions as repo
from gridmgr.store import users as users_repo
from gridmgr.store.engine import read_connection


def authenticate(store: Any, name: str, password: str) -> dict[str, Any] | None:
    """The active user ``name`` when ``password`` is right, else ``None``.

    Unknown and disabled users cost one full password check too, so the time taken does not
    tell which names exist. A hash in an older format is replaced after a successful check.
    """
    with read_connection(store.engine) as conn:
        row = users_repo.get_user(conn, name)
    usable = row is not None and bool(row["active"]) and row["password_hash"] is not None
    stored = row["password_hash"] if usable and row is not None else None
    if not verify_password(password, stored) or row is None:
        return None
    if needs_rehash(str(stored)):
        with store.transaction() as conn:
            users_repo.set_password_hash(conn, int(row["id"]), hash_password(password))
    return row


def refusal(store: Any, user: dict[str, Any]) -> tuple[str, str] | None:
    """Why a user with the right password may still not log in (``(zh, en)``), else ``None``."""
    with read_connection(store.engine) as conn:
        if users_repo.leader_inactive(conn, user):
            return (
                "您关联的领导记录已停用或不存在，无法登录；请联系管理员",
                "your leader record is deactivated or missing, so you cannot log in; ask an admin",
            )
    return None


def start_session(store: Any, user_id: int, *, hours: float, client: str | None = None) -> str:
    """Open a session for ``user_id`` lasting ``hours``; returns the session id for the cookie."""
    token = new_session_token()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    with store.transaction() as conn:
        repo.create_session(conn, user_id, hash_token(token), expires_at=expires, client=client)
    return token


def session_user(store: Any, token: str | None) -> dict[str, Any] | None:
    """The user of a live session id (``id``, ``name``, ``role``, ``leader_id``), else ``None``."""
    if not token or len(token) > 200:
        return None
    with read_connection(store.engine) as conn:
        return repo.user_for_session(conn, hash_token(token), now=dt.datetime.now(dt.UTC))


def end_session(store: Any, token: str | None) -> bool:
    """Revoke one session (logout); returns whether it was live."""
    if not token or len(token) > 200:
        return False
    with store.transaction() as conn:
        return repo.revoke_session(conn, hash_token(token))
