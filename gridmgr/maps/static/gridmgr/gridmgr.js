/* gridmgr measure control: click to add points, double-click or press the button to finish.
   A few lines instead of leaflet-measure (106 KB minified) so that a map page stays small.
   Apache-2.0, part of gridmgr. Text is set with textContent, never as HTML. */
(function () {
  function fmt(m, o) {
    return m >= 1000 ? (m / 1000).toFixed(2) + ' ' + o.km : Math.round(m) + ' ' + o.m;
  }
  L.Control.GmMeasure = L.Control.extend({
    options: { position: 'topleft', title: 'Measure', hint: 'Click to add points, double-click to finish', km: 'km', m: 'm' },
    onAdd: function (map) {
      var box = L.DomUtil.create('div', 'leaflet-bar gm-measure');
      var a = L.DomUtil.create('a', 'gm-measure-btn', box);
      a.href = '#'; a.title = this.options.title; a.setAttribute('role', 'button');
      a.innerHTML = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path d="M3 17 17 3l4 4L7 21z" fill="none" stroke="#333" stroke-width="1.6"/><path d="M7 13l2 2M10 10l2 2M13 7l2 2" stroke="#333" stroke-width="1.6"/></svg>';
      this._out = L.DomUtil.create('div', 'gm-measure-out', box);
      this._out.style.display = 'none';
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(a, 'click', function (e) { L.DomEvent.preventDefault(e); this._toggle(); }, this);
      this._map = map;
      return box;
    },
    _toggle: function () { if (this._on) { this._stop(); } else { this._start(); } },
    _start: function () {
      var map = this._map;
      if (this._line) { map.removeLayer(this._line); }
      this._on = true; this._pts = [];
      this._line = L.polyline([], { color: '#d9480f', weight: 3, dashArray: '6 4' }).addTo(map);
      map.on('click', this._add, this);
      map.on('dblclick', this._stop, this);
      map.doubleClickZoom.disable();
      map.getContainer().style.cursor = 'crosshair';
      this._show(this.options.hint);
    },
    _add: function (e) {
      this._pts.push(e.latlng);
      this._line.setLatLngs(this._pts);
      var d = 0;
      for (var i = 1; i < this._pts.length; i++) { d += this._map.distance(this._pts[i - 1], this._pts[i]); }
      this._show(fmt(d, this.options));
    },
    _stop: function () {
      var map = this._map;
      this._on = false;
      map.off('click', this._add, this);
      map.off('dblclick', this._stop, this);
      map.getContainer().style.cursor = '';
      setTimeout(function () { map.doubleClickZoom.enable(); }, 0);
    },
    _show: function (text) { this._out.style.display = 'block'; this._out.textContent = text; }
  });
  L.control.gmMeasure = function (opts) { return new L.Control.GmMeasure(opts); };
})();

/* Compact feature collections written by gridmgr.maps: coordinates as one chain of
   encoded-polyline deltas (precision 1e-6 degrees, longitude first) shared by the whole layer.
   data = {"f": [[typeId, coords, props], ...]} where typeId is shapely's (0 Point,
   1 LineString, 3 Polygon, 5 MultiLineString, 6 MultiPolygon) and coords nests encoded strings
   the way GeoJSON nests coordinate lists; polygon rings are stored open and closed here. */
(function () {
  var TYPES = { 0: 'Point', 1: 'LineString', 3: 'Polygon', 5: 'MultiLineString', 6: 'MultiPolygon' };
  window.gmDecode = function (data) {
    var x = 0, y = 0;
    function chain(s, ring) {
      var out = [], i = 0, n = s.length;
      while (i < n) {
        for (var k = 0; k < 2; k++) {
          var b, shift = 0, r = 0;
          do { b = s.charCodeAt(i++) - 63; r |= (b & 0x1f) << shift; shift += 5; } while (b >= 0x20);
          var v = (r & 1) ? ~(r >>> 1) : (r >>> 1);
          if (k === 0) { x += v; } else { y += v; }
        }
        out.push([x / 1e6, y / 1e6]);
      }
      if (ring && out.length) { out.push(out[0].slice()); }
      return out;
    }
    var feats = data.f.map(function (e) {
      var t = e[0], c = e[1], g;
      if (t === 0) { g = chain(c, false)[0]; }
      else if (t === 1) { g = chain(c, false); }
      else if (t === 3) { g = c.map(function (r) { return chain(r, true); }); }
      else if (t === 5) { g = c.map(function (l) { return chain(l, false); }); }
      else { g = c.map(function (p) { return p.map(function (r) { return chain(r, true); }); }); }
      return { type: 'Feature', properties: e[2] || {}, geometry: { type: TYPES[t], coordinates: g } };
    });
    return { type: 'FeatureCollection', features: feats };
  };
})();
