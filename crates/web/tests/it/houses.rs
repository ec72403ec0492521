//! The house list and house page through the real router, on SQLite and PostgreSQL.

use crate::common;

use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::session;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(store: &Store, req: Request<Body>) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// A logged-in session of a new account anchored at `region` (password already changed).
async fn fixture(store: &Store) -> (String, String) {
    with_villages(store).await;
    let mut h1 = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h1.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::MixedBusiness).await;
    h2.ok(&clerk(), survey(Judgement::Hazard)).await;
    h2.ok(&appraiser(), appraise(Grade::D)).await;
    let h3 = House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    (h2.code.to_string(), h3.code.to_string())
}

async fn the_list_filters_within_scope_and_exports_xlsx(store: &Store) {
    let (h2, h3) = fixture(store).await;
    let (cookie, _) = session(store, "clerk-a", Role::TownOperator, "370829101").await;
    let (status, _, body) = send(store, get("/houses", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("共 2 栋"),
        "the other town's house is not listed"
    );
    assert!(html.contains(&h2) && !html.contains(&h3));
    let (_, _, body) = send(store, get("/houses?judgement=Hazard&grade=D", &cookie)).await;
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("共 1 栋") && html.contains(&h2), "{html}");
    let (status, _, body) = send(store, get("/houses?status=nonsense", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("状态无效：nonsense")
    );
    // The export holds the same filtered rows, re-read from the file.
    let (status, headers, body) = send(store, get("/houses.xlsx?business=true", &cookie)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.contains("spreadsheetml"))
    );
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let range = wb.worksheet_range("房屋清单").unwrap();
    assert_eq!(range.height(), 2, "header + one business house");
    assert_eq!(range.get_value((0, 0)).unwrap().to_string(), "房屋编码");
    assert_eq!(range.get_value((1, 0)).unwrap().to_string(), h2);
    assert_eq!(range.get_value((1, 3)).unwrap().to_string(), "张三");
    let last: String = anju_store::audit::tail(&store.db, 1).await.unwrap()[0]
        .action
        .clone();
    assert_eq!(last, "houses.export");
    // The same rows as CSV for Excel (BOM, header, one line per house).
    let (status, _, body) = send(store, get("/houses.csv?business=true", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("\u{feff}房屋编码,"), "{text}");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with(&format!("{h2},")) && lines[1].contains(",张三,"));
}

async fn the_house_page_masks_and_reveals_with_a_reason(store: &Store) {
    let (h2, h3) = fixture(store).await;
    let (cookie, csrf) = session(store, "clerk-b", Role::TownOperator, "370829101").await;
    let id = anju_domain::sample::people().owner_id.unwrap();
    let (status, _, body) = send(store, get(&format!("/houses/{h2}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains(&id.masked()) && !html.contains(id.as_str()));
    assert!(html.contains("138****1234"));
    assert!(html.contains("安全鉴定") && html.contains("D级"), "{html}");
    // Out of scope and missing look the same.
    let (s3, _, b3) = send(store, get(&format!("/houses/{h3}"), &cookie)).await;
    let (s4, _, b4) = send(store, get("/houses/AJ370829999999990", &cookie)).await;
    assert_eq!((s3, s4), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(b3, b4);
    // Reveal: needs a reason; then the full values, audited with the reason.
    let post = |form: String| {
        Request::post(format!("/houses/{h2}/reveal"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let (_, _, body) = send(store, post(format!("csrf={csrf}&reason=x"))).await;
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("须填写事由") && !html.contains(id.as_str()));
    let reason = "联系产权人落实整治";
    let form = serde_urlencoded::to_string([("csrf", csrf.as_str()), ("reason", reason)]).unwrap();
    let (_, _, body) = send(store, post(form)).await;
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains(id.as_str()) && html.contains("13805371234"));
    let row = anju_store::audit::tail(&store.db, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (row.action.as_str(), row.reason.as_deref()),
        ("personal.reveal", Some(reason))
    );
    // A department account may not reveal at all: no form, and a post is refused.
    let (dcookie, dcsrf) = session(store, "insp", Role::Inspector, "370829101").await;
    let (_, _, body) = send(store, get(&format!("/houses/{h2}"), &dcookie)).await;
    assert!(!String::from_utf8(body).unwrap().contains("查看完整信息"));
    let form = serde_urlencoded::to_string([("csrf", dcsrf.as_str()), ("reason", reason)]).unwrap();
    let req = Request::post(format!("/houses/{h2}/reveal"))
        .header(header::COOKIE, &dcookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (_, _, body) = send(store, req).await;
    assert!(!String::from_utf8(body).unwrap().contains(id.as_str()));
}

anju_store::both!(
    the_list_filters_within_scope_and_exports_xlsx,
    the_house_page_masks_and_reveals_with_a_reason,
);
