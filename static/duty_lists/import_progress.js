// The import job page: ask the job's status once a second, show the progress, reload when it is done.
// Without JavaScript the page's <noscript> refresh does the same, less smoothly.
(function () {
  "use strict";
  var box = document.querySelector("[data-import-status]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var phase = box.querySelector("[data-import-phase]");
  var count = box.querySelector("[data-import-count]");

  function poll() {
    fetch(box.getAttribute("data-import-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) return setTimeout(poll, 3000);
        if (!status.running) return window.location.reload();
        phase.textContent = status.phase_label;
        if (status.total) {
          bar.max = status.total;
          bar.value = status.processed;
          count.textContent = status.processed + " / " + status.total;
        }
        setTimeout(poll, 1000);
      }, function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
