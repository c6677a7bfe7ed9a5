// The list-health page while a report is computed: ask its progress every second, reload when it is done.
// Without JavaScript the page's <noscript> refresh does the same, less smoothly.
(function () {
  "use strict";
  var box = document.querySelector("[data-health-status]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var stage = box.querySelector("[data-health-stage]");
  var percent = box.querySelector("[data-health-percent]");

  function poll() {
    fetch(box.getAttribute("data-health-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) return setTimeout(poll, 3000);
        if (!status.running) return window.location.reload();
        bar.value = status.progress;
        bar.textContent = status.progress + "%";
        percent.textContent = status.progress + "%";
        if (status.stage) stage.textContent = status.stage;
        setTimeout(poll, 1000);
      }, function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
