//! The authorisation matrix over HTTP, generated from the router's own route list: every route
//! × every role × an object outside the caller's scope → refused, or answered without any of
//! that object's data. A route added to the router without a case here fails the test.

use crate::common::{self, TEST_PASSWORD, TestApp};

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_domain::ledger::Form;
use anju_store::ledgers::reports::NewReport;
use anju_store::testing::*;
use anju_store::{NewAccount, Store};
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

/// `/a/{x}/b` and `/a/{y}/b` are the same route.
pub(crate) fn normalise(p: &str) -> String {
    p.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn served_routes() -> Vec<String> {
    anju_web::route_paths().into_iter().map(normalise).collect()
}

/// Routes that touch no object (public, or the caller's own session and password).
const NO_OBJECT: &[&str] = &[
    "/login",
    "/logout",
    "/password",
    "/healthz",
    "/readyz",
    "/static/app.css",
    "/static/app.js",
    "/static/echarts.min.js",
    "/static/leaflet.js",
    "/static/leaflet.css",
    "/static/map.js",
    "/static/map.css",
    "/favicon.svg",
    "/favicon.ico",
    // Installable and offline (offline.rs): the same for everyone, no personal data.
    "/sw.js",
    "/manifest.webmanifest",
    "/static/offline.js",
    "/offline",
    "/static/icon-192.png",
    "/static/icon-512.png",
    "/static/icon-maskable-512.png",
    "/api/v1/openapi.json",
    // The problem list's empty template (a town's name as an example; no house).
    "/problems/template.csv",
    // Stores a file under its digest; it is part of no house until a step in scope names it.
    "/api/v1/evidence",
    // Public by design, reached by the plaque's unguessable token; shows no personal data
    // (tests/it/plaque.rs).
    "/q/{}",
];

/// A request as a logged-in browser or API client sends it: a POST carries the CSRF header and
/// the form or JSON body.
fn request(method: &Method, path: &str, user: &common::User, form: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::COOKIE, &user.cookie);
    if method == Method::POST {
        req = req.header("x-csrf-token", &user.csrf);
        req = req.header(
            header::CONTENT_TYPE,
            if path.starts_with("/api/") {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            },
        );
    }
    req.body(Body::from(form.to_string())).unwrap()
}

async fn every_route_refuses_every_role_outside_its_scope(store: &Store) {
    with_villages(store).await;
    // The object: a business house in OTHER_TOWN (appraised C), and a report of OTHER_TOWN.
    let mut h = House::register(store, 7, OTHER_VILLAGE, UsageCategory::MixedBusiness).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let sys = Principal::system();
    // A photo in the house's history.
    let state = AppState::new(store.clone(), WebOptions::default()).unwrap();
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let photo = state.store_evidence(jpeg).await.unwrap();
    let mut cmd = h.cmd(notify());
    cmd.evidence = vec![anju_domain::event::Evidence {
        sha256: photo.sha256.clone(),
        kind: anju_domain::event::EvidenceKind::SignedForm,
        name: "回执.jpg".into(),
    }];
    store
        .system("t")
        .within(&anju_domain::region::Scope::All)
        .execute(&clerk(), &cmd)
        .await
        .unwrap();
    let sha = photo.sha256;
    // A problem about the house.
    store
        .access(&sys, "t")
        .issue_problems(
            &anju_store::campaign::problems::NewBatch {
                source: anju_domain::problem::ProblemSource::OnlineInspection,
                name: "第1批".into(),
                issued_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            },
            &[anju_store::campaign::problems::NewProblem {
                row_no: 2,
                town: RegionCode::parse("370829102").unwrap(),
                house: Some(h.code.to_string()),
                category: anju_domain::problem::ProblemCategory::FalseClosure,
                description: "远镇问题甲乙丙".into(),
                deadline: None,
            }],
        )
        .await
        .unwrap();
    let problem = store.system("test").problems(None).await.unwrap()[0].id;
    // An account of the other town.
    store
        .create_demo_account(
            &sys,
            &NewAccount {
                username: "far-clerk".into(),
                display_name: "远镇经办甲".into(),
                role: Role::TownOperator,
                region: Some(RegionCode::parse("370829102").unwrap()),
                department: None,
            },
            TEST_PASSWORD,
        )
        .await
        .unwrap();
    let other_town = "370829102000";

    let report = store
        .access(&sys, "t")
        .prepare_report(&NewReport {
            form: Form::Attachment2,
            unit: RegionCode::parse(other_town).unwrap(),
            as_of: chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
            contact: "0537-1".into(),
            supersedes: None,
        })
        .await
        .unwrap();
    // A supervision notice to the other town.
    let notice = store
        .system("t")
        .supervise(
            &sys.actor(),
            &anju_store::campaign::supervision::NewSupervision {
                town: RegionCode::parse("370829102").unwrap(),
                subject: "远镇督办事项".into(),
                body: "远镇督办要求甲乙".into(),
                answer_due: chrono::NaiveDate::from_ymd_opt(2099, 1, 1).unwrap(),
            },
        )
        .await
        .unwrap();
    // A house of the other town imported closed: its closure held back for confirmation.
    let headers: Vec<String> = [
        "普查房屋编号",
        "村（社区）",
        "房屋地址",
        "产权人（户主）",
        "房屋用途",
        "地上层数",
        "建筑面积（㎡）",
        "结构类型",
        "排查日期",
        "隐患初判",
        "隐患类别",
        "复核日期",
        "复核结论",
        "销号日期",
        "销号依据",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cells: Vec<String> = [
        "MX-1",
        OTHER_VILLAGE,
        "远镇导入房甲",
        "王五",
        "其他自建房",
        "2",
        "120",
        "砌体结构(砖混)",
        "2024-03-20",
        "存在一定安全隐患",
        "地基基础",
        "2024-03-30",
        "经复核无安全隐患",
        "2024-04-02",
        "专业技术人员复核无隐患",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let reference = store.reference();
    let row = anju_domain::import::read_row(
        2,
        &cells,
        &anju_domain::import::map_headers(&headers).unwrap(),
        &reference.regions,
        &reference.dictionaries,
        store.today(),
    )
    .unwrap();
    drop(reference);
    let file = anju_store::houses::import::ImportFile {
        name: "远镇台账.csv".into(),
        sha256: "ef".repeat(32),
    };
    let imported = store
        .import_batch(&sys, "t", &file, &[row], true)
        .await
        .unwrap();
    assert_eq!(imported.closed, 1);
    let code = h.code.to_string();
    // The object's own data (village names are public reference data, shown in filters).
    let secrets = [
        code.clone(),
        "示例村一组1号".to_string(),
        "张三".to_string(),
        "远镇经办甲".to_string(),
        "远镇问题甲乙丙".to_string(),
        "远镇督办要求甲乙".to_string(),
        "远镇导入房甲".to_string(),
    ];

    let cases: Vec<(&str, Method, String, String)> = vec![
        ("/", Method::GET, "/".into(), String::new()),
        ("/houses", Method::GET, format!("/houses?town={other_town}"), String::new()),
        ("/houses.xlsx", Method::GET, format!("/houses.xlsx?town={other_town}"), String::new()),
        ("/houses.csv", Method::GET, format!("/houses.csv?town={other_town}"), String::new()),
        ("/houses/{}", Method::GET, format!("/houses/{code}"), String::new()),
        ("/houses/{}/reveal", Method::POST, format!("/houses/{code}/reveal"), "reason=核实身份信息".into()),
        ("/houses/{}/steps/{}", Method::GET, format!("/houses/{code}/steps/owner_notified"), String::new()),
        ("/houses/{}/steps/{}", Method::POST, format!("/houses/{code}/steps/interim_control_applied"), "version=4&effective=2024-04-09&measures=stop_use".into()),
        // Registering into another town's village, with the identifiers of its house.
        ("/houses/new", Method::GET, "/houses/new".into(), String::new()),
        ("/houses/new", Method::POST, "/houses/new".into(), format!("version=0&effective=2024-04-09&source=核查发现漏排&platform_code=YH370829000000007&village={OTHER_VILLAGE}&address=远镇新房&owner_name=李四&usage=其他自建房&floors_above=2&floor_area_m2=100&structure_type=砌体结构(砖混)")),
        ("/houses/{}/correct", Method::GET, format!("/houses/{code}/correct"), String::new()),
        ("/houses/{}/correct", Method::POST, format!("/houses/{code}/correct"), format!("version=4&effective=2024-04-09&reason=核实&village={OTHER_VILLAGE}&address=改&usage=自住兼经营性自建房&business_types=餐饮饭店&floors_above=2&floor_area_m2=100&structure_type=砌体结构(砖混)")),
        ("/houses/{}/notice.pdf", Method::GET, format!("/houses/{code}/notice.pdf"), String::new()),
        ("/villages/{}/plaques.pdf", Method::GET, format!("/villages/{OTHER_VILLAGE}/plaques.pdf"), String::new()),
        ("/houses/{}/qr.svg", Method::GET, format!("/houses/{code}/qr.svg"), String::new()),
        ("/houses/{}/evidence/{}", Method::GET, format!("/houses/{code}/evidence/{sha}"), String::new()),
        ("/houses/{}/evidence/{}/thumb", Method::GET, format!("/houses/{code}/evidence/{sha}/thumb"), String::new()),
        // Another session's tag.
        ("/evidence/pending/{}/{}", Method::GET, format!("/evidence/pending/{sha}/0123456789abcdef01234567"), String::new()),
        ("/ledgers/{}", Method::GET, format!("/ledgers/2?unit={other_town}"), String::new()),
        ("/ledgers/{}/houses", Method::GET, format!("/ledgers/2/houses?unit={other_town}&column=0"), String::new()),
        ("/ledgers/{}/download", Method::GET, format!("/ledgers/2/download?unit={other_town}&format=csv"), String::new()),
        ("/reports", Method::GET, format!("/reports?unit={other_town}"), String::new()),
        ("/reports", Method::POST, "/reports".into(), format!("unit={other_town}&form=2&as_of=2024-06-01&contact=1")),
        ("/reports/{}", Method::GET, format!("/reports/{report}"), String::new()),
        ("/reports/{}/act", Method::POST, format!("/reports/{report}/act"), "action=sign".into()),
        ("/reports/{}/download", Method::GET, format!("/reports/{report}/download?format=csv"), String::new()),
        ("/reports/{}/scan", Method::GET, format!("/reports/{report}/scan"), String::new()),
        ("/reports/{}/scan", Method::POST, format!("/reports/{report}/scan"), String::new()),
        ("/problems", Method::GET, "/problems".into(), String::new()),
        ("/problems", Method::POST, "/problems".into(), "source=self_check&name=x&issued_on=2024-05-01".into()),
        ("/problems/{}", Method::GET, format!("/problems/{problem}"), String::new()),
        ("/problems/{}/act", Method::POST, format!("/problems/{problem}/act"), "action=confirm&version=1".into()),
        ("/import", Method::GET, "/import".into(), String::new()),
        ("/import", Method::POST, "/import".into(), "mode=commit".into()),
        ("/import/{}", Method::GET, "/import/template.xlsx".into(), String::new()),
        ("/export/{}", Method::GET, "/export/national.csv".into(), String::new()),
        ("/export/{}", Method::GET, "/export/national.csv?reveal=1".into(), String::new()),
        // Jobs live per process and per account: another account's job is not found.
        ("/import/jobs/{}", Method::GET, "/import/jobs/1".into(), String::new()),
        ("/import/jobs/{}/commit", Method::POST, "/import/jobs/1/commit".into(), String::new()),
        ("/ranking", Method::GET, "/ranking".into(), String::new()),
        ("/ranking/download", Method::GET, "/ranking/download?format=xlsx".into(), String::new()),
        ("/supervision", Method::GET, "/supervision".into(), String::new()),
        ("/supervision", Method::POST, "/supervision".into(), "town=370829102000&subject=x&body=越权督办测试&answer_due=2099-01-01".into()),
        ("/supervision/{}", Method::GET, format!("/supervision/{notice}"), String::new()),
        ("/supervision/{}/answer", Method::POST, format!("/supervision/{notice}/answer"), "answer=越权答复测试内容".into()),
        ("/reminders", Method::GET, "/reminders".into(), String::new()),
        ("/reminders/count", Method::GET, "/reminders/count".into(), String::new()),
        ("/imports/pending", Method::GET, format!("/imports/pending?town={other_town}"), String::new()),
        ("/imports/pending", Method::POST, "/imports/pending".into(), format!("code={}&decision=confirm&confirm=yes&password={TEST_PASSWORD}", anju_domain::HouseCode::new(&RegionCode::parse("370829").unwrap(), 8))),
        ("/imports/pending", Method::POST, "/imports/pending".into(), format!("code={}&decision=reject&reason=越权不予确认测试", anju_domain::HouseCode::new(&RegionCode::parse("370829").unwrap(), 8))),
        ("/imports/cutover", Method::POST, "/imports/cutover".into(), format!("day=2026-01-01&confirm=yes&password={TEST_PASSWORD}")),
        ("/lookback", Method::GET, "/lookback".into(), String::new()),
        ("/lookback/assign", Method::POST, "/lookback/assign".into(), format!("code={code}&reviewer=rv")),
        ("/sector/{}", Method::GET, "/sector/survey.xlsx".into(), String::new()),
        ("/sector/{}", Method::GET, "/sector/problems.xlsx".into(), String::new()),
        ("/admin/accounts", Method::GET, "/admin/accounts".into(), String::new()),
        ("/admin/accounts", Method::POST, "/admin/accounts".into(), "username=newfar&display_name=x&role=town_operator&region=370829102000".into()),
        ("/admin/accounts/{}/{}", Method::POST, "/admin/accounts/far-clerk/reset".into(), String::new()),
        ("/admin/accounts/{}/{}", Method::POST, "/admin/accounts/far-clerk/disable".into(), String::new()),
        ("/admin/settings", Method::GET, "/admin/settings".into(), String::new()),
        ("/admin/settings/deadlines", Method::POST, "/admin/settings/deadlines".into(), "phase=x&due=2024-01-01&overdue=y".into()),
        ("/admin/settings/security", Method::POST, "/admin/settings/security".into(), "min_length=8&min_classes=2&history=0&max_age_days=0&max_failures=20&lock_minutes=1&idle_minutes=240&absolute_hours=24".into()),
        ("/admin/settings/backup", Method::POST, "/admin/settings/backup".into(), "enabled=true&time=03:00&keep=3".into()),
        ("/admin/settings/map", Method::POST, "/admin/settings/map".into(), "url=https%3A%2F%2Ft.example.cn%2F%7Bz%7D%2F%7Bx%7D%2F%7By%7D.png&attribution=x".into()),
        // The house (sample record at 116.34° E, 35.41° N) in view at zoom 16: its code if in scope.
        ("/map", Method::GET, format!("/map?town={other_town}"), String::new()),
        ("/map/data", Method::GET, "/map/data?zoom=16&west=116.33&south=35.40&east=116.35&north=35.42".into(), String::new()),
        ("/admin/dictionaries", Method::POST, "/admin/dictionaries".into(), "kind=survey_round&label=x&op=add".into()),
        ("/admin/regions", Method::GET, "/admin/regions".into(), String::new()),
        ("/audit", Method::GET, format!("/audit?object={code}"), String::new()),
        ("/audit.csv", Method::GET, format!("/audit.csv?object={code}"), String::new()),
        ("/admin/regions", Method::POST, "/admin/regions".into(), "op=add&parent=370829102&code=370829102901&name=x&effective=2024-01-01".into()),
        ("/admin/regions", Method::POST, "/admin/regions".into(), "op=rename&code=370829102&name=x&effective=2024-01-01".into()),
        ("/api/v1/houses", Method::GET, format!("/api/v1/houses?town={other_town}"), String::new()),
        ("/api/v1/houses/{}", Method::GET, format!("/api/v1/houses/{code}"), String::new()),
        ("/api/v1/houses/{}/events", Method::POST, format!("/api/v1/houses/{code}/events"), r#"{"expected_version":4,"effective":"2024-04-09","change":{"type":"interim_control_applied","measures":["stop_use"]}}"#.into()),
        ("/api/v1/ledgers/{}", Method::GET, format!("/api/v1/ledgers/2?unit={other_town}"), String::new()),
    ];
    // Every served route that touches an object has a case.
    for r in served_routes() {
        assert!(
            NO_OBJECT.contains(&r.as_str()) || cases.iter().any(|c| c.0 == r),
            "route {r} has no case in the matrix"
        );
    }

    let callers = [
        ("co", Role::CountyOffice, Some("370829101"), None),
        ("op", Role::TownOperator, Some("370829101"), None),
        ("pr", Role::TownPrincipal, Some("370829101"), None),
        ("dp", Role::Department, Some("370829"), Some("教育")),
        ("rv", Role::TechReviewer, None, None),
        ("ap", Role::Appraiser, None, None),
        ("in", Role::Inspector, Some("370829101"), None),
        ("au", Role::Auditor, Some("370829101"), None),
    ];
    let app = TestApp::new(store);
    let before = snapshot(store).await;
    for (user, role, region, dept) in callers {
        let new = NewAccount {
            username: user.into(),
            display_name: format!("{user}姓名"),
            role,
            region: region.map(|r| RegionCode::parse(r).unwrap()),
            department: dept.map(str::to_string),
        };
        store
            .create_demo_account(&sys, &new, TEST_PASSWORD)
            .await
            .unwrap();
        let (cookie, csrf) = common::login(store, user, TEST_PASSWORD).await;
        let caller = common::User { cookie, csrf };
        for (route, method, path, body) in &cases {
            let res = app.send(request(method, path, &caller, body)).await;
            let (status, text) = (res.status, res.text());
            assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{role:?} {method} {path}: {text}"
            );
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "{role:?} {method} {path} ({route}) answered {status} with {s}"
                );
            }
            // Files whose content the text check cannot read: never served out of scope.
            if route.contains("evidence") || route.ends_with(".pdf") {
                assert!(
                    !status.is_success(),
                    "{role:?} {path}: a file outside the scope was served"
                );
            }
            if *method == Method::POST {
                assert!(
                    !status.is_success() && status != StatusCode::SEE_OTHER,
                    "{role:?} {method} {path}: {status} {text}"
                );
            }
        }
    }
    assert_eq!(snapshot(store).await, before, "nothing changed");
    assert_eq!(
        store.system("test").held_back_count().await.unwrap(),
        1,
        "the other town's imported closure neither confirmed nor rejected"
    );

    // Positive control: the same object cases, run by a county-wide account, answer with the
    // object's own data — so a case that points at nothing (a wrong path, a missing object)
    // cannot pass the refusals above for the wrong reason.
    let wide = app.user("wide", Role::CountyOffice, "370829").await;
    let readable = [
        "/houses",
        "/houses.csv",
        "/houses/{}",
        "/houses/{}/correct",
        "/ledgers/{}/houses",
        "/problems",
        "/problems/{}",
        "/supervision/{}",
        "/audit",
        "/audit.csv",
        "/imports/pending",
        "/map/data",
    ];
    let mut controlled = 0;
    for (route, method, path, body) in cases.iter().filter(|c| c.1 == Method::GET) {
        if !readable.contains(route) {
            continue;
        }
        let res = app.send(request(method, path, &wide, body)).await;
        let (status, text) = (res.status, res.text());
        assert_eq!(status, StatusCode::OK, "in scope {path}: {text}");
        assert!(
            secrets.iter().any(|s| text.contains(s.as_str())),
            "in scope, {path} ({route}) does not show the object's data: {text}"
        );
        controlled += 1;
    }
    assert_eq!(
        controlled,
        readable.len(),
        "every readable route has a case"
    );
    let paths = anju_web::route_paths();
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), paths.len(), "a path declared twice");
    let steps: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM problem_events").fetch_one(p).await).unwrap();
    assert_eq!(steps, 0, "no problem moved");
    let reports: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM ledger_reports").fetch_one(p).await).unwrap();
    assert_eq!(reports, 1);
    let answered: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM supervisions WHERE answer IS NOT NULL").fetch_one(p).await).unwrap();
    assert_eq!(answered, 0, "no notice answered from outside its town");
    let notices: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM supervisions").fetch_one(p).await).unwrap();
    assert_eq!(notices, 1, "no notice sent outside the scope");
    let assigned: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM assignments").fetch_one(p).await).unwrap();
    assert_eq!(assigned, 0, "nothing assigned outside the scope");
}

anju_store::both!(every_route_refuses_every_role_outside_its_scope);
