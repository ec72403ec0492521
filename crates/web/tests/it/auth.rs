//! The web layer's login, sessions, CSRF and headers, driven through the real router (no
//! network), on SQLite and PostgreSQL.

use crate::common::{Answer, TestApp};

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::event::Role;
use anju_store::{NewAccount, Store, on_db};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

/// Sends through `app`: the answer and its body as text.
async fn send(app: &TestApp, req: Request<Body>) -> (Answer, String) {
    let res = app.send(req).await;
    let text = res.text();
    (res, text)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .header(header::HOST, "anju.test")
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::HOST, "anju.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

fn set_cookie(res: &Answer, name: &str) -> Option<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn audit_outcomes(store: &Store) -> Vec<String> {
    on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT outcome FROM audit_log ORDER BY id").fetch_all(p).await).unwrap()
}

async fn account(store: &Store, username: &str, role: Role) -> String {
    let system = Principal::system();
    let (_, otp) = store
        .create_account(
            &system,
            &NewAccount {
                username: username.into(),
                display_name: format!("{username}姓名"),
                role,
                region: Some(RegionCode::parse("370829101").unwrap()),
                department: None,
            },
            "test",
        )
        .await
        .unwrap();
    otp
}

/// Logs in through the form; returns the session cookie pair `anju_session=…`.
async fn log_in(
    app: &TestApp,
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>, String) {
    let (res, html) = send(app, get("/login", "")).await;
    assert_eq!(res.status, StatusCode::OK);
    let login_cookie = set_cookie(&res, "anju_login_csrf").unwrap();
    let pair = login_cookie.split(';').next().unwrap().to_string();
    let csrf = hidden_csrf(&html);
    let form = format!(
        "csrf={csrf}&username={username}&password={}",
        urlencode(password)
    );
    let (res, body) = send(app, post("/login", &pair, &form)).await;
    let session =
        set_cookie(&res, "anju_session").map(|c| c.split(';').next().unwrap().to_string());
    (res.status, session, body)
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

async fn login_sets_a_strict_cookie_and_a_one_time_password_must_be_changed(store: &Store) {
    let app = &TestApp::new(store);
    let otp = account(store, "clerk1", Role::TownOperator).await;
    let (res, html) = send(app, get("/login", "")).await;
    let h = res.headers;
    assert!(
        h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert!(html.contains("用户名") && html.contains("登录"));

    let (status, session, _) = log_in(app, "clerk1", &otp).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = session.expect("session cookie");
    // The cookie's attributes.
    let (res, _) = send(app, get("/login", "")).await;
    drop(res);
    let (res, html) = send(app, get("/login", "")).await;
    let csrf = hidden_csrf(&html);
    let pair = set_cookie(&res, "anju_login_csrf")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (res, _) = send(
        app,
        post(
            "/login",
            &pair,
            &format!("csrf={csrf}&username=clerk1&password={}", urlencode(&otp)),
        ),
    )
    .await;
    let full = set_cookie(&res, "anju_session").unwrap();
    assert!(
        full.contains("HttpOnly") && full.contains("SameSite=Lax"),
        "{full}"
    );
    assert_eq!(res.headers[header::LOCATION], "/password");

    // Until the password is changed, every page leads to the password form.
    let (res, _) = send(app, get("/", &session)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers[header::LOCATION], "/password");
    let (res, html) = send(app, get("/password", &session)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(html.contains("首次登录或密码已过期"));
    let csrf = hidden_csrf(&html);
    let form = format!("csrf={csrf}&old={}&new=abc&confirm=abc", urlencode(&otp));
    let (res, html) = send(app, post("/password", &session, &form)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("密码至少 8 位"), "{html}");
    let form = format!(
        "csrf={csrf}&old={}&new=Anju-2024x&confirm=Anju-2024x",
        urlencode(&otp)
    );
    let (res, _) = send(app, post("/password", &session, &form)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let (res, html) = send(app, get("/", &session)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(html.contains("clerk1姓名"), "{html}");
}

async fn state_changing_requests_without_the_csrf_token_are_refused(store: &Store) {
    let app = &TestApp::new(store);
    let otp = account(store, "clerk2", Role::TownOperator).await;
    // Login without the double-submit cookie: refused before any password check.
    let (res, html) = send(app, get("/login", "")).await;
    let csrf = hidden_csrf(&html);
    let form = format!("csrf={csrf}&username=clerk2&password={}", urlencode(&otp));
    let (res2, body) = send(app, post("/login", "", &form)).await;
    assert_eq!(res2.status, StatusCode::FORBIDDEN);
    assert!(body.contains("CSRF"), "{body}");
    drop(res);
    let (_, session, _) = log_in(app, "clerk2", &otp).await;
    let session = session.unwrap();
    // Logout without a token, with a wrong token, from another origin: refused; still logged in.
    let (res, html) = send(app, get("/password", &session)).await;
    assert_eq!(res.status, StatusCode::OK);
    let csrf = hidden_csrf(&html);
    for (form, origin) in [
        (String::new(), None),
        ("csrf=forged".to_string(), None),
        (format!("csrf={csrf}"), Some("https://evil.example")),
    ] {
        let mut req = post("/logout", &session, &form);
        if let Some(o) = origin {
            req.headers_mut().insert(header::ORIGIN, o.parse().unwrap());
        }
        let before = audit_outcomes(store).await.len();
        let (res, _) = send(app, req).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{form} {origin:?}");
        let outcomes = audit_outcomes(store).await;
        assert_eq!(outcomes.len(), before + 1);
        assert_eq!(outcomes.last().unwrap(), "refused:csrf");
        let (res, _) = send(app, get("/password", &session)).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "session must survive a refused logout"
        );
    }
    // The token as a header works too; then the session is gone.
    let req = Request::post("/logout")
        .header(header::COOKIE, &session)
        .header(header::HOST, "anju.test")
        .header("x-csrf-token", &csrf)
        .body(Body::empty())
        .unwrap();
    let (res, _) = send(app, req).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let (res, _) = send(app, get("/password", &session)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers[header::LOCATION], "/login");
}

async fn unknown_user_and_wrong_password_look_the_same(store: &Store) {
    let app = &TestApp::new(store);
    account(store, "clerk3", Role::TownOperator).await;
    let (s1, c1, b1) = log_in(app, "clerk3", "Wrong-pass1").await;
    let (s2, c2, b2) = log_in(app, "ghost", "Wrong-pass1").await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert!(c1.is_none() && c2.is_none());
    let strip = |b: &str, u: &str| b.replace(u, "").replace(&hidden_csrf(b), "");
    assert_eq!(
        strip(&b1, "clerk3"),
        strip(&b2, "ghost"),
        "the pages differ"
    );
    assert!(b1.contains("用户名或密码错误"));
}

anju_store::both!(
    login_sets_a_strict_cookie_and_a_one_time_password_must_be_changed,
    state_changing_requests_without_the_csrf_token_are_refused,
    unknown_user_and_wrong_password_look_the_same,
);
