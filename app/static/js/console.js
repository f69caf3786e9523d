// Operator console: outcome shortcuts, live elapsed times, the Leaflet map (window.siagaMap) with
// incident markers and the pin for a new incident, and relaying SSE notices to other panels.
(function () {
  "use strict";
  // --- elapsed times tick client-side between fragment refreshes ---------------------------------
  function fmt(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }
  setInterval(function () {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = Date.parse(el.dataset.since);
      if (!isNaN(t)) el.textContent = fmt((now - t) / 1000);
    });
  }, 1000);


  var root = document.getElementById("console");
  if (!root) return;  // the OPD queue only needs the ticking times above
  var slug = root.dataset.slug;

  // --- keyboard shortcuts: Alt+<key> clicks the outcome button with data-shortcut=<key> ---------
  document.addEventListener("keydown", function (evt) {
    if (!evt.altKey || evt.ctrlKey || evt.metaKey) return;
    var key = (evt.key || "").toUpperCase();
    if (key === "N") {
      evt.preventDefault();
      window.htmx.ajax("GET", "/t/" + slug + "/calls/new", {target: "#intake", swap: "innerHTML"});
      return;
    }
    var button = document.querySelector('#call-form button[data-shortcut="' + key + '"]');
    if (button) { evt.preventDefault(); button.click(); }
  });
  // Enter in the number field must never submit (the first button is "Darurat").
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && evt.target && evt.target.id === "f-caller_number") {
      evt.preventDefault();
      var notes = document.getElementById("f-notes");
      if (notes) notes.focus();
    }
  });

  // --- map --------------------------------------------------------------------------------------
  var map = null, incidentLayer = null, pin = null;
  if (window.L && window.siagaMakeMap && document.getElementById("map")) {
    map = window.siagaMakeMap(document.getElementById("map"));  // home view, tiles: app/static/js/map.js
    incidentLayer = window.L.layerGroup().addTo(map);
    window.siagaMap = map;
    map.on("click", function (evt) {
      var lat = document.getElementById("f-lat"), lon = document.getElementById("f-lon");
      if (!lat || !lon) return;
      lat.value = evt.latlng.lat.toFixed(6);
      lon.value = evt.latlng.lng.toFixed(6);
      placePin(evt.latlng.lat, evt.latlng.lng);
      document.body.dispatchEvent(new CustomEvent("pin"));
    });
  }
  var fitted = false;
  function placePin(lat, lon) {
    if (!map) return;
    if (pin) pin.setLatLng([lat, lon]); else pin = window.L.marker([lat, lon]).addTo(map);
  }
  function drawIncidents() {
    if (!map) return;
    incidentLayer.clearLayers();
    var points = [];
    document.querySelectorAll("#incidents .incident[data-lat]").forEach(function (el) {
      var ll = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
      var prio = el.classList.contains("prio-1") ? "#c8102e" : el.classList.contains("prio-2") ? "#b26b00" : "#44506a";
      window.L.circleMarker(ll, {radius: 8, color: prio, fillOpacity: 0.7}).bindTooltip(el.dataset.label)
        .addTo(incidentLayer);
      points.push(ll);
    });
    if (points.length && !fitted) {
      map.fitBounds(points, {maxZoom: 15, padding: [30, 30]});
      fitted = true;
    }
  }
  function syncPinFromForm() {
    // Typed text ("di sebelah pasar") is not a position: no pin, and no Leaflet error, which would
    // abort the swap handler below and leave the refused field without focus.
    var lat = document.getElementById("f-lat"), lon = document.getElementById("f-lon");
    var la = lat ? parseFloat(lat.value) : NaN, lo = lon ? parseFloat(lon.value) : NaN;
    var valid = isFinite(la) && isFinite(lo) && Math.abs(la) <= 90 && Math.abs(lo) <= 180;
    if (pin && !valid) { map.removeLayer(pin); pin = null; }
    if (valid) placePin(la, lo);
  }

  // --- focus and scroll: the operator's eyes follow the call, and never lose the ringing panel ---
  // Fragments mark their first field data-autofocus, not autofocus: htmx focuses [autofocus] itself
  // after settling, without preventScroll, which scrolled the page and took focus off a refused field.
  // Focus moves on htmx:afterSwap, in the same task as the insertion, so no keystroke can land in
  // the field being replaced. Classes are read on htmx:afterSettle: until then an element whose id
  // was on the page keeps the old element's class (htmx.config.attributesToSettle), so a call just
  // answered still looked "ringing".
  var panel = document.querySelector(".tel-panel");
  var initial = document.querySelector("#intake [data-autofocus]");
  if (initial) initial.focus({preventScroll: true});
  function inView(el) {
    if (!el) return true;
    var r = el.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  }
  document.body.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target) return;
    if (target.id === "intake") {
      syncPinFromForm();
      var fresh = target.querySelector("#call-form:not([data-call])");
      if (fresh && evt.detail.xhr && evt.detail.xhr.status < 400) {
        // a call was logged or dispatched: back to the top, where the next ringing call appears
        window.scrollTo({top: 0});
      } else if (!inView(target.querySelector("h2"))) {
        target.scrollIntoView({block: "start"});
      }
      var focus = target.querySelector('[aria-invalid="true"]') || target.querySelector("[data-autofocus]") ||
        target.querySelector("textarea, select, input:not([type=hidden]):not([readonly])");
      if (focus) focus.focus({preventScroll: true});
    }
  });
  document.body.addEventListener("htmx:afterSettle", function (evt) {  // reads the prio-N classes
    if (evt.detail && evt.detail.target && evt.detail.target.id === "incidents") drawIncidents();
  });
  // A new ringing call while the panel is scrolled away: a banner (and a screen-reader announcement).
  var banner = document.getElementById("new-ringing"), lastRinging = null;
  document.body.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target || target.id !== "tel-ringing") return;
    var n = target.querySelectorAll(".tel-call.ringing").length;
    if (banner && lastRinging !== null && n > lastRinging && !inView(panel)) {
      banner.querySelector("[data-count]").textContent = String(n);
      banner.classList.add("show");
    }
    if (banner && (n === 0 || inView(panel))) banner.classList.remove("show");
    lastRinging = n;
  });
  if (banner) {
    banner.addEventListener("click", function () {
      banner.classList.remove("show");
      if (panel) panel.scrollIntoView({block: "start"});
      var answer = document.querySelector("#tel-ringing .tel-answer");
      if (answer) answer.focus({preventScroll: true});
    });
    window.addEventListener("scroll", function () { if (inView(panel)) banner.classList.remove("show"); },
                            {passive: true});
  }
  // After a call is logged its history changes: refresh the caller box for that number.
  document.body.addEventListener("callerChanged", function (evt) {
    var number = evt.detail && evt.detail.number;
    if (number) {
      window.htmx.ajax("GET", "/t/" + slug + "/fragments/caller?caller_number=" + encodeURIComponent(number),
                       {target: "#caller-history", swap: "innerHTML"});
    }
  });
  document.body.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.id === "f-category_id") {  // default priority of the category
      var opt = el.options[el.selectedIndex];
      var p = opt && opt.dataset.priority;
      var chosen = document.querySelector('#incident-form input[name="priority"]:checked');
      if (p && !chosen) {
        var radio = document.querySelector('#incident-form input[name="priority"][value="' + p + '"]');
        if (radio) radio.checked = true;
      }
    }
    if (el && (el.id === "f-lat" || el.id === "f-lon")) {
      syncPinFromForm();
      document.body.dispatchEvent(new CustomEvent("pin"));
    }
  });

  // A call picked up in the telephony panel opens in the intake form.
  document.body.addEventListener("telClaimed", function (evt) {
    var id = evt.detail && evt.detail.call_id;
    if (id) window.htmx.ajax("GET", "/t/" + slug + "/calls/" + id + "/form", {target: "#intake", swap: "innerHTML"});
  });
  // Relay every live notice as a DOM event other panels can listen to (telephony, SLA).
  document.body.addEventListener("htmx:sseMessage", function (evt) {
    var topic = evt.detail && evt.detail.type;
    document.body.dispatchEvent(new CustomEvent("siaga:live", {detail: {topic: topic}}));
  });
})();
