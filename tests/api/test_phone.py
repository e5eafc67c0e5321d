"""Phone first: the pages at 390×844 (a phone) and 1366×768 (an office screen) in headless Chromium.

For login, 我的责任区 (/my), the dashboard and a plan page: the page never scrolls sideways, names
are visible (unit names on one line, not one character per line), no English identifier of the
glossary is shown on the Chinese page; on the leader's map the stop numbers are never a pile,
key places sit above the stops and the attribution stays clear of the scale bar. Screenshots of
every page and size are saved (a pytest tmp dir, or ``$GRIDMGR_TEST_ARTIFACTS`` when set) to
look at after a run. One server and one browser for the module.
"""

from __future__ import annotations

import os
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
from test_pages_chinese import english_identifiers, visible_text

pytestmark = pytest.mark.browser

ARGS = CHROMIUM_ARGS
COMMUNITY = "220173001001"
SIZES = {"phone": (390, 844), "desktop": (1366, 768)}


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """uvicorn over a SQLite store with the tiny layers, leaders on their ground and users."""
    require_chromium()
    url, _tokens = seeded_store(request.config, tmp_path_factory.mktemp("phone"))
    with uvicorn_server(url, GRIDMGR_BASEMAP="none") as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (``$GRIDMGR_TEST_ARTIFACTS`` or a pytest tmp dir)."""
    env = os.environ.get("GRIDMGR_TEST_ARTIFACTS")
    out = Path(env) / "phone" if env else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")
    page.wait_for_load_state()


def _check(page: Any, shots: Path, name: str) -> None:
    """No sideways scrolling, no glossary identifier in the text; a full-page screenshot."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name}: {overflow} px sideways"
    assert english_identifiers(visible_text(page.content())) == [], name


def _one_line(page: Any, selector: str) -> None:
    """Every element of ``selector`` is visible and one line high (no character-per-line)."""
    cells = page.locator(selector)
    assert cells.count() > 0, selector
    for k in range(cells.count()):
        cell = cells.nth(k)
        assert cell.is_visible()
        box = cell.bounding_box()
        size = float(cell.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
        assert box["height"] < 2.2 * size, (selector, cell.inner_text(), box)


def _propose(page: Any, base: str) -> str:
    page.goto(f"{base}/rebalance")
    page.select_option("#scope", COMMUNITY)
    page.fill("input[name=target_ratio]", "1.02")
    page.click("#propose")
    page.wait_for_url("**/rebalance/*")
    return str(page.url)


def _leader_map(frame: Any) -> None:
    """The leader's map: stop numbers readable or hidden, badges above stops, attribution
    clear of the scale bar."""
    frame.wait_for_selector(".leaflet-control-scale")
    frame.wait_for_timeout(300)  # gridmgr.js declutters after the first render
    crowded = frame.evaluate(
        """() => {
      const r = [...document.querySelectorAll('.gm-stop')].filter(e => e.offsetParent)
        .map(e => e.getBoundingClientRect());
      let n = 0;
      for (let a = 0; a < r.length; a++) for (let b = a + 1; b < r.length; b++)
        if (r[a].left < r[b].right && r[b].left < r[a].right && r[a].top < r[b].bottom && r[b].top < r[a].bottom) { n++; break; }
      return [n, r.length];
    }"""
    )
    assert crowded[0] * 10 <= max(crowded[1], 1), crowded
    z = frame.evaluate(
        """() => [Math.min(...[...document.querySelectorAll('.leaflet-marker-icon.gm-badge')].map(e => +e.style.zIndex)),
                  Math.max(-1e9, ...[...document.querySelectorAll('.leaflet-marker-icon.gm-stop')].map(e => +e.style.zIndex))]"""
    )
    assert z[0] > z[1], z
    clash = frame.evaluate(
        """() => { const a = document.querySelector('.leaflet-control-attribution').getBoundingClientRect(),
                      s = document.querySelector('.leaflet-control-scale').getBoundingClientRect();
                   return a.left < s.right && s.left < a.right && a.top < s.bottom && s.top < a.bottom; }"""
    )
    assert not clash


@pytest.mark.parametrize("size", list(SIZES))
def test_pages_fit_the_screen(server: str, browser: Any, shots: Path, size: str) -> None:
    w, h = SIZES[size]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    try:
        page = ctx.new_page()
        page.goto(f"{server}/login")
        _check(page, shots, f"{size}-login")
        # a leader lands on their own ground; the nav shows only theirs
        _login(page, server, "leader")
        assert page.url.endswith("/my")
        _check(page, shots, f"{size}-my")
        assert "网格长G01_1" in page.inner_text("h1")
        assert (
            page.locator("#my-places li").count() > 0 and page.locator("#stale-count").is_visible()
        )
        nav = page.inner_text("header nav")
        assert (
            "巡查" in nav and "负载调整" not in nav and "覆盖情况" not in nav and "API" not in nav
        )
        _leader_map(page.locator("iframe.map").element_handle().content_frame())
        page.click("form[action='/logout'] button")
        page.wait_for_url("**/login")
        # a planner: the dashboard (unit names on one line) and a plan page
        _login(page, server, "planner")
        page.goto(f"{server}/dashboard")
        _check(page, shots, f"{size}-dashboard")
        _one_line(page, "#units td.name a")
        plan = _propose(page, server)
        _check(page, shots, f"{size}-plan")
        _one_line(page, "#pairs td:first-child .name")
        assert page.locator("#plan-status").inner_text() == "待应用"
        for row in page.locator("#metrics tr[data-metric]").all():  # every metric has a name
            assert row.locator("td").first.inner_text() != row.get_attribute("data-metric")
        page.goto(plan + "?lang=en")  # English is there too
        assert "Plan" in page.inner_text("h1")
        page.goto(f"{server}/dashboard?lang=zh")
    finally:
        ctx.close()
