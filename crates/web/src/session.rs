//! Sessions and CSRF. The cookie holds a random token (HttpOnly, SameSite=Lax, Secure behind
//! HTTPS); the server keeps only its hash. Every POST/PUT/PATCH/DELETE must carry the session's
//! CSRF token (form field `csrf` — an upload's first field —, or header `X-CSRF-Token`), never
//! in the address; the login form, before there is a
//! session, uses a double-submit cookie. A cross-origin `Origin` is refused outright.

use crate::AppState;
use crate::error::PageResult;
use anju_store::Session;
use anju_store::infra::audit::AuditEntry;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::time::Duration;
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "anju_session";
pub const LOGIN_CSRF_COOKIE: &str = "anju_login_csrf";
/// Forms are small; uploads (later) send the token as a header and are not buffered here.
const FORM_LIMIT: usize = 64 * 1024;

/// The client's address as recorded in the audit trail.
#[derive(Debug, Clone)]
pub struct Source(pub String);

/// The session token from the cookie, for logout.
#[derive(Debug, Clone)]
pub struct Token(pub String);

/// The value of cookie `name` as the request's `Cookie` headers send it (the first one of
/// that name), not decoded.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Max-Age when given (0 clears it),
/// Secure when configured. Every cookie Anju sets is one of these.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(a) = max_age {
        c = c.max_age(Duration::seconds(a));
    }
    c.build().to_string()
}

/// Adds [`set_cookie`]'s header to a response.
pub fn append_cookie(
    res: &mut Response,
    name: &str,
    value: &str,
    max_age: Option<i64>,
    secure: bool,
) {
    if let Ok(v) = HeaderValue::from_str(&set_cookie(name, value, max_age, secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Compares two secrets in time independent of where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Where a request came from, as audit rows record it: `web:ADDRESS` for pages and forms,
/// `api:ADDRESS` for the JSON API (`unknown` when there is no socket, as in router tests).
pub async fn client_address(mut req: Request, next: Next) -> Response {
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    let source = source_of(req.uri().path(), &addr);
    req.extensions_mut().insert(Source(source));
    next.run(req).await
}

/// The audit source of a request to `path` from `addr`.
pub fn source_of(path: &str, addr: &str) -> String {
    let channel = if path == "/api" || path.starts_with("/api/") {
        "api"
    } else {
        "web"
    };
    format!("{channel}:{addr}")
}

pub async fn load_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> PageResult {
    if let Some(token) = cookie(req.headers(), SESSION_COOKIE)
        && let Some(s) = state.store.session(&token, state.store.now()).await?
    {
        // Every log line of the request, from here on, says whose it is.
        tracing::Span::current().record("account", s.principal.username.as_str());
        req.extensions_mut().insert(s);
        req.extensions_mut().insert(Token(token));
    }
    Ok(next.run(req).await)
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "请求无效：安全校验（CSRF）未通过。请刷新页面后重试。",
    )
        .into_response()
}

/// Whether an `Origin` header, if any, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    // `null` (privacy-sensitive contexts) carries no information: the token decides.
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
    else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    origin_host == host
}

pub async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let source = req
        .extensions()
        .get::<Source>()
        .map_or_else(String::new, |s| s.0.clone());
    let (parts, body) = req.into_parts();
    let expected = if parts.uri.path() == "/login" {
        cookie(&parts.headers, LOGIN_CSRF_COOKIE)
    } else {
        parts.extensions.get::<Session>().map(|s| s.csrf.clone())
    };
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let is_multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (given, body) = match header_token {
        Some(t) => (Some(t), body),
        // Uploads are not buffered: their forms send the token as the first field, which is
        // read off the front of the body and put back.
        None if is_multipart => {
            let boundary = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(multipart_boundary)
                .unwrap_or_default();
            first_field_csrf(body, &boundary).await
        }
        None if is_form => {
            let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "表单内容过大").into_response();
            };
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
            let t = fields
                .into_iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v);
            (t, Body::from(bytes))
        }
        None => (None, body),
    };
    let ok = same_origin(&parts.headers)
        && matches!((&expected, &given), (Some(e), Some(g)) if !e.is_empty() && same_secret(e, g));
    // A field form from a browser whose session has expired is kept, not refused: the clerk
    // logs in again and gets it back (drafts.rs).
    if !ok
        && same_origin(&parts.headers)
        && parts.extensions.get::<Session>().is_none()
        && cookie(&parts.headers, SESSION_COOKIE).is_some()
        && crate::drafts::keeps(parts.uri.path())
    {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        return crate::drafts::keep(
            &state,
            parts.uri.path(),
            &content_type,
            body,
            crate::houses::steps::UPLOAD_LIMIT,
        )
        .await;
    }
    if !ok {
        let who = parts
            .extensions
            .get::<Session>()
            .map(|s| s.principal.clone());
        let entry = AuditEntry {
            at: state.store.now(),
            actor_id: who
                .as_ref()
                .map_or_else(String::new, |p| p.username.clone()),
            actor_role: who
                .as_ref()
                .map_or_else(String::new, |p| anju_store::infra::codec::role_code(p.role)),
            source,
            action: format!("http.{}", parts.method.as_str().to_lowercase()),
            object: parts.uri.path().chars().take(200).collect(),
            outcome: anju_store::infra::audit::Outcome::refused("csrf"),
            reason: None,
            detail: "{}".into(),
        };
        if let Err(e) = state.store.record_audit(&entry).await {
            tracing::error!(error = %e, "audit of a CSRF refusal failed");
        }
        return csrf_refused();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The `boundary` of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let v = p.trim().strip_prefix("boundary=")?;
        Some(v.trim_matches('"').to_string())
    })
}

/// The most read off the front of an upload to find its first field.
const FIRST_FIELD_LIMIT: usize = 8 * 1024;

/// The value of an upload's first field if it is `csrf`, and the body with what was read put
/// back in front.
async fn first_field_csrf(body: Body, boundary: &str) -> (Option<String>, Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    let mut token = None;
    while head.len() < FIRST_FIELD_LIMIT && !boundary.is_empty() {
        match stream.next().await {
            Some(Ok(data)) => head.extend_from_slice(&data),
            // A broken body is answered where the handler reads it; nothing is lost here but
            // its error, and the token check fails.
            Some(Err(_)) | None => break,
        }
        match csrf_in_first_part(&head, boundary) {
            FirstPart::Token(t) => {
                token = Some(t);
                break;
            }
            FirstPart::Other => break,
            FirstPart::Incomplete => {}
        }
    }
    let front =
        futures_util::stream::once(
            async move { Ok::<_, axum::Error>(axum::body::Bytes::from(head)) },
        );
    let rest = front.chain(stream);
    (token, Body::from_stream(rest))
}

enum FirstPart {
    Token(String),
    Other,
    Incomplete,
}

/// Whether `head` (the front of a multipart body) starts with a complete `csrf` field.
fn csrf_in_first_part(head: &[u8], boundary: &str) -> FirstPart {
    let opening = format!("--{boundary}\r\n");
    if head.len() < opening.len() {
        return FirstPart::Incomplete;
    }
    if !head.starts_with(opening.as_bytes()) {
        return FirstPart::Other;
    }
    let rest = &head[opening.len()..];
    let Some(end_of_headers) = find(rest, b"\r\n\r\n") else {
        return FirstPart::Incomplete;
    };
    let headers = String::from_utf8_lossy(&rest[..end_of_headers]).to_ascii_lowercase();
    let named_csrf = headers.lines().any(|l| {
        l.starts_with("content-disposition:") && l.split(';').any(|p| p.trim() == "name=\"csrf\"")
    });
    if !named_csrf {
        return FirstPart::Other;
    }
    let value = &rest[end_of_headers + 4..];
    let closing = format!("\r\n--{boundary}");
    match find(value, closing.as_bytes()) {
        Some(n) => match std::str::from_utf8(&value[..n]) {
            Ok(t) => FirstPart::Token(t.to_string()),
            Err(_) => FirstPart::Other,
        },
        None => FirstPart::Incomplete,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A logged-in account whose password need not be changed first. Pages redirect to the login
/// (or to the password change); other requests get 401.
pub struct LoggedIn(pub Session);

/// Any live session, also one that must change its password first.
pub struct AnySession(pub Session);

fn login_redirect(parts: &Parts) -> Response {
    if parts.uri.path().starts_with("/api/") {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"code":"unauthenticated","message":"请先登录"}}"#,
        )
            .into_response()
    } else if parts.method == Method::GET {
        // Back here after logging in.
        let here = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        crate::drafts::to_login_then(&here, false)
    } else {
        (StatusCode::UNAUTHORIZED, "请先登录").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LoggedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Session>() {
            Some(s) if s.must_change_password => Err(Redirect::to("/password").into_response()),
            Some(s) => Ok(LoggedIn(s.clone())),
            None => Err(login_redirect(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .map(AnySession)
            .ok_or_else(|| login_redirect(parts))
    }
}

/// A logged-in caller and the address the request came from: what a handler needs to reach
/// the store on someone's behalf (`caller.access(&state.store)`). Rejects like [`LoggedIn`].
pub struct Caller {
    pub session: Session,
    pub source: String,
}

impl Caller {
    /// The caller's scoped view of the store, the only way to its houses.
    pub fn access<'a>(&'a self, store: &'a anju_store::Store) -> anju_store::access::Access<'a> {
        store.access(&self.session.principal, &self.source)
    }

    /// The holder's own act, asked again (signing, accepting or returning a report, confirming
    /// imported closures): the statement ticked (`confirm` = "yes") and the password, plus the
    /// dynamic code where the account has one. `Ok(Some(message))` when refused (the page shows
    /// it; a wrong password counts towards the login lock and is audited), an error when the
    /// store could not answer.
    pub async fn reconfirm(
        &self,
        store: &anju_store::Store,
        confirm: &str,
        password: &str,
        totp: &str,
    ) -> Result<Option<String>, crate::error::PageError> {
        use crate::error::AuthRefusal as _;
        if confirm != "yes" {
            return Ok(Some("请先勾选确认：核对无误后方可办理".into()));
        }
        let totp = Some(totp.trim()).filter(|t| !t.is_empty());
        match store
            .confirm_identity(
                &self.session.principal.username,
                password,
                totp,
                &self.source,
            )
            .await
            .refusal()?
        {
            Ok(()) => Ok(None),
            Err(e) => Ok(Some(format!("身份确认未通过：{e}"))),
        }
    }

    /// Who is calling.
    pub fn principal(&self) -> &anju_domain::auth::Principal {
        &self.session.principal
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let LoggedIn(session) = LoggedIn::from_request_parts(parts, state).await?;
        let source = parts
            .extensions
            .get::<Source>()
            .map_or_else(|| "unknown".to_string(), |s| s.0.clone());
        Ok(Caller { session, source })
    }
}

/// What a handler acting for someone starts from: the application's state and the logged-in
/// caller, taken together (`Ctx { state, caller }: Ctx`). Rejects like [`Caller`].
pub struct Ctx {
    pub state: AppState,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Ctx {
            state: state.clone(),
            caller,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attributes of a `Set-Cookie` value, order aside (it carries no meaning).
    fn attributes(set_cookie: &str) -> Vec<&str> {
        let mut a: Vec<&str> = set_cookie.split("; ").collect();
        a.sort_unstable();
        a
    }

    #[test]
    fn set_cookie_keeps_every_attribute() {
        assert_eq!(
            attributes(&set_cookie(SESSION_COOKIE, "tok+/=", None, false)),
            ["HttpOnly", "Path=/", "SameSite=Lax", "anju_session=tok+/="]
        );
        assert_eq!(
            attributes(&set_cookie(SESSION_COOKIE, "tok", None, true)),
            [
                "HttpOnly",
                "Path=/",
                "SameSite=Lax",
                "Secure",
                "anju_session=tok"
            ]
        );
        assert_eq!(
            attributes(&set_cookie(LOGIN_CSRF_COOKIE, "c", Some(3600), false)),
            [
                "HttpOnly",
                "Max-Age=3600",
                "Path=/",
                "SameSite=Lax",
                "anju_login_csrf=c"
            ]
        );
        assert_eq!(
            attributes(&set_cookie(LOGIN_CSRF_COOKIE, "", Some(0), true)),
            [
                "HttpOnly",
                "Max-Age=0",
                "Path=/",
                "SameSite=Lax",
                "Secure",
                "anju_login_csrf="
            ]
        );
        // The pair comes first, where browsers and the tests look for it.
        assert!(set_cookie("anju_flash", "%E5", Some(60), false).starts_with("anju_flash=%E5; "));
        let mut res = Response::new(Body::empty());
        append_cookie(&mut res, "a", "1", Some(60), true);
        append_cookie(&mut res, "b", "", Some(0), false);
        let set: Vec<_> = res.headers().get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(
            attributes(set[0].to_str().unwrap()),
            [
                "HttpOnly",
                "Max-Age=60",
                "Path=/",
                "SameSite=Lax",
                "Secure",
                "a=1"
            ]
        );
        assert_eq!(
            attributes(set[1].to_str().unwrap()),
            ["HttpOnly", "Max-Age=0", "Path=/", "SameSite=Lax", "b="]
        );
    }

    #[test]
    fn cookie_reads_the_named_value_from_every_cookie_header() {
        let mut h = HeaderMap::new();
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1;  junk ; anju_flash=%E5%B7"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("anju_session=tok+/=; anju_session=second; empty="),
        );
        assert_eq!(cookie(&h, "a").as_deref(), Some("1"));
        assert_eq!(
            cookie(&h, "anju_flash").as_deref(),
            Some("%E5%B7"),
            "not decoded"
        );
        assert_eq!(
            cookie(&h, SESSION_COOKIE).as_deref(),
            Some("tok+/="),
            "the first"
        );
        assert_eq!(cookie(&h, "empty").as_deref(), Some(""));
        assert_eq!(cookie(&h, "junk"), None, "no '=': no cookie");
        assert_eq!(cookie(&h, "anju"), None, "whole names only");
        assert_eq!(cookie(&h, "A"), None, "names are case-sensitive");
    }
}
