"""Service accounts: users' passwords, API tokens and login sessions.

These serve the web service and its CLI (``gridmgr serve``, ``gridmgr users``), not the domain:
no domain package imports them. Persistence is :mod:`gridmgr.store.users`.

Modules: :mod:`~gridmgr.accounts.credentials` (password hashing, tokens, session ids),
:mod:`~gridmgr.accounts.exposure` (is a bind address reachable from other machines).
"""

from __future__ import annotations

from gridmgr.accounts.credentials import (
    hash_password,
    hash_token,
    needs_rehash,
    new_session_token,
    new_token,
    verify_password,
)
from gridmgr.accounts.exposure import is_loopback

__all__ = [
    "hash_password",
    "hash_token",
    "is_loopback",
    "needs_rehash",
    "new_session_token",
    "new_token",
    "verify_password",
]
