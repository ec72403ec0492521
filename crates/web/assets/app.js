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

// The reminders bell: its figure is fetched after the page is shown, so no page waits for it.
document.addEventListener("DOMContentLoaded", function () {
  var count = document.querySelector("[data-bell-count]");
  if (!count || !window.fetch) { return; }
  fetch("/reminders/count", { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) {
      if (d && d.count > 0) { count.textContent = d.count; count.parentElement.classList.add("on"); }
    })
    .catch(function () {});
});
