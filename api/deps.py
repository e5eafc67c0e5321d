"""Dependencies of the routers: the store, the settings, the current user and role checks.

Authentication: ``Authorization: Bearer <token>`` (API tokens, stored as SHA-256) or the session
cookie set by ``POST /login`` (a random server-side session id, HttpOnly, SameSite=Lax, Secure
outside local development; looked up on every request, so a revoked session ends at once). Unsafe methods authenticated by the cookie must come from the same origin
(``Origin`` or else ``Referer`` naming this host) — the CSRF defence of the web pages.

The trivial dependencies are ``async`` so FastAPI does not send each through the thread pool.

Roles are ordered ``viewer < leader < planner < admin``; :func:`require` gives a dependency that
admits a role and those above it. The documented role × endpoint table is ``docs/api.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.locate import LocateIndex
from api.settings import ServiceSettings
from gridmgr.accounts import credentials, sessions

ROLES = ("viewer", "leader", "planner", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
SESSION_COOKIE = "gridmgr_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class User:
    """The authenticated caller."""

    id: int
    name: str
    role: str
    leader_id: str | None = None
    via: str = "token"

    def at_least(self, role: str) -> bool:
        """Whether this user's role is ``role`` or above."""
        return RANK[self.role] >= RANK[role]

    @property
    def sees_phones(self) -> bool:
        """Phone numbers are shown to planners and admins only."""
        return self.at_least("planner")


def _user(row: Any, via: str) -> User:
    """A :class:`User` from a store row (``id``, ``name``, ``role``, ``leader_id``)."""
    leader = row["leader_id"] if isinstance(row["leader_id"], str) else None
    return User(int(row["id"]), str(row["name"]), str(row["role"]), leader, via)


class AuthCache:
    """Token hash → user, kept ``ttl`` seconds (saves a query per API call; cleared on any
    change to users or tokens made through this process)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[float, User | None]] = {}

    def clear(self) -> None:
        """Forget everything (after users or tokens change)."""
        self._tokens.clear()

    def cached_token(self, token: str) -> tuple[bool, User | None]:
        """``(True, user)`` when the token's answer is cached and fresh, else ``(False, None)``."""
        hit = self._tokens.get(credentials.hash_token(token))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def user_for_token(self, store: Any, token: str) -> User | None:
        h = credentials.hash_token(token)
        hit = self._tokens.get(h)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        row = store.user_for_token(h)
        user = None if row is None else _user(row, "token")
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[h] = (now, user)
        return user


async def get_store(request: Request) -> Any:
    """The :class:`gridmgr.store.Store` opened by the app's lifespan."""
    return request.app.state.store


async def get_settings(request: Request) -> ServiceSettings:
    """The app's :class:`ServiceSettings`."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_index(request: Request) -> LocateIndex:
    """The locate index built at startup."""
    return request.app.state.index  # type: ignore[no-any-return]


StoreDep = Annotated[Any, Depends(get_store)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
IndexDep = Annotated[LocateIndex, Depends(get_index)]


def same_origin(request: Request) -> bool:
    """Whether an unsafe request comes from this site's own pages (the CSRF check).

    ``Origin`` (else ``Referer``) must name exactly this scheme and host (with port) — a
    foreign scheme, ``Origin: null`` (sandboxed frames, some redirects) or no header at all is
    refused. The host itself is vouched for by the allowed-hosts check of :class:`api.middleware.Guard`.
    """
    own = (request.url.scheme, request.headers.get("host", "").lower())
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            if value.strip().lower() == "null":
                return False
            parts = urlsplit(value)
            return (parts.scheme, parts.netloc.lower()) == own
    return False


async def optional_user(request: Request) -> User | None:
    """The caller, or ``None`` when anonymous. Raises 401 for a bad token, 403 for a
    cross-origin unsafe request authenticated by cookie."""
    app = request.app
    cache: AuthCache = app.state.auth_cache
    store = app.state.store
    auth = request.headers.get("authorization")
    user: User | None = None
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                "Authorization must be `Bearer <token>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        known, user = cache.cached_token(token.strip())  # no thread-pool hop on a cache hit
        if not known:
            user = await run_in_threadpool(cache.user_for_token, store, token.strip())
        if user is None:
            raise HTTPException(
                401, "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            row = await run_in_threadpool(sessions.session_user, store, cookie)
            user = None if row is None else _user(row, "session")
            if user is not None and request.method not in SAFE_METHODS and not same_origin(request):
                raise HTTPException(
                    403,
                    "cross-origin request refused (CSRF check): send the "
                    "form from this site or use an API token",
                )
    if user is not None:
        request.state.user = user.name
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def current_user(user: OptionalUser) -> User:
    """The authenticated caller; 401 when anonymous."""
    if user is None:
        raise HTTPException(
            401,
            "authentication required: send `Authorization: Bearer <token>` or log in at /login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: str) -> Any:
    """A dependency admitting ``role`` and the roles above it (403 otherwise)."""

    async def check(user: CurrentUser) -> User:
        if not user.at_least(role):
            raise HTTPException(
                403, f"this operation needs the role {role} or above (you are {user.role})"
            )
        return user

    check.__name__ = f"require_{role}"
    return Depends(check)


Viewer = Annotated[User, require("viewer")]
Leader = Annotated[User, require("leader")]
Planner = Annotated[User, require("planner")]
Admin = Annotated[User, require("admin")]
