// The dashboard's charts, drawn with ECharts (served from node_modules by Django's staticfiles) from the
// data the server embeds beside each table (json_script "chart-data-<slug>"): labels, one series per
// plotted column, and the unit. Every word comes from the server, in the page's language. Without the
// library (or without JavaScript) the tables alone show the same figures.
// Also: while the summary is rebuilt, follow the job's progress and reload when it is done.
(function () {
  "use strict";
  var charts = [];
  var locale = (document.documentElement.lang || "zh-hans").indexOf("zh") === 0 ? "ZH" : "EN";

  function suffix(unit) {
    if (unit === "%") return "%";
    return unit ? " " + unit : "";
  }

  function valueFormatter(unit) {
    return function (value) {
      return value === null || value === undefined ? "—" : value + suffix(unit);
    };
  }

  function pieOption(spec, base) {
    var series = spec.series[0];
    base.tooltip = { trigger: "item", formatter: "{b}: {c} ({d}%)" };
    base.series = [{
      type: "pie",
      name: series.name,
      radius: ["38%", "68%"],
      center: ["50%", "55%"],
      data: spec.labels.map(function (label, i) { return { name: label, value: series.data[i] }; }),
      label: { formatter: "{b}: {c}" }
    }];
    return base;
  }

  function option(spec) {
    var base = {
      aria: { enabled: true },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 24, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: valueFormatter(spec.unit) }
    };
    if (spec.kind === "pie") return pieOption(spec, base);
    var horizontal = spec.kind === "hbar" || spec.kind === "hstack";
    var stacked = spec.kind === "stack" || spec.kind === "hstack";
    var type = spec.kind === "line" ? "line" : "bar";
    var valueAxis = { type: "value", axisLabel: { formatter: "{value}" + (spec.unit === "%" ? "%" : "") } };
    if (spec.unit === "%") { valueAxis.min = 0; valueAxis.max = 100; }
    if (!spec.unit) valueAxis.minInterval = 1;  // counts: no half grievances on the axis
    var categoryAxis = { type: "category", data: spec.labels, axisLabel: { hideOverlap: true } };
    base.series = spec.series.map(function (series) {
      var one = { type: type, name: series.name, data: series.data, emphasis: { focus: "series" } };
      if (stacked) one.stack = "total";
      if (type === "line") one.showSymbol = spec.labels.length <= 60;
      return one;
    });
    if (horizontal) {
      categoryAxis.inverse = true;  // the first row of the table on top
      categoryAxis.axisLabel.width = 160;
      categoryAxis.axisLabel.overflow = "truncate";
      base.xAxis = valueAxis;
      base.yAxis = categoryAxis;
      if (spec.labels.length > 15) {
        base.dataZoom = [
          { type: "slider", yAxisIndex: 0, startValue: 0, endValue: 14, right: 0, width: 14 },
          { type: "inside", yAxisIndex: 0, startValue: 0, endValue: 14, zoomOnMouseWheel: false, moveOnMouseWheel: true }
        ];
        base.grid.right = 36;
      }
    } else {
      base.xAxis = categoryAxis;
      base.yAxis = valueAxis;
      if (spec.labels.length > 45) {
        base.dataZoom = [{ type: "inside" }, { type: "slider", height: 18, bottom: 4 }];
        base.grid.bottom = 40;
      }
    }
    return base;
  }

  function height(spec) {
    if (spec.kind !== "hbar" && spec.kind !== "hstack") return 320;
    var perLabel = spec.kind === "hbar" ? Math.max(1, spec.series.length) * 8 + 10 : 26;
    return Math.max(260, Math.min(15, spec.labels.length) * perLabel + 90);
  }

  function draw(box) {
    var data = document.getElementById("chart-data-" + box.getAttribute("data-chart"));
    if (!data) return;
    var spec = JSON.parse(data.textContent);
    box.style.height = height(spec) + "px";
    var chart = window.echarts.init(box, null, { locale: locale, renderer: "canvas" });
    chart.setOption(option(spec));
    charts.push(chart);
  }

  function drawAll() {
    var boxes = document.querySelectorAll("[data-chart]");
    if (!boxes.length) return;
    if (!window.echarts) {
      var failed = document.querySelector("[data-charts-failed]");
      if (failed) failed.hidden = false;
      return;
    }
    Array.prototype.forEach.call(boxes, draw);
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (chart) { chart.resize(); }); }, 150);
    });
  }

  function followRebuild() {
    var box = document.querySelector("[data-rebuild-progress]");
    if (!box) return;
    var bar = box.querySelector("progress");
    var stage = box.querySelector("[data-rebuild-stage]");
    function poll() {
      fetch(box.getAttribute("data-rebuild-progress"), { credentials: "same-origin", headers: { Accept: "application/json" } })
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
  }

  function start() {
    drawAll();
    followRebuild();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
