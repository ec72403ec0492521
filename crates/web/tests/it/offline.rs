//! Installable and offline, as the server serves it (issue 19): the manifest and its icons,
//! the service worker (its type, its revalidation, its build-named caches), the page shown
//! offline, the CSP that lets the worker and the manifest load from this site and nothing
//! else, and every page linking the manifest and the queue script. The queue itself is
//! driven in Chromium (`browser.rs`).

use crate::common::{Answer, TestApp};

use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};

const TOWN: &str = "370829101";

fn anon(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// `path` as anyone gets it, asserted served (200 OK) as `content_type`.
async fn served(app: &TestApp, path: &str, content_type: &str) -> Answer {
    let res = app.send(anon(path)).await;
    assert_eq!(res.status, StatusCode::OK, "{path}");
    assert_eq!(res.header("content-type"), content_type, "{path}");
    res
}

async fn the_manifest_and_its_icons_make_the_app_installable(store: &Store) {
    let app = TestApp::new(store);
    let res = served(
        &app,
        "/manifest.webmanifest",
        "application/manifest+json; charset=utf-8",
    )
    .await;
    let m = res.json();
    assert_eq!(m["short_name"], "安居");
    assert!(m["name"].as_str().unwrap().starts_with("安居"));
    assert_eq!(m["start_url"], "/");
    assert_eq!(m["scope"], "/");
    assert_eq!(m["display"], "standalone");
    assert_eq!(m["theme_color"], "#b3261e");
    // Chromium installs with a 192 and a 512 px PNG; each is served as what it says it is.
    let icons = m["icons"].as_array().unwrap();
    let mut pngs = vec![];
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let res = served(&app, src, icon["type"].as_str().unwrap()).await;
        if icon["type"] == "image/png" {
            let side = u32::from_be_bytes(res.body[16..20].try_into().unwrap());
            assert_eq!(icon["sizes"], format!("{side}x{side}"), "{src}");
            pngs.push(side);
        } else {
            assert!(res.text().starts_with("<svg"));
        }
    }
    assert!(pngs.contains(&192) && pngs.contains(&512), "{pngs:?}");
}
anju_store::both!(the_manifest_and_its_icons_make_the_app_installable);

async fn the_service_worker_is_served_from_this_build_and_always_revalidated(store: &Store) {
    let app = TestApp::new(store);
    let res = served(&app, "/sw.js", "text/javascript; charset=utf-8").await;
    // A new binary's worker must be found on the next visit: never taken from the HTTP cache.
    assert_eq!(res.header("cache-control"), "no-cache");
    let src = res.text();
    let id = anju_web::offline::build_id();
    assert!(
        src.contains(&format!("var VERSION = \"{id}\";")),
        "the caches are named after the build"
    );
    assert!(!src.contains("__ANJU_BUILD__"));
    // Nothing from another site, no page answered to a POST, no API answer kept.
    assert!(!src.contains("http://") && !src.contains("https://"));
    assert!(src.contains("req.method !== \"GET\""));
    assert!(!src.contains("/api/"));
    // The shell it keeps is all served here.
    for path in [
        "/static/app.css",
        "/static/app.js",
        "/static/offline.js",
        "/favicon.svg",
        "/manifest.webmanifest",
        "/offline",
    ] {
        assert!(src.contains(&format!("\"{path}\"")), "{path}");
        assert_eq!(app.send(anon(path)).await.status, StatusCode::OK, "{path}");
    }
    let js = served(&app, "/static/offline.js", "text/javascript; charset=utf-8").await;
    assert!(js.text().contains("需通过 HTTPS 访问才能离线使用"));
}
anju_store::both!(the_service_worker_is_served_from_this_build_and_always_revalidated);

async fn the_offline_page_needs_no_session_and_holds_nothing_personal(store: &Store) {
    let app = TestApp::new(store);
    let res = served(&app, "/offline", "text/html; charset=utf-8").await;
    let html = res.text();
    assert!(html.contains("当前没有网络连接") && html.contains("待上传"));
    assert!(!html.contains("<script>") && !html.contains("csrf"));
}
anju_store::both!(the_offline_page_needs_no_session_and_holds_nothing_personal);

async fn the_csp_lets_the_worker_and_manifest_load_from_this_site_only(store: &Store) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let clerk = app.user("sw-clerk", Role::TownOperator, TOWN).await;
    for (path, res) in [
        ("/login", app.send(anon("/login")).await),
        ("/houses", app.get("/houses", &clerk).await),
        ("/sw.js", app.send(anon("/sw.js")).await),
    ] {
        let csp = res.header("content-security-policy");
        let parts: Vec<&str> = csp.split(';').map(str::trim).collect();
        for want in [
            "default-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(parts.contains(&want), "{path}: {want} in {csp}");
        }
        assert!(
            !csp.contains("unsafe") && !csp.contains("script-src") && !csp.contains('*'),
            "{path}: nothing loosened: {csp}"
        );
    }
    // Every page links the manifest and loads the queue script; no inline script.
    for html in [
        app.send(anon("/login")).await.text(),
        app.get("/houses", &clerk).await.text(),
    ] {
        assert!(html.contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\">"));
        assert!(html.contains("<script src=\"/static/offline.js\" defer></script>"));
        assert!(!html.contains("<script>"));
    }
}
anju_store::both!(the_csp_lets_the_worker_and_manifest_load_from_this_site_only);
