//! A message for the page after a write (Post/Redirect/Get): the handler answers
//! [`redirect_with`] — a 303 carrying the message in a short-lived cookie — and the next page
//! rendered shows it once (the page chrome reads [`current`]) and clears the cookie.

use crate::session::append_cookie;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub const FLASH_COOKIE: &str = "anju_flash";
/// The longest message kept (characters).
const MAX_CHARS: usize = 200;

tokio::task_local! {
    static FLASH: Option<String>;
    static PATH: String;
}

/// The path of the request being answered (for the menu and breadcrumbs); empty outside one.
pub fn current_path() -> String {
    PATH.try_with(Clone::clone).unwrap_or_default()
}

/// The message waiting for this request's page, if any.
pub fn current() -> Option<String> {
    FLASH.try_with(Clone::clone).ok().flatten()
}

/// A 303 to `to` with `message` for the page there.
pub fn redirect_with(to: &str, message: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    let value: String = message.chars().take(MAX_CHARS).collect();
    // Not marked Secure (as before): it carries no secret and lives a minute.
    append_cookie(&mut res, FLASH_COOKIE, &encode(&value), Some(60), false);
    res
}

/// Makes the waiting message available to the page, and clears it once a page (not another
/// redirect) has been answered.
pub async fn layer(req: Request, next: Next) -> Response {
    let message = crate::session::cookie(req.headers(), FLASH_COOKIE)
        .and_then(|v| decode(&v))
        .filter(|m| !m.is_empty());
    let pending = message.is_some();
    let path = req.uri().path().to_string();
    let mut res = PATH.scope(path, FLASH.scope(message, next.run(req))).await;
    if pending && !res.status().is_redirection() {
        append_cookie(&mut res, FLASH_COOKIE, "", Some(0), false);
    }
    res
}

/// Percent-encodes every byte but ASCII letters, digits and `/-_.` (for a cookie value).
pub(crate) fn encode(s: &str) -> String {
    percent_encode(s, b"/-_.")
}

/// Percent-encodes every byte but ASCII letters, digits and those in `keep` (a cookie value,
/// a download's `filename*`).
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The message, if the cookie holds well-formed UTF-8 text of a sane length.
fn decode(s: &str) -> Option<String> {
    let text = unpercent(s)?;
    (text.chars().count() <= MAX_CHARS && !text.chars().any(char::is_control)).then_some(text)
}

/// Undoes percent-encoding; none when the result is not UTF-8 or an escape is broken.
pub(crate) fn unpercent(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_the_cookie_and_junk_is_dropped() {
        let m = "已保存：初判（存在隐患）";
        assert_eq!(decode(&encode(m)).as_deref(), Some(m));
        assert_eq!(decode("%E5%B7"), None, "cut UTF-8");
        assert_eq!(decode("%0A"), None, "control character");
        assert_eq!(decode("%G1"), None);
        assert_eq!(decode(&encode(&"长".repeat(201))), None);
    }
}
