// Shared by every page (loaded from base.html): toasts, and the ONE place that makes sure no answer
// to an htmx request is hidden from the person who acted. htmx 2 leaves 4xx/5xx unswapped and
// silent; here every such answer is shown:
//   * an HTML fragment (a form re-rendered with its field errors, 409/413/422) is swapped in like a
//     success; if it carries no visible error, a toast says what happened;
//   * a JSON problem ({"detail", "errors": [{field, message}]}) puts each message beside the field
//     of the form the user submitted, and the detail in an error toast;
//   * anything else (5xx text, a lost connection, a timeout) becomes an error toast.
// Keyboard shortcuts and page behaviour live with the page that owns them.
(function () {
  "use strict";
  var body = document.body;

  function toast(message, isError) {
    var box = document.getElementById(isError ? "toast-error" : "toast");
    if (!box || !message) return;
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.classList.remove("show"); }, isError ? 12000 : 4000);
  }
  window.siagaToast = toast;

  body.addEventListener("showToast", function (evt) {
    var d = evt.detail;
    toast((d && d.value) || (typeof d === "string" ? d : ""), false);
  });
  body.addEventListener("showError", function (evt) {
    var d = evt.detail;
    toast((d && d.value) || (typeof d === "string" ? d : ""), true);
  });
  body.addEventListener("click", function (evt) {
    var box = evt.target && evt.target.closest && evt.target.closest("#toast-error");
    if (box) box.classList.remove("show");
  });

  var STATUS_TEXT = {
    400: "Permintaan tidak valid", 401: "Sesi berakhir, silakan masuk lagi", 403: "Anda tidak berwenang",
    404: "Tidak ditemukan", 409: "Data sudah berubah, muat ulang", 413: "Berkas terlalu besar",
    422: "Periksa isian", 429: "Terlalu banyak permintaan, coba sebentar lagi",
    500: "Terjadi kesalahan di server", 502: "Server tidak dapat dihubungi", 503: "Layanan sedang tidak tersedia",
    504: "Server tidak menjawab"
  };
  function fallbackText(status) {
    return (STATUS_TEXT[status] || (status >= 500 ? "Terjadi kesalahan di server" : "Permintaan ditolak")) +
      " (" + status + ")";
  }

  // The form whose fields a problem is about: the submitted form, the form of the element that
  // acted, or the form its hx-include names.
  function formOf(elt) {
    if (!elt) return null;
    if (elt.tagName === "FORM") return elt;
    if (elt.form) return elt.form;
    return elt.closest ? elt.closest("form") : null;
  }
  function clearClientErrors(form) {
    if (!form) return;
    form.querySelectorAll("[data-client-error]").forEach(function (p) {
      var input = p._for;
      if (input) { input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby"); }
      var field = p.closest(".field");
      if (field) field.classList.remove("has-error");
      p.remove();
    });
  }
  function showBesideField(form, name, message) {
    if (!form || !name) return false;
    var el = form.elements.namedItem(name);
    if (el && !el.tagName && el.length) el = el[0];  // RadioNodeList
    if (!el) return false;
    var holder = el.closest(".field") || el.parentNode;
    var p = document.createElement("p");
    p.className = "error";
    p.id = "e-" + name + "-client";
    p.setAttribute("data-client-error", "");
    p.textContent = message;
    p._for = el;
    holder.appendChild(p);
    holder.classList && holder.classList.add("has-error");
    el.setAttribute("aria-invalid", "true");
    el.setAttribute("aria-describedby", p.id);
    return true;
  }
  function focusFirstError(scope) {
    var bad = scope && scope.querySelector('[aria-invalid="true"]');
    if (bad && typeof bad.focus === "function") bad.focus();
  }

  function showProblem(elt, xhr) {
    var status = xhr.status, text = xhr.responseText || "", type = xhr.getResponseHeader("content-type") || "";
    var form = formOf(elt);
    clearClientErrors(form);
    var detail = "", placed = 0;
    if (type.indexOf("json") >= 0) {
      try {
        var data = JSON.parse(text);
        detail = typeof data.detail === "string" ? data.detail : "";
        (Array.isArray(data.errors) ? data.errors : []).forEach(function (e) {
          if (e && showBesideField(form, e.field, e.message || detail)) placed++;
        });
      } catch (ignored) { /* not JSON after all: the status text below */ }
    } else if (type.indexOf("text/plain") === 0 && text.length < 300) {
      detail = text.trim();
    }
    if (placed) focusFirstError(form);
    toast(detail ? detail + " (" + status + ")" : fallbackText(status), true);
  }

  var checkAfterSwap = null;
  body.addEventListener("htmx:beforeRequest", function (evt) {
    clearClientErrors(formOf((evt.detail && evt.detail.elt) || evt.target));
  });
  body.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status < 400) return;
    var type = xhr.getResponseHeader("content-type") || "";
    if (type.indexOf("text/html") === 0 && xhr.status < 500 && (xhr.responseText || "").trim()) {
      // The server answered with the fragment itself (a form with its errors): show it.
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
      checkAfterSwap = {target: evt.detail.target, status: xhr.status};
      return;
    }
    evt.detail.shouldSwap = false;
    evt.detail.isError = false;  // handled here; htmx's own console logging is not a message
    // htmx fires swap events on the target; the form the person used is the request's element
    var actor = (evt.detail.requestConfig && evt.detail.requestConfig.elt) || evt.detail.elt || evt.target;
    showProblem(actor, xhr);
  });
  body.addEventListener("htmx:afterSettle", function (evt) {
    if (!checkAfterSwap || evt.detail.target !== checkAfterSwap.target) return;
    var target = checkAfterSwap.target, status = checkAfterSwap.status;
    checkAfterSwap = null;
    if (!target.querySelector(".error, [role=alert]")) toast(fallbackText(status), true);
    else focusFirstError(target);
  });
  body.addEventListener("htmx:sendError", function () {
    toast("Tidak dapat menghubungi server — periksa koneksi, lalu ulangi", true);
  });
  body.addEventListener("htmx:timeout", function () {
    toast("Server tidak menjawab tepat waktu — ulangi", true);
  });

  // Plain (non-htmx) forms that need a second thought: <form data-confirm="…">.
  body.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      evt.preventDefault();
    }
  }, true);
})();
