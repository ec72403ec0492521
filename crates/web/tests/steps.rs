//! Lifecycle steps through the web forms, on SQLite and PostgreSQL: offered steps, a recorded
//! survey, a refused closure that names the rule and changes nothing, a stale form.

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
use tower::ServiceExt;

async fn send(store: &Store, req: Request<Body>) -> (StatusCode, String) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()));
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn session(store: &Store, username: &str, role: Role) -> (String, String) {
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
        region: Some(RegionCode::parse("370829101").unwrap()),
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

fn post(path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

async fn a_clerk_records_a_survey_and_a_management_closure_is_refused(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let (clerk, csrf) = session(store, "web-clerk", Role::TownOperator).await;
    let (_, html) = send(store, get(&format!("/houses/{code}"), &clerk)).await;
    assert!(
        html.contains(&format!("/houses/{code}/steps/surveyed")),
        "survey offered"
    );
    assert!(
        !html.contains("/steps/closed"),
        "closing is not offered to a clerk"
    );
    let (status, html) = send(
        store,
        get(&format!("/houses/{code}/steps/surveyed"), &clerk),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("隐患初判") && html.contains("name=\"version\" value=\"1\""),
        "{html}"
    );
    // A missing field is named, nothing recorded.
    let path = format!("/houses/{code}/steps/surveyed");
    let (status, html) = send(
        store,
        post(
            &path,
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("effective", "2024-04-01"),
                ("round", "攻坚行动首轮"),
                ("judgement", "Hazard"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请填写“排查人员”"), "{html}");
    let round = store
        .reference()
        .dictionaries
        .values(anju_domain::dict::kind::SURVEY_ROUND)[0]
        .clone();
    let (status, _) = send(
        store,
        post(
            &path,
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("effective", "2024-04-01"),
                ("round", &round),
                ("surveyor", "王排查"),
                ("judgement", "Hazard"),
                ("risk_level", "General"),
                ("hazard_categories", "地基基础"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = send(store, get(&format!("/houses/{code}"), &clerk)).await;
    assert!(
        html.contains("存在一定安全隐患") && html.contains("排查初判"),
        "{html}"
    );

    // Appraised C; the principal tries to close on management measures: R1, nothing changes.
    let mut h = h;
    h.version = 2;
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 4, 2).unwrap();
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let (principal, pcsrf) = session(store, "web-principal", Role::TownPrincipal).await;
    let before = snapshot(store).await;
    let (status, html) = send(
        store,
        post(
            &format!("/houses/{code}/steps/closed"),
            &principal,
            &[
                ("csrf", &pcsrf),
                ("version", "3"),
                ("effective", "2024-04-03"),
                ("basis", "ManagementMeasure"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("[R1]") && html.contains("管理措施"), "{html}");
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused closure changed data"
    );

    // Stale: the clerk's form was opened at version 3; someone notifies the owner first.
    h.ok(&anju_store::testing::clerk(), notify()).await;
    let (status, html) = send(
        store,
        post(
            &format!("/houses/{code}/steps/interim_control_applied"),
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "3"),
                ("effective", "2024-04-05"),
                ("measures", "StopUse"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(
        html.contains("clerk姓名") && html.contains("请重新载入"),
        "{html}"
    );
    assert!(
        html.contains("name=\"version\" value=\"4\""),
        "the form now carries the current version"
    );
    let _ = Judgement::Hazard;
}

anju_store::both!(a_clerk_records_a_survey_and_a_management_closure_is_refused);
