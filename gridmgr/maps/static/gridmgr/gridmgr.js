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

/* Decluttering on every gridmgr map (phones first), run after each zoom or pan:
   - numbered patrol stops (.gm-stop) are shown only when they can be read: hidden while more
     than a tenth of the stops in view would overlap another one (zoom in to see the order);
   - leader-name labels (.gm-name tooltips) are shown greedily where they do not collide;
   - key-place badges (.gm-badge) are kept above the route's stops. */
(function () {
  function overlaps(a, b, pad) {
    return a.left < b.right + pad && b.left < a.right + pad && a.top < b.bottom + pad && b.top < a.bottom + pad;
  }
  function inView(el, box) {
    var r = el.getBoundingClientRect();
    return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom ? r : null;
  }
  function declutterStops(c, box) {
    var stops = c.querySelectorAll('.gm-stop');
    if (!stops.length) { return; }
    c.classList.remove('gm-stops-hidden');
    var rects = [];
    for (var i = 0; i < stops.length; i++) {
      var r = inView(stops[i], box);
      if (r) { rects.push(r); }
    }
    var crowded = 0;
    for (var a = 0; a < rects.length && crowded * 10 <= rects.length; a++) {
      for (var b = a + 1; b < rects.length; b++) {
        if (overlaps(rects[a], rects[b], 0)) { crowded++; break; }
      }
    }
    var hide = crowded * 10 > rects.length;
    c.classList.toggle('gm-stops-hidden', hide);
  }
  function declutterNames(c, box) {
    var names = c.querySelectorAll('.gm-name');
    if (!names.length) { return; }
    var shown = [], i, r;
    for (i = 0; i < names.length; i++) { names[i].classList.remove('gm-name-off'); }
    for (i = 0; i < names.length; i++) {
      r = inView(names[i], box);
      var clash = !r || shown.length > 400;
      for (var k = 0; r && !clash && k < shown.length; k++) { clash = overlaps(r, shown[k], 2); }
      if (clash) { names[i].classList.add('gm-name-off'); } else { shown.push(r); }
    }
  }
  L.Map.addInitHook(function () {
    var map = this;
    function run() {
      var c = map.getContainer();
      var box = c.getBoundingClientRect();
      declutterStops(c, box);
      declutterNames(c, box);
    }
    var pending = null;
    function later() { if (pending) { clearTimeout(pending); } pending = setTimeout(run, 60); }
    map.on('zoomend moveend resize overlayadd', later);
    map.on('layeradd', function (e) {
      var l = e.layer, ic = l && l.options && l.options.icon;
      if (ic && ic.options && /gm-badge/.test(ic.options.className || '') && l.setZIndexOffset) {
        l.setZIndexOffset(2000);
      }
      later();
    });
    map.whenReady(later);
  });
})();
