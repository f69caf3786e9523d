/* OPD queue: turn on web push for this browser (service worker + pushManager + VAPID key),
   and show pushed dispatches on the page too (the service worker forwards them). */
(function () {
  "use strict";
  const box = document.getElementById("push-box");
  if (!box) return;
  const slug = box.dataset.slug;
  const button = box.querySelector("button");
  const status = box.querySelector(".push-status");
  const say = (text, state) => { status.textContent = text; box.dataset.state = state; };
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("Browser ini tidak mendukung notifikasi push; pantau halaman ini atau gunakan WhatsApp/SMS.", "unsupported");
    button.disabled = true;
    return;
  }
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"];
  const scope = "/t/" + slug + "/opd";
  const bytes = (b64) => {
    const raw = atob((b64 + "=".repeat((4 - (b64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };
  navigator.serviceWorker.addEventListener("message", (event) => {
    const push = event.data && event.data.push;
    if (!push) return;
    const last = document.getElementById("push-last");
    last.textContent = (push.title || "Penugasan baru") + " — " + (push.body || "");
    last.hidden = false;
    if (window.htmx) window.htmx.trigger("#queue", "sse:dispatches");
  });
  async function enable() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say("Izin notifikasi ditolak di browser ini. Izinkan notifikasi untuk situs ini lalu coba lagi.", "denied");
      return;
    }
    const reg = await navigator.serviceWorker.register(scope + "/sw.js", { scope: scope });
    const key = (await (await fetch(scope + "/push/key", { credentials: "same-origin" })).json()).publicKey;
    const sub = (await reg.pushManager.getSubscription()) ||
      (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) }));
    const resp = await fetch(scope + "/push/subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(sub.toJSON ? sub.toJSON() : sub),
    });
    if (resp.ok) {
      say("Notifikasi aktif di browser ini: penugasan baru akan muncul walau halaman ditutup.", "on");
    } else {
      const err = await resp.json().catch(() => ({}));
      say("Langganan ditolak server: " + (err.message || resp.status), "error");
    }
  }
  button.addEventListener("click", () => {
    say("Mengaktifkan…", "busy");
    enable().catch((err) => say("Notifikasi tidak dapat diaktifkan: " + (err && err.message ? err.message : err), "error"));
  });
})();
