// Anju's only script: draws the charts whose ECharts options the server put in data-chart.
// No inline script anywhere (CSP script-src 'self').
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.chart[data-chart]").forEach(function (el) {
    if (typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.dataset.chart));
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
