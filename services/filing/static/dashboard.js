// The filing dashboard's charts (/staff/filing/), drawn with ECharts from the page's JSON
// data block (#filing-data): rates by unit against the goal, progress by category, items
// accepted per month. The workspace's CSP allows no inline script or style: this file is
// served by us, tooltips are rich text (ECharts' HTML tooltips carry inline styles).
(function () {
  "use strict";
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var c = window.echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;
    option.tooltip = { trigger: "axis", renderMode: "richText" };
    c.setOption(option);
    el.setAttribute("data-drawn", "true");
    return c;
  }
  function draw() {
    var block = document.getElementById("filing-data");
    if (!block || typeof window.echarts === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    var t = data.titles;
    var many = data.units.labels.length > 25;
    var charts = [
      chart("chart-rates", {
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 32, bottom: many ? 96 : 64 },
        xAxis: { type: "category", data: data.units.labels,
                 axisLabel: { rotate: 45, interval: 0 } },
        yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
        dataZoom: many ? [{ type: "slider", start: 0, end: Math.min(100, 2500 / data.units.labels.length) }] : [],
        series: [
          { name: t.filing, type: "bar", data: data.units.filing,
            markLine: { symbol: "none", data: [{ yAxis: data.goal, name: t.goal }],
                        label: { formatter: t.goal + " " + data.goal + " %" } } },
          { name: t.quality, type: "bar", data: data.units.quality }
        ]
      }),
      chart("chart-categories", {
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 32, bottom: 64 },
        xAxis: { type: "category", data: data.categories.labels,
                 axisLabel: { rotate: 30, interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t.expected, type: "bar", data: data.categories.expected },
          { name: t.submitted, type: "bar", data: data.categories.submitted },
          { name: t.accepted, type: "bar", data: data.categories.accepted }
        ]
      }),
      chart("chart-months", {
        grid: { left: 48, right: 16, top: 16, bottom: 56 },
        xAxis: { type: "category", data: data.months.labels,
                 axisLabel: { rotate: 45, interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: t.months, type: "line", data: data.months.values }]
      })
    ];
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { if (c) { c.resize(); } });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
