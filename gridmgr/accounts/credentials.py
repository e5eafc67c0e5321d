"""Passwords, API tokens and session ids.

* Passwords: Argon2id (argon2-cffi, the ``api`` extra) with OWASP's minimum parameters
  (19 MiB, 2 passes, 1 lane). Hashes from before Argon2 (``scrypt$…``) still verify and are
  re-hashed at the next login (:func:`needs_rehash`). A miss on an unknown user costs the same
  as a check of a known one (:func:`verify_password` with ``None`` hashes a dummy), so the
  login time does not tell which names exist.
* API tokens and session ids: 32 random bytes shown once; only their SHA-256 is stored, so a
  copy of the database gives no usable credential. Nothing is signed with a server secret:
  there is no secret to leak or to leave at a default.

Examples
--------
>>> token = new_token()
>>> token.startswith("gm_") and len(hash_token(token)) == 64
True
>>> new_session_token() != new_session_token()
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache
from typing import Any

#: Argon2id parameters (OWASP Password Storage Cheat Sheet, minimum configuration).
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    )


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified against when the user does not exist."""
    return hash_password(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (PHC string, salt included)."""
    return str(_hasher().hash(password))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; ``None`` (no such user) costs a full check too."""
    if stored is None:
        _verify_argon2(password, _dummy_hash())
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    return _verify_argon2(password, stored)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash should be replaced at the next successful login."""
    return stored.startswith("scrypt$") or bool(_hasher().check_needs_rehash(stored))


def _verify_argon2(password: str, stored: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    """Hashes written before Argon2: ``scrypt$n$r$p$salt$hash``."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def new_token() -> str:
    """A new API token (shown once; store :func:`hash_token` of it)."""
    return "gm_" + secrets.token_urlsafe(32)


def new_session_token() -> str:
    """A new session id for the login cookie (store :func:`hash_token` of it)."""
    return "gs_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token or session id: what the store keeps."""
    return hashlib.sha256(token.encode()).hexdigest()
