// Telephony panel: live refresh over SSE, and AML positions (with their radius) on the console map.
(function () {
  "use strict";
  var panel = document.querySelector(".tel-panel");
  if (!panel) return;
  var target = document.getElementById("tel-ringing");
  var layer = null;
  var shown = {};  // call id -> "lat,lon,radius" already drawn (to zoom only on news)
  var baseTitle = document.title;

  function refresh() { if (window.htmx && target) window.htmx.trigger(target, "tel:refresh"); }

  // Server-sent events: a ringing call reaches every console at once; polling is only the fallback.
  if (window.EventSource && panel.dataset.stream) {
    var source = new EventSource(panel.dataset.stream);
    ["ringing", "location"].forEach(function (name) { source.addEventListener(name, refresh); });
  }
  document.body.addEventListener("siaga:live", function (evt) {
    var topic = evt.detail && evt.detail.topic;
    if (topic === "ringing" || topic === "location") refresh();
  });

  function draw() {
    var ringingCount = target ? target.querySelectorAll(".tel-call.ringing").length : 0;
    document.title = ringingCount ? "(" + ringingCount + ") ☎ " + baseTitle : baseTitle;
    var map = window.siagaMap, L = window.L;
    var data = document.getElementById("tel-locations");
    if (!map || !L || !data) return;
    var points;
    try { points = JSON.parse(data.textContent || "[]"); } catch (e) { return; }
    if (!layer) layer = L.layerGroup().addTo(map);
    layer.clearLayers();
    var fresh = [];
    points.forEach(function (p) {
      var key = p.lat + "," + p.lon + "," + p.radius_m;
      var circle = L.circle([p.lat, p.lon], {radius: Math.max(p.radius_m, 5), color: "#c8102e", weight: 2,
                                            fillOpacity: 0.12});
      circle.bindTooltip(p.caller + " · AML ±" + Math.round(p.radius_m) + " m");
      layer.addLayer(circle);
      layer.addLayer(L.circleMarker([p.lat, p.lon], {radius: 4, color: "#c8102e", fillOpacity: 1}));
      if (shown[p.call_id] !== key) fresh.push(circle);
      shown[p.call_id] = key;
    });
    if (fresh.length) map.fitBounds(L.featureGroup(fresh).getBounds(), {maxZoom: 17, padding: [30, 30]});
  }
  document.body.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail && evt.detail.target === target) draw();
  });
  window.siagaTelephony = {refresh: refresh, draw: draw};
})();
