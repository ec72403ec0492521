//! Offline field work in Chromium (issue 19, item 1): a clerk opens houses and their forms,
//! loses the connection, records a survey with a photo and a second one on another house,
//! sees both queued (「待上传 2 条」); the other house is changed meanwhile; back online the
//! first is saved with its photo and the second comes back as the V1 conflict, shown with the
//! server's words, and can be re-opened filled in; logging out warns, then empties the store.
//!
//! "Offline" is real: the browser reaches the server only through a relay in this test that,
//! when offline, closes every connection it holds and accepts none — and DevTools' network
//! emulation (`Network.emulateNetworkConditions`, which makes `navigator.onLine` false and
//! fires the events) is switched on with it. The emulation is set on the page's target only,
//! so the service worker's own fetches are not covered by it; the relay is what makes them
//! fail. The server counts every request it handles: none arrives while offline.
//!
//! A module of `browser.rs` (its helpers: `start_driver`, `log_in`, `cdp`, `shot`, ...).

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A TCP relay between the browser and the server that can go offline for real.
struct Relay {
    addr: SocketAddr,
    offline: Arc<AtomicBool>,
    /// Connections the browser tried to open while offline (closed at once).
    refused: Arc<AtomicUsize>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            offline: Arc::default(),
            refused: Arc::default(),
            open: Arc::default(),
        };
        let (offline, refused, open) = (
            relay.offline.clone(),
            relay.refused.clone(),
            relay.open.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if offline.load(Ordering::SeqCst) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                open.lock().unwrap().push(task.abort_handle());
            }
        });
        relay
    }

    /// Closes every connection (a kept-alive one too) and accepts none until [`Relay::online`].
    fn offline(&self) {
        self.offline.store(true, Ordering::SeqCst);
        for t in self.open.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn online(&self) {
        self.offline.store(false, Ordering::SeqCst);
    }
}

/// The server on a port of its own, counting the requests it handles.
async fn serve_counting(store: &Store) -> (SocketAddr, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap()).layer(
        axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                count.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ),
    );
    (serve_app(app).await, handled)
}

/// Switches DevTools' network emulation for the page.
async fn emulate_offline(c: &Client, offline: bool) {
    cdp(c, "Network.enable", serde_json::json!({})).await;
    cdp(
        c,
        "Network.emulateNetworkConditions",
        serde_json::json!({
            "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1
        }),
    )
    .await;
}

/// The queue as the page's IndexedDB holds it: per item the house, status, version, message
/// and files (name, type, pixel size, bytes).
async fn queued(c: &Client) -> Vec<serde_json::Value> {
    let script = r#"
        var done = arguments[arguments.length - 1];
        var open = indexedDB.open("anju-offline", 1);
        open.onupgradeneeded = function () {
          open.result.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
        };
        open.onerror = function () { done("cannot open: " + open.error); };
        open.onsuccess = function () {
          var d = open.result;
          var r = d.transaction("queue").objectStore("queue").getAll();
          r.onsuccess = function () {
            d.close();
            done(r.result.map(function (i) {
              return { code: i.code, status: i.status, version: i.version, message: i.message,
                files: i.files.map(function (f) {
                  return { field: f.field, name: f.name, type: f.type, width: f.width || 0,
                           height: f.height || 0, size: f.blob.size };
                }) };
            }));
          };
        };
    "#;
    let v = c.execute_async(script, vec![]).await.unwrap();
    v.as_array()
        .unwrap_or_else(|| panic!("the queue: {v}"))
        .clone()
}

/// The names of the caches the page's origin holds, and the addresses in its page cache.
async fn cached(c: &Client) -> (Vec<String>, Vec<String>) {
    let script = r#"
        var done = arguments[arguments.length - 1];
        caches.keys().then(function (keys) {
          var pages = keys.filter(function (k) { return k.indexOf("anju-pages-") === 0; })[0];
          if (!pages) { done([keys, []]); return; }
          caches.open(pages).then(function (cache) { return cache.keys(); }).then(function (reqs) {
            done([keys, reqs.map(function (r) { return new URL(r.url).pathname; })]);
          });
        });
    "#;
    let v = c.execute_async(script, vec![]).await.unwrap();
    let list = |x: &serde_json::Value| -> Vec<String> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    (list(&v[0]), list(&v[1]))
}

/// Waits until the header's 「待上传」 count reads `n` (hidden at 0).
async fn queue_count(c: &Client, n: usize, name: &str) {
    let mut said = String::new();
    for _ in 0..150 {
        let v = js(c, "var b = document.querySelector('[data-queue]'); return b ? [b.hidden, b.textContent] : null;").await;
        said = v.to_string();
        if n == 0 && v[0] == serde_json::Value::Bool(true) {
            return;
        }
        if n > 0 && v[0] == serde_json::Value::Bool(false) && v[1] == format!("待上传 {n} 条") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, &format!("failed-{name}")).await;
    panic!("{name}: the header never said 待上传 {n} 条: {said}");
}

/// A wide photo as a phone's panorama hands it over: 4800 × 600, over the 4096 px the server
/// keeps, so the device scales it down before queueing.
fn wide_jpeg(dir: &std::path::Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(4800, 600, |x, y| {
        image::Rgb([(x / 19) as u8, (y / 3) as u8, 120])
    }))
    .save_with_format(&path, image::ImageFormat::Jpeg)
    .unwrap();
    path
}

/// The text of the dialog the page opens (after its queue is read), once it is open.
async fn alert_text(c: &Client) -> String {
    for _ in 0..50 {
        if let Ok(t) = c.get_alert_text().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no dialog opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_records_offline_the_queue_sends_it_a_changed_house_is_a_conflict_and_logout_clears()
 {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    let h1 = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    account(store, "field", Role::TownOperator, "370829101").await;
    let (server, handled) = serve_counting(store).await;
    let relay = Relay::start(server).await;
    let stage = Stage::at(relay.addr).await;
    let plain = stage.plain();
    let c = stage.phone_with_plain_name().await;
    log_in(&c, &stage.base, "field").await;
    // The worker takes the page over, then keeps what the clerk opens.
    let controlled = c
        .execute_async(
            r#"var done = arguments[arguments.length - 1];
               navigator.serviceWorker.ready.then(function () {
                 if (navigator.serviceWorker.controller) { done(true); return; }
                 navigator.serviceWorker.addEventListener("controllerchange", function () { done(true); });
               });"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(controlled, serde_json::Value::Bool(true));
    let form1 = format!("/houses/{}/steps/surveyed", h1.code);
    let form2 = format!("/houses/{}/steps/surveyed", h2.code);
    for path in [
        "/houses".to_string(),
        format!("/houses/{}", h1.code),
        form1.clone(),
        format!("/houses/{}", h2.code),
        form2.clone(),
    ] {
        stage.go(&c, &path).await;
        wait_for(&c, "header.top", &path).await;
    }
    let (caches, pages) = cached(&c).await;
    assert!(
        caches.iter().any(|k| k.starts_with("anju-shell-")),
        "{caches:?}"
    );
    for path in [form1.as_str(), form2.as_str(), "/houses"] {
        assert!(pages.iter().any(|p| p == path), "{path} kept: {pages:?}");
    }

    // Offline.
    relay.offline();
    emulate_offline(&c, true).await;
    let before = handled.load(Ordering::SeqCst);
    stage.go(&c, &form1).await;
    wait_for(&c, "select[name=judgement]", "offline-form").await;
    let photo_dir = tempfile::tempdir().unwrap();
    let photo = wide_jpeg(photo_dir.path(), "宽幅照片.jpg");
    fill_survey(&c, "王离线", &photo).await;
    submit_form(&c).await;
    let note = wait_text(&c, "[data-queued-note]", "queued-note").await;
    assert_eq!(note, "网络不可用：已保存在本机（待上传），联网后自动上传。");
    queue_count(&c, 1, "one-queued").await;
    let q = queued(&c).await;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["code"], h1.code.to_string());
    assert_eq!(q[0]["status"], "waiting");
    assert_eq!(q[0]["version"], "1", "the version the form was opened at");
    // The photo, scaled down on the device to the 4096 px the server keeps.
    let f = &q[0]["files"][0];
    assert_eq!(q[0]["files"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&f["field"], &f["name"], &f["type"]),
        (
            &serde_json::json!("ev_photo"),
            &serde_json::json!("宽幅照片.jpg"),
            &serde_json::json!("image/jpeg")
        )
    );
    assert_eq!(
        (f["width"].as_u64(), f["height"].as_u64()),
        (Some(4096), Some(512))
    );
    assert!(f["size"].as_u64().unwrap() <= 15 * 1024 * 1024);
    shot(&c, "phone-offline-queued").await;

    // A second survey, on the other house, also offline.
    stage.go(&c, &form2).await;
    wait_for(&c, "select[name=judgement]", "offline-form-2").await;
    fill_survey(&c, "王冲突", &jpeg(photo_dir.path(), "第二张.jpg", 70)).await;
    submit_form(&c).await;
    wait_for(&c, "[data-queued-note]", "queued-note-2").await;
    queue_count(&c, 2, "two-queued").await;
    // Every page says so; the house page opens from the device, with the list of what waits.
    stage.go(&c, &format!("/houses/{}", h1.code)).await;
    wait_for(&c, "ol.timeline", "offline-house").await;
    queue_count(&c, 2, "house-page-queued").await;
    let panel = wait_text(&c, "#queue", "queue-panel").await;
    assert!(
        panel.contains("当前离线")
            && panel.contains(&h1.code.to_string())
            && panel.contains(&h2.code.to_string()),
        "{panel}"
    );
    shot(&c, "phone-offline-house-queue").await;
    // A page never opened here: the offline page.
    stage.go(&c, "/reminders").await;
    wait_for(&c, "body[data-offline-page]", "offline-page").await;
    assert!(text(&c).await.contains("当前没有网络连接"));
    assert_eq!(
        handled.load(Ordering::SeqCst),
        before,
        "the server received nothing while offline"
    );
    eprintln!(
        "connections the browser tried while offline (refused by the relay; the page's own requests are stopped by the emulation): {}",
        relay.refused.load(Ordering::SeqCst)
    );

    // Meanwhile someone else surveys the second house.
    h2.ok(&clerk(), survey(Judgement::NoHazard)).await;

    // Back online, on the house page (kept): the queue goes by itself.
    stage.go(&c, &format!("/houses/{}", h1.code)).await;
    wait_for(&c, "ol.timeline", "offline-house-again").await;
    relay.online();
    emulate_offline(&c, false).await;
    queue_count(&c, 1, "one-left").await;
    let conflict = wait_text(&c, "li.queue-item.conflict", "conflict").await;
    let said = conflict;
    assert!(
        said.contains("冲突")
            && said.contains(&h2.code.to_string())
            && said.contains("clerk姓名")
            && said.contains("您看到的是第 1 版，当前为第 2 版"),
        "the conflict in the server's words: {said}"
    );
    let flash = wait_text(&c, "[data-queue-said]", "sent-note").await;
    assert_eq!(flash, "已上传 1 条离线填写的内容。");
    shot(&c, "phone-queue-conflict").await;
    let q = queued(&c).await;
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["status"], "conflict");
    // Saved with its photo: the first house's survey, the second house untouched by the queue.
    let me = store.account("field").await.unwrap().principal();
    let clerk_view = store.access(&me, "test");
    let events = clerk_view.house_events(&h1.code).await.unwrap();
    assert_eq!(events.len(), 2, "registered, then surveyed once");
    let last = events.last().unwrap();
    assert_eq!(last.actor.id, "field");
    assert!(
        matches!(&last.change, anju_domain::event::Change::Surveyed(s) if s.surveyor == "王离线")
    );
    assert_eq!(last.evidence.len(), 1);
    assert_eq!(last.evidence[0].name, "宽幅照片.jpg");
    let events2 = clerk_view.house_events(&h2.code).await.unwrap();
    assert_eq!(
        events2.len(),
        2,
        "registered, then the other survey: nothing applied from the queue"
    );
    assert_eq!(events2[1].actor.id, "clerk");
    stage.go(&c, &format!("/houses/{}", h1.code)).await;
    wait_for(&c, "ol.timeline", "saved-house").await;
    let page = text(&c).await;
    assert!(
        page.contains("排查初判 field姓名") && page.contains("照片 宽幅照片.jpg"),
        "{page}"
    );
    let shown = c
        .execute_async(
            r#"var done = arguments[arguments.length - 1];
               var a = document.querySelector("ul.evidence a[href*='/evidence/']");
               fetch(a.href).then(function (r) { return r.blob(); })
                 .then(createImageBitmap).then(function (b) { done([b.width, b.height]); },
                                               function (e) { done(String(e)); });"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, serde_json::json!([4096, 512]), "the photo as stored");

    // 重新打开表单: the form on the house as it is now, filled in from the queue.
    let reopen = wait_for(&c, "[data-queue-reopen]", "reopen").await;
    reopen.click().await.unwrap();
    wait_for(&c, "[data-queue-reopened]", "reopened").await;
    assert_eq!(value(&c, "f-surveyor").await, "王冲突");
    let filled = js(&c, "return [document.querySelector('input[name=version]').value, document.getElementById('f-ev_photo').files.length, document.getElementById('f-ev_photo').files[0].name, document.querySelector('select[name=judgement]').value];").await;
    assert_eq!(filled, serde_json::json!(["2", 1, "第二张.jpg", "hazard"]));
    shot(&c, "phone-queue-reopened").await;

    // Logging out: warned about the unsent item; cancelling keeps everything.
    click(&c, "header.top form[action='/logout'] button").await;
    let warning = alert_text(&c).await;
    assert!(
        warning.contains("1 条") && warning.contains("未上传"),
        "{warning}"
    );
    c.dismiss_alert().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(c.find(Locator::Css("header.top")).await.is_ok());
    assert_eq!(queued(&c).await.len(), 1);
    click(&c, "header.top form[action='/logout'] button").await;
    alert_text(&c).await;
    c.accept_alert().await.unwrap();
    wait_for_url(&c, "/login").await;
    assert!(
        queued(&c).await.is_empty(),
        "the device store is empty after logout"
    );
    let (caches, pages) = cached(&c).await;
    assert!(
        pages.is_empty() && !caches.iter().any(|k| k.starts_with("anju-pages-")),
        "no page of the clerk's is kept: {caches:?} {pages:?}"
    );

    // On plain HTTP to a name (not a secure context): online as before, and the header says why
    // there is no offline use.
    log_in(&c, &plain, "field").await;
    let note = wait_text(&c, "[data-offline-unavailable]", "http-note").await;
    assert_eq!(note, "需通过 HTTPS 访问才能离线使用");
    assert!(c.find(Locator::Css("[data-queue]")).await.is_err());
    shot(&c, "phone-offline-http").await;
    c.close().await.unwrap();
}
