"""The leader patrol map in a real browser: Debian's headless Chromium driven by playwright.

Checks what a leader's phone would show: the page renders (screenshot, not blank), the territory
outline and the route are in the DOM, every stop is numbered, nothing is requested from the
network except map tiles (which are blocked here, so the test runs offline), and a leader name
carrying an XSS payload is shown as text without any script running.

Without ``/usr/bin/chromium`` the tests skip (run ``scripts/system-deps.sh``); under ``CI=true`` a
missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import shapely

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
XSS = '<script>alert("xss")</script><img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if IN_CI:
            pytest.fail(
                f"{CHROMIUM} is required under CI=true; run scripts/system-deps.sh", pytrace=False
            )
        pytest.skip(f"{CHROMIUM} not installed (run scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def leader_page(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A leader map of a shipped community, with XSS payloads in the leader and a place name."""
    from gridmgr import maps
    from gridmgr.grid import pieces_from_units
    from gridmgr.io import read_layers
    from gridmgr.patrol import patrol_route
    from gridmgr.settings import DEFAULT_LAYERS

    layers = read_layers(DEFAULT_LAYERS)
    pieces = pieces_from_units(layers.units, res=10)
    mine = pieces.loc[pieces["unit_code"] == "220173001003"].reset_index(drop=True)
    terr = shapely.union_all(np.asarray(mine.geometry.values))
    kp = layers.key_places.loc[layers.key_places.geometry.intersects(terr)].reset_index(drop=True)
    kp.loc[0, "name"] = XSS
    route = patrol_route(mine, kp, roads=layers.roads, time_limit_s=0.0)
    m = maps.leader_map(
        mine,
        kp,
        route,
        leader={"id": "A0301", "name": XSS},
        basemap="osm",
        categories=layers.categories,
        departments=layers.departments,
    )
    path = tmp_path_factory.mktemp("maps") / "leader.html"
    path.write_text(maps.map_html(m), encoding="utf-8")
    return {"path": path, "stops": len(route.stops)}


def _open(browser: Any, path: Path) -> dict[str, Any]:
    from gridmgr.maps import TILE_HOSTS

    page = browser.new_page(viewport={"width": 1200, "height": 800})
    seen: dict[str, list[str]] = {"tiles": [], "other": [], "dialogs": [], "errors": []}

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "about:")):
            r.continue_()
            return
        host = urlparse(url).hostname or ""
        seen["tiles" if any(host.endswith(h) for h in TILE_HOSTS) else "other"].append(url)
        r.abort()  # offline: tiles are blocked too

    page.route("**/*", route)
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_selector("path.leaflet-interactive", state="attached", timeout=10_000)
    return {"page": page, **seen}


def test_leader_map_renders_offline(
    browser: Any, leader_page: dict[str, Any], tmp_path: Path
) -> None:
    from PIL import Image

    from gridmgr.maps import ROUTE_COLOUR

    got = _open(browser, leader_page["path"])
    page = got["page"]
    try:
        assert got["errors"] == []
        # territory outline (red, no fill) and the route line are SVG paths in the DOM
        assert page.locator('path.leaflet-interactive[stroke="#c1121f"][fill="none"]').count() == 1
        assert page.locator(f'path.leaflet-interactive[stroke="{ROUTE_COLOUR}"]').count() == 1
        # every stop is numbered, plus the start marker
        assert page.locator(".gm-stop").count() == leader_page["stops"]
        assert page.locator(".gm-start").count() == 1
        # controls: layers, full screen, measure, scale
        for sel in (
            ".leaflet-control-layers",
            ".leaflet-control-zoom-fullscreen",
            ".gm-measure",
            ".leaflet-control-scale",
        ):
            assert page.locator(sel).count() == 1, sel
        shot = tmp_path / "leader.png"
        page.screenshot(path=str(shot))
        img = np.asarray(Image.open(shot).convert("L"), dtype=float)
        assert img.shape == (800, 1200)
        assert img.std() > 10  # not a blank page
        # nothing left the machine except tile requests (which were blocked)
        assert got["other"] == []
        assert got["tiles"], "the basemap should have asked for tiles"
    finally:
        page.close()


def test_xss_payload_shows_as_text(browser: Any, leader_page: dict[str, Any]) -> None:
    got = _open(browser, leader_page["path"])
    page = got["page"]
    try:
        legend = page.locator(".gm-legend h4").inner_text()
        assert XSS in legend  # the payload is visible, literally
        assert page.title().startswith(XSS)
        # open the key place's popup: the name is text there too
        badges = page.locator(".leaflet-marker-icon.gm-badge")
        texts = []
        for i in range(badges.count()):
            badges.nth(i).dispatch_event("click")
            page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
            texts += page.locator(".leaflet-popup-content").all_inner_texts()
        assert any(XSS in tx for tx in texts), texts
        assert page.locator("img[src='x']").count() == 0
        assert got["dialogs"] == []
        assert page.evaluate("typeof window.__xss") == "undefined"
    finally:
        page.close()


def test_measure_control_measures(browser: Any, leader_page: dict[str, Any]) -> None:
    got = _open(browser, leader_page["path"])
    page = got["page"]
    try:
        page.locator(".gm-measure-btn").click()
        box = page.locator(
            "#" + page.evaluate("document.querySelector('.folium-map').id")
        ).bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.click(box["x"] + 300, y)
        page.mouse.click(box["x"] + 600, y)
        text = page.locator(".gm-measure-out").inner_text()
        assert any(u in text for u in ("米", "公里", "km", " m")), text
        assert any(ch.isdigit() for ch in text)
    finally:
        page.close()


def test_overview_map_renders_offline(browser: Any, tmp_path: Path) -> None:
    """The whole zone at res 10, dissolved: one SVG path per territory, no request but tiles."""
    import h3

    from gridmgr import maps
    from gridmgr.grid import pieces_from_units
    from gridmgr.io import read_layers
    from gridmgr.settings import DEFAULT_LAYERS

    layers = read_layers(DEFAULT_LAYERS)
    pieces = pieces_from_units(layers.units, res=10)
    pieces["leader_id"] = [
        f"{u}-{h3.cell_to_parent(c, 7)}"
        for u, c in zip(pieces["unit_code"], pieces["cell"], strict=True)
    ]
    path = tmp_path / "overview.html"
    path.write_text(
        maps.map_html(maps.overview_map(layers.units, pieces, basemap="tianditu")), encoding="utf-8"
    )
    got = _open(browser, path)
    page = got["page"]
    try:
        n_terr = pieces["leader_id"].nunique()
        fills = page.eval_on_selector_all(
            "path.leaflet-interactive[fill-opacity='0.45']",
            "els => els.map(e => e.getAttribute('fill'))",
        )
        assert len(fills) == n_terr
        assert len(set(fills)) >= 5
        assert got["errors"] == [] and got["other"] == []
    finally:
        page.close()


def test_legend_folds_and_starts_folded_on_a_phone(
    browser: Any, leader_page: dict[str, Any]
) -> None:
    got = _open(browser, leader_page["path"])
    page = got["page"]
    try:
        assert page.locator(".gm-legend.gm-collapsed").count() == 0
        page.locator(".gm-legend h4").click()
        assert page.locator(".gm-legend.gm-collapsed").count() == 1
    finally:
        page.close()
    phone = browser.new_page(viewport={"width": 390, "height": 800})
    try:
        phone.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        phone.goto(leader_page["path"].as_uri())
        phone.wait_for_selector(".gm-legend", state="attached")
        assert phone.locator(".gm-legend.gm-collapsed").count() == 1
    finally:
        phone.close()
