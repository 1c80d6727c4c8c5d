// Request statistics: the charts of /staff/requests/statistics, drawn with ECharts from the
// page's JSON data block (#stats-data). The workspace's CSP allows no inline script or
// style: this file is served by us, tooltips are rich text (ECharts' HTML tooltips carry
// inline style attributes, which the policy refuses).
(function () {
  "use strict";
  function draw() {
    var block = document.getElementById("stats-data");
    if (!block || typeof window.echarts === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    var charts = [];
    ["months", "kinds", "channels", "workrooms"].forEach(function (name) {
      var el = document.getElementById("chart-" + name);
      var series = data[name];
      if (!el || !series) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      var option = {
        animation: false,
        tooltip: { trigger: "axis", renderMode: "richText" },
        grid: { left: 48, right: 16, top: 16, bottom: 56 },
        xAxis: { type: "category", data: series.labels,
                 axisLabel: { rotate: name === "months" ? 45 : 0, interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: data.titles[name], type: name === "months" ? "line" : "bar",
                   data: series.values }]
      };
      chart.setOption(option);
      el.setAttribute("data-drawn", "true");
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
