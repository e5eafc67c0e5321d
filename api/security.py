"""Passwords, API tokens and session cookies — standard library only.

* passwords: scrypt with a random salt (``scrypt$n$r$p$salt$hash``);
* API tokens: random 32 bytes shown once; only their SHA-256 is stored;
* sessions: ``user_id.expiry.signature`` signed with HMAC-SHA256 under the service secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(got.hex(), digest)


def new_token() -> str:
    return "gm_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_session(user_id: int, secret: str, hours: int) -> str:
    expiry = int(time.time()) + hours * 3600
    body = f"{user_id}.{expiry}"
    sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(sig).decode().rstrip("=")


def read_session(value: str | None, secret: str) -> int | None:
    """The user id of a valid, unexpired session cookie, else ``None``."""
    if not value or value.count(".") != 2:
        return None
    uid, expiry, sig = value.split(".")
    body = f"{uid}.{expiry}"
    want = (
        base64.urlsafe_b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        .decode()
        .rstrip("=")
    )
    if not hmac.compare_digest(want, sig):
        return None
    try:
        if int(expiry) < time.time():
            return None
        return int(uid)
    except ValueError:
        return None
