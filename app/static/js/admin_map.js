// Admin map page: a click on the preview sets the home view's centre (and the current zoom).
(function () {
  "use strict";
  var map = window.siagaMakeMap && window.siagaMakeMap(document.getElementById("map"));
  if (!map) return;
  var marker = window.L.marker(map.getCenter()).addTo(map);
  map.on("click", function (evt) {
    document.getElementById("f-lat").value = evt.latlng.lat.toFixed(5);
    document.getElementById("f-lon").value = evt.latlng.lng.toFixed(5);
    document.getElementById("f-zoom").value = String(map.getZoom());
    marker.setLatLng(evt.latlng);
  });
})();
