"""ASGI middleware of the service (pure ASGI: cheap on every request).

* :class:`Guard` — allowed hosts and security headers on every answer (outermost);
* :class:`BodyLimit` — request bodies over the limit get 413 (by length or counted);
* :class:`HeadAsGet` — ``HEAD`` answered wherever ``GET`` is;
* :class:`LoginGate` — logins from a locked client answered 429 before anything else runs;
* :class:`LocateFastPath` — the hot path of ``GET /api/locate``;
* :class:`AccessLog` — one JSON line per request.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors

access_log = logging.getLogger("gridmgr.access")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes: 413 problem+json in every case.

    By ``Content-Length`` before the app runs; for a chunked body (no length), by counting the
    stream: past the limit the app's read fails, whatever the app answers then (a form or JSON
    parser turns the failed read into 400) is dropped, and the client gets the 413. Only when the
    app had already started its answer before reading the whole body is that answer kept.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                await _too_large(send, self.limit)
                return
        seen = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                raise _BodyTooLarge
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _BodyTooLarge
            return msg

        async def guarded(msg: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the 413 below is the answer
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await _too_large(send, self.limit)


class LoginGate:
    """A login from a locked client address gets 429 here, before its body is read.

    The same answer as the login route's (``Retry-After``, Chinese first), but without a worker
    thread, a form parse or a template: a flood from one address then costs the service almost
    nothing, and ``/api/locate`` keeps its latency (``benchmarks/bench_api.py --case flood``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and scope["path"] == "/login":
            throttle = getattr(scope["app"].state, "login_throttle", None)
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = throttle.client_retry_after(client) if throttle is not None else None
            if wait is not None:
                await _locked(send, wait)
                return
        await self.app(scope, receive, send)


async def _locked(send: Send, retry_after: int) -> None:
    minutes = (retry_after + 59) // 60
    body = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>登录受限</title>'
        f"<p>登录失败次数过多，请 {minutes} 分钟后再试。</p>"
        f'<p lang="en">Too many failed logins; try again in {minutes} min.</p></html>'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HeadAsGet:
    """``HEAD`` wherever ``GET`` is answered: run the ``GET`` and send its headers only.

    FastAPI routes list ``GET`` alone, so without this ``HEAD`` got 405. The answer keeps the
    ``GET``'s status and headers (``Content-Length`` included) and drops the body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(msg: Message) -> None:
            if msg["type"] == "http.response.body":
                if msg.get("more_body", False):
                    return
                msg = {"type": "http.response.body", "body": b""}
            await send(msg)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "/problems/too-large",
            "title": "request body too large",
            "status": 413,
            "detail": f"request bodies are limited to {limit} bytes (GRIDMGR_MAX_BODY_BYTES)",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", errors.PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per request: method, path, status, ms, user (pure ASGI, cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def wrapped(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
            await send(msg)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                access_log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round((time.perf_counter() - t0) * 1000, 2),
                            "user": state.get("user"),
                        },
                        ensure_ascii=False,
                    )
                )


class LocateFastPath:
    """The hot path of ``GET /api/locate`` without the framework's per-request machinery.

    Answers only the plain case — a cached, valid API token, well-formed ``lat``/``lng``
    (``category`` optional), fresh owners — with exactly what the FastAPI route
    (:func:`api.routers.locate.locate`) returns; anything else (no or unknown token, cookie,
    bad parameters, owners due for a check) falls through to that route, which authenticates,
    validates and answers errors as documented. Tested to give identical bodies.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/locate" and scope["method"] == "GET":
            body = self._answer(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(scope: Scope) -> bytes | None:
        from urllib.parse import parse_qs

        from api.geojson import dumps

        app = scope.get("app")
        state = getattr(app, "state", None)
        index = getattr(state, "index", None)
        if state is None or index is None or index.stale(state.settings.locate_refresh_seconds):
            return None
        token = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, rest = v.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
        if not token:
            return None
        known, user = state.auth_cache.cached_token(token)
        if not known or user is None:
            return None
        q = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if set(q) - {"lat", "lng", "category"} or any(len(v) != 1 for v in q.values()):
            return None
        try:
            lat, lng = float(q["lat"][0]), float(q["lng"][0])
        except (KeyError, ValueError):
            return None
        category = q.get("category", [None])[0]
        if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (
            category is not None and len(category) > 64
        ):
            return None
        scope.setdefault("state", {})["user"] = user.name
        out = index.locate(lng, lat, category=category, phones=user.sees_phones)
        return dumps(out)


def configure_logging() -> None:
    """Send access log lines (already JSON) to stderr, one per line."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


#: Tile servers a map page may load images from (the basemaps of gridmgr.maps).
TILE_SOURCES = "https://*.tianditu.gov.cn https://tile.openstreetmap.org https://*.tile.openstreetmap.org https://*.autonavi.com"
#: Content-Security-Policy of HTML pages: same-origin scripts (the bundled Leaflet is inlined),
#: tiles from the basemap servers only, framed only by this site (the pages embed map frames).
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data: blob: {TILE_SOURCES}; connect-src 'self'; frame-src 'self'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
#: Swagger UI (``/api/docs``): its bundled script and style from this server (api.apidocs).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
)
#: Everything that is not a page (JSON, GeoJSON, files): nothing to run, never framed.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


class Guard:
    """Refuse requests for hosts not in ``allowed_hosts`` (400, before anything else runs) and
    add the security headers to every answer, the fast paths' included.

    ``allowed_hosts`` entries are host names or addresses without port; ``*`` allows any host
    (then a spoofed ``Host`` is still useless for CSRF, see :func:`api.deps.same_origin`).
    ``https`` adds ``Strict-Transport-Security`` (production, behind HTTPS).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str], https: bool) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = request_host(scope)
        if not self.any_host and host not in self.allowed:
            await send_problem(
                send, 400, "host not allowed", _host_detail(host), self._headers(scope)
            )
            return
        extra = self._headers(scope)

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = list(msg.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present
                ]
            await send(msg)

        await self.app(scope, receive, with_headers)

    def _headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path == "/api/docs" else PAGE_CSP
        if (
            path.startswith(("/api/", "/ogc", "/healthz", "/static"))
            and path not in ("/api/docs",)
            and not path.startswith("/api/maps/")
        ):
            csp = DATA_CSP
        out = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(self), camera=(self), microphone=()"),
        ]
        if self.https:
            out.append((b"strict-transport-security", b"max-age=31536000"))
        return out


def request_host(scope: Scope) -> str:
    """The ``Host`` header's name, lower case, without port or IPv6 brackets."""
    for k, v in scope.get("headers", []):
        if k == b"host":
            return _host_name(str(v.decode("latin-1")).strip().lower())
    return ""


_BRACKETED = re.compile(r"\[([0-9a-f:.]+)\](?::\d{1,5})?")
_PLAIN = re.compile(r"([a-z0-9.-]+)(?::\d{1,5})?")


def _host_name(raw: str) -> str:
    """The name in a ``Host`` value: ``name[:port]`` or ``[ipv6][:port]``; anything else (user
    info, junk after the brackets, a lone bracket) gives ``""``, which no allow-list holds."""
    m = _BRACKETED.fullmatch(raw) or _PLAIN.fullmatch(raw)
    return m.group(1).rstrip(".") if m else ""


def _host_detail(host: str) -> str:
    return (
        f"the host {host!r} is not served here; add it to GRIDMGR_ALLOWED_HOSTS "
        "(comma-separated names or addresses) if it should be"
    )


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer with a problem+json body straight from middleware."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        ensure_ascii=False,
    ).encode()
    head = [
        (b"content-type", errors.PROBLEM.encode()),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
