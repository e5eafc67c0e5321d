"""Leaflet page plumbing for :mod:`gridmgr.maps.interactive`: bundled assets, compact feature data, escaping.

- Assets: Leaflet 1.9.4, leaflet.fullscreen 3.0.0 and gridmgr's ``gridmgr.js``/``maps.css`` live in
  ``gridmgr/maps/static/``; folium elements point at them with ``gridmgr-static:`` pseudo-URLs and
  :func:`render_page` inlines them (images in stylesheets become ``data:`` URIs). A page that still
  links anything else is refused.
- Data: :func:`features_json` writes a layer's geometries as one chain of encoded-polyline deltas
  (1e-6°), decoded in the page by ``gmDecode`` into a GeoJSON FeatureCollection for ``L.geoJSON``.
- Escaping: user text goes through :func:`_html_text` (HTML escape plus ``{``/``}`` as character
  references, because folium re-renders macros with Jinja); JSON embedded in scripts goes through
  :func:`_script_safe`.
- Elements: small folium element classes (one ``L.geoJSON`` layer, an HTML control, the measure
  control with a metric scale, the page title), created lazily so that folium is imported only
  when a map is drawn.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gridmgr.errors import InputError
from gridmgr.i18n import t

if TYPE_CHECKING:
    import folium

FloatArrayT = npt.NDArray[np.float64]

STATIC_DIR = Path(__file__).resolve().parent / "static"


# pseudo-URLs resolved by map_html (never fetched)
_ASSET = "gridmgr-static:"
_JS = {
    "leaflet": "leaflet/leaflet.js",
    "fullscreen": "fullscreen/Control.FullScreen.js",
    "gridmgr": "gridmgr/gridmgr.js",
}
_CSS = {
    "leaflet_css": "leaflet/leaflet.css",
    "fullscreen_css": "fullscreen/Control.FullScreen.css",
    "gridmgr_css": "gridmgr/maps.css",
}


def _esc(value: object) -> str:
    """HTML-escape a user value (``None``/NaN → empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return _html_text(str(value))


def _html_text(text: str) -> str:
    """HTML-escape ``text``; braces become character references too, because folium passes
    rendered output through Jinja once more (``{{ … }}`` in a name must stay text)."""
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _popup_table(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """A popup: escaped title and label/value rows (labels are ours, values are escaped)."""
    body = "".join(
        f"<tr><th>{_html_text(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows if _esc(v) != ""
    )
    return f'<div class="gm-popup"><b>{_esc(title)}</b><table>{body}</table></div>'


# --------------------------------------------------------------------------------------------
# GeoJSON embedding
# --------------------------------------------------------------------------------------------


_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def _script_safe(text: str) -> str:
    """JSON text safe inside ``<script>``: ``<``, ``>``, ``&`` as ``\\u`` escapes."""
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # folium re-parses rendered macros as Jinja templates: break up "{{", "{%" and "{#" (they
    # can only occur inside JSON strings, where \u007b is the same character)
    return _JINJA_OPEN.sub(r"\\u007b", text)


def _flatten(geoms: npt.NDArray[np.object_]) -> tuple[list[int], list[Any], list[FloatArrayT]]:
    """Type id, nesting skeleton (array indices) and the coordinate arrays of each geometry.

    Rings are stored open (the closing vertex is dropped); nesting follows GeoJSON. Multi-points
    and collections are not drawn by gridmgr and are reduced to their parts' first type.
    """
    types: list[int] = []
    skels: list[Any] = []
    arrays: list[FloatArrayT] = []

    def add(coords: Any, *, ring: bool) -> int:
        xy = np.asarray(coords, dtype=np.float64)[:, :2]
        if ring and len(xy) > 1:
            xy = xy[:-1]
        arrays.append(xy)
        return len(arrays) - 1

    def poly(g: Any) -> list[int]:
        return [add(g.exterior.coords, ring=True)] + [add(r.coords, ring=True) for r in g.interiors]

    for g in geoms:
        tid = int(shapely.get_type_id(g))
        if tid in (4, 7):  # MultiPoint / GeometryCollection: draw the first part's kind
            parts = [p for p in shapely.get_parts(g) if not p.is_empty]
            if not parts:
                continue
            polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
            if polys:
                g = shapely.union_all(polys)
            else:
                g = parts[0]
            tid = int(shapely.get_type_id(g))
        if tid == 0:
            types.append(0)
            skels.append(add(g.coords, ring=False))
        elif tid in (1, 2):
            types.append(1)
            skels.append(add(g.coords, ring=False))
        elif tid == 3:
            types.append(3)
            skels.append(poly(g))
        elif tid == 5:
            types.append(5)
            skels.append([add(ln.coords, ring=False) for ln in g.geoms])
        elif tid == 6:
            types.append(6)
            skels.append([poly(pg) for pg in g.geoms])
    return types, skels, arrays


def _encode_chain(arrays: list[FloatArrayT]) -> list[str]:
    """Encoded-polyline strings of ``arrays`` as one delta chain (precision 1e-6, lon first)."""
    if not arrays:
        return []
    lens = np.asarray([len(a) for a in arrays], dtype=np.int64)
    allxy = np.concatenate(arrays) if lens.sum() else np.zeros((0, 2))
    ints = np.rint(allxy * 1e6).astype(np.int64)
    flat = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    z = (flat << 1) ^ (flat >> 63)
    nbits = np.zeros(len(z), dtype=np.int64)
    pos = z > 0
    nbits[pos] = np.floor(np.log2(z[pos].astype(np.float64))).astype(np.int64) + 1
    nchunk = np.maximum(1, (nbits + 4) // 5)
    k = np.arange(int(nchunk.max()) if len(nchunk) else 1)
    chunks = (z[:, None] >> (5 * k[None, :])) & 0x1F
    cont = k[None, :] < (nchunk[:, None] - 1)
    vals = (chunks | (cont * 0x20)) + 63
    text = vals[k[None, :] < nchunk[:, None]].astype(np.uint8).tobytes().decode("ascii")
    per_vertex = nchunk.reshape(-1, 2).sum(axis=1)
    char_at = np.r_[0, np.cumsum(per_vertex)]
    bounds = char_at[np.r_[0, np.cumsum(lens)]]
    return [text[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def features_json(geoms: npt.ArrayLike, props: Mapping[str, Sequence[Any]] | None = None) -> str:
    """A layer's features as compact, script-safe JSON for ``gmDecode`` (``gridmgr.js``).

    Coordinates are rounded to 6 decimals and written as one chain of encoded-polyline deltas
    (about 8 characters a vertex instead of 24); ``props`` maps a property name to one value per
    geometry. The page decodes it into a GeoJSON FeatureCollection for ``L.geoJSON``.
    """
    arr = np.asarray(geoms, dtype=object)
    keep = ~(shapely.is_missing(arr) | shapely.is_empty(arr)) if len(arr) else np.zeros(0, bool)
    types, skels, arrays = _flatten(arr[keep])
    strings = _encode_chain(arrays)

    def fill(sk: Any) -> Any:
        return strings[sk] if isinstance(sk, int) else [fill(x) for x in sk]

    names = list(props) if props else []
    cols = [np.asarray(props[k], dtype=object)[keep] for k in names] if props else []
    rows = list(zip(*cols, strict=True)) if names else [()] * len(types)
    feats = [
        [tid, fill(sk), {k: v for k, v in zip(names, vals, strict=True) if v is not None}]
        for tid, sk, vals in zip(types, skels, rows, strict=True)
    ]
    text = json.dumps(
        {"f": feats}, ensure_ascii=False, separators=(",", ":"), default=_json_default
    )
    return _script_safe(text)


def _json_default(v: object) -> object:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return str(v)


# --------------------------------------------------------------------------------------------
# folium elements (created lazily: folium is imported inside functions)
# --------------------------------------------------------------------------------------------

_POINT_JS = {
    "none": "",
    "badge": (
        "pointToLayer: function (f, ll) { var p = f.properties; return L.marker(ll, {icon: "
        "L.divIcon({className: 'gm-badge', html: '<span style=\"background:' + p._c + '\">' + "
        "p._g + '</span>', iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]})}); "
        "},"
    ),
    "stop": (
        "pointToLayer: function (f, ll) { var p = f.properties; if (p.n === 0) { return "
        "L.marker(ll, {icon: L.divIcon({className: 'gm-start', html: p._g, iconSize: [26, 26], "
        "iconAnchor: [13, 13]}), zIndexOffset: 1000}); } var w = String(p.n).length * 6 + 8; "
        "return L.marker(ll, {icon: L.divIcon({className: 'gm-stop', html: String(p.n), "
        "iconSize: [w, 18], iconAnchor: p.k ? [-6, 24] : [w / 2, 9]})}); },"
    ),
}


def _vector_layer_class() -> type:
    import folium
    from folium.template import Template

    class VectorLayer(folium.map.Layer):
        """One ``L.geoJSON`` layer over a FeatureCollection with per-feature style/popup/tooltip.

        Feature properties: ``_s`` style overrides, ``_p`` popup HTML, ``_t`` tooltip HTML (both
        already escaped), ``_g``/``_c``/``n`` for point icons.
        """

        _template = Template(
            """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON(gmDecode({{ this.data }}), {
  style: function (f) { return Object.assign({}, {{ this.style }}, (f.properties && f.properties._s) || {}); },
  {{ this.point_js }}
  onEachFeature: function (f, l) {
    var p = f.properties || {};
    if (p._p) { l.bindPopup(p._p, {maxWidth: 340}); }
    if (p._t) { l.bindTooltip(p._t, {{ this.tooltip }}); }
  }
});
{% endmacro %}
"""
        )

        def __init__(
            self,
            data: str,
            *,
            name: str,
            style: Mapping[str, Any],
            points: str = "none",
            tooltip: Mapping[str, Any] | None = None,
            show: bool = True,
            control: bool = True,
        ) -> None:
            super().__init__(name=name, overlay=True, control=control, show=show)
            self._name = "GridmgrVector"
            self.data = data
            self.style = _script_safe(json.dumps(dict(style)))
            self.point_js = _POINT_JS[points]
            self.tooltip = json.dumps(dict(tooltip or {"sticky": True}))

    return VectorLayer


def _control_class() -> type:
    import folium
    from folium.template import Template

    class HtmlControl(folium.MacroElement):
        """A Leaflet control holding pre-escaped HTML (the legend)."""

        _template = Template(
            """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
{{ this.get_name() }}.onAdd = function () {
  var d = L.DomUtil.create('div', {{ this.css_class|tojson }});
  d.innerHTML = {{ this.html }};
  var h = d.querySelector('h4');
  if (h) {
    h.title = {{ this.toggle_title }};
    L.DomEvent.on(h, 'click', function () { d.classList.toggle('gm-collapsed'); });
    if (window.innerWidth < 600) { d.classList.add('gm-collapsed'); }
  }
  L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);
  return d;
};
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
        )

        def __init__(
            self, html_text: str, *, position: str = "bottomright", css_class: str = "gm-legend"
        ) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "GridmgrControl"
            self.html = _script_safe(json.dumps(html_text, ensure_ascii=False))
            self.position = position
            self.css_class = css_class
            self.toggle_title = _script_safe(
                json.dumps(
                    t("点击标题收起/展开图例", "click the title to fold the legend"),
                    ensure_ascii=False,
                )
            )

    return HtmlControl


def _measure_class() -> type:
    import folium
    from folium.template import Template

    class Measure(folium.MacroElement):
        """The measure control (``gridmgr.js``) and a metric-only scale bar."""

        _template = Template(
            """
{% macro script(this, kwargs) %}
L.control.gmMeasure({{ this.options }}).addTo({{ this._parent.get_name() }});
L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
        )

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "GridmgrMeasure"
            self.options = _script_safe(
                json.dumps(
                    {
                        "title": t("测距", "Measure distance"),
                        "hint": t(
                            "单击地图加点，双击结束", "click to add points, double-click to finish"
                        ),
                        "km": t("公里", "km"),
                        "m": t("米", "m"),
                    },
                    ensure_ascii=False,
                )
            )

    return Measure


def _title_class() -> type:
    import folium
    from folium.template import Template

    class Title(folium.MacroElement):
        _template = Template(
            """
{% macro header(this, kwargs) %}<title>{{ this.title }}</title>
<meta name="generator" content="gridmgr">{% endmacro %}
"""
        )

        def __init__(self, title: str) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "GridmgrTitle"
            self.title = _html_text(title)

    return Title


# --------------------------------------------------------------------------------------------
# HTML output
# --------------------------------------------------------------------------------------------

_SCRIPT_SRC = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>')
_CSS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((?!['\"]?(?:data:|#))['\"]?([^)'\"]+)['\"]?\)")
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _asset_text(url: str) -> Path:
    if not url.startswith(_ASSET):
        msg = (
            f"map page links an external resource {url!r}; gridmgr bundles its assets — "
            "add the file to gridmgr/maps/static/ and reference it as gridmgr-static:"
        )
        raise InputError(msg)
    path = (STATIC_DIR / url[len(_ASSET) :]).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise InputError(f"bundled map asset {url!r} is missing from {STATIC_DIR}")
    return path


def _inline_css(path: Path) -> str:
    text = path.read_text(encoding="utf-8")

    def data_uri(mt: re.Match[str]) -> str:
        ref = (path.parent / mt.group(1)).resolve()
        if not ref.is_file():
            return mt.group(0)
        b64 = base64.b64encode(ref.read_bytes()).decode("ascii")
        return f"url(data:{_MIME.get(ref.suffix, 'application/octet-stream')};base64,{b64})"

    return _CSS_URL.sub(data_uri, text)


def render_page(m: folium.Map) -> str:
    """Render ``m`` and inline the bundled scripts and styles (see :func:`gridmgr.maps.interactive.map_html`).

    Raises
    ------
    InputError
        The page would still load a script or stylesheet from the network.
    """
    page = m.get_root().render()
    page = _SCRIPT_SRC.sub(
        lambda mt: (
            "<script>"
            + _asset_text(mt.group(1)).read_text(encoding="utf-8").replace("</script", "<\\/script")
            + "</script>"
        ),
        page,
    )
    page = _CSS_LINK.sub(
        lambda mt: "<style>" + _inline_css(_asset_text(mt.group(1))) + "</style>", page
    )
    leftover = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?!data:)([^"]+)"', page)
    if leftover:
        raise InputError(f"map page still links external resources: {leftover}")
    return page
