// "Where am I?" on 我的责任区: the phone's position → /api/locate → which piece, whose ground.
// Served from this host (CSP script-src 'self'); no framework, works on old phone browsers.
(function () {
  "use strict";
  function text(zh, en, lang) { return lang === "en" ? en : zh; }
  function describe(j, mine, lang) {
    if (!j.inside) {
      return text("您当前不在辖区内。", "You are outside the jurisdiction.", lang);
    }
    var units = (j.units || []).map(function (u) { return u.name; }).join(" › ");
    var who;
    if (!j.leader) {
      who = text("这块地无人负责（盲点），请报告。", "Nobody answers for this piece (a blind spot): report it.", lang);
    } else if (j.leader.id === mine) {
      who = text("这是您的责任区。", "This is your ground.", lang);
    } else {
      who = text("这是 " + j.leader.name + " 的责任区。", "This is " + j.leader.name + "'s ground.", lang);
    }
    return units + " · " + text("地块 ", "piece ", lang) + j.cell + " — " + who;
  }
  function locate(btn, out) {
    var lang = btn.getAttribute("data-lang") || "zh";
    var mine = btn.getAttribute("data-mine") || "";
    if (!navigator.geolocation) {
      out.textContent = text("此浏览器不支持定位。", "This browser cannot tell its position.", lang);
      return;
    }
    out.textContent = text("正在定位…", "Locating…", lang);
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;
      var url = "/api/locate?lat=" + c.latitude.toFixed(7) + "&lng=" + c.longitude.toFixed(7);
      fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      }).then(function (j) {
        var acc = c.accuracy ? text("（精度约 ", " (accuracy about ", lang) + Math.round(c.accuracy) + " m" + text("）", ")", lang) : "";
        out.textContent = describe(j, mine, lang) + acc;
      }).catch(function (e) {
        out.textContent = text("查询失败：", "Lookup failed: ", lang) + e.message;
      });
    }, function (err) {
      var why = window.gridmgrGeoWhy(err);
      out.textContent = why ? text(why[0], why[1], lang) : text("无法获取位置：", "No position: ", lang) + err.message;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var btn = document.getElementById("where-am-i");
    var out = document.getElementById("where-out");
    if (btn && out) { btn.addEventListener("click", function () { locate(btn, out); }); }
  });
})();
