// The regency map shared by the console and the admin map page (templates/_map.html): opens on the
// tenant's home view, draws tiles only from the configured server, and without tiles (none set, or
// the server unreachable) still shows the province outline and every pin, and says so.
(function () {
  "use strict";
  function text(s) {  // attribution is plain text from the admin: never HTML
    var d = document.createElement("div");
    d.textContent = s || "";
    return d.innerHTML;
  }
  window.siagaMakeMap = function (el) {
    if (!window.L || !el) return null;
    var L = window.L, ds = el.dataset;
    var map = L.map(el, {zoomControl: true}).setView([parseFloat(ds.lat), parseFloat(ds.lon)],
                                                     parseInt(ds.zoom, 10) || 12);
    var status = document.getElementById("map-status");
    function unavailable(msg) { if (status) status.textContent = msg; el.classList.add("no-tiles"); }
    if (ds.tiles) {
      var failed = 0, loaded = 0;
      var layer = L.tileLayer(ds.tiles, {maxZoom: 19, attribution: text(ds.attribution)}).addTo(map);
      layer.on("tileload", function () { loaded++; if (status && el.classList.contains("no-tiles")) {
        el.classList.remove("no-tiles"); status.textContent = ""; } });
      layer.on("tileerror", function () {
        failed++;
        if (!loaded && failed >= 2) {
          unavailable("Peta dasar tidak tersedia (server peta tidak menjawab): batas provinsi dan pin tetap tampil.");
        }
      });
    } else {
      el.classList.add("no-tiles");
    }
    if (ds.outline && ds.province && window.fetch) {
      window.fetch(ds.outline).then(function (r) { return r.json(); }).then(function (geo) {
        var features = (geo.features || []).filter(function (f) {
          return f.properties && f.properties.PROVINSI === ds.province;
        });
        if (features.length) {
          L.geoJSON({type: "FeatureCollection", features: features},
                    {style: {color: "#1d2330", weight: 2, fillColor: "#ffffff", fillOpacity: 0.35},
                     interactive: false}).addTo(map).bringToBack();
          el.dataset.outlineDrawn = "1";
        }
      }).catch(function () { /* the pins and the home view still work */ });
    }
    return map;
  };
})();
