"""The offline vector basemap: the shipped roads, rivers and unit outlines drawn by Leaflet itself.

Every interactive map (except ``basemap="none"``) carries this light base in its own pane *below*
the tile pane: with the ``vector`` basemap it is the whole basemap, and under tiles (online or a
local MBTiles/PMTiles file) it shows wherever a tile is missing or unreachable, so a map opened
on an intranet (政务内网) without internet is never a blank grey page.

Where the lines come from:

- store-backed maps: inside ``with store_base(store):`` the store's roads
  (:func:`gridmgr.patrol.roads.roads_for_store`: the layers it was loaded from) and its units;
- otherwise the default layers (``GRIDMGR_LAYERS`` or the shipped Changchun High-tech Zone):
  ``roads.geojson`` and ``units.geojson``.

Lines are clipped to the map's bounds plus about 3 km and embedded like every other layer
(:func:`gridmgr.maps.leaflet.features_json`); nothing is fetched.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.i18n import t
from gridmgr.maps.leaflet import _script_safe, features_json

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["BASE_BACKGROUND", "VectorBaseData", "base_data", "store_base"]

#: Page background under the vector base (a light paper colour, not Leaflet's grey).
BASE_BACKGROUND = "#f3f1ec"
#: Margin around the map's bounds kept when clipping (degrees, about 3 km).
_MARGIN_DEG = 0.03

# feature kinds → style (kept in the page, one small object)
_STYLES = {
    "u0": {"color": "#8a8f98", "weight": 2.4, "opacity": 0.9, "dashArray": "8 4"},
    "u1": {"color": "#9aa0a8", "weight": 1.8, "opacity": 0.9, "dashArray": "6 4"},
    "u2": {"color": "#b4b8bf", "weight": 1.0, "opacity": 0.9, "dashArray": "3 3"},
    "w": {"color": "#8ecae6", "weight": 4, "opacity": 0.95},
    "r1": {"color": "#ffffff", "weight": 5, "opacity": 1},
    "r2": {"color": "#ffffff", "weight": 3, "opacity": 1},
    "rail": {"color": "#a0a0a0", "weight": 1.5, "opacity": 0.9, "dashArray": "6 3"},
}
_CASING = {"r1": 7, "r2": 4.5}  # road kinds drawn with a grey casing under the white line
_MAJOR = {"motorway", "trunk", "primary", "secondary"}
_LEVEL = {"district": "u0", "county": "u0", "street": "u1", "town": "u1", "township": "u1"}

_SOURCE: contextvars.ContextVar[VectorBaseData | None] = contextvars.ContextVar(
    "gridmgr_vector_base", default=None
)


@dataclass(frozen=True)
class VectorBaseData:
    """Road lines (with ``kind``/``layer`` columns when known) and unit polygons (``level``)."""

    roads: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame | None


@contextmanager
def store_base(store: Any) -> Iterator[None]:
    """Draw the vector base of the maps made inside from ``store`` (its roads and units)."""
    from gridmgr.patrol.roads import roads_for_store

    token = _SOURCE.set(VectorBaseData(roads_for_store(store), store.units()))
    try:
        yield
    finally:
        _SOURCE.reset(token)


@lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> gpd.GeoDataFrame | None:
    import geopandas as gpd

    frame = gpd.read_file(path)
    return frame.to_crs(4326) if frame.crs is not None and frame.crs.to_epsg() != 4326 else frame


def _default_data() -> VectorBaseData:
    from gridmgr import settings

    folder = settings.layers_dir()

    def load(name: str) -> gpd.GeoDataFrame | None:
        path = Path(folder) / name
        if not path.is_file():
            return None
        return _read(str(path), path.stat().st_mtime_ns)

    return VectorBaseData(load("roads.geojson"), load("units.geojson"))


def base_data() -> VectorBaseData:
    """The roads and units of the current store (:func:`store_base`), else the default layers'."""
    return _SOURCE.get() or _default_data()


def _column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.object_]:
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return np.asarray(frame[name].fillna("").astype(str).str.lower(), dtype=object)


def _road_kinds(roads: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    kind, layer = _column(roads, "kind"), _column(roads, "layer")
    highway = _column(roads, "highway")
    cls = np.where(layer != "", layer, highway)
    out = np.where(np.isin(cls, list(_MAJOR)), "r1", "r2").astype(object)
    water = (kind == "waterway") | np.isin(cls, ["river", "stream", "canal", "waterway"])
    rail = (kind == "railway") | np.isin(cls, ["railway", "rail"])
    out[rail] = "rail"
    out[water] = "w"
    return out


def base_features(
    bounds: Sequence[float],
    data: VectorBaseData,
    *,
    shift: Callable[[npt.ArrayLike], npt.NDArray[np.object_]] | None = None,
) -> tuple[str, int]:
    """The base's features clipped to ``bounds`` plus a margin: JSON for ``gmDecode`` and the
    number of features (units first, then rivers, then roads: later ones draw on top)."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    box = (minx - _MARGIN_DEG, miny - _MARGIN_DEG, maxx + _MARGIN_DEG, maxy + _MARGIN_DEG)
    geoms: list[npt.NDArray[np.object_]] = []
    kinds: list[npt.NDArray[np.object_]] = []
    if data.units is not None and len(data.units):
        lv = _column(data.units, "level")
        ukind = np.asarray([_LEVEL.get(v, "u2") for v in lv], dtype=object)
        geoms.append(shapely.boundary(np.asarray(data.units.geometry.values, dtype=object)))
        kinds.append(ukind)
    if data.roads is not None and len(data.roads):
        rk = _road_kinds(data.roads)
        order = np.argsort([{"w": 0, "rail": 1, "r2": 2, "r1": 3}[k] for k in rk], kind="stable")
        geoms.append(np.asarray(data.roads.geometry.values, dtype=object)[order])
        kinds.append(rk[order])
    if not geoms:
        return '{"f":[]}', 0
    allg = shapely.clip_by_rect(np.concatenate(geoms), *box)
    allk = np.concatenate(kinds)
    keep = ~(shapely.is_missing(allg) | shapely.is_empty(allg))
    lines = (shapely.get_type_id(allg) == 1) | (shapely.get_type_id(allg) == 5)
    keep &= lines
    out = allg[keep] if shift is None else shift(allg[keep])
    return features_json(out, {"k": allk[keep].tolist()}), int(keep.sum())


def vector_base_class() -> type:
    """The folium element of the base (created lazily: folium is imported only for maps)."""
    import folium
    from folium.template import Template

    class VectorBase(folium.map.Layer):
        """Roads, rivers and unit outlines in pane ``gmBase`` (below the tiles), not clickable."""

        _template = Template(
            """
{% macro script(this, kwargs) %}
(function (m) {
  if (!m.getPane('gmBase')) {
    var p = m.createPane('gmBase'); p.style.zIndex = 150; p.style.pointerEvents = 'none';
  }
  m.getContainer().style.background = {{ this.background|tojson }};
})({{ this._parent.get_name() }});
var {{ this.get_name() }}_data = gmDecode({{ this.data }});
var {{ this.get_name() }} = L.layerGroup();
(function (g, data, styles, casing) {
  var opts = {pane: 'gmBase', interactive: false, className: 'gm-base',
              attribution: {{ this.attribution|tojson }}};
  var cased = {type: 'FeatureCollection', features: data.features.filter(function (f) {
    return casing[f.properties.k]; })};
  g.addLayer(L.geoJSON(cased, Object.assign({}, opts, {style: function (f) {
    return {color: '#bdb6aa', weight: casing[f.properties.k], opacity: 1}; }})));
  g.addLayer(L.geoJSON(data, Object.assign({}, opts, {style: function (f) {
    return Object.assign({fill: false, lineCap: 'round', lineJoin: 'round'},
                         styles[f.properties.k] || {}); }})));
})({{ this.get_name() }}, {{ this.get_name() }}_data, {{ this.styles }}, {{ this.casing }});
{% endmacro %}
"""
        )

        def __init__(self, data: str, *, count: int) -> None:
            super().__init__(
                name=t("离线底图（道路、河流、单元界线）", "offline base (roads, rivers, units)"),
                overlay=True,
                control=True,
                show=True,
            )
            self._name = "GridmgrVectorBase"
            self.data = data
            self.count = count
            self.styles = _script_safe(json.dumps(_STYLES))
            self.casing = _script_safe(json.dumps(_CASING))
            self.background = BASE_BACKGROUND
            self.attribution = t("道路 &copy; OpenStreetMap 贡献者", "roads &copy; OpenStreetMap")

    return VectorBase


def add_vector_base(
    m: folium.Map,
    bounds: Sequence[float],
    shift: Callable[[npt.ArrayLike], npt.NDArray[np.object_]] | None = None,
) -> int:
    """Add the base over ``bounds`` to ``m`` (coordinates through ``shift``, e.g. to GCJ-02 for
    Amap tiles); the number of features drawn."""
    data, count = base_features(bounds, base_data(), shift=shift)
    vector_base_class()(data, count=count).add_to(m)
    return count
