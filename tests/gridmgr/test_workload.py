"""The shared workload definition: weights parsing and piece loads."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from gridmgr.assign.workload import DEFAULT_WEIGHTS, parse_weights, piece_loads
from gridmgr.errors import InvalidFieldError


def test_parse_weights_fills_defaults_and_accepts_chinese_comma() -> None:
    assert parse_weights(None) == DEFAULT_WEIGHTS
    assert parse_weights("key_places=10，pieces=2") == {
        "area": 1.0,
        "key_places": 10.0,
        "pieces": 2.0,
    }
    assert parse_weights({"area": 3}) == {"area": 3.0, "key_places": 5.0, "pieces": 0.0}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("area", "area"),
        ("bogus=1", "bogus"),
        ("area=abc", "abc"),
        ("area=-1", "-1"),
        ("area=0,key_places=0,pieces=0", "--weights"),
    ],
)
def test_bad_weights_name_the_item(text: str, fragment: str) -> None:
    with pytest.raises(InvalidFieldError, match=fragment):
        parse_weights(text)


def test_piece_loads_count_area_and_key_places_once() -> None:
    pieces = gpd.GeoDataFrame(
        {"area_m2": [20_000.0, 10_000.0]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)]
    )
    places = gpd.GeoDataFrame(
        geometry=[Point(0.5, 0.5), Point(1.0, 0.5), Point(5, 5)]
    )  # one on the shared edge
    loads = piece_loads(pieces, places, "area=1,key_places=5,pieces=1")
    # 2 ha + 1 piece + key places: the edge point counts once, the far point nowhere
    assert loads.sum() == pytest.approx(2 + 1 + 2 * 1 + 2 * 5)
    assert sorted([loads[0] - 3, loads[1] - 2]) in ([5.0, 5.0], [0.0, 10.0]) or loads[0] - 3 in (
        5.0,
        10.0,
    )
    assert loads[0] >= 2 + 1 + 5 and loads[1] >= 1 + 1
