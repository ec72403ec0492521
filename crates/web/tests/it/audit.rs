//! 审计日志 and the dashboard's audit alerts through the real router, on SQLite and PostgreSQL.

use crate::common;

use anju_domain::dict::UsageCategory;
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::TestApp;

/// A clerk reveals personal data 15 times and tries a house of another town; the county office
/// finds both in the trail and on its home page; a town-level auditor may not read the trail.
async fn the_county_office_sees_reveals_and_refusals_in_the_trail_and_on_its_home_page(
    store: &Store,
) {
    with_villages(store).await;
    let mine = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let far = House::register(store, 2, OTHER_VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user("nosy", Role::TownOperator, "370829101").await;
    let county = app.user("county-a", Role::CountyOffice, "370829").await;
    let auditor = app.user("town-auditor", Role::Auditor, "370829101").await;

    // Before anything unusual, the home page has no alert.
    let home = app.get("/", &county).await.text();
    assert!(!home.contains("data-audit-alerts"), "{home}");

    // 15 reveals (the alert's threshold, half the daily bound of 30), one attempt outside the
    // town (answered like a missing house).
    let reveal = format!("/houses/{}/reveal", mine.code);
    for _ in 0..15 {
        let res = app
            .post_form(&reveal, &clerk, &[("reason", "联系产权人落实整治")])
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let res = app.get(&format!("/houses/{}", far.code), &clerk).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // The county office's home page names the clerk, with the figures (15 reveals; 1 refusal,
    // the attempt outside the town) and a link to the trail.
    let home = app.get("/", &county).await.text();
    assert!(home.contains("data-audit-alerts"), "{home}");
    assert!(
        home.contains("nosy</a>：查看完整个人信息 15 次，被拒绝 1 次"),
        "{home}"
    );
    // From the Beijing day 24 hours back: noon on 11-30 less a day is 11-29.
    assert!(
        home.contains("/audit?actor=nosy&#38;from=2026-11-29"),
        "{home}"
    );
    // Not on the clerk's own home page.
    assert!(
        !app.get("/", &clerk)
            .await
            .text()
            .contains("data-audit-alerts")
    );

    // The trail, filtered: the clerk's reveals (15, on one page of 20), and the refused attempt.
    let html = app
        .page("/audit?actor=nosy&action=personal.reveal&size=20", &county)
        .await;
    assert!(html.contains("共 15 条，第 1 / 1 页"), "{html}");
    assert!(html.contains("联系产权人落实整治"), "the reason is shown");
    let html = app
        .get("/audit?actor=nosy&outcome=refused", &county)
        .await
        .text();
    assert!(html.contains("共 1 条"), "{html}");
    assert!(
        html.contains("拒绝（scope）") && html.contains(far.code.as_str()),
        "{html}"
    );
    // A filter by object: the far house's trail holds its registration and the attempt.
    let html = app
        .get(&format!("/audit?object={}", far.code), &county)
        .await
        .text();
    assert!(html.contains("共 2 条"), "{html}");
    // An unreadable date is said, not guessed.
    let html = app.get("/audit?from=2024-13-01", &county).await.text();
    assert!(html.contains("起始日期不是有效日期"), "{html}");

    // A town-level auditor may not read the whole county's trail, and the refusal is audited.
    let res = app.get("/audit", &auditor).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains("只对县级账号开放"), "{}", res.text());
    let html = app
        .get("/audit?actor=town-auditor&outcome=refused", &county)
        .await
        .text();
    assert!(html.contains("共 1 条"), "{html}");
}

anju_store::both!(the_county_office_sees_reveals_and_refusals_in_the_trail_and_on_its_home_page,);
