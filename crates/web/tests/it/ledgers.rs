//! 附件2 on the web, on SQLite and PostgreSQL: every figure opens to exactly its houses, and the
//! downloads re-read to the same figures.

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

async fn send(store: &Store, path: &str, cookie: &str) -> (StatusCode, Vec<u8>) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let req = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

async fn session(store: &Store, username: &str, role: Role, region: &str) -> String {
    let system = Principal::system();
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
    format!("anju_session={}", ok.token)
}

/// All links in a page, `&amp;`/`&#38;` decoded as a browser would.
fn links(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|s| s.starts_with(prefix))
        .map(|s| s.replace("&#38;", "&").replace("&amp;", "&"))
        .collect()
}

async fn every_figure_opens_to_its_houses(store: &Store) {
    with_villages(store).await;
    let mut h1 = House::register(store, 1, VILLAGE, UsageCategory::MixedBusiness).await;
    h1.ok(&clerk(), survey(Judgement::Hazard)).await;
    h1.ok(&appraiser(), appraise(Grade::C)).await;
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    h2.ok(&clerk(), survey(Judgement::NoHazard)).await;
    House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    let county = session(store, "county-w", Role::CountyOffice, "370829").await;
    let (status, body) = send(store, "/ledgers/2", &county).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("自建房安全专项整治攻坚行动工作台账"));
    let drill = links(&html, "/ledgers/2/houses?");
    assert!(!drill.is_empty());
    // Each figure's link lists as many houses as the figure says.
    for link in &drill {
        let (status, body) = send(store, link, &county).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        let page = String::from_utf8(body).unwrap();
        let n = page.matches("<td data-label=\"房屋编码\">").count();
        assert!(page.contains(&format!("共 {n} 栋")), "{link}");
        assert!(n >= 1);
    }
    // The town row links to the town's own ledger; the town clerk cannot open the county's.
    assert!(
        links(&html, "/ledgers/2?unit=370829101000").len() == 1,
        "{:?}",
        links(&html, "/ledgers/2?")
    );
    let clerk = session(store, "clerk-w", Role::TownOperator, "370829101").await;
    let (status, _) = send(store, "/ledgers/2?unit=370829000000", &clerk).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(store, "/ledgers/2?unit=370829101000", &clerk).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("测试村370829101201")
    );
    // xlsx download: the county total of 已排查自建房总量 is 2 (house 3 is not surveyed).
    let (status, body) = send(store, "/ledgers/2/download?format=xlsx", &county).await;
    assert_eq!(status, StatusCode::OK);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let name = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&name).unwrap();
    let total_row = (0..range.height() as u32)
        .find(|r| range.get_value((*r, 0)).is_some_and(|v| *v == "合计"))
        .unwrap();
    assert_eq!(range.get_value((total_row, 1)).unwrap().to_string(), "2");
    let (status, body) = send(store, "/ledgers/2/download?format=csv", &county).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]), "CSV with BOM");
    let (status, _) = send(store, "/ledgers/3", &county).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

anju_store::both!(every_figure_opens_to_its_houses);
