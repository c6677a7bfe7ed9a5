// The router page while a version trains: ask its progress every second, reload when it is done.
// Without JavaScript the page's <noscript> refresh does the same, less smoothly.
(function () {
  "use strict";
  var box = document.querySelector("[data-router-progress]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var stage = box.querySelector("[data-router-stage]");

  function poll() {
    fetch(box.getAttribute("data-router-progress"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) return setTimeout(poll, 3000);
        if (!status.running) return window.location.reload();
        bar.value = status.progress;
        bar.textContent = status.progress + "%";
        if (status.stage) stage.textContent = status.stage;
        setTimeout(poll, 1000);
      }, function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
