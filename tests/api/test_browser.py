"""Headless Chromium walk-through of the web pages (Debian's /usr/bin/chromium via playwright).

Log in as a leader, open my ground, download the KML; log in as a planner, propose and apply a
rebalance, and see the coverage figures change. Skipped when Chromium is missing, except under
``CI=true`` where that is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apihelpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    require_chromium,
    seeded_store,
    uvicorn_server,
)

pytestmark = pytest.mark.browser

ARGS = CHROMIUM_ARGS
COMMUNITY = "220173001001"


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """uvicorn on a free loopback port over a SQLite store with the tiny layers and users."""
    require_chromium()
    url, _tokens = seeded_store(request.config, tmp_path)
    with uvicorn_server(url, GRIDMGR_BASEMAP="none") as base:
        yield base


def _login(page: Any, base: str, user: str, next_: str) -> None:
    page.goto(f"{base}/login?next={next_}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")
    page.wait_for_load_state()


def _max_ratio(page: Any, base: str) -> float:
    page.goto(f"{base}/dashboard")
    cell = page.locator(f"#units tr[data-code='{COMMUNITY}'] td").last
    return float(cell.inner_text())


def test_walk_through(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(accept_downloads=True)
            page = ctx.new_page()
            # a leader: my ground and its KML
            _login(page, server, "leader", "/my")
            assert page.url.endswith("/my")
            assert "网格长G01_1" in page.inner_text("h1")
            assert int(page.inner_text("#my-pieces")) > 0
            assert float(page.inner_text("#route-km").split()[0]) > 0  # the patrol route
            with page.expect_download() as dl:
                page.click("#dl-kml")
            path = tmp_path / "dl.kml"
            dl.value.save_as(path)
            assert dl.value.suggested_filename == "网格长G01_1_巡查图.kml"
            assert "<kml" in path.read_text(encoding="utf-8")
            assert page.goto(f"{server}/rebalance").status == 403  # leaders may not plan
            page.goto(f"{server}/my")
            page.click("form[action='/logout'] button")
            page.wait_for_url("**/login")
            # a planner: propose and apply a rebalance, the dashboard moves
            _login(page, server, "planner", "/dashboard")
            before = _max_ratio(page, server)
            page.goto(f"{server}/rebalance")
            page.select_option("#scope", COMMUNITY)
            page.fill("input[name=target_ratio]", "1.05")
            page.click("#propose")
            page.wait_for_url("**/rebalance/*")
            assert int(page.inner_text("#moved")) > 0
            page.fill("#reason", "平衡负载")
            page.click("#apply")
            page.wait_for_load_state()
            assert page.get_attribute("#plan-status", "data-status") == "applied"
            assert page.inner_text("#plan-status") == "已应用"  # statuses read in Chinese
            after = _max_ratio(page, server)
            assert after < before
            page.goto(f"{server}/dashboard?lang=en")
            assert "Coverage" in page.inner_text("h1")
        finally:
            browser.close()


def test_api_docs_render_with_the_network_blocked(server: str) -> None:
    """Swagger UI comes from this server: with every other host unreachable it still renders."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            page.goto(f"{server}/api/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "gridmgr" in page.inner_text(".swagger-ui .info .title")
            assert page.locator(".opblock").count() > 10  # the operations are listed
            assert blocked == []  # nothing was even asked of another host
        finally:
            browser.close()
