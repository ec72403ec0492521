//! No lost work. A field form (a step with its photos, a registration, a correction) submitted
//! after the session expired is kept on the server — its body as sent, under a random name —
//! and the browser is sent to the login page; after logging in it comes back to the form,
//! which is offered again filled in, the photos already uploaded, with a message saying so.
//! Nothing in a kept form is acted on: the clerk checks it and submits again.
//!
//! Kept forms are bounded (a day, 200 of them, 512 MiB in all; the oldest go first), because
//! anyone can send a request with a stale cookie, and sealed with the personal-data key (a
//! registration holds ID and phone numbers).

use crate::AppState;
use crate::session::append_cookie;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const DRAFT_COOKIE: &str = "anju_draft";
/// Where to go after logging in (a path on this site).
pub const RETURN_COOKIE: &str = "anju_return";
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const MAX_DRAFTS: usize = 200;
const MAX_TOTAL: u64 = 512 * 1024 * 1024;

/// Whether a POST to `path` is a field form kept across an expired session.
pub fn keeps(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "houses", "new"] | ["", "houses", _, "correct"] | ["", "houses", _, "steps", _]
    )
}

/// A path on this site, safe to send a browser to.
pub fn local_path(p: &str) -> Option<&str> {
    (p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && p.len() <= 512
        && p.chars().all(|c| c.is_ascii_graphic()))
    .then_some(p)
}

fn dir(state: &AppState) -> PathBuf {
    state.evidence.root().join("drafts")
}

/// Sends the browser to the login page, and back to `path` after it.
pub fn to_login_then(path: &str, secure: bool) -> Response {
    let mut res = Redirect::to("/login").into_response();
    if let Some(p) = local_path(path) {
        let value = crate::flash::encode(p);
        append_cookie(&mut res, RETURN_COOKIE, &value, Some(3600), secure);
    }
    res
}

/// Keeps a submitted form whose session has expired and sends the browser to log in. When it
/// cannot be kept (too large, no room), the login page is all there is.
pub async fn keep(
    state: &AppState,
    path: &str,
    content_type: &str,
    body: Body,
    limit: usize,
) -> Response {
    let secure = state.options.secure_cookies;
    let mut res = to_login_then(path, secure);
    match store(state, path, content_type, body, limit).await {
        Ok(id) => {
            let max_age = MAX_AGE.as_secs() as i64;
            append_cookie(&mut res, DRAFT_COOKIE, &id, Some(max_age), secure);
        }
        Err(e) => tracing::warn!(error = %e, "a form sent after its session expired was not kept"),
    }
    res
}

async fn store(
    state: &AppState,
    path: &str,
    content_type: &str,
    body: Body,
    limit: usize,
) -> std::io::Result<String> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| std::io::Error::other("the form is over its limit"))?;
    let dir = dir(state);
    tokio::fs::create_dir_all(&dir).await?;
    let room = prune(&dir, bytes.len() as u64).await?;
    if !room {
        return Err(std::io::Error::other("no room for more kept forms"));
    }
    let id: String = anju_store::infra::vault::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = serde_json::json!({ "path": path, "content_type": content_type });
    let sealed = state
        .store
        .vault()
        .seal_bytes(anju_store::infra::vault::column::KEPT_FORM, &bytes);
    tokio::fs::write(dir.join(format!("{id}.body")), sealed).await?;
    tokio::fs::write(dir.join(format!("{id}.json")), meta.to_string()).await?;
    Ok(id)
}

/// Deletes kept forms past their day, then the oldest while over the bounds with `incoming`
/// more bytes; whether there is room.
async fn prune(dir: &Path, incoming: u64) -> std::io::Result<bool> {
    let mut bodies = vec![];
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(e) = entries.next_entry().await? {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "body") {
            let m = e.metadata().await?;
            let at = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            bodies.push((at, m.len(), p));
        }
    }
    bodies.sort();
    let now = SystemTime::now();
    let mut total: u64 = bodies.iter().map(|b| b.1).sum();
    let mut count = bodies.len();
    for (at, len, p) in &bodies {
        let old = now.duration_since(*at).unwrap_or_default() > MAX_AGE;
        if !(old || count >= MAX_DRAFTS || total + incoming > MAX_TOTAL) {
            break;
        }
        remove(p).await;
        total -= len;
        count -= 1;
    }
    Ok(incoming <= MAX_TOTAL)
}

async fn remove(body: &Path) {
    let _ = tokio::fs::remove_file(body).await;
    let _ = tokio::fs::remove_file(body.with_extension("json")).await;
}

/// The kept form for `path`, if this browser has one: its content type and body. Taken once:
/// the files are deleted.
pub async fn take(state: &AppState, headers: &HeaderMap, path: &str) -> Option<(String, Vec<u8>)> {
    let id = crate::session::cookie(headers, DRAFT_COOKIE)?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let body = dir(state).join(format!("{id}.body"));
    let meta: serde_json::Value =
        serde_json::from_slice(&tokio::fs::read(body.with_extension("json")).await.ok()?).ok()?;
    if meta["path"].as_str() != Some(path) {
        return None;
    }
    let sealed = tokio::fs::read(&body).await.ok()?;
    remove(&body).await;
    let bytes = state
        .store
        .vault()
        .open_bytes(anju_store::infra::vault::column::KEPT_FORM, &sealed)
        .ok()?;
    Some((meta["content_type"].as_str()?.to_string(), bytes))
}

/// Clears the kept-form cookie on a response.
pub fn forget(res: &mut Response, secure: bool) {
    append_cookie(res, DRAFT_COOKIE, "", Some(0), secure);
}

/// Where to go after logging in, if the browser was sent to the login page from somewhere.
pub fn return_to(headers: &HeaderMap) -> Option<String> {
    let raw = crate::session::cookie(headers, RETURN_COOKIE)?;
    let p = crate::flash::unpercent(&raw)?;
    local_path(&p).map(str::to_string)
}

/// Clears the return cookie.
pub fn forget_return(res: &mut Response, secure: bool) {
    append_cookie(res, RETURN_COOKIE, "", Some(0), secure);
}

/// Whether this browser has a kept form waiting.
pub fn waiting(headers: &HeaderMap) -> bool {
    crate::session::cookie(headers, DRAFT_COOKIE).is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_field_forms_are_kept_and_only_local_paths_followed() {
        assert!(keeps("/houses/new"));
        assert!(keeps("/houses/AJ370829000001X/correct"));
        assert!(keeps("/houses/AJ370829000001X/steps/surveyed"));
        assert!(!keeps("/reports/1/act"));
        assert!(!keeps("/admin/accounts"));
        assert_eq!(local_path("/houses?page=2"), Some("/houses?page=2"));
        assert_eq!(local_path("//evil.example/x"), None);
        assert_eq!(local_path("https://evil.example"), None);
        assert_eq!(local_path("/\\evil"), None);
        let p = "/houses?town=370829101&page=2";
        assert_eq!(
            crate::flash::unpercent(&crate::flash::encode(p)).as_deref(),
            Some(p)
        );
    }
}
