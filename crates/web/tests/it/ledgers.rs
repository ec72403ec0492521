//! 附件2 on the web, on SQLite and PostgreSQL: every figure opens to exactly its houses, and the
//! downloads re-read to the same figures.

use crate::common::{TestApp, xlsx_rows};

use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;

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
    let app = TestApp::new(store);
    let county = app.user("county-w", Role::CountyOffice, "370829").await;
    let html = app.page("/ledgers/2", &county).await;
    assert!(html.contains("自建房安全专项整治攻坚行动工作台账"));
    let drill = links(&html, "/ledgers/2/houses?");
    assert!(!drill.is_empty());
    // Each figure's link lists as many houses as the figure says.
    for link in &drill {
        let page = app.page(link, &county).await;
        let n = page.matches("<td data-label=\"房屋编码\">").count();
        assert!(page.contains(&format!("共 {n} 条，第 1 / 1 页")), "{link}");
        assert!(n >= 1);
    }
    // The town row links to the town's own ledger; the town clerk cannot open the county's.
    assert!(
        links(&html, "/ledgers/2?unit=370829101000").len() == 1,
        "{:?}",
        links(&html, "/ledgers/2?")
    );
    let clerk = app.user("clerk-w", Role::TownOperator, "370829101").await;
    let res = app.get("/ledgers/2?unit=370829000000", &clerk).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(
        app.page("/ledgers/2?unit=370829101000", &clerk)
            .await
            .contains("测试村370829101201")
    );
    // xlsx download: the county total of 已排查自建房总量 is 2 (house 3 is not surveyed).
    let res = app.get("/ledgers/2/download?format=xlsx", &county).await;
    assert_eq!(res.status, StatusCode::OK);
    let rows = xlsx_rows(&res.body);
    let total_row = rows.iter().find(|r| r[0] == "合计").unwrap();
    assert_eq!(total_row[1], "2");
    let res = app.get("/ledgers/2/download?format=csv", &county).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.starts_with(&[0xEF, 0xBB, 0xBF]), "CSV with BOM");
    let res = app.get("/ledgers/3", &county).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_drill_down_is_paged_with_its_count(store: &Store) {
    with_villages(store).await;
    // 23 surveyed houses: by hand, 已排查 23, pages of 20 → 2 pages, the second holding 21–23.
    let mut codes = vec![];
    for i in 1..=23 {
        let mut h = House::register(store, i, VILLAGE, UsageCategory::Other).await;
        h.ok(&clerk(), survey(Judgement::NoHazard)).await;
        codes.push(h.code.to_string());
    }
    codes.sort();
    let app = TestApp::new(store);
    let county = app.user("county-p", Role::CountyOffice, "370829").await;
    let page = |n: u32| {
        let app = &app;
        let county = &county;
        async move {
            app.get(
                &format!("/ledgers/2/houses?column=0&size=20&page={n}"),
                county,
            )
            .await
            .text()
        }
    };
    let first = page(1).await;
    assert!(first.contains("共 23 条，第 1 / 2 页"), "{first}");
    assert_eq!(first.matches("<td data-label=\"房屋编码\">").count(), 20);
    assert!(first.contains("<td data-label=\"序号\">1</td>"));
    assert!(first.contains(&codes[19]) && !first.contains(&codes[20]));
    assert!(
        first.contains("column=0&amp;page=2&amp;size=20")
            || first.contains("column=0&#38;page=2&#38;size=20"),
        "{first}"
    );
    let second = page(2).await;
    assert!(second.contains("共 23 条，第 2 / 2 页"), "{second}");
    assert_eq!(second.matches("<td data-label=\"房屋编码\">").count(), 3);
    assert!(
        second.contains("<td data-label=\"序号\">21</td>")
            && second.contains("<td data-label=\"序号\">23</td>")
    );
    assert!(codes[20..].iter().all(|c| second.contains(c.as_str())));
    // Past the end is the last page; a size not offered falls back to 50.
    assert!(page(9).await.contains("共 23 条，第 2 / 2 页"));
    let all = app
        .get("/ledgers/2/houses?column=0&size=7", &county)
        .await
        .text();
    assert!(all.contains("共 23 条，第 1 / 1 页"), "{all}");
}

anju_store::both!(
    every_figure_opens_to_its_houses,
    a_drill_down_is_paged_with_its_count
);
