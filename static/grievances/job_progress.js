// A page following a long job (gap search, what-if replay): ask its status every second, show the progress,
// reload when it is done. Without JavaScript the page's <noscript> refresh does the same, less smoothly.
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var stage = box.querySelector("[data-job-stage]");

  function poll() {
    fetch(box.getAttribute("data-job-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) return setTimeout(poll, 3000);
        if (!status.running) return window.location.reload();
        bar.value = status.progress;
        bar.textContent = status.progress + "%";
        if (status.stage && stage) stage.textContent = box.getAttribute("data-stage-" + status.stage) || status.stage;
        setTimeout(poll, 1000);
      }, function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
