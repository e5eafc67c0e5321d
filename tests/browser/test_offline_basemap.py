"""Offline basemaps in Debian's headless Chromium, served by a real uvicorn.

Every request that is not to the local server is blocked (as on an intranet without internet).
The default ``vector`` basemap must draw the roads, rivers and unit outlines, so the map is not a
blank grey page; the ``local`` basemap must show the tiles of the office's MBTiles file through
``/api/tiles``. Screenshots are saved as artefacts in the test's tmp directory.
"""

from __future__ import annotations

import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GRIDMGR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
LEAFLET_GREY = (221, 221, 221)  # .leaflet-container background: what "blank" looks like
MAGENTA = (230, 0, 200)  # the colour of every tile of the test's MBTiles file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _png(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:  # fmt: skip
    """uvicorn over the tiny layers (inside the shipped zone, so the shipped roads reach them),
    with ``GRIDMGR_TILES`` pointing at a generated MBTiles of zooms 0–2; default basemap."""
    sys.path.insert(0, str(ROOT / "tests" / "api"))
    from apihelpers import require_chromium, seeded_store, uvicorn_server

    from tests.gridmgr.test_tiles import write_mbtiles

    require_chromium()
    tmp = tmp_path_factory.mktemp("offline")
    url, tokens = seeded_store(request.config, tmp)
    tiles = {(z, x, y): _png(MAGENTA) for z in range(3) for x in range(1 << z) for y in range(1 << z)}  # fmt: skip
    mbtiles = write_mbtiles(tmp / "office.mbtiles", tiles)
    # the default basemap: no GRIDMGR_BASEMAP or Tianditu key from the caller's environment
    with uvicorn_server(url, GRIDMGR_TILES=str(mbtiles), GRIDMGR_BASEMAP="", GRIDMGR_TIANDITU_KEY="") as base:  # fmt: skip
        yield {"base": base, "token": tokens["viewer"]}


def _open_offline(server: dict[str, str], path: str, shot: Path) -> dict[str, Any]:
    """Load ``path`` with every non-local request blocked; DOM counts, requests, screenshot."""
    from playwright.sync_api import sync_playwright

    base = server["base"]
    blocked: list[str] = []
    tile_status: list[int] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1000, "height": 700},
                extra_http_headers={"Authorization": f"Bearer {server['token']}"},
            )
            page = ctx.new_page()
            page.route("**/*", only_local)
            page.on(
                "response",
                lambda r: tile_status.append(r.status) if "/api/tiles/" in r.url else None,
            )
            page.goto(base + path)
            page.wait_for_selector(".leaflet-gmBase-pane path.gm-base", state="attached")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)  # let Leaflet finish drawing
            out = {
                "base_paths": page.locator(".leaflet-gmBase-pane path.gm-base").count(),
                "tiles": page.locator(".leaflet-tile-pane img.leaflet-tile-loaded").count(),
                "blocked": blocked,
                "tile_status": tile_status,
            }
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    out["pixels"] = pixels.reshape(-1, 3)
    return out


def _share(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int = 6) -> float:
    return float(np.mean(np.all(np.abs(pixels - np.asarray(rgb)) <= tol, axis=1)))


def test_vector_basemap_is_drawn_with_the_network_blocked(
    server: dict[str, str], tmp_path: Path
) -> None:
    got = _open_offline(server, "/api/maps/overview", tmp_path / "offline_basemap.png")
    assert got["blocked"] == []  # the page asked nothing of any other host
    assert got["base_paths"] > 10  # roads, river and unit outlines are SVG paths
    px = got["pixels"]
    assert _share(px, LEAFLET_GREY, tol=2) < 0.02  # not a blank grey page
    assert _share(px, (243, 241, 236), tol=3) > 0.2  # the light paper background
    assert _share(px, (255, 255, 255), tol=1) > 0.002  # white road lines
    river = np.abs(px - np.asarray((142, 202, 230))).max(axis=1) <= 40
    assert river.mean() > 0.0005  # the blue 永春河
    print(f"artefact: {tmp_path / 'offline_basemap.png'}")


def test_local_tiles_come_from_the_office_file(server: dict[str, str], tmp_path: Path) -> None:
    got = _open_offline(server, "/api/maps/overview?basemap=local", tmp_path / "local_tiles.png")
    assert got["blocked"] == []
    assert got["tile_status"] and set(got["tile_status"]) <= {200, 304}
    assert got["tiles"] >= 1
    assert _share(got["pixels"], MAGENTA, tol=30) > 0.2  # the file's tiles fill the map
    print(f"artefact: {tmp_path / 'local_tiles.png'}")
