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

// 「获取当前位置」 beside 经度/纬度: fills them from the device's position (browsers give it only
// over HTTPS or on localhost) and says how accurate it is. Where the form has an accuracy field
// (the survey's hidden accuracy_m) the accuracy is recorded there too, and cleared again when
// 经度 or 纬度 is then changed by hand; the record form has none, so there it is only shown. A refusal or a timeout leaves the fields as they were.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-locate]").forEach(function (button) {
    var ids = button.dataset.locate.split(" ");
    var lon = document.getElementById(ids[0]);
    var lat = document.getElementById(ids[1]);
    var acc = button.form ? button.form.elements.namedItem("accuracy_m") : null;
    var status = button.parentNode.querySelector("[data-locate-status]");
    if (!lon || !lat || !status) { return; }
    if (!window.isSecureContext || !navigator.geolocation) {
      button.disabled = true;
      status.textContent = "需通过 HTTPS 访问才能获取位置";
      return;
    }
    button.disabled = false;
    if (acc) {
      [lon, lat].forEach(function (el) {
        el.addEventListener("input", function () { acc.value = ""; });
      });
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "正在获取位置……";
      navigator.geolocation.getCurrentPosition(function (pos) {
        lon.value = pos.coords.longitude.toFixed(6);
        lat.value = pos.coords.latitude.toFixed(6);
        if (acc) { acc.value = String(Math.round(pos.coords.accuracy)); }
        status.textContent = "已填入当前位置，精度约 " + Math.round(pos.coords.accuracy) + " 米";
        button.disabled = false;
      }, function (err) {
        var why = "无法获取位置，请稍后重试或手工填写";
        if (err.code === 1) { why = "未获得定位权限：请在浏览器设置中允许本网站获取位置，或手工填写"; }
        else if (err.code === 2) { why = "暂时无法确定位置（请到室外或开启定位服务后重试），或手工填写"; }
        else if (err.code === 3) { why = "获取位置超时，请稍后重试或手工填写"; }
        status.textContent = why;
        button.disabled = false;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
    });
  });
});
