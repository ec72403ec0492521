//! The JSON API on SQLite and PostgreSQL: scope, masking, CSRF, rule refusals with their codes,
//! stale versions; and the OpenAPI document lists every route.

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::testing::*;
use anju_store::{NewAccount, Store};
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(store: &Store, req: Request<Body>) -> (StatusCode, Value) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()));
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn session(store: &Store, username: &str, role: Role, region: &str) -> (String, String) {
    let system = Principal {
        account_id: 0,
        username: "system".into(),
        name: "系统".into(),
        role: Role::System,
        region: None,
        department: None,
    };
    let new = NewAccount {
        username: username.into(),
        display_name: format!("{username}姓名"),
        role,
        region: Some(RegionCode::parse(region).unwrap()),
        department: None,
    };
    store
        .create_demo_account(&system, &new, "Anju-2024q")
        .await
        .unwrap();
    let ok = store
        .login(username, "Anju-2024q", None, "test", chrono::Utc::now())
        .await
        .unwrap();
    (format!("anju_session={}", ok.token), ok.session.csrf)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, csrf: Option<&str>, body: &Value) -> Request<Body> {
    let mut r = Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = csrf {
        r = r.header("x-csrf-token", t);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn the_api_answers_within_scope_and_names_the_rule(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let other = House::register(store, 2, OTHER_VILLAGE, UsageCategory::Other).await;
    let (status, body) = send(store, get("/api/v1/houses", "")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (cookie, csrf) = session(store, "api-clerk", Role::TownOperator, "370829101").await;
    let (status, body) = send(store, get("/api/v1/houses?judgement=Hazard", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["houses"][0]["code"], h.code.as_str());
    let (status, body) = send(
        store,
        get(&format!("/api/v1/houses/{}", other.code), &cookie),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = send(store, get(&format!("/api/v1/houses/{}", h.code), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let id = anju_domain::sample::people().owner_id.unwrap();
    assert_eq!(body["people"]["owner_id"], id.masked());
    assert!(
        !body.to_string().contains(id.as_str()),
        "no full ID anywhere in the answer"
    );
    assert_eq!(body["version"], 3);

    let path = format!("/api/v1/houses/{}/events", h.code);
    let notify = json!({ "expected_version": 3, "effective": "2024-04-01", "change": { "type": "owner_notified", "method": "直接送达", "recipient": "张三" } });
    let (status, _) = send(store, post(&path, &cookie, None, &notify)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF header, no write");
    let (status, body) = send(store, post(&path, &cookie, Some(&csrf), &notify)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["seq"], 4);
    // Stale: the same version again.
    let (status, body) = send(store, post(&path, &cookie, Some(&csrf), &notify)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("V1"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api-clerk姓名")
    );
    // A principal closing on management measures: R1.
    let (pc, pcsrf) = session(store, "api-principal", Role::TownPrincipal, "370829101").await;
    let close = json!({ "expected_version": 4, "effective": "2024-04-02", "change": { "type": "closed", "basis": "management_measure" } });
    let (status, body) = send(store, post(&path, &pc, Some(&pcsrf), &close)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("R1")),
        "{body}"
    );
    // Ledger JSON for the clerk's own town; the county's is out of scope.
    let (status, body) = send(store, get("/api/v1/ledgers/2?unit=370829101000", &cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("合计"));
    let (status, _) = send(store, get("/api/v1/ledgers/2?unit=370829000000", &cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_openapi_document_lists_every_api_route() {
    let doc: Value = serde_json::from_str(anju_web::api::OPENAPI).unwrap();
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| normalise(k))
        .collect();
    let source = include_str!("../src/lib.rs");
    let routes: Vec<String> = source
        .split(".route(")
        .skip(1)
        .filter_map(|s| s.trim_start().strip_prefix('"'))
        .filter_map(|s| s.split('"').next())
        .filter(|r| r.starts_with("/api/v1"))
        .map(normalise)
        .collect();
    assert!(routes.len() >= 5);
    for r in &routes {
        assert!(paths.contains(r), "{r} is served but not documented");
    }
    for p in &paths {
        assert!(routes.contains(p), "{p} is documented but not served");
    }
}

/// `/a/{x}/b` and `/a/{y}/b` are the same route.
fn normalise(p: &str) -> String {
    p.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

anju_store::both!(the_api_answers_within_scope_and_names_the_rule);
