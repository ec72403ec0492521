//! Anju's web layer. Requests pass, outermost first: request id → compression → timeout →
//! error pages → security headers → the client's address → the session (cookie →
//! `Store::session`) → request log → the CSRF check on every state-changing request → the route.
//!
//! A module (a folder where it has parts) per resource, each with its `routes()`, merged in
//! [`router`]: `houses` (list, page, `record`, `steps`, `evidence`, `plaque`), `ledgers`
//! (ledgers, `reports`), `problems`, `campaign`, `imports`, `admin` (accounts, settings,
//! `regions`), `api`, and `pages` (login, password, home and the page chrome). Handlers take a
//! [`Caller`] (the session and the client's address; `caller.access(&state.store)` is the only
//! way to the store's houses) and return `Result<_, PageError>` ([`ApiError`] under `/api/`).
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod campaign;
pub mod drafts;
pub mod error;
pub mod flash;
pub mod houses;
pub mod imports;
pub mod ledgers;
pub mod map;
pub mod offline;
pub mod pages;
pub mod problems;
pub mod session;

use anju_store::Store;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use tower_http::compression::Predicate as _;

pub use error::{ApiError, ApiResult, NotFoundAs, PageError, PageResult};
pub use session::{Caller, LoggedIn, Source};

/// How the server presents itself.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// Mark the session cookie `Secure` (set when served behind HTTPS).
    pub secure_cookies: bool,
    /// Where the Chinese fonts for PDFs are (default: Debian's Noto CJK directories).
    pub font_dirs: Vec<std::path::PathBuf>,
    /// Where evidence files are stored (content-addressed); `anju serve` uses `DATA_DIR/evidence`.
    /// Without one, a directory under the system's temporary directory, one per process (tests).
    pub evidence_dir: Option<std::path::PathBuf>,
    /// The address plaques' QR codes point at (e.g. `https://anju.example.gov.cn`); without it,
    /// the address the request came in on.
    pub public_url: Option<String>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub options: Arc<WebOptions>,
    fonts: Arc<std::sync::OnceLock<Result<Arc<anju_pdf::Fonts>, String>>>,
    /// PDF typesetting is CPU-heavy: one at a time on a 2-core machine.
    pdf_permits: Arc<tokio::sync::Semaphore>,
    /// The evidence files.
    pub evidence: anju_evidence::EvidenceStore,
    /// Decoding and re-encoding photos is CPU-heavy: two at a time.
    image_permits: Arc<tokio::sync::Semaphore>,
    /// Ledger imports running or done in this process.
    pub imports: imports::Jobs,
}

impl AppState {
    /// Fails only if the evidence directory cannot be created.
    pub fn new(store: Store, options: WebOptions) -> std::io::Result<AppState> {
        let dir = match &options.evidence_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("anju-evidence-{}", std::process::id())),
        };
        Ok(AppState {
            store,
            options: Arc::new(options),
            fonts: Arc::new(std::sync::OnceLock::new()),
            pdf_permits: Arc::new(tokio::sync::Semaphore::new(1)),
            evidence: anju_evidence::EvidenceStore::open(dir)?,
            image_permits: Arc::new(tokio::sync::Semaphore::new(2)),
            imports: imports::Jobs::default(),
        })
    }

    /// Checks and stores one uploaded file off the async threads.
    pub async fn store_evidence(&self, bytes: Vec<u8>) -> Result<anju_evidence::Stored, String> {
        let _permit = self
            .image_permits
            .acquire()
            .await
            .map_err(|_| "服务正在关闭".to_string())?;
        let store = self.evidence.clone();
        tokio::task::spawn_blocking(move || {
            let p = anju_evidence::prepare(&bytes, &anju_evidence::Policy::default())
                .map_err(|e| e.to_string())?;
            store.put(&p).map_err(|e| {
                tracing::error!(error = %e, "evidence write failed");
                "证据材料保存失败，请稍后重试".to_string()
            })
        })
        .await
        .map_err(|_| "证据材料处理失败".to_string())?
    }

    /// Typesets a ledger as PDF off the async threads, one at a time.
    pub async fn pdf(
        &self,
        table: anju_domain::ledger::LedgerTable,
        header: anju_render::Header,
    ) -> Result<Vec<u8>, String> {
        self.typeset(move |fonts| anju_pdf::ledger(fonts, &table, &header))
            .await
    }

    /// Typesets a document off the async threads, one at a time, with the fonts loaded once.
    pub async fn typeset<F>(&self, make: F) -> Result<Vec<u8>, String>
    where
        F: FnOnce(&anju_pdf::Fonts) -> Result<Vec<u8>, anju_pdf::PdfError> + Send + 'static,
    {
        let fonts = self
            .fonts
            .get_or_init(|| {
                let dirs = if self.options.font_dirs.is_empty() {
                    anju_pdf::default_font_dirs()
                } else {
                    self.options.font_dirs.clone()
                };
                anju_pdf::Fonts::load(&dirs)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()?;
        let _permit = self
            .pdf_permits
            .acquire()
            .await
            .map_err(|_| "服务正在关闭".to_string())?;
        tokio::task::spawn_blocking(move || make(&fonts).map_err(|e| e.to_string()))
            .await
            .map_err(|_| "PDF 生成失败".to_string())?
    }

    /// Demo data is marked on every page.
    pub async fn is_demo(&self) -> bool {
        matches!(self.store.setting("demo").await, Ok(Some(v)) if v == "true")
    }
}

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
/// Apache ECharts 5.6.0, vendored (Apache-2.0, `assets/vendor/ECHARTS-LICENSE.txt`).
const ECHARTS: &str = include_str!("../assets/vendor/echarts.min.js");
const FAVICON: &str = include_str!("../assets/favicon.svg");

const CSS_TYPE: &str = "text/css; charset=utf-8";
const JS_TYPE: &str = "text/javascript; charset=utf-8";

/// A static file, kept by browsers for a day.
fn static_file(mime: &'static str, body: &'static [u8]) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// The routes and the paths they serve, as one table: [`router`] serves it, and the scope
/// matrix and the OpenAPI test read [`route_paths`] instead of the source text.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Routes {
    /// Adds one route and records its path.
    pub(crate) fn route(
        mut self,
        path: &'static str,
        method: axum::routing::MethodRouter<AppState>,
    ) -> Routes {
        self.paths.push(path);
        self.router = self.router.route(path, method);
        self
    }

    /// Adds a static file at `path`.
    pub(crate) fn asset(
        self,
        path: &'static str,
        mime: &'static str,
        body: &'static [u8],
    ) -> Routes {
        self.route(path, get(move || async move { static_file(mime, body) }))
    }

    /// Adds a resource's routes.
    fn merge(mut self, other: Routes) -> Routes {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }
}

/// Every path the application serves, in the order they are declared.
pub fn route_paths() -> Vec<&'static str> {
    routes().paths
}

fn routes() -> Routes {
    Routes::default()
        .merge(pages::routes())
        .merge(houses::routes())
        .merge(ledgers::routes())
        .merge(problems::routes())
        .merge(imports::routes())
        .merge(campaign::routes())
        .merge(admin::routes())
        .merge(api::routes())
        .merge(offline::routes())
        .merge(map::routes())
        .merge(infra_routes())
}

/// Health, readiness and the static assets.
fn infra_routes() -> Routes {
    Routes::default()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .asset("/static/app.css", CSS_TYPE, CSS.as_bytes())
        .asset("/static/app.js", JS_TYPE, JS.as_bytes())
        .asset("/static/echarts.min.js", JS_TYPE, ECHARTS.as_bytes())
        .merge(map_assets())
        .asset("/favicon.svg", "image/svg+xml", FAVICON.as_bytes())
        .route(
            "/favicon.ico",
            get(|| async { axum::response::Redirect::permanent("/favicon.svg") }),
        )
}

/// Leaflet 1.9.4 (BSD-2-Clause, `assets/vendor/LEAFLET-LICENSE.txt`) and the map's own script.
fn map_assets() -> Routes {
    const LEAFLET_JS: &str = include_str!("../assets/vendor/leaflet.js");
    const LEAFLET_CSS: &str = include_str!("../assets/vendor/leaflet.css");
    const MAP_JS: &str = include_str!("../assets/map.js");
    const MAP_CSS: &str = include_str!("../assets/map.css");
    Routes::default()
        .asset("/static/leaflet.js", JS_TYPE, LEAFLET_JS.as_bytes())
        .asset("/static/leaflet.css", CSS_TYPE, LEAFLET_CSS.as_bytes())
        .asset("/static/map.js", JS_TYPE, MAP_JS.as_bytes())
        .asset("/static/map.css", CSS_TYPE, MAP_CSS.as_bytes())
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    routes()
        .router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::csrf_guard,
        ))
        .layer(middleware::from_fn(flash::layer))
        .layer(middleware::from_fn(request_log))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::load_session,
        ))
        .layer(middleware::from_fn(session::client_address))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(error_pages))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            tower_http::compression::CompressionLayer::new().compress_when(
                tower_http::compression::DefaultPredicate::new()
                    .and(tower_http::compression::predicate::NotForContentType::new(
                        "application/pdf",
                    ))
                    .and(tower_http::compression::predicate::NotForContentType::new(
                        "application/vnd.openxmlformats",
                    )),
            ),
        )
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The longest a request may take (a county-wide export included); a handler stuck past it
/// is answered 408 and its work dropped.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The request's id (`x-request-id`): taken from a proxy in front when it sent a sane one,
/// else made here; returned on the response and carried by every log line of the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn request_id(
    mut req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string);
    let id = given.unwrap_or_else(|| {
        let n = REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{:x}-{n}", std::process::id())
    });
    req.extensions_mut().insert(RequestId(id.clone()));
    // The path, never the query (a search may hold a name). The account is recorded once the
    // session is loaded (`session::load_session`), so no handler needs to name it.
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        account = tracing::field::Empty,
    );
    let mut res = tracing::Instrument::instrument(next.run(req), span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// One log line per request: id, method, path (never the query: a search may hold a name),
/// status, time, account and house — no personal data. Server errors at warn level, so an
/// operator can tie a 5xx to the account and house it happened on.
async fn request_log(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let account = req
        .extensions()
        .get::<anju_store::Session>()
        .map(|s| s.principal.username.clone())
        .unwrap_or_default();
    let house = path
        .strip_prefix("/houses/")
        .or_else(|| path.strip_prefix("/api/v1/houses/"))
        .and_then(|rest| rest.split('/').next())
        .filter(|c| c.starts_with("AJ"))
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, ms, %account, %house, "request failed");
    } else {
        tracing::info!(%method, %path, status, ms, %account, %house, "request");
    }
    res
}

/// Ready to serve: the database answers within two seconds with the schema this build expects,
/// and the data directory's disk has room. 200 or 503, with the reasons, as JSON.
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    let problems = state.store.readiness(Some(state.evidence.root())).await;
    let status = if problems.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({ "ready": problems.is_empty(), "problems": problems })),
    )
        .into_response()
}

/// An error page with the site's stylesheet and a phone viewport, the message escaped.
fn error_page(
    status: axum::http::StatusCode,
    title: &str,
    message: &str,
) -> axum::response::Response {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let page = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · 安居</title><link rel=\"icon\" href=\"/favicon.svg\"><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">返回首页</a></p></main></body></html>",
        escape(title),
        escape(title),
        escape(message)
    );
    (status, axum::response::Html(page)).into_response()
}

/// Error answers as people should see them ([`PageError`] has already made a full disk or an
/// unreachable database a 507 or 503 saying that nothing was saved and that the system
/// recovers by itself). A page's bare text error (404 for an unknown address, a refused CSRF check, a refusal in words) is given the
/// site's layout, so that it reads well on a phone; downloads and the API are left alone.
async fn error_pages(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path().to_string();
    let api = path.starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error())
        || !plain
        || api
        || path.starts_with("/static/")
    {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error_page(status, "出错了", "请求未能完成，请返回重试。");
    };
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let (title, message) = match status {
        axum::http::StatusCode::NOT_FOUND if text.is_empty() => (
            "页面不存在",
            "您访问的地址不存在，请从首页或菜单进入。".to_string(),
        ),
        axum::http::StatusCode::NOT_FOUND => ("未找到", text),
        axum::http::StatusCode::FORBIDDEN => ("无权办理", text),
        axum::http::StatusCode::SERVICE_UNAVAILABLE
        | axum::http::StatusCode::INSUFFICIENT_STORAGE => ("暂时无法处理", text),
        axum::http::StatusCode::METHOD_NOT_ALLOWED => (
            "无法办理",
            "该地址不支持这种请求，请从页面上的按钮办理。".to_string(),
        ),
        s if s.is_server_error() && text.is_empty() => {
            ("出错了", "服务器内部错误，请稍后重试。".to_string())
        }
        _ if text.is_empty() => ("无法办理", "请求未能完成，请返回重试。".to_string()),
        _ => ("无法办理", text),
    };
    let mut page = error_page(status, title, &message);
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            page.headers_mut().insert(k.clone(), v.clone());
        }
    }
    page
}

/// The content security policy of every response (a map page adds its tile server to img-src).
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// CSP without inline script or style, no framing, no MIME sniffing, no referrer to other sites, and no
/// caching of pages (they carry personal data).
async fn security_headers(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A map page sets its own: this one plus its tile server's origin (`map::csp_with_tiles`).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        // Same-origin requests keep their Origin (checked on POST); nothing leaks elsewhere.
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
