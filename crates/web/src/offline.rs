//! Installable and offline (issue 19, items 1 and 5): the web-app manifest, the service worker
//! and the page shown offline when a page was never opened on this device, all served from the
//! binary. The service worker (`assets/sw.js`) keeps the app shell and copies of the pages the
//! clerk has opened (the house list, house pages and their step forms); `assets/offline.js`
//! queues step forms filled offline in IndexedDB and sends them when the connection returns.
//!
//! The worker's caches are named after this build ([`build_id`]: a hash of the worker and the
//! shell it keeps), so a new binary's worker replaces the old caches when it activates.

use crate::Routes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::OnceLock;

const SW: &str = include_str!("../assets/sw.js");
const OFFLINE_JS: &str = include_str!("../assets/offline.js");
const MANIFEST: &str = include_str!("../assets/manifest.webmanifest");
const OFFLINE_PAGE: &str = include_str!("../assets/offline.html");
const ICON_192: &[u8] = include_bytes!("../assets/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../assets/icon-512.png");
const ICON_MASKABLE: &[u8] = include_bytes!("../assets/icon-maskable-512.png");

/// What the worker's source says where its caches' version goes.
const BUILD_PLACEHOLDER: &str = "__ANJU_BUILD__";

/// This build's id: the package version and a hash of everything the worker keeps, so that
/// any change to the shell (a new binary) names new caches.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            SW,
            OFFLINE_JS,
            MANIFEST,
            OFFLINE_PAGE,
            crate::CSS,
            crate::JS,
            crate::FAVICON,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!(
            "{}-{}",
            env!("CARGO_PKG_VERSION"),
            hex::encode(&h.finalize()[..6])
        )
    })
}

/// The worker with this build's id in it.
fn worker_source() -> &'static str {
    static SRC: OnceLock<String> = OnceLock::new();
    SRC.get_or_init(|| SW.replace(BUILD_PLACEHOLDER, build_id()))
}

/// The worker is checked for a new version on every visit (`no-cache`: revalidated, never
/// taken from the HTTP cache unasked); its scope is the whole site.
async fn worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        worker_source(),
    )
        .into_response()
}

/// The manifest, the worker, the offline page and the icons.
pub(crate) fn routes() -> Routes {
    Routes::default()
        .route("/sw.js", get(worker))
        .asset(
            "/manifest.webmanifest",
            "application/manifest+json; charset=utf-8",
            MANIFEST.as_bytes(),
        )
        .asset("/static/offline.js", crate::JS_TYPE, OFFLINE_JS.as_bytes())
        // No personal data: the same for everyone, kept by the worker as the page shown
        // offline when the page asked for was never opened on this device.
        .route(
            "/offline",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    OFFLINE_PAGE,
                )
            }),
        )
        .asset("/static/icon-192.png", "image/png", ICON_192)
        .asset("/static/icon-512.png", "image/png", ICON_512)
        .asset("/static/icon-maskable-512.png", "image/png", ICON_MASKABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_names_its_caches_after_the_build() {
        assert!(SW.contains(BUILD_PLACEHOLDER));
        let src = worker_source();
        assert!(!src.contains(BUILD_PLACEHOLDER));
        assert!(src.contains(build_id()));
        assert!(build_id().starts_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn the_icons_are_png_of_the_sizes_the_manifest_says() {
        for (png, side) in [(ICON_192, 192u32), (ICON_512, 512), (ICON_MASKABLE, 512)] {
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            // IHDR: width and height, big-endian, at bytes 16..24.
            let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
            assert_eq!((w, h), (side, side));
        }
        let m: serde_json::Value = serde_json::from_str(MANIFEST).unwrap();
        assert_eq!(m["short_name"], "安居");
        assert_eq!(m["display"], "standalone");
        assert_eq!(m["start_url"], "/");
    }
}
