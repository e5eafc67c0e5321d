// 巡查 page: start/stop a patrol, the browser's geolocation sent in small batches, check-ins.
// Mobile networks drop and retry: the patrol, every batch and every check-in carry client ids,
// so a resent request is stored once; unsent batches wait in localStorage and are retried.
(function () {
  "use strict";
  var box = document.getElementById("patrol");
  if (!box) { return; }
  var lang = box.getAttribute("data-lang") || "zh";
  var leader = box.getAttribute("data-leader");
  var key = "gridmgr.patrol." + leader;
  var status = document.getElementById("patrol-status");
  var startBtn = document.getElementById("patrol-start");
  var stopBtn = document.getElementById("patrol-stop");
  var checkinBtn = document.getElementById("checkin-btn");
  var BATCH = 20, EVERY_MS = 15000;
  var state = load() || null;  // {patrol_id, next, queue: [{batch_id, points}], fixes: []}
  var watch = null, timer = null, sending = false;

  function t(zh, en) { return lang === "en" ? en : zh; }
  function uid() { return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10); }
  function save() { localStorage.setItem(key, JSON.stringify(state)); }
  function load() { try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } }
  function show(msg) { status.textContent = msg; }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) { throw new Error(j.detail || r.status); } return j; });
    });
  }
  function cut() {  // move buffered fixes into a numbered batch (a stable client id)
    while (state.fixes.length) {
      state.queue.push({batch_id: "b" + (state.next++), points: state.fixes.splice(0, BATCH)});
    }
    save();
  }
  function flush() {
    if (sending || !state || !state.patrol_id || !state.queue.length) { return Promise.resolve(); }
    sending = true;
    var b = state.queue[0];
    return post("/api/patrols/" + state.patrol_id + "/points", b).then(function () {
      state.queue.shift(); save(); sending = false;
      show(t("巡查中，已上传 ", "Patrolling, sent ") + (state.next - state.queue.length - 1) + t(" 批", " batches"));
      return flush();
    }, function (e) {
      sending = false;
      show(t("网络不通，稍后重试（", "Network down, retrying later (") + state.queue.length + t(" 批待传）", " batches waiting)"));
    });
  }
  function onFix(pos) {
    var c = pos.coords;
    state.fixes.push({at: new Date(pos.timestamp).toISOString(), lon: c.longitude, lat: c.latitude,
                      accuracy: c.accuracy});
    if (state.fixes.length >= BATCH) { cut(); flush(); } else { save(); }
  }
  function running() {
    startBtn.disabled = true; stopBtn.disabled = false; checkinBtn.disabled = false;
    watch = navigator.geolocation.watchPosition(onFix, function (e) {
      var why = window.gridmgrGeoWhy(e);
      show(why ? t(why[0], why[1]) : t("无法定位：", "No position: ") + e.message);
    }, {enableHighAccuracy: true, maximumAge: 5000, timeout: 30000});
    timer = setInterval(function () { cut(); flush(); }, EVERY_MS);
  }
  startBtn.addEventListener("click", function () {
    if (!navigator.geolocation) { show(t("此浏览器不支持定位。", "This browser cannot tell its position.")); return; }
    var cid = (state && state.client_id) || uid();
    post("/api/patrols", {client_id: cid, leader_id: leader}).then(function (j) {
      state = {client_id: cid, patrol_id: j.patrol_id, next: 1, queue: [], fixes: []};
      save(); show(t("巡查已开始", "Patrol started")); running();
    }, function (e) { show(t("无法开始：", "Cannot start: ") + e.message); });
  });
  stopBtn.addEventListener("click", function () {
    if (watch !== null) { navigator.geolocation.clearWatch(watch); }
    clearInterval(timer); cut();
    flush().then(function () {
      if (state.queue.length) { show(t("还有批次未上传，联网后再点结束", "Batches still waiting: stop again when online")); return; }
      return post("/api/patrols/" + state.patrol_id + "/finish", {}).then(function (j) {
        show(t("巡查结束：走访地块 ", "Patrol finished: pieces visited ") + j.pieces_visited +
             t("，重点场所 ", ", key places ") + j.places_visited + t("，里程 ", ", distance ") +
             (j.distance_m / 1000).toFixed(2) + " km");
        localStorage.removeItem(key); state = null;
        startBtn.disabled = false; stopBtn.disabled = true; checkinBtn.disabled = true;
      });
    }).catch(function (e) { show(t("结束失败：", "Cannot finish: ") + e.message); });
  });
  document.getElementById("checkin").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, file = form.photo.files[0];
    navigator.geolocation.getCurrentPosition(function (pos) {
      var body = {lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy,
                  at: new Date(pos.timestamp).toISOString(), client_id: uid()};
      if (form.key_place_code.value) { body.key_place_code = form.key_place_code.value; }
      var send = function () {
        post("/api/patrols/" + state.patrol_id + "/checkins", body).then(function (j) {
          show(t("已签到", "Checked in") + (j.places_visited ? t("（重点场所已记为走访）", " (key place visited)") : ""));
        }, function (e) { show(t("签到失败：", "Check-in failed: ") + e.message); });
      };
      if (!file) { send(); return; }
      var rd = new FileReader();
      rd.onload = function () {
        var s = String(rd.result), i = s.indexOf(",");
        body.photo_type = s.slice(5, s.indexOf(";"));
        body.photo_base64 = s.slice(i + 1);
        send();
      };
      rd.readAsDataURL(file);
    }, function (e) { show(t("无法定位：", "No position: ") + e.message); });
  });
  if (state && state.patrol_id) { show(t("继续未结束的巡查", "Resuming the open patrol")); running(); flush(); }
})();
