// Anju's service worker (hand-written, no library): keeps the app shell and copies of the
// pages the clerk has opened, so that they open without a connection.
//
// - The shell (stylesheet, scripts, icon, the offline page) is kept when the worker installs.
// - Pages: network first. The house list, house pages and their step forms are copied into
//   the page cache when they come back whole (200, not redirected); offline, the copy is shown,
//   or the offline page when there is none. Nothing else is kept: no API answer, no download,
//   no evidence file, no page answered to a POST (a revealed ID number comes that way).
// - Caches are named after the build: a new binary's worker deletes the old ones.
// - The pages belong to whoever was logged in: the page script deletes the page cache when
//   someone logs out and whenever the login page is shown (offline.js).
"use strict";

var VERSION = "__ANJU_BUILD__";
var SHELL = "anju-shell-" + VERSION;
var PAGES = "anju-pages-" + VERSION;
var SHELL_URLS = [
  "/static/app.css",
  "/static/app.js",
  "/static/offline.js",
  "/favicon.svg",
  "/manifest.webmanifest",
  "/offline",
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL)
      .then(function (cache) { return cache.addAll(SHELL_URLS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (n) {
          return n.indexOf("anju-") === 0 && n !== SHELL && n !== PAGES;
        }).map(function (n) { return caches.delete(n); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

// The pages a clerk needs in the field: the house list, a house, a house's step form.
function keepsPage(path) {
  return path === "/houses" ||
    /^\/houses\/AJ[0-9A-Z]+$/.test(path) ||
    /^\/houses\/AJ[0-9A-Z]+\/steps\/[a-z_]+$/.test(path);
}

function offlinePage() {
  return caches.open(SHELL).then(function (cache) { return cache.match("/offline"); });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") { return; }
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (SHELL_URLS.indexOf(url.pathname) >= 0 && url.pathname !== "/offline" && url.search === "") {
    // The shell: from the cache of this build, else the network.
    event.respondWith(
      caches.open(SHELL).then(function (cache) {
        return cache.match(req).then(function (hit) { return hit || fetch(req); });
      })
    );
    return;
  }
  if (req.mode !== "navigate") { return; }
  if (!keepsPage(url.pathname)) {
    event.respondWith(fetch(req).catch(offlinePage));
    return;
  }
  event.respondWith(
    fetch(req).then(function (res) {
      if (res.status === 200 && res.type === "basic" && !res.redirected) {
        var copy = res.clone();
        event.waitUntil(caches.open(PAGES).then(function (cache) { return cache.put(url.href, copy); }));
      }
      return res;
    }).catch(function () {
      return caches.open(PAGES)
        .then(function (cache) { return cache.match(url.href); })
        .then(function (hit) { return hit || offlinePage(); });
    })
  );
});

// The page script asks for the page cache to go (logout, the login page).
self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "forget-pages") {
    event.waitUntil(caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("anju-pages-") === 0; })
        .map(function (n) { return caches.delete(n); }));
    }));
  }
});
