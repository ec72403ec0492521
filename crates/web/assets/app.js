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

// Before the session ends on a page with a form being filled in: say so five minutes ahead,
// and offer to stay logged in (any request counts as activity). A form sent after the end is
// kept by the server and given back after the next login, but it is better not to need that.
document.addEventListener("DOMContentLoaded", function () {
  var minutes = parseInt(document.body.dataset.idleMinutes || "0", 10);
  var form = document.querySelector("main form[method=post]");
  if (!minutes || !form || !window.fetch) { return; }
  var warnAfter = Math.max(minutes - 5, 1) * 60 * 1000;
  var timer;
  function arm() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (document.querySelector("p.idle-warning")) { return; }
      var p = document.createElement("p");
      p.className = "idle-warning";
      p.setAttribute("role", "alert");
      p.textContent = "约 5 分钟后登录将过期。请尽快提交；过期后提交的内容也会保存，重新登录后可恢复。";
      var b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = "继续填写（保持登录）";
      b.addEventListener("click", function () {
        fetch("/reminders/count", { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function () { p.remove(); arm(); })
          .catch(function () {});
      });
      p.appendChild(b);
      form.parentNode.insertBefore(p, form);
    }, warnAfter);
  }
  arm();
});
