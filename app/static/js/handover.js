// Hand-over forms answer 409/422 WITH the form and the message beside the field: swap those
// (htmx leaves 4xx unswapped by default). Only for requests from the hand-over pieces.
document.body.addEventListener("htmx:beforeSwap", function (evt) {
  var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
  var status = evt.detail.xhr.status;
  if ((status === 409 || status === 422) && elt && elt.closest && elt.closest(".handover-form, #handover")) {
    evt.detail.shouldSwap = true;
    evt.detail.isError = false;
  }
});
