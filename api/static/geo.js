// Why the browser gave no position, in Chinese and English: one table for every page that
// locates (where am I, patrol, problem report). Returns [zh, en], or null for an unknown code.
window.gridmgrGeoWhy = function (err) {
  "use strict";
  var why = {
    1: ["未允许定位：请在浏览器设置中允许本站使用位置", "location not allowed: allow it for this site"],
    2: ["暂时无法定位（信号弱？）", "position unavailable (weak signal?)"],
    3: ["定位超时，请重试", "locating timed out; try again"]
  };
  return why[err && err.code] || null;
};
