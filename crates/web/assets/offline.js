// Offline field work (issue 19): registers the service worker (sw.js), and queues step forms
// submitted without a connection on this device (IndexedDB), their photos scaled down here to
// the upload limit. The header says 「待上传 N 条」 on every page and a list under it shows
// each queued form; they are sent, oldest first, when the connection returns (the online
// event, a page load, or 「立即上传」).
//
// A queued form carries the house version its form was opened at, so a house changed
// meanwhile comes back as the server's V1 conflict: the item is kept, marked 冲突, with the
// server's words, until the clerk discards it or re-opens the form (filled in from the queue,
// on the house as it now is). A refusal is kept the same way (被退回). An expired session
// keeps the items and says 请重新登录后上传. Logging out warns about unsent items, then
// empties the queue and the page cache.
//
// Only on a secure context (HTTPS or localhost): elsewhere the pages work online as before and
// the header says why offline use is unavailable.
(function () {
  "use strict";

  var DB_NAME = "anju-offline";
  var STORE = "queue";
  // The server's limits (anju_evidence::Policy): a file of at most 15 MB, images stored at
  // most 4096 px on their longer side.
  var MAX_BYTES = 15 * 1024 * 1024;
  var MAX_SIDE = 4096;
  var STEP_PATH = /^\/houses\/(AJ[0-9A-Z]+)\/steps\/([a-z_]+)$/;

  var STATUS = {
    waiting: "待上传",
    sending: "正在上传",
    conflict: "冲突",
    refused: "被退回",
    login: "请重新登录后上传",
  };

  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = function () {
        open.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }

  function tx(mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode);
        var out = work(t.objectStore(STORE));
        t.oncomplete = function () { d.close(); resolve(out && "result" in out ? out.result : undefined); };
        t.onerror = function () { d.close(); reject(t.error); };
        t.onabort = function () { d.close(); reject(t.error); };
      });
    });
  }

  function all() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.id - b.id; });
    });
  }
  function put(item) { return tx("readwrite", function (s) { return s.put(item); }); }
  function drop(id) { return tx("readwrite", function (s) { return s.delete(id); }); }
  function clearQueue() { return tx("readwrite", function (s) { return s.clear(); }); }

  function forgetPages() {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("anju-pages-") === 0; })
        .map(function (n) { return caches.delete(n); }));
    });
  }

  // Whose session this page is: queued forms are sent only under the account that filled them.
  function who() {
    var n = document.querySelector("header.top .who .name");
    return n ? n.textContent.trim() : "";
  }

  // This session's CSRF token, from the logout form every logged-in page has.
  function token() {
    var t = document.querySelector("header.top form[action='/logout'] input[name=csrf]");
    return t ? t.value : "";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // A photo scaled down on the device to what the server keeps (JPEG, at most MAX_SIDE px and
  // MAX_BYTES); other files, and photos already within both, as they are.
  function shrink(field, file) {
    var keep = { field: field, name: file.name, type: file.type, blob: file };
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) {
      return Promise.resolve(keep);
    }
    return createImageBitmap(file).then(function (bmp) {
      var w = bmp.width, h = bmp.height;
      var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      keep.width = w;
      keep.height = h;
      if (scale === 1 && file.size <= MAX_BYTES) { bmp.close(); return keep; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      bmp.close();
      var encode = function (quality) {
        return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); })
          .then(function (blob) {
            if (blob && blob.size > MAX_BYTES && quality > 0.4) { return encode(quality - 0.15); }
            return blob;
          });
      };
      return encode(0.85).then(function (blob) {
        if (!blob) { return keep; }
        return {
          field: field,
          name: file.name.replace(/\.[^.]*$/, "") + ".jpg",
          type: "image/jpeg",
          blob: blob,
          width: canvas.width,
          height: canvas.height,
        };
      });
    }).catch(function () { return keep; });
  }

  // The form as a queue item: its fields (not the CSRF token: the one of the session it is
  // sent in is used), its files, the house and the version the form was opened at.
  function capture(form) {
    var path = new URL(form.action, location.href).pathname;
    var m = STEP_PATH.exec(path);
    var data = new FormData(form);
    var fields = [];
    var files = [];
    data.forEach(function (v, k) {
      if (typeof v === "string") {
        if (k !== "csrf") { fields.push([k, v]); }
      } else if (v && (v.size > 0 || v.name)) {
        files.push([k, v]);
      }
    });
    var title = document.querySelector("main h1");
    return Promise.all(files.map(function (f) { return shrink(f[0], f[1]); })).then(function (shrunk) {
      return {
        who: who(),
        path: path,
        code: m ? m[1] : "",
        kind: m ? m[2] : "",
        title: title ? title.textContent.trim() : "",
        version: String(data.get("version") || ""),
        fields: fields,
        files: shrunk,
        at: Date.now(),
        status: "waiting",
        message: "",
      };
    });
  }

  // Whether the server can be reached now (a short request; a failed one means no).
  function reachable() {
    if (navigator.onLine === false) { return Promise.resolve(false); }
    var ctl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctl) { ctl.abort(); } }, 5000);
    return fetch("/healthz", { cache: "no-store", signal: ctl ? ctl.signal : undefined })
      .then(function (r) { clearTimeout(timer); return r.ok; })
      .catch(function () { clearTimeout(timer); return false; });
  }

  // The error a form page came back with (a refusal or the V1 conflict), in the server's words.
  function errorOf(html) {
    try {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var p = doc.querySelector("main p.error") || doc.querySelector("p.error");
      return p ? p.textContent.trim() : "";
    } catch (e) { return ""; }
  }

  // Sends one item: "sent", "offline" (no connection: stop), "login" (the session is gone:
  // stop), or the item marked conflict/refused and kept.
  function sendOne(item) {
    var body = new FormData();
    body.append("csrf", token());
    item.fields.forEach(function (f) { body.append(f[0], f[1]); });
    item.files.forEach(function (f) { body.append(f.field, f.blob, f.name); });
    return fetch(item.path, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token() },
    }).then(function (res) {
      var at = new URL(res.url, location.href).pathname;
      if (res.redirected && at === "/login") { return "login"; }
      if (res.ok && res.redirected && at === "/houses/" + item.code) { return "sent"; }
      return res.text().then(function (html) {
        var said = errorOf(html);
        if (res.status === 409) {
          item.status = "conflict";
          item.message = said || "房屋信息已被他人更新，本条未保存。";
        } else if (res.status === 422 || res.status === 413) {
          item.status = "refused";
          item.message = said || "提交的内容未通过校验，本条未保存。";
        } else if (res.status === 401) {
          return "login";
        } else {
          // Refused for a reason that passes (a stale page's token, the server busy): kept
          // as it is and tried again later.
          item.message = res.status === 403
            ? "安全校验未通过：请刷新页面后点击“立即上传”。"
            : "服务器暂时无法处理（" + res.status + "），稍后自动重试。";
          return put(item).then(function () { return "retry"; });
        }
        return put(item).then(function () { return item.status; });
      });
    }, function () { return "offline"; });
  }

  var sending = false;

  function withLock(work) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("anju-offline-queue", work);
    }
    return work();
  }

  // Sends this account's waiting items, oldest first; stops at the first that cannot go.
  function sendAll() {
    if (sending || !token()) { return Promise.resolve(); }
    sending = true;
    var me = who();
    var sent = 0;
    return withLock(function () {
      return all().then(function (items) {
        var todo = items.filter(function (i) {
          return i.who === me && (i.status === "waiting" || i.status === "login");
        });
        if (!todo.length) { return; }
        // The session first, without a form: an expired one is sent to log in with nothing
        // kept on the server.
        return fetch("/api/v1/houses/" + encodeURIComponent(todo[0].code), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" },
          cache: "no-store",
        }).then(function (res) {
          if (res.status === 401) {
            return Promise.all(todo.map(function (i) {
              i.status = "login";
              i.message = "登录已过期：请重新登录后上传。";
              return put(i);
            }));
          }
          var next = function (k) {
            if (k >= todo.length) { return; }
            var item = todo[k];
            return sendOne(item).then(function (outcome) {
              if (outcome === "sent") { sent += 1; return drop(item.id).then(function () { return next(k + 1); }); }
              if (outcome === "login") {
                return Promise.all(todo.slice(k).map(function (i) {
                  i.status = "login";
                  i.message = "登录已过期：请重新登录后上传。";
                  return put(i);
                }));
              }
              if (outcome === "offline" || outcome === "retry") { return; }
              return next(k + 1);
            });
          };
          return next(0);
        }, function () { /* still offline */ });
      });
    }).catch(function () {}).then(function () {
      sending = false;
      if (sent > 0) { say("已上传 " + sent + " 条离线填写的内容。"); }
      return render();
    });
  }

  // A line under the header saying what just happened.
  function say(text) {
    var panel = document.getElementById("queue");
    var p = document.querySelector("[data-queue-said]");
    if (!p) {
      p = el("p", "flash");
      p.setAttribute("role", "status");
      p.setAttribute("data-queue-said", "");
      var content = document.querySelector(".content");
      if (panel) { panel.parentNode.insertBefore(p, panel); } else if (content) { content.insertBefore(p, content.firstChild); }
    }
    p.textContent = text;
  }

  function when(ms) {
    try { return new Date(ms).toLocaleString("zh-CN", { hour12: false }); } catch (e) { return ""; }
  }

  // The header's count and the list of queued items.
  function render() {
    var badge = document.querySelector("[data-queue]");
    var panel = document.getElementById("queue");
    if (!badge || !panel) { return Promise.resolve(); }
    return all().then(function (items) {
      var me = who();
      var mine = items.filter(function (i) { return i.who === me; });
      var others = items.length - mine.length;
      badge.hidden = mine.length === 0;
      badge.querySelector("[data-queue-count]").textContent = String(mine.length);
      badge.classList.toggle("attention", mine.some(function (i) { return i.status !== "waiting"; }));
      panel.hidden = mine.length === 0 && others === 0;
      panel.textContent = "";
      panel.appendChild(el("h2", "", "待上传 " + mine.length + " 条"));
      panel.appendChild(el("p", "hint", navigator.onLine === false
        ? "当前离线：这些内容保存在本机，联网后自动上传。"
        : "这些内容保存在本机，尚未保存到系统。"));
      var list = el("ol", "queue-items");
      mine.forEach(function (i) {
        var li = el("li", "queue-item " + i.status);
        li.setAttribute("data-queued-id", String(i.id));
        var head = el("p");
        head.appendChild(el("strong", "", i.title || i.kind));
        head.appendChild(document.createTextNode(" · 房屋 "));
        var a = el("a", "", i.code);
        a.href = "/houses/" + i.code;
        head.appendChild(a);
        head.appendChild(document.createTextNode(" · 填写于 " + when(i.at) +
          (i.files.length ? " · 附件 " + i.files.length + " 个" : "")));
        head.appendChild(document.createTextNode(" "));
        head.appendChild(el("span", "state", STATUS[i.status] || i.status));
        li.appendChild(head);
        if (i.message) {
          var msg = el("p", i.status === "waiting" ? "hint" : "error", i.message);
          msg.setAttribute("data-queue-message", "");
          li.appendChild(msg);
        }
        if (i.status === "conflict" || i.status === "refused") {
          var actions = el("p", "actions");
          var latest = el("a", "button secondary", "查看最新情况");
          latest.href = "/houses/" + i.code;
          var reopen = el("a", "button", "重新打开表单");
          reopen.href = i.path + "#queued-" + i.id;
          reopen.setAttribute("data-queue-reopen", "");
          actions.appendChild(latest);
          actions.appendChild(document.createTextNode(" "));
          actions.appendChild(reopen);
          actions.appendChild(document.createTextNode(" "));
          actions.appendChild(discardButton(i));
          li.appendChild(actions);
        } else {
          var row = el("p", "actions");
          row.appendChild(discardButton(i));
          li.appendChild(row);
        }
        list.appendChild(li);
      });
      panel.appendChild(list);
      if (others > 0) {
        panel.appendChild(el("p", "hint", "另有 " + others + " 条由其他账号在本机填写，须以该账号登录后上传。"));
      }
      if (mine.some(function (i) { return i.status === "waiting" || i.status === "login"; })) {
        var now = el("button", "", "立即上传");
        now.type = "button";
        now.setAttribute("data-queue-send", "");
        now.addEventListener("click", function () { sendAll(); });
        panel.appendChild(now);
      }
    }).catch(function () {});
  }

  function discardButton(item) {
    var b = el("button", "secondary", "放弃");
    b.type = "button";
    b.setAttribute("data-queue-discard", "");
    b.addEventListener("click", function () {
      if (!window.confirm("放弃这条未上传的“" + (item.title || item.kind) + "”（房屋 " + item.code + "）？放弃后无法恢复。")) { return; }
      drop(item.id).then(render);
    });
    return b;
  }

  // A step form: submitted online as before; without a connection, kept in the queue.
  function hookStepForm(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.online === "1") { return; }
      event.preventDefault();
      var replaces = form.dataset.replaces ? parseInt(form.dataset.replaces, 10) : null;
      reachable().then(function (ok) {
        if (ok) {
          var done = replaces ? drop(replaces) : Promise.resolve();
          return done.then(function () {
            form.dataset.online = "1";
            HTMLFormElement.prototype.submit.call(form);
          });
        }
        return capture(form).then(function (item) {
          return put(item).then(function () { return replaces ? drop(replaces) : undefined; });
        }).then(function () {
          delete form.dataset.replaces;
          form.reset();
          var p = document.querySelector("[data-queued-note]") || el("p", "flash");
          p.setAttribute("role", "status");
          p.setAttribute("data-queued-note", "");
          p.textContent = "网络不可用：已保存在本机（待上传），联网后自动上传。";
          form.parentNode.insertBefore(p, form);
          return render();
        }, function () {
          window.alert("本机无法保存这份表单（存储空间不足或被浏览器禁止），请联网后再提交。");
        });
      });
    });
  }

  // 「重新打开表单」: the form at its address with #queued-ID is filled in from that item.
  function reopen(form) {
    var m = /^#queued-(\d+)$/.exec(location.hash);
    if (!m) { return; }
    var id = parseInt(m[1], 10);
    all().then(function (items) {
      var item = items.filter(function (i) { return i.id === id; })[0];
      if (!item || item.who !== who()) { return; }
      var seen = {};
      item.fields.forEach(function (f) {
        var name = f[0], value = f[1];
        if (name === "version" || name === "csrf") { return; }
        var els = Array.prototype.slice.call(form.elements).filter(function (e) { return e.name === name; });
        if (!els.length) { return; }
        if (els[0].type === "checkbox" || els[0].type === "radio") {
          els.forEach(function (e) { if (e.value === value) { e.checked = true; } });
          return;
        }
        var k = seen[name] || 0;
        seen[name] = k + 1;
        if (els[k]) { els[k].value = value; }
      });
      // Checkboxes not in the item were not ticked.
      Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox]"), function (e) {
        var on = item.fields.some(function (f) { return f[0] === e.name && f[1] === e.value; });
        e.checked = on;
      });
      var byField = {};
      item.files.forEach(function (f) { (byField[f.field] = byField[f.field] || []).push(f); });
      Object.keys(byField).forEach(function (name) {
        var input = form.querySelector("input[type=file][name='" + name + "']");
        if (!input || !window.DataTransfer) { return; }
        var dt = new DataTransfer();
        byField[name].forEach(function (f) { dt.items.add(new File([f.blob], f.name, { type: f.type })); });
        input.files = dt.files;
      });
      form.dataset.replaces = String(item.id);
      var p = el("p", "flash", "已填入本机保存的内容（" + (STATUS[item.status] || "") + "），表单按房屋的最新情况打开：请核对后提交。");
      p.setAttribute("role", "status");
      p.setAttribute("data-queue-reopened", "");
      form.parentNode.insertBefore(p, form);
    });
  }

  // Logging out: unsent items are named first; then the queue and the page copies go.
  function hookLogout(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.cleared === "1") { return; }
      event.preventDefault();
      all().catch(function () { return []; }).then(function (items) {
        if (items.length && !window.confirm("本机还有 " + items.length +
          " 条离线填写的内容未上传，退出后将从本机删除、无法恢复。确定退出？")) {
          return;
        }
        return Promise.all([clearQueue().catch(function () {}), forgetPages().catch(function () {})]).then(function () {
          form.dataset.cleared = "1";
          HTMLFormElement.prototype.submit.call(form);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var header = document.querySelector("header.top");
    var secure = window.isSecureContext && "serviceWorker" in navigator && "indexedDB" in window;
    if (!secure) {
      if (header) {
        var note = el("span", "queue-note", "需通过 HTTPS 访问才能离线使用");
        note.setAttribute("data-offline-unavailable", "");
        var bell = header.querySelector(".bell");
        header.insertBefore(note, bell || null);
      }
      return;
    }
    navigator.serviceWorker.register("/sw.js").catch(function () {});
    // The login page: whoever logs in next must not see the last one's pages.
    if (location.pathname === "/login") { forgetPages(); }
    if (!header) { return; }
    var badge = el("a", "queue");
    badge.href = "#queue";
    badge.hidden = true;
    badge.setAttribute("data-queue", "");
    badge.appendChild(document.createTextNode("待上传 "));
    badge.appendChild(el("span", "count", "0"));
    badge.lastChild.setAttribute("data-queue-count", "");
    badge.appendChild(document.createTextNode(" 条"));
    header.insertBefore(badge, header.querySelector(".bell") || null);
    var panel = el("section", "card queue-panel");
    panel.id = "queue";
    panel.hidden = true;
    var content = document.querySelector(".content");
    var crumbs = content && content.querySelector("nav.crumbs");
    if (crumbs) { crumbs.parentNode.insertBefore(panel, crumbs.nextSibling); }
    else if (content) { content.insertBefore(panel, content.firstChild); }

    var step = document.querySelector("main form[enctype='multipart/form-data']");
    if (step && STEP_PATH.test(new URL(step.action, location.href).pathname)) {
      hookStepForm(step);
      reopen(step);
    }
    var logout = header.querySelector("form[action='/logout']");
    if (logout) { hookLogout(logout); }
    window.addEventListener("online", function () { render().then(sendAll); });
    window.addEventListener("offline", function () { render(); });
    render().then(function () { if (navigator.onLine !== false) { return sendAll(); } });
  });
})();
