// Small helpers shared by every page. Keyboard shortcuts live with the page that owns them.
document.body.addEventListener("showToast", function (evt) {
  var box = document.getElementById("toast");
  if (!box) return;
  box.textContent = (evt.detail && evt.detail.value) || evt.detail || "";
  box.classList.add("show");
  setTimeout(function () { box.classList.remove("show"); }, 3500);
});
