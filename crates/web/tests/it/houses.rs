//! The house list and house page through the real router, on SQLite and PostgreSQL.

use crate::common;

use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::TestApp;

/// Three houses: two in the town (one of them a hazard, D), one in another town: their codes
/// (the D house, the other town's).
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
    let app = TestApp::new(store);
    let clerk = app.user("clerk-a", Role::TownOperator, "370829101").await;
    let html = app.page("/houses", &clerk).await;
    assert!(
        html.contains("共 2 栋"),
        "the other town's house is not listed"
    );
    assert!(html.contains(&h2) && !html.contains(&h3));
    let res = app.get("/houses?judgement=hazard&grade=d", &clerk).await;
    let html = String::from_utf8(res.body).unwrap();
    assert!(html.contains("共 1 栋") && html.contains(&h2), "{html}");
    assert!(
        app.page("/houses?status=nonsense", &clerk)
            .await
            .contains("状态无效：nonsense")
    );
    // The export holds the same filtered rows, re-read from the file.
    let res = app.get("/houses.xlsx?business=true", &clerk).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.header("content-type").contains("spreadsheetml"));
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(res.body)).unwrap();
    let range = wb.worksheet_range("房屋清单").unwrap();
    assert_eq!(range.height(), 2, "header + one business house");
    assert_eq!(range.get_value((0, 0)).unwrap().to_string(), "房屋编码");
    assert_eq!(range.get_value((1, 0)).unwrap().to_string(), h2);
    assert_eq!(range.get_value((1, 3)).unwrap().to_string(), "张三");
    let last: String = anju_store::infra::audit::tail(store.db_for_tests(), 1)
        .await
        .unwrap()[0]
        .action
        .clone();
    assert_eq!(last, "houses.export");
    // The same rows as CSV for Excel (BOM, header, one line per house).
    let text = app.page("/houses.csv?business=true", &clerk).await;
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("\u{feff}房屋编码,"), "{text}");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with(&format!("{h2},")) && lines[1].contains(",张三,"));
}

async fn the_house_page_masks_and_reveals_with_a_reason(store: &Store) {
    let (h2, h3) = fixture(store).await;
    let app = TestApp::new(store);
    let clerk = app.user("clerk-b", Role::TownOperator, "370829101").await;
    let id = anju_domain::sample::people().owner_id.unwrap();
    let html = app.page(&format!("/houses/{h2}"), &clerk).await;
    assert!(html.contains(&id.masked()) && !html.contains(id.as_str()));
    assert!(html.contains("138****1234"));
    assert!(html.contains("安全鉴定") && html.contains("D级"), "{html}");
    // Out of scope and missing look the same.
    let r3 = app.get(&format!("/houses/{h3}"), &clerk).await;
    let r4 = app.get("/houses/AJ370829999999990", &clerk).await;
    assert_eq!(
        (r3.status, r4.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(r3.body, r4.body);
    // Reveal: needs a reason; then the full values, audited with the reason.
    let reveal = format!("/houses/{h2}/reveal");
    let res = app.post_form(&reveal, &clerk, &[("reason", "x")]).await;
    let html = String::from_utf8(res.body).unwrap();
    assert!(html.contains("须填写事由") && !html.contains(id.as_str()));
    let reason = "联系产权人落实整治";
    let res = app.post_form(&reveal, &clerk, &[("reason", reason)]).await;
    let html = String::from_utf8(res.body).unwrap();
    assert!(html.contains(id.as_str()) && html.contains("13805371234"));
    let row = anju_store::infra::audit::tail(store.db_for_tests(), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (row.action.as_str(), row.reason.as_deref()),
        ("personal.reveal", Some(reason))
    );
    // A department account may not reveal at all: no form, and a post is refused.
    let insp = app.user("insp", Role::Inspector, "370829101").await;
    let res = app.get(&format!("/houses/{h2}"), &insp).await;
    assert!(
        !String::from_utf8(res.body)
            .unwrap()
            .contains("查看完整信息")
    );
    let res = app.post_form(&reveal, &insp, &[("reason", reason)]).await;
    assert!(!String::from_utf8(res.body).unwrap().contains(id.as_str()));
}

anju_store::both!(
    the_list_filters_within_scope_and_exports_xlsx,
    the_house_page_masks_and_reveals_with_a_reason,
);
