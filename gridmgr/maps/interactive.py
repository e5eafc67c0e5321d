"""Interactive maps (folium/Leaflet): a leader's patrol map, the overview map, a plan's diff map.

Every map is built from one GeoDataFrame per layer (EPSG:4326) and returned as a
:class:`folium.Map`; :func:`map_html` turns it into one self-contained HTML page. Nothing here
writes a file.

Offline by construction
    Leaflet 1.9.4, leaflet.fullscreen 3.0.0 and gridmgr's own measure control and styles are
    bundled in ``gridmgr/maps/static/`` and *inlined* into the page by :func:`map_html`; images the
    stylesheets use become ``data:`` URIs. The only network requests a page makes are map tiles
    (:data:`TILE_HOSTS`). :func:`map_html` refuses to return a page that still links an external
    script or stylesheet.

Escaping
    Every user text (names, addresses, categories, leader names) is HTML-escaped in Python before
    it enters a popup, tooltip, legend or layer name; the feature data embedded in ``<script>`` has
    ``<``, ``>`` and ``&`` written as JSON ``\\u`` escapes, so no text can close the script element.

Weight
    Each layer is one ``L.geoJSON`` call over one FeatureCollection (never one folium object per
    row); coordinates are rounded to 6 decimals (≈ 0.1 m). The overview map dissolves pieces into
    one polygon per territory and simplifies the territories as a coverage (shared borders stay
    shared), so the whole zone at res 10 is a few hundred KB.

Basemaps (:data:`BASEMAPS`)
    ``tianditu`` (天地图 vector + annotation), ``tianditu-img`` (imagery + annotation) with the key
    from ``GRIDMGR_TIANDITU_KEY`` (without a key the map falls back to OpenStreetMap and says so in
    its legend); ``osm``; ``amap`` (高德, GCJ-02: overlay coordinates are shifted to GCJ-02 at
    render time so they line up with the tiles — the data passed in is not changed); ``none``.
    Tianditu's CGCS2000 tiles line up with WGS-84 at map scale.

Modules
    This module re-exports the interactive-map names from their topic modules:
    :mod:`~gridmgr.maps.basemap` (tiles, page scaffolding, :func:`map_html`),
    :mod:`~gridmgr.maps.colouring` (territories, adjacency, colouring),
    :mod:`~gridmgr.maps.patrol_map` (:func:`leader_map`), :mod:`~gridmgr.maps.overview`
    (:func:`overview_map`) and :mod:`~gridmgr.maps.plan_diff` (:func:`plan_diff_map`).
"""

from __future__ import annotations

from gridmgr.maps.basemap import (
    BASEMAPS,
    TIANDITU_KEY_ENV,
    TILE_HOSTS,
    map_html,
    resolve_basemap,
)
from gridmgr.maps.colouring import (
    GAP_COLOUR,
    PALETTE,
    colour_graph,
    colour_territories,
    palette_colour,
    territories,
    territory_adjacency,
    territory_pairs,
)
from gridmgr.maps.overview import (
    overview_map,
    overview_map_from_store,
)
from gridmgr.maps.patrol_map import (
    CATEGORY_STYLE,
    FALLBACK_COLOUR,
    ROUTE_COLOUR,
    leader_map,
    leader_map_from_store,
)
from gridmgr.maps.plan_diff import (
    plan_diff_map,
    plan_map_from_store,
)

__all__ = [
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
