// OPD queue: an officer in the field must notice a new dispatch without staring at the page.
// On every refresh of #queue, dispatches not seen before (status "sent") raise an alert: the tab
// title counts unacknowledged jobs, a short tone plays (switchable, remembered on this device), and
// a browser notification appears when the officer allowed it.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) return;
  var baseTitle = document.title;
  var soundBox = document.getElementById("opd-sound");
  var notifyButton = document.getElementById("opd-notify");
  var KEY = "siaga112.opd.sound";
  var seen = null;  // dispatch ids already known (null until the first look: no alert on page load)
  window.siagaOpd = {alerts: 0, lastAlert: null};

  if (soundBox) {
    soundBox.checked = window.localStorage.getItem(KEY) !== "off";
    soundBox.addEventListener("change", function () {
      window.localStorage.setItem(KEY, soundBox.checked ? "on" : "off");
    });
  }
  function updateNotifyButton() {
    if (!notifyButton) return;
    if (!("Notification" in window)) { notifyButton.hidden = true; return; }
    var state = window.Notification.permission;
    notifyButton.hidden = state !== "default";
    var note = document.getElementById("opd-notify-state");
    if (note) note.textContent = state === "granted" ? "Notifikasi browser aktif." :
      state === "denied" ? "Notifikasi browser diblokir di pengaturan browser." : "";
  }
  if (notifyButton) {
    notifyButton.addEventListener("click", function () {
      window.Notification.requestPermission().then(updateNotifyButton);
    });
  }
  updateNotifyButton();

  var audio = null;
  function beep() {
    if (soundBox && !soundBox.checked) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = audio || new Ctx();
      [0, 0.35].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.25, audio.currentTime + at);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.3);
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + at);
        osc.stop(audio.currentTime + at + 0.3);
      });
    } catch (ignored) { /* no audio device: the title and the notification still tell */ }
  }

  function look() {
    var waiting = queue.querySelectorAll('.job[data-status="sent"]');
    document.title = waiting.length ? "(" + waiting.length + ") Tugas baru · " + baseTitle : baseTitle;
    var now = {}, fresh = [];
    waiting.forEach(function (job) {
      now[job.id] = true;
      if (seen && !seen[job.id]) fresh.push(job);
    });
    queue.querySelectorAll(".job").forEach(function (job) { now[job.id] = true; });
    seen = now;
    if (!fresh.length) return;
    var title = (fresh[0].querySelector("h2") || {}).textContent || "Tugas baru";
    title = title.replace(/\s+/g, " ").trim();
    window.siagaOpd.alerts += 1;
    window.siagaOpd.lastAlert = title;
    beep();
    var live = document.getElementById("opd-announce");
    if (live) live.textContent = fresh.length + " tugas baru: " + title;
    if ("Notification" in window && window.Notification.permission === "granted") {
      try { new window.Notification("112: tugas baru", {body: title, tag: "siaga112-opd"}); } catch (ignored) {}
    }
  }
  document.body.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.detail && evt.detail.target === queue) look();
  });
  look();
})();
