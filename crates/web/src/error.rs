//! The one error type at the web edge. Handlers return `Result<_, PageError>` (pages) or
//! `Result<_, ApiError>` (the JSON API) and use `?`; a store error converts by itself. This is
//! the only place a server error is logged — once, with its cause chain, inside the request's
//! span (request id, method, path) — and where a full disk or an unreachable database becomes
//! the 507 or 503 it is rather than a 500.

use anju_domain::RuleCode;
use anju_store::infra::health::Unavailable;
use anju_store::{AuthError, StoreError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::fmt;

/// Why a request could not be answered with what was asked for.
#[derive(Debug)]
pub enum PageError {
    /// 404: not there, or not in the caller's scope (the two look alike), naming what was
    /// looked for.
    NotFound(Cow<'static, str>),
    /// 403: the caller's role may not do this.
    Denied(String),
    /// 422: the input, or a rule, refused the request; nothing was written. A rule refusal
    /// keeps its code (the API returns it; pages show it with the message).
    Refused {
        rule: Option<RuleCode>,
        message: String,
    },
    /// 409: the record changed since the form was loaded (rule V1).
    Conflict(String),
    /// 413: the request body is over its limit.
    TooLarge(Cow<'static, str>),
    /// 500, or 503/507 when the database is unreachable or full: logged here, shown as a
    /// message that says nothing of the cause.
    Internal {
        /// What was being done, for the log ("house page", "ledger xlsx").
        during: &'static str,
        cause: Box<dyn std::error::Error + Send + Sync>,
        unavailable: Option<Unavailable>,
    },
    /// An answer already made (a redirect to the login, a page re-rendered elsewhere); boxed,
    /// so that a `PageResult` stays small.
    Response(Box<Response>),
}

pub type PageResult<T = Response> = Result<T, PageError>;

impl PageError {
    /// 422 with a message in words.
    pub fn refused(message: impl Into<String>) -> PageError {
        PageError::Refused {
            rule: None,
            message: message.into(),
        }
    }

    /// 404 naming what was looked for.
    pub fn not_found(what: impl Into<Cow<'static, str>>) -> PageError {
        PageError::NotFound(what.into())
    }

    /// A server-side failure of something other than the store (a template, a PDF, a file).
    pub fn internal(
        during: &'static str,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> PageError {
        PageError::Internal {
            during,
            cause: cause.into(),
            unavailable: None,
        }
    }

    /// The HTTP status this answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Denied(_) => StatusCode::FORBIDDEN,
            PageError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::Internal {
                unavailable: Some(Unavailable::DiskFull),
                ..
            } => StatusCode::INSUFFICIENT_STORAGE,
            PageError::Internal {
                unavailable: Some(Unavailable::Down),
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::Response(r) => r.status(),
        }
    }

    /// The short machine code the API answers with.
    fn code(&self) -> &'static str {
        match self {
            PageError::NotFound(_) => "not_found",
            PageError::Denied(_) => "denied",
            PageError::Refused { rule: Some(r), .. } => r.as_str(),
            PageError::Refused { rule: None, .. } => "invalid",
            PageError::Conflict(_) => RuleCode::V1.as_str(),
            PageError::TooLarge(_) => "too_large",
            PageError::Internal { .. } | PageError::Response(_) => "internal",
        }
    }

    /// The message people see.
    fn message(&self) -> String {
        match self {
            PageError::NotFound(m) => m.to_string(),
            PageError::Denied(m) | PageError::Conflict(m) => m.clone(),
            PageError::Refused { message, .. } => message.clone(),
            PageError::TooLarge(m) => m.to_string(),
            PageError::Internal {
                unavailable: Some(u),
                ..
            } => u.message().to_string(),
            PageError::Internal { .. } | PageError::Response(_) => {
                "服务器内部错误，请稍后重试".to_string()
            }
        }
    }

    /// Logs a server error, once, with its cause chain; the request's span adds its id,
    /// method and path.
    fn log(&self) {
        if let PageError::Internal {
            during,
            cause,
            unavailable,
        } = self
        {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            match unavailable {
                Some(u) => {
                    tracing::warn!(during, unavailable = ?u, error = %chain, "request failed")
                }
                None => tracing::error!(during, error = %chain, "request failed"),
            }
        }
    }

    fn retry_after(&self) -> bool {
        matches!(
            self,
            PageError::Internal {
                unavailable: Some(_),
                ..
            }
        )
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// An account step's answer split in two: a refusal (wrong password, locked, reused…) stays
/// with the handler to show on its form; a store failure becomes the page error, as `?` does
/// for every other store call.
pub(crate) trait AuthRefusal<T> {
    fn refusal(self) -> Result<Result<T, AuthError>, PageError>;
}

impl<T> AuthRefusal<T> for Result<T, AuthError> {
    fn refusal(self) -> Result<Result<T, AuthError>, PageError> {
        match self {
            Err(AuthError::Store(e)) => Err(e.into()),
            answer => Ok(answer),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        let unavailable = e.unavailable();
        match e {
            StoreError::NotFound => PageError::NotFound(Cow::Owned(e.to_string())),
            StoreError::Denied(m) => PageError::Denied(m),
            StoreError::Invalid(m) => PageError::refused(m),
            StoreError::Rule(v) if v.code == RuleCode::V1 => PageError::Conflict(v.to_string()),
            StoreError::Rule(v) => PageError::Refused {
                rule: Some(v.code),
                message: v.to_string(),
            },
            e => PageError::Internal {
                during: "store",
                cause: Box::new(e),
                unavailable,
            },
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::internal("template", e)
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> PageError {
        PageError::Response(Box::new(r))
    }
}

/// Extension for store results: name what a 404 was looking for.
pub trait NotFoundAs<T> {
    /// A store `NotFound` becomes a 404 naming `what`; other errors convert as usual.
    fn not_found_as(self, what: &'static str) -> PageResult<T>;
}

impl<T> NotFoundAs<T> for Result<T, StoreError> {
    fn not_found_as(self, what: &'static str) -> PageResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => PageError::NotFound(Cow::Borrowed(what)),
            e => e.into(),
        })
    }
}

/// Pages answer in plain text; the `error_pages` layer gives it the site's layout.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.log();
        if let PageError::Response(r) = self {
            return *r;
        }
        let status = self.status();
        let mut res = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message(),
        )
            .into_response();
        if self.retry_after() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        res
    }
}

/// The same error for the JSON API: `{"error": {"code": …, "message": …}}`, the rule code for
/// refusals (without the bracketed prefix in the message).
#[derive(Debug)]
pub struct ApiError(pub PageError);

pub type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError(json_error(status, code, &message.into()).into())
    }
}

impl<E: Into<PageError>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        if let PageError::Response(r) = e {
            return *r;
        }
        let message = match &e {
            // The API gives the code apart; the message without its "[X1] " prefix.
            PageError::Refused {
                rule: Some(r),
                message,
            } => message
                .strip_suffix(&format!("（规则 {}）", r.as_str()))
                .unwrap_or(message)
                .to_string(),
            PageError::Conflict(m) => m
                .strip_suffix(&format!("（规则 {}）", RuleCode::V1.as_str()))
                .unwrap_or(m)
                .to_string(),
            e => e.message(),
        };
        let mut res = json_error(e.status(), e.code(), &message);
        if e.retry_after() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        res
    }
}
