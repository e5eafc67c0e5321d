"""Interactive maps: offline pages, escaping, colouring, basemaps and GCJ-02, weight, CLI."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmgr import maps
from gridmgr.errors import InputError
from gridmgr.io.crs import wgs84_to_gcj02
from gridmgr.patrol import patrol_route
from gridmgr.settings import DEFAULT_LAYERS

XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>{{ 7*7 }}{% if 1 %}'


# --------------------------------------------------------------------------------------------
# helpers: decode what the page embeds
# --------------------------------------------------------------------------------------------


def decode_chain(strings: list[str]) -> list[np.ndarray]:
    """Python twin of gmDecode's chain decoder (one delta chain over all strings)."""
    x = y = 0
    out = []
    for s in strings:
        pts = []
        i = 0
        while i < len(s):
            vals = []
            for _ in range(2):
                shift = r = 0
                while True:
                    b = ord(s[i]) - 63
                    i += 1
                    r |= (b & 0x1F) << shift
                    shift += 5
                    if b < 0x20:
                        break
                vals.append(~(r >> 1) if r & 1 else r >> 1)
            x += vals[0]
            y += vals[1]
            pts.append((x / 1e6, y / 1e6))
        out.append(np.asarray(pts))
    return out


def _strings(node: Any) -> list[str]:
    return [node] if isinstance(node, str) else [s for n in node for s in _strings(n)]


def layers_in(page: str) -> list[dict[str, Any]]:
    """Every ``gmDecode(...)`` payload of a page, decoded (features with coordinate arrays)."""
    out = []
    for m in re.finditer(r"gmDecode\((\{\"f\":.*?\})\), \{", page):
        data = json.loads(m.group(1))
        feats = data["f"]
        flat = [s for f in feats for s in _strings(f[1])]
        coords = decode_chain(flat)
        out.append({"features": feats, "coords": coords})
    return out


@lru_cache(maxsize=1)
def _shipped() -> tuple[Any, gpd.GeoDataFrame]:
    from gridmgr.grid import pieces_from_units
    from gridmgr.io import read_layers

    layers = read_layers(DEFAULT_LAYERS)
    return layers, pieces_from_units(layers.units, res=10)


def _community(code: str = "220173001003") -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    layers, pieces = _shipped()
    mine = pieces.loc[pieces["unit_code"] == code].reset_index(drop=True)
    terr = shapely.union_all(np.asarray(mine.geometry.values))
    kp = layers.key_places.loc[layers.key_places.geometry.intersects(terr)].reset_index(drop=True)
    return mine, kp


def _leader_page(basemap: str = "osm", **kw: Any) -> str:
    layers, _ = _shipped()
    pieces, kp = _community()
    route = patrol_route(pieces, kp, time_limit_s=0.0)
    m = maps.leader_map(
        pieces,
        kp,
        route,
        leader={"id": "A0301", "name": kw.pop("name", "张三")},
        basemap=basemap,
        categories=layers.categories,
        departments=layers.departments,
        **kw,
    )
    return maps.map_html(m)


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=2, max_size=40))
def test_encoded_chain_round_trips(coords: list[tuple[float, float]]) -> None:
    line = shapely.LineString(coords)
    page_json = maps.features_json([line, shapely.Point(coords[0])])
    data = json.loads(page_json)
    got = decode_chain([s for f in data["f"] for s in _strings(f[1])])
    np.testing.assert_allclose(got[0], np.round(np.asarray(coords), 6), atol=1.1e-6)
    np.testing.assert_allclose(got[1][0], np.round(coords[0], 6), atol=1.1e-6)


def test_polygons_with_holes_and_multipolygons_encode() -> None:
    outer = shapely.box(125.0, 43.0, 125.1, 43.1)
    holed = outer.difference(shapely.box(125.02, 43.02, 125.03, 43.03))
    multi = shapely.MultiPolygon(
        [shapely.box(125.2, 43.0, 125.21, 43.01), shapely.box(125.3, 43.0, 125.31, 43.01)]
    )
    data = json.loads(maps.features_json([holed, multi], {"a": ["x", "y"]}))
    assert [f[0] for f in data["f"]] == [3, 6]
    assert len(data["f"][0][1]) == 2  # exterior + hole
    assert len(data["f"][1][1]) == 2  # two parts
    rings = decode_chain([s for f in data["f"] for s in _strings(f[1])])
    assert shapely.Polygon(rings[0]).area == pytest.approx(
        holed.exterior.convex_hull.area, rel=1e-6
    )
    assert data["f"][1][2] == {"a": "y"}


def test_embedded_json_cannot_close_the_script() -> None:
    text = maps.features_json([shapely.Point(125, 43)], {"_t": ["</script><b>&"]})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["f"][0][2]["_t"] == "</script><b>&"


# --------------------------------------------------------------------------------------------
# offline pages
# --------------------------------------------------------------------------------------------


def _external_refs(page: str) -> list[str]:
    refs = re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=\s*"([^"]+)"', page)
    return [r for r in refs if not r.startswith("data:")]


@pytest.mark.parametrize("basemap", ["osm", "amap", "none", "tianditu", "vector"])
def test_leader_map_has_no_external_script_or_css(basemap: str) -> None:
    page = _leader_page(basemap)
    assert _external_refs(page) == []
    hosts = set(re.findall(r"https?://([a-z0-9.-]+)", page.lower()))
    assert not [
        h
        for h in hosts
        if re.search(r"cdn|jsdelivr|unpkg|cloudflare|googleapis|jquery|bootstrap", h)
    ]
    assert "L.map(" in page and "gmDecode" in page and "L.control.fullscreen" in page
    tile_urls = re.findall(r'L\.tileLayer\(\s*"([^"]+)"', page)
    assert len(tile_urls) == (
        1 if basemap in ("osm", "amap") else 0  # tianditu without a key: the vector base
    )
    for url in tile_urls:
        assert any(h in url for h in maps.TILE_HOSTS)


def test_map_html_refuses_a_cdn_plugin() -> None:
    from folium import plugins

    pieces, _ = _community()
    m = maps.leader_map(pieces, None, basemap="none")
    plugins.MiniMap().add_to(m)  # folium's MiniMap loads from a CDN
    with pytest.raises(InputError, match="external"):
        maps.map_html(m)


def test_overview_and_plan_pages_are_offline_too() -> None:
    layers, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = p["unit_code"]
    page = maps.map_html(maps.overview_map(layers.units, p, basemap="osm"))
    assert _external_refs(page) == []
    moves = [{"cell": p["cell"].iloc[0], "from_leader": p["unit_code"].iloc[0], "to_leader": "X"}]
    page = maps.map_html(maps.plan_diff_map(moves, p, basemap="none"))
    assert _external_refs(page) == []


# --------------------------------------------------------------------------------------------
# escaping
# --------------------------------------------------------------------------------------------


def test_xss_in_leader_and_place_names_is_escaped() -> None:
    layers, _ = _shipped()
    pieces, kp = _community()
    kp = kp.copy()
    kp.loc[0, "name"] = XSS
    kp.loc[0, "address"] = XSS
    route = patrol_route(pieces, kp, time_limit_s=0.0)
    leaders = pd.DataFrame({"id": ["P1"], "name": [XSS]})
    kp["package_leader_id"] = "P1"
    page = maps.map_html(
        maps.leader_map(
            pieces,
            kp,
            route,
            leader={"id": "A", "name": XSS},
            basemap="none",
            categories=layers.categories,
            departments=layers.departments,
            leaders=leaders,
        )
    )
    assert "<img src=x" not in page
    assert '<script>alert("x")' not in page
    assert page.count("<script>") == page.count("</script>")
    # the escaped text is there (title, legend, popups)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # folium re-renders macros with Jinja: template syntax in a name stays text
    assert "&#123;&#123; 7*7 &#125;&#125;" in page
    assert "alert(1)&gt;49" not in page and "7*7 }}" not in page
    payload = layers_in(page)
    popups = [f[2].get("_p", "") for lay in payload for f in lay["features"]]
    assert any("&lt;img src=x onerror=alert(1)&gt;" in p for p in popups)
    assert not any("<img" in p for p in popups)


def test_layer_and_legend_text_is_escaped_in_overview() -> None:
    layers, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = np.where(p["unit_code"] == "220173001003", "L1", "L2")
    leaders = pd.DataFrame({"id": ["L1", "L2"], "name": [XSS, "李四"]})
    gaps = gpd.GeoDataFrame(
        {"kind": ["unassigned"], "label_zh": [XSS]}, geometry=[p.geometry.iloc[0]], crs=4326
    )
    page = maps.map_html(
        maps.overview_map(layers.units, p, gaps, leaders=leaders, basemap="none", title=XSS)
    )
    assert "<img src=x" not in page and '<script>alert("x")' not in page
    assert "<title>&lt;script&gt;" in page


# --------------------------------------------------------------------------------------------
# colouring
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    nx=st.integers(1, 8),
    ny=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_neighbouring_territories_never_share_a_colour(nx: int, ny: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # random merges of grid squares into territories (like leaders' territories)
    label = rng.integers(0, max(1, nx * ny // 2), size=(nx, ny))
    sq = [shapely.box(i, j, i + 1, j + 1) for i in range(nx) for j in range(ny)]
    frame = gpd.GeoDataFrame({"leader_id": [str(v) for v in label.ravel()]}, geometry=sq, crs=4326)
    terr = maps.territories(frame)
    geoms = np.asarray(terr.geometry.values)
    colour = maps.colour_territories(geoms)
    for a, b in maps.territory_adjacency(geoms):
        assert colour[a] != colour[b]
    # corner contacts are not adjacency
    assert all(
        shapely.length(shapely.intersection(geoms[a].boundary, geoms[b].boundary)) > 0
        for a, b in maps.territory_adjacency(geoms)
    )


def test_colouring_uses_at_least_five_colours_when_there_are_enough_territories() -> None:
    sq = [shapely.box(i, 0, i + 1, 1) for i in range(12)]
    colour = maps.colour_territories(sq)
    assert len(set(colour.tolist())) >= 5
    assert all(colour[i] != colour[i + 1] for i in range(11))
    assert len(maps.PALETTE) >= 5


def test_overview_colours_on_the_page_differ_between_neighbours() -> None:
    import h3

    layers, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = [
        f"{u}-{h3.cell_to_parent(c, 7)}" for u, c in zip(p["unit_code"], p["cell"], strict=True)
    ]
    page = maps.map_html(maps.overview_map(layers.units, p, basemap="none", simplify_m=0.0))
    terr_layer = next(
        lay
        for lay in layers_in(page)
        if any("fillColor" in (f[2].get("_s") or {}) for f in lay["features"])
    )
    terr = maps.territories(p)
    fills = [f[2]["_s"]["fillColor"] for f in terr_layer["features"]]
    assert len(fills) == len(terr)
    pairs = maps.territory_adjacency(np.asarray(terr.geometry.values))
    assert len(pairs) > 20
    assert all(fills[a] != fills[b] for a, b in pairs)


# --------------------------------------------------------------------------------------------
# basemaps and GCJ-02
# --------------------------------------------------------------------------------------------


def _outline_coords(page: str) -> np.ndarray:
    # the first vector layer is the territory outline
    return layers_in(page)[0]["coords"][0]


def test_gcj_shift_only_with_amap(monkeypatch: pytest.MonkeyPatch) -> None:
    pieces, _ = _community()
    outline = shapely.coverage_union_all(np.asarray(pieces.geometry.values))
    want = np.asarray(outline.exterior.coords)[:-1]
    monkeypatch.setenv(maps.TIANDITU_KEY_ENV, "testkey")
    for basemap in ("osm", "none", "tianditu", "tianditu-img"):
        got = _outline_coords(maps.map_html(maps.leader_map(pieces, None, basemap=basemap)))
        np.testing.assert_allclose(got, want, atol=1.1e-6)
    got = _outline_coords(maps.map_html(maps.leader_map(pieces, None, basemap="amap")))
    gx, gy = wgs84_to_gcj02(want[:, 0], want[:, 1])
    np.testing.assert_allclose(got, np.column_stack([gx, gy]), atol=1.1e-6)
    assert np.abs(got - want).max() > 1e-3  # a few hundred metres
    # the caller's frame is unchanged
    assert shapely.coverage_union_all(np.asarray(pieces.geometry.values)).equals(outline)


def test_tianditu_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    pieces, _ = _community()
    monkeypatch.delenv(maps.TIANDITU_KEY_ENV, raising=False)
    page = maps.map_html(maps.leader_map(pieces, None, basemap="tianditu"))
    assert "tianditu.gov.cn" not in page and "L.tileLayer(" not in page  # offline roads
    assert "gmBase" in page
    assert "GRIDMGR_TIANDITU_KEY" in page  # the note on the map says why
    monkeypatch.setenv(maps.TIANDITU_KEY_ENV, "abc123")
    page = maps.map_html(maps.leader_map(pieces, None, basemap="tianditu-img"))
    urls = re.findall(r'L\.tileLayer\(\s*"([^"]+)"', page)
    assert [u.split("/")[3] for u in urls] == ["img_w", "cia_w"]
    assert all(u.endswith("tk=abc123") for u in urls)


def test_unknown_basemap_is_refused() -> None:
    pieces, _ = _community()
    with pytest.raises(InputError, match="basemap|底图"):
        maps.leader_map(pieces, None, basemap="bing")


# --------------------------------------------------------------------------------------------
# content and weight
# --------------------------------------------------------------------------------------------


def test_leader_map_content() -> None:
    pieces, kp = _community()
    page = _leader_page("none")
    lays = layers_in(page)
    # outline, pieces, key places, route line, stop numbers: one layer each, not one per row
    assert len(lays) == 5
    assert len(lays[1]["features"]) == len(pieces)
    assert len(lays[4]["features"]) == len(pieces) + len(kp) + 1  # + the start
    assert [f[2].get("n") for f in lays[4]["features"]] == list(range(len(pieces) + len(kp) + 1))
    for word in ("巡查路线", "公里", "分钟", "重点点位", "直线距离"):
        assert word in page
    assert "L.control.gmMeasure" in page and "L.control.scale" in page
    assert "L.control.layers" in page


def test_leader_map_of_500_pieces_is_under_300_kb() -> None:
    layers, pieces = _shipped()
    big = pieces.loc[pieces["unit_code"] == "220173001004"].reset_index(drop=True)
    assert len(big) >= 500
    big = big.iloc[:500]
    terr = shapely.union_all(np.asarray(big.geometry.values))
    kp = layers.key_places.loc[layers.key_places.geometry.intersects(terr)]
    route = patrol_route(big, kp, roads=layers.roads, time_limit_s=0.0)
    page = maps.map_html(
        maps.leader_map(
            big,
            kp,
            route,
            leader={"id": "X", "name": "网格长"},
            basemap="tianditu",
            categories=layers.categories,
            departments=layers.departments,
        )
    )
    size = len(page.encode("utf-8"))
    assert size < 300 * 1024, f"{size / 1024:.0f} KB"


def test_overview_of_the_whole_zone_is_dissolved() -> None:
    import h3

    layers, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = [
        f"{u}-{h3.cell_to_parent(c, 7)}" for u, c in zip(p["unit_code"], p["cell"], strict=True)
    ]
    page = maps.map_html(maps.overview_map(layers.units, p, basemap="none"))
    n_terr = p["leader_id"].nunique()
    lays = layers_in(page)
    assert len(lays[0]["features"]) == n_terr  # one polygon per territory, not one per piece
    assert len(page.encode("utf-8")) < 600 * 1024


def test_territories_keep_area_and_simplify_as_a_coverage() -> None:
    _, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = p["unit_code"]
    exact = maps.territories(p)
    simple = maps.territories(p, simplify_m=5.0)
    assert exact["area_m2"].sum() == pytest.approx(p["area_m2"].sum())
    g = np.asarray(simple.geometry.values)
    assert (
        shapely.get_num_coordinates(g).sum()
        < shapely.get_num_coordinates(np.asarray(exact.geometry.values)).sum() / 3
    )
    # simplified territories still tile without overlaps
    inter = shapely.area(shapely.intersection(g[:, None], g[None, :]))
    np.fill_diagonal(inter, 0)
    assert inter.max() < 1e-10


def test_gaps_need_a_kind() -> None:
    layers, pieces = _shipped()
    p = pieces.copy()
    p["leader_id"] = None
    bad = gpd.GeoDataFrame({"what": ["x"]}, geometry=[p.geometry.iloc[0]], crs=4326)
    with pytest.raises(InputError, match="kind"):
        maps.overview_map(layers.units, p, bad, basemap="none")


def test_plan_diff_map_highlights_moved_pieces() -> None:
    _, pieces = _shipped()
    p = pieces.loc[pieces["unit_code"].isin(["220173001003", "220173001002"])].reset_index(
        drop=True
    )
    p["leader_id"] = p["unit_code"]
    moved = p.loc[p["unit_code"] == "220173001003"].iloc[:7]
    moves = [
        {"cell": c, "from_leader": "220173001003", "to_leader": "220173001002"}
        for c in moved["cell"]
    ]
    leaders = pd.DataFrame({"id": ["220173001003", "220173001002"], "name": ["甲", "乙"]})
    page = maps.map_html(maps.plan_diff_map(moves, p, leaders=leaders, basemap="none"))
    lays = layers_in(page)
    moved_layer = lays[-1]
    # a cell names every piece of that cell (border cells have a piece on each side)
    assert len(moved_layer["features"]) == int(p["cell"].isin(moved["cell"]).sum()) >= 7
    assert all(f[2]["_t"] == "甲 → 乙" for f in moved_layer["features"])
    assert "调整的地块" in page


def test_plan_diff_popup_escapes_piece_ids_once() -> None:
    pieces, _ = _community()
    p = pieces.iloc[:2].reset_index(drop=True)
    p["leader_id"] = "A"
    p["id"] = ["<b>&1", "2"]
    moves = [{"piece_id": "<b>&1", "from_leader": "A", "to_leader": "B"}]
    popup = layers_in(maps.map_html(maps.plan_diff_map(moves, p, basemap="none")))[-1]["features"][
        0
    ][2]["_p"]
    assert "&lt;b&gt;&amp;1" in popup  # shown as the text <b>&1
    assert "&amp;lt;" not in popup and "<b>&1" not in popup


# --------------------------------------------------------------------------------------------
# from the store and the CLI (both backends)
# --------------------------------------------------------------------------------------------


def _assign_first_community(store: Any) -> None:
    from gridmgr.store import Change

    pieces = store.pieces(geometry=False)
    mine = pieces.loc[pieces["unit_code"] == "220173001001", "id"]
    store.apply_changes([Change(int(i), "G01_1") for i in mine], actor="test", reason="map test")


def test_leader_map_from_store(loaded_store: Any) -> None:
    _assign_first_community(loaded_store)
    m = maps.leader_map_from_store(loaded_store, "G01_1", basemap="none")
    page = maps.map_html(m)
    lays = layers_in(page)
    n = int((loaded_store.pieces(geometry=False)["leader_id"] == "G01_1").sum())
    assert len(lays[1]["features"]) == n
    # the market and the school of the first community are on the map with their department
    popups = " ".join(f[2].get("_p", "") for f in lays[2]["features"])
    assert "测试学校1" in popups and "测试市场" in popups and "教育局" in popups


def test_cli_map_commands(loaded_store: Any, store_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gridmgr.cli import app

    _assign_first_community(loaded_store)
    runner = CliRunner()
    out = tmp_path / "g.html"
    res = runner.invoke(
        app,
        [
            "map",
            "leader",
            "G01_1",
            "--basemap",
            "osm",
            "--start",
            "125.2505,43.8005",
            "--out",
            str(out),
            "--database-url",
            store_url,
        ],
    )
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert _external_refs(page) == [] and "巡查路线" in page
    out2 = tmp_path / "o.html"
    res = runner.invoke(
        app,
        [
            "map",
            "overview",
            "--scope",
            "220173001",
            "--basemap",
            "none",
            "--out",
            str(out2),
            "--database-url",
            store_url,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "覆盖缺口" in out2.read_text(encoding="utf-8")  # the other community is a blind spot
    res = runner.invoke(
        app,
        ["map", "leader", "NOPE", "--out", str(tmp_path / "x.html"), "--database-url", store_url],
    )
    assert res.exit_code == 1 and not (tmp_path / "x.html").exists()


def test_cli_plan_map(
    loaded_store: Any, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gridmgr.cli import app

    _assign_first_community(loaded_store)
    pieces = loaded_store.pieces(geometry=False)
    row = pieces.loc[pieces["leader_id"] == "G01_1"].iloc[0]
    plan_id = loaded_store.save_plan(
        scope=None,
        params={},
        metrics={},
        actor="test",
        moves=[
            {
                "piece_id": int(row["id"]),
                "cell": row["cell"],
                "from_leader": "G01_1",
                "to_leader": "G01_2",
                "version": int(row["version"]),
            }
        ],
    )
    out = tmp_path / "p.html"
    res = CliRunner().invoke(
        app,
        [
            "map",
            "plan",
            plan_id,
            "--basemap",
            "none",
            "--out",
            str(out),
            "--database-url",
            store_url,
        ],
    )
    assert res.exit_code == 0, res.output
    lays = layers_in(out.read_text(encoding="utf-8"))
    assert len(lays[-1]["features"]) == 1
    assert "网格长G01_1 → 网格长G01_2" == lays[-1]["features"][0][2]["_t"]
    # like the other map commands, a Tianditu basemap without a key falls back with a note
    monkeypatch.delenv("GRIDMGR_TIANDITU_KEY", raising=False)
    res = CliRunner().invoke(
        app,
        [
            "map",
            "plan",
            plan_id,
            "--basemap",
            "tianditu",
            "--out",
            str(out),
            "--database-url",
            store_url,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "GRIDMGR_TIANDITU_KEY" in res.output


def test_fallback_pieces_are_tinted_and_counted() -> None:
    pieces, _ = _community()
    p = pieces.copy()
    p["fallback"] = False
    p.loc[p.index[:4], "fallback"] = True
    page = maps.map_html(maps.leader_map(p, None, basemap="none"))
    feats = layers_in(page)[1]["features"]
    tinted = [f for f in feats if (f[2].get("_s") or {}).get("fillColor") == maps.FALLBACK_COLOUR]
    assert len(tinted) == 4
    assert all("属地兜底" in f[2]["_t"] for f in tinted)
    assert "属地兜底地块 4 块" in page


def test_plan_diff_map_takes_a_geojson_diff_and_an_empty_plan() -> None:
    _, pieces = _shipped()
    p = pieces.loc[pieces["unit_code"] == "220173001003"].reset_index(drop=True)
    p["leader_id"] = "A"
    p["id"] = np.arange(len(p))
    diff = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": None,
                "properties": {"piece_id": 3, "from_leader": "A", "to_leader": "B"},
            }
        ],
    }
    lays = layers_in(maps.map_html(maps.plan_diff_map(diff, p, basemap="none")))
    assert len(lays[-1]["features"]) == 1
    lays = layers_in(maps.map_html(maps.plan_diff_map([], p, basemap="none")))
    assert len(lays[-1]["features"]) == 0
