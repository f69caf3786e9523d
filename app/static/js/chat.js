// Text conversation page: the console's SSE stream carries "chat" notices; the thread of THIS
// conversation is re-fetched when one names it (the operator's own sends swap it directly).
(function () {
  "use strict";
  var page = document.querySelector(".chat-page");
  if (!page || !window.EventSource) return;
  function refresh() {
    var thread = document.getElementById("chat-thread");
    var typing = document.activeElement && document.activeElement.id === "f-body" && document.activeElement.value;
    if (!thread || typing) return;  // never wipe a reply being typed
    window.htmx.ajax("GET", page.dataset.thread, {target: "#chat-thread", swap: "outerHTML"});
  }
  var source = new EventSource(page.dataset.stream);
  source.addEventListener("chat", function (evt) {
    var data = {};
    try { data = JSON.parse(evt.data); } catch (e) { return; }
    var thread = document.getElementById("chat-thread");
    if (thread && String(data.call_id) === thread.dataset.callId) refresh();
  });
  window.siagaChat = {refresh: refresh};
})();
