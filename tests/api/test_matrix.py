"""Role × endpoint matrix: every route of the app, every role, against docs/api.md."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from apihelpers import ROLE_NAMES, cells_held

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
MISSING_PLAN = "0" * 32


def documented() -> dict[tuple[str, str], dict[str, str]]:
    """The table between the matrix markers of docs/api.md."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split("<!-- matrix:start -->", 1)[1].split("<!-- matrix:end -->", 1)[0]
    out: dict[tuple[str, str], dict[str, str]] = {}
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        method, path, *marks = cells
        assert (method, path) not in out, f"docs/api.md lists {method} {path} twice"
        out[(method, path)] = dict(zip(ROLE_NAMES, marks, strict=True))
    return out


def routes(app: Any) -> set[tuple[str, str]]:
    from api.main import route_table

    return set(route_table(app))


def test_table_lists_every_route_and_nothing_else() -> None:
    from api.main import create_app
    from api.settings import ServiceSettings

    table = set(documented())
    have = routes(create_app(ServiceSettings(env="local", access_log=False)))
    assert have - table == set(), f"routes missing from docs/api.md: {sorted(have - table)}"
    assert table - have == set(), f"docs/api.md lists routes the app lacks: {sorted(table - have)}"


def _request(path: str, method: str, cell: str) -> dict[str, Any]:
    """A cheap request per route: where the call would be expensive or write, the body or a
    query parameter is made invalid so an admitted caller gets 422/404 (auth runs first)."""
    values = {
        "code": "220173001001",
        "leader_id": "G01_1",
        "cell": cell,
        "plan_id": MISSING_PLAN,
        "collection_id": "pieces",
        "feature_id": "1",
        "name": "viewer",
        "action": "discard",
        "patrol_id": "999999",
        "z": "0",  # /api/tiles: no tile file configured → 404
        "x": "0",
        "y": "0",
    }
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    kw: dict[str, Any] = {}
    bad_query = {
        "/api/maps/overview",
        "/api/maps/leaders/{leader_id}",
        "/api/coverage",
        "/api/coverage/geojson",
    }
    if path in bad_query:
        url += "?basemap=bad" if "maps" in path else "?scope=" + "x" * 40
    elif path == "/api/admin/layers":
        url += "?allow_orphans=notabool"
    elif path == "/api/admin/leaders":
        url += "?reason=" + "x" * 600
    elif path == "/api/locate":
        url += "?lat=43.8025&lng=125.253"
    if method == "PUT":
        kw["json"] = {"leader_id": "G01_1", "reason": "matrix"}
        kw["headers"] = {"If-Match": "*"}
    elif method == "POST" and path.startswith("/api"):
        kw["json"] = {}
    return {"url": url, **kw}


def test_matrix(shared_api: Any) -> None:
    """Every route × every role behaves as docs/api.md says (zero mismatches)."""
    table = documented()
    api = shared_api
    cell = cells_held(api.store, "G01_1")[0]
    mismatches = []
    for role, (method, path) in itertools.product(ROLE_NAMES, sorted(routes(api.client.app))):
        want = table[(method, path)][role]
        req = _request(path, method, cell)
        url = req.pop("url")
        r = api.as_(role, method, url, follow_redirects=False, **req)
        location = r.headers.get("location", "")
        to_login = r.status_code == 303 and location.startswith("/login?next=")
        if want in ("✓", "own"):
            ok = r.status_code not in (401, 403) and not to_login and r.status_code < 500
        elif want == "✗":
            ok = r.status_code == (401 if role == "anonymous" else 403)
        elif want == "login":
            ok = to_login
        else:
            raise AssertionError(f"docs/api.md: unknown mark {want!r} for {method} {path}")
        if not ok:
            mismatches.append(f"{method} {path} as {role}: want {want}, got {r.status_code}")
    assert mismatches == []
