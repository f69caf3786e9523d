// Telephony panel: live refresh over SSE, and AML positions (with their radius) on the console map.
(function () {
  "use strict";
  var panel = document.querySelector(".tel-panel");
  if (!panel) return;
  var target = document.getElementById("tel-ringing");
  var layer = null;
  var shown = {};  // fix ids already drawn (to zoom only on news)
  var baseTitle = document.title;
  // The glossary's location sources (app/glossary.py LOCATION_SOURCE) and their map colours.
  var SOURCE_LABEL = {aml: "AML", link: "tautan lokasi", whatsapp: "lokasi WhatsApp"};
  var SOURCE_COLOR = {aml: "#c8102e", link: "#1565c0", whatsapp: "#1a7f37"};

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
      // Every fix with its accuracy circle and time: the chosen one bold, flagged ones grey and dashed.
      var key = p.fix_id;
      var color = p.flags.length ? "#777" : (SOURCE_COLOR[p.source] || "#c8102e");
      var circle = L.circle([p.lat, p.lon], {radius: Math.max(p.radius_m, 5), color: color,
                                            weight: p.best ? 3 : 1, dashArray: p.flags.length ? "4 4" : null,
                                            fillOpacity: p.best ? 0.15 : 0.05});
      var when = new Date(p.at).toLocaleTimeString("id-ID");
      circle.bindTooltip(p.caller + " · " + (SOURCE_LABEL[p.source] || p.source) + " ±" +
                         Math.round(p.radius_m) + " m · " + when + (p.flags.length ? " · ⚠ " + p.flag_text : ""));
      circle.feature = {properties: p};
      layer.addLayer(circle);
      if (p.best) layer.addLayer(L.circleMarker([p.lat, p.lon], {radius: 4, color: color, fillOpacity: 1}));
      if (!shown[key] && !p.flags.length) fresh.push(circle);
      shown[key] = true;
    });
    window.siagaTelephony.fixes = points;
    if (fresh.length) map.fitBounds(L.featureGroup(fresh).getBounds(), {maxZoom: 17, padding: [30, 30]});
  }
  document.body.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.detail && evt.detail.target === target) draw();
  });
  window.siagaTelephony = {refresh: refresh, draw: draw, fixes: []};
})();
