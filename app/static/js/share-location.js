// The caller's location page: one button, the browser's geolocation, one POST. No library (2G phones).
(function () {
  var b = document.getElementById("b"), s = document.getElementById("s");
  if (!b) return;
  function say(t) { s.textContent = t; }
  b.onclick = function () {
    if (!navigator.geolocation) { say("Ponsel ini tidak bisa memberi lokasi. Sebutkan alamat Anda ke petugas."); return; }
    b.disabled = true; say("Mencari lokasi…");
    navigator.geolocation.getCurrentPosition(function (p) {
      say("Mengirim…");
      var x = new XMLHttpRequest();
      x.open("POST", b.getAttribute("data-post"));
      x.setRequestHeader("Content-Type", "application/json");
      x.onload = function () {
        var r = {};
        try { r = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
        say(x.status === 201 ? r.message : (r.detail || "Gagal mengirim (" + x.status + ")"));
        if (x.status >= 500) b.disabled = false;
      };
      x.onerror = function () { say("Jaringan terputus. Coba lagi."); b.disabled = false; };
      x.send(JSON.stringify({lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy,
                             timestamp: Math.round(p.timestamp)}));
    }, function (e) {
      say(e.code === 1 ? "Izin lokasi ditolak. Sebutkan alamat Anda ke petugas."
                       : "Lokasi tidak ditemukan. Coba lagi di tempat terbuka.");
      b.disabled = false;
    }, {enableHighAccuracy: true, timeout: 30000, maximumAge: 0});
  };
})();
