// The map (templates/map.html, home.html): Leaflet over the county's tile server, or over the
// towns' and villages' places when none is configured. Asks /map/data for each view: cells
// counted on the server, or the houses themselves when zoomed in; a house opens on a click.
(function () {
  "use strict";
  function text(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function init(el) {
    if (typeof L === "undefined") { return; }
    var cfg = JSON.parse(el.dataset.config);
    var by = el.dataset.by === "grade" ? "grade" : "status";
    var query = el.dataset.query || "";
    var table = {};
    (cfg[by] || []).forEach(function (r) { table[r[0]] = { label: r[1], colour: r[2] }; });
    var statusLine = el.parentNode.querySelector("[data-map-status]");
    var map = L.map(el, { zoomControl: true, attributionControl: true, minZoom: 3, maxZoom: 19 });
    map.attributionControl.setPrefix(false);
    if (cfg.tiles) {
      L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: text(cfg.attribution || "") }).addTo(map);
    } else {
      el.classList.add("no-tiles");
      var places = L.layerGroup().addTo(map);
      cfg.places.forEach(function (p) {
        if (p.town) {
          L.marker([p.lat, p.lon], {
            icon: L.divIcon({ className: "place-town", html: "<span>" + text(p.name) + "</span>", iconSize: null }),
            interactive: false, keyboard: false
          }).addTo(places);
        } else {
          L.circleMarker([p.lat, p.lon], { radius: 3, color: "#777", weight: 1, fillColor: "#bbb", fillOpacity: 1, interactive: false })
            .bindTooltip(text(p.name), { permanent: true, direction: "right", className: "place-village" })
            .addTo(places);
        }
      });
      var villageLabels = function () { el.classList.toggle("show-villages", map.getZoom() >= 12); };
      map.on("zoomend", villageLabels);
      villageLabels();
    }
    var layer = L.layerGroup().addTo(map);
    var seq = 0;
    function top(counts) {
      var best = null, n = -1;
      Object.keys(counts).forEach(function (k) { if (counts[k] > n) { best = k; n = counts[k]; } });
      return best;
    }
    function label(k) { return table[k] ? table[k].label : k; }
    function show(data, zoom) {
      layer.clearLayers();
      var total = 0;
      if (data.kind === "points") {
        data.points.forEach(function (p) {
          var k = by === "grade" ? (p.grade || "none") : p.status;
          total += 1;
          L.circleMarker([p.lat, p.lon], {
            radius: 7, weight: p.overdue ? 3 : 1, color: p.overdue ? "#b71c1c" : "#ffffff",
            fillColor: table[k] ? table[k].colour : "#8c8c8c", fillOpacity: 0.95
          }).bindTooltip(text(p.code + " · " + label(k) + (p.overdue ? " · 逾期" : "")))
            .on("click", function () { window.location.href = "/houses/" + encodeURIComponent(p.code); })
            .addTo(layer);
        });
      } else {
        data.cells.forEach(function (c) {
          var k = top(c[by]);
          var size = Math.round(26 + 8 * Math.log(c.n) / Math.LN10);
          total += c.n;
          var parts = Object.keys(c[by]).map(function (x) { return label(x) + " " + c[by][x]; });
          if (c.overdue > 0) { parts.push("逾期C、D级 " + c.overdue); }
          L.marker([c.lat, c.lon], {
            icon: L.divIcon({
              className: "cluster " + by + "-" + k + (c.overdue > 0 ? " late" : ""),
              html: "<span>" + c.n + "</span>", iconSize: [size, size]
            }),
            title: parts.join("，"), keyboard: false
          }).on("click", function () { map.setView([c.lat, c.lon], Math.min(zoom + 2, 17)); })
            .addTo(layer);
        });
      }
      if (statusLine) {
        statusLine.textContent = total === 0 ? "当前范围内没有已定位的房屋。"
          : "当前范围内已定位房屋 " + total + " 栋" + (data.kind === "points" ? "（单栋显示）" : "（按网格汇总）") + "。";
      }
    }
    function load() {
      var z = map.getZoom(), b = map.getBounds(), mine = ++seq;
      var url = "/map/data?" + (query ? query + "&" : "") + "zoom=" + z +
        "&west=" + b.getWest().toFixed(5) + "&south=" + b.getSouth().toFixed(5) +
        "&east=" + b.getEast().toFixed(5) + "&north=" + b.getNorth().toFixed(5);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (d) { if (mine === seq) { show(d, z); el.dataset.loaded = d.kind; } })
        .catch(function () { if (statusLine) { statusLine.textContent = "地图数据加载失败，请刷新重试。"; } });
    }
    map.on("moveend", load);
    if (cfg.bounds) {
      map.fitBounds(cfg.bounds, { padding: [24, 24], maxZoom: 12 });
    } else {
      map.setView([35, 105], 4);
    }
  }
  document.querySelectorAll("[data-map]").forEach(init);
})();
