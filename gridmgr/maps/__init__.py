"""Maps: interactive folium maps, static maps and the CJK font.

Modules: :mod:`~gridmgr.maps.interactive` (leader, overview and plan maps; re-exports
:mod:`~gridmgr.maps.basemap`, :mod:`~gridmgr.maps.colouring`, :mod:`~gridmgr.maps.patrol_map`,
:mod:`~gridmgr.maps.overview`, :mod:`~gridmgr.maps.plan_diff`),
:mod:`~gridmgr.maps.leaflet` (bundled Leaflet assets, basemaps, self-contained HTML),
:mod:`~gridmgr.maps.static_map` (matplotlib map pages; layers drawn by
:mod:`~gridmgr.maps.static_layers`), :mod:`~gridmgr.maps.fonts` (CJK font).
"""

from __future__ import annotations

from gridmgr.maps.interactive import (
    BASEMAPS,
    CATEGORY_STYLE,
    FALLBACK_COLOUR,
    GAP_COLOUR,
    PALETTE,
    ROUTE_COLOUR,
    TIANDITU_KEY_ENV,
    TILE_HOSTS,
    colour_graph,
    colour_territories,
    leader_map,
    leader_map_from_store,
    map_html,
    overview_map,
    overview_map_from_store,
    palette_colour,
    plan_diff_map,
    plan_map_from_store,
    resolve_basemap,
    territories,
    territory_adjacency,
    territory_pairs,
)
from gridmgr.maps.leaflet import features_json

__all__ = [
    "features_json",
    "BASEMAPS",
    "CATEGORY_STYLE",
    "FALLBACK_COLOUR",
    "GAP_COLOUR",
    "PALETTE",
    "ROUTE_COLOUR",
    "TIANDITU_KEY_ENV",
    "TILE_HOSTS",
    "colour_graph",
    "colour_territories",
    "leader_map",
    "leader_map_from_store",
    "map_html",
    "overview_map",
    "overview_map_from_store",
    "palette_colour",
    "plan_diff_map",
    "plan_map_from_store",
    "resolve_basemap",
    "territories",
    "territory_adjacency",
    "territory_pairs",
]
