"""The offline vector basemap: roads, rivers and unit outlines embedded in every map page."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from gridmgr.maps import map_html, resolve_basemap
from gridmgr.maps.basemap import _new_map
from gridmgr.maps.leaflet import render_page
from gridmgr.maps.vector_base import base_data, base_features, store_base

ZONE = (125.18, 43.74, 125.36, 43.86)  # around the shipped Changchun High-tech Zone


def base_kinds(page: str) -> list[str]:
    """The feature kinds of the page's vector base (``gmDecode({...});`` of the base layer)."""
    m = re.search(r"_data = gmDecode\((\{\"f\":.*?\})\);", page)
    assert m is not None, "no vector base in the page"
    return [f[2]["k"] for f in json.loads(m.group(1))["f"]]


def test_vector_is_the_default_and_offline() -> None:
    assert resolve_basemap(None) == ("vector", None)
    m, base = _new_map(ZONE, None, "t")
    page = render_page(m)
    assert base.basemap == "vector"
    assert not re.findall(r'L\.tileLayer\(\s*"([^"]+)"', page)
    kinds = base_kinds(page)
    # the shipped layers: the river, major and minor roads, district/street/community outlines
    assert {"w", "r1", "u0", "u1", "u2"} <= set(kinds)
    assert "gm-base" in page and "'gmBase'" in page


def test_clipped_to_the_map() -> None:
    data = base_data()
    _, everything = base_features(ZONE, data)
    far = (100.0, 30.0, 100.01, 30.01)
    assert base_features(far, data) == ('{"f":[]}', 0)
    small = (125.25, 43.80, 125.251, 43.801)
    _, near = base_features(small, data)
    assert 0 < near < everything


def test_none_has_no_base_and_amap_shifts_it() -> None:
    assert "gmBase" not in render_page(_new_map(ZONE, "none", "t")[0])
    plain = render_page(_new_map(ZONE, "vector", "t")[0])
    gcj = render_page(_new_map(ZONE, "amap", "t")[0])
    assert base_kinds(plain) == base_kinds(gcj)
    assert plain.split("_data = gmDecode(")[1][:200] != gcj.split("_data = gmDecode(")[1][:200]


def test_store_base_uses_the_store(loaded_store: Any) -> None:
    """Inside ``store_base`` the outlines are the store's units (the tiny test communities)."""
    from gridmgr.maps import overview_map_from_store
    from gridmgr.patrol.roads import roads_for_store

    units = loaded_store.units()
    with store_base(loaded_store):
        data = base_data()
        assert data.units is not None and sorted(data.units["code"]) == sorted(units["code"])
        page = map_html(overview_map_from_store(loaded_store, basemap="vector"))
    roads = roads_for_store(loaded_store)
    assert roads is not None
    kinds = base_kinds(page)
    assert kinds.count("u2") == int(np.sum(units["level"] == "community"))
    assert any(k in ("r1", "r2") for k in kinds)
    # outside the block the default layers (17 shipped units) come back
    assert base_data().units is not None and len(base_data().units) != len(units)


@pytest.mark.parametrize("name", ["offline", "离线", "矢量"])
def test_aliases(name: str) -> None:
    assert resolve_basemap(name)[0] == "vector"
