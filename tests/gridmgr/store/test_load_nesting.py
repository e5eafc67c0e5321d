"""A load refuses sibling communities that overlap and a community outside its street.

Unless ``allow_overlaps`` (``gridmgr load --allow-overlaps``): then it loads and warns. Slivers
under ``NESTING_TOLERANCE_M2`` never stop a load. Both backends; a refused load changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from shapely import affinity

from gridmgr.errors import HierarchyError, HierarchyWarning


def _moved(layers: Any, code: str, dx_deg: float) -> Any:
    """``layers`` with unit ``code`` shifted east by ``dx_deg`` degrees."""
    units = layers.units.copy()
    i = units.index[units["code"] == code][0]
    units.loc[i, "geometry"] = affinity.translate(units.geometry[i], xoff=dx_deg)
    return replace(layers, units=units)


def test_overlapping_siblings_refused_then_allowed(
    store: Any, make_layers: Callable[..., Any]
) -> None:
    from gridmgr.i18n import current, set_language

    lay = _moved(make_layers(2), "220173001002", -0.002)  # ≈ 160 m into community 1
    before = current()
    set_language("zh")
    try:
        with pytest.raises(HierarchyError) as err:
            store.load_layers(lay, res=10, actor="test")
    finally:
        set_language(before)
    msg = str(err.value)
    assert "220173001001" in msg and "220173001002" in msg and "--allow-overlaps" in msg
    assert "重叠" in msg
    assert len(store.units()) == 0 and len(store.pieces(geometry=False)) == 0
    with pytest.warns(HierarchyWarning, match="220173001002"):
        report = store.load_layers(lay, res=10, actor="test", allow_overlaps=True)
    assert report.changes > 0 and len(store.units()) == 4


def test_community_far_outside_its_street_refused(
    store: Any, make_layers: Callable[..., Any]
) -> None:
    lay = _moved(make_layers(2), "220173001002", 0.125)  # ≈ 10 km east
    with pytest.raises(HierarchyError, match="220173001002.*220173001"):
        store.load_layers(lay, res=10, actor="test")
    assert len(store.units()) == 0


def test_slivers_load(store: Any, make_layers: Callable[..., Any]) -> None:
    """A shared edge drawn 0.2 m apart (≈ 110 m² over 555 m) is a sliver: loads, no warning."""
    import warnings

    lay = _moved(make_layers(2), "220173001002", -0.0000025)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HierarchyWarning)
        store.load_layers(lay, res=10, actor="test")
    assert len(store.units()) == 4
