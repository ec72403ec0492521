//! What the web tests share: an account and its session, requests through the real router.
#![allow(dead_code)]

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::event::Role;
use anju_store::{NewAccount, Store};
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const TEST_PASSWORD: &str = "Anju-2024q";

pub fn system() -> Principal {
    Principal::system()
}

/// Creates an account (password [`TEST_PASSWORD`]) with `role` over `region`, named
/// "{username}姓名".
pub async fn account(store: &Store, username: &str, role: Role, region: &str) {
    let new = NewAccount {
        username: username.into(),
        display_name: format!("{username}姓名"),
        role,
        region: Some(RegionCode::parse(region).unwrap()),
        department: None,
    };
    store
        .create_demo_account(&system(), &new, TEST_PASSWORD)
        .await
        .unwrap();
}

/// Creates an account (password [`TEST_PASSWORD`]) and logs it in: (cookie, CSRF token).
pub async fn session(store: &Store, username: &str, role: Role, region: &str) -> (String, String) {
    account(store, username, role, region).await;
    login(store, username, TEST_PASSWORD).await
}

pub async fn login(store: &Store, username: &str, password: &str) -> (String, String) {
    let ok = store
        .login(username, password, None, "test", store.now())
        .await
        .unwrap();
    (format!("anju_session={}", ok.token), ok.session.csrf)
}

/// Sends a request through a fresh router: (status, Location, body as text).
pub async fn send(store: &Store, req: Request<Body>) -> (StatusCode, String, String) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

pub fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

pub fn post(path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

/// Sends a request through a fresh router: (status, body bytes), for downloads.
pub async fn send_bytes(store: &Store, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

/// A PDF's text as poppler's `pdftotext -layout` reads it, spaces removed.
pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| *c != ' ')
        .collect()
}

/// The first sheet of an xlsx file as rows of text.
pub fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The registration form of a plain house in `village`, numbered `census` in the census: 王五's
/// 其他自建房 at 三组12号, two storeys, 120 ㎡, brick.
pub fn registration_form<'a>(census: &'a str, village: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", "0"),
        ("effective", "2024-04-02"),
        ("source", "核查发现漏排"),
        ("census_id", census),
        ("village", village),
        ("address", "三组12号"),
        ("owner_name", "王五"),
        ("usage", "其他自建房"),
        ("floors_above", "2"),
        ("floors_below", "0"),
        ("floor_area_m2", "120"),
        ("structure_type", "砌体结构(砖混)"),
    ]
}

/// `form` with `changes`: a field it has takes the changed value, any other is added.
pub fn changed<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    for (k, v) in changes {
        match form.iter_mut().find(|(f, _)| f == k) {
            Some(slot) => slot.1 = v,
            None => form.push((k, v)),
        }
    }
    form
}

/// A problem list (问题清单) as the county office uploads it: an xlsx of the five columns
/// (镇街, 房屋编号, 问题类别, 问题描述, 整改时限) over one line for each of `rows`.
pub fn problem_list_xlsx(rows: &[[&str; 5]]) -> Vec<u8> {
    let head = ["镇街", "房屋编号", "问题类别", "问题描述", "整改时限"];
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, line) in std::iter::once(&head).chain(rows).enumerate() {
        for (c, v) in line.iter().enumerate() {
            ws.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// A ledger upload to `path` as the import form sends it (multipart: the CSRF token first,
/// then `mode` and the file).
pub fn multipart(
    path: &str,
    cookie: &str,
    csrf: &str,
    file: &[u8],
    name: &str,
    mode: &str,
) -> Request<Body> {
    let b = "----anjuimport";
    let mut body = Vec::new();
    // The token first, as the form sends it (never in the address).
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\n{mode}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    multipart_post(path, cookie, b, body)
}

/// A POST of a multipart/form-data `body` whose parts `boundary` separates, sending `cookie`.
pub fn multipart_post(path: &str, cookie: &str, boundary: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

/// The county office assigns the house `code` to the technical reviewer `reviewer`.
pub async fn assign_reviewer(store: &Store, code: &anju_domain::HouseCode, reviewer: &str) {
    let county = Principal {
        account_id: 0,
        username: "county".into(),
        name: "县专班".into(),
        role: Role::CountyOffice,
        region: Some(RegionCode::parse("370829").unwrap()),
        department: None,
    };
    store
        .access(&county, "test")
        .assign(code, reviewer)
        .await
        .unwrap();
}

/// Uploads through one router (the jobs live in its state) and waits for the job to finish.
pub async fn run(app: &axum::Router, req: Request<Body>, cookie: &str) -> (String, String) {
    use tower::ServiceExt;
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let job = res.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    for _ in 0..200 {
        let res = app.clone().oneshot(get(&job, cookie)).await.unwrap();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        let html = String::from_utf8_lossy(&body).into_owned();
        if !html.contains("http-equiv=\"refresh\"") {
            return (job, html);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

/// One application over a store, as the tests drive it: the router is built once (import
/// jobs live in its state), accounts are made and logged in by role, and every answer is read
/// in full. Requests that need something unusual still go through [`TestApp::send`].
pub struct TestApp {
    pub store: Store,
    pub app: axum::Router,
}

/// A logged-in account: the cookie its browser sends and its CSRF token.
#[derive(Debug, Clone)]
pub struct User {
    pub cookie: String,
    pub csrf: String,
}

/// An answer, read in full.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

/// An answer's status and JSON body (null when the body is not JSON).
pub fn parts(res: Answer) -> (StatusCode, serde_json::Value) {
    (
        res.status,
        serde_json::from_slice(&res.body).unwrap_or(serde_json::Value::Null),
    )
}

impl Answer {
    /// The body as text (lossy: for HTML, JSON and CSV).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header's value, or "" without one.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a page answered 200 OK: the page, for more checks.
    pub fn shown(&self) -> String {
        let html = self.text();
        assert_eq!(self.status, StatusCode::OK, "{html}");
        html
    }

    /// Asserts a form refused (422) naming `named`: the page, for more checks.
    pub fn refusal(&self, named: &str) -> String {
        let html = self.text();
        assert_eq!(self.status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains(named), "{named} named in: {html}");
        html
    }

    /// Where a redirect points, or "".
    pub fn location(&self) -> &str {
        self.header("location")
    }
}

impl TestApp {
    pub fn new(store: &Store) -> TestApp {
        TestApp::with_options(store, WebOptions::default())
    }

    /// The application with `options` (an evidence folder, say).
    pub fn with_options(store: &Store, options: WebOptions) -> TestApp {
        TestApp {
            store: store.clone(),
            app: anju_web::router(AppState::new(store.clone(), options).unwrap()),
        }
    }

    /// The application keeping evidence (and kept forms) under `dir`.
    pub fn with_evidence(store: &Store, dir: &std::path::Path) -> TestApp {
        TestApp::with_options(
            store,
            WebOptions {
                evidence_dir: Some(dir.to_path_buf()),
                ..WebOptions::default()
            },
        )
    }

    /// Creates an account (password [`TEST_PASSWORD`]) with `role` over `region`, logged in.
    pub async fn user(&self, username: &str, role: Role, region: &str) -> User {
        let (cookie, csrf) = session(&self.store, username, role, region).await;
        User { cookie, csrf }
    }

    /// Sends a request as it is.
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A GET as `user`.
    pub async fn get(&self, path: &str, user: &User) -> Answer {
        self.send(get(path, &user.cookie)).await
    }

    /// A page `user` may see: asserts 200 OK and UTF-8; the page.
    pub async fn page(&self, path: &str, user: &User) -> String {
        let res = self.get(path, user).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        String::from_utf8(res.body).unwrap_or_else(|e| panic!("{path}: not UTF-8: {e}"))
    }

    /// A form POST as `user`, its CSRF token added.
    pub async fn post_form(&self, path: &str, user: &User, pairs: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", user.csrf.as_str())];
        all.extend_from_slice(pairs);
        self.send(post(path, &user.cookie, &all)).await
    }

    /// A step form (`/houses/{house}/steps/{kind}`) posted as `user`.
    pub async fn post_step(
        &self,
        house: &str,
        kind: &str,
        user: &User,
        pairs: &[(&str, &str)],
    ) -> Answer {
        self.post_form(&format!("/houses/{house}/steps/{kind}"), user, pairs)
            .await
    }

    /// Uploads a ledger `file` named `name` as `user` to `/import` in `mode` and waits for the
    /// job: (job path, its page).
    pub async fn import(
        &self,
        user: &User,
        file: &[u8],
        name: &str,
        mode: &str,
    ) -> (String, String) {
        let req = multipart("/import", &user.cookie, &user.csrf, file, name, mode);
        run(&self.app, req, &user.cookie).await
    }

    /// A JSON POST as `user`, its CSRF token in the `X-CSRF-Token` header.
    pub async fn post_json(&self, path: &str, user: &User, body: &serde_json::Value) -> Answer {
        self.send(
            Request::post(path)
                .header(header::COOKIE, &user.cookie)
                .header("x-csrf-token", &user.csrf)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}
