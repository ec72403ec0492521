//! Supervising the campaign through the real router, on SQLite and PostgreSQL: the ranking
//! (lagging town first) and its circular in xlsx and PDF re-read, a supervision notice and its
//! one answer, the reminders bell, the look-back list with assignment, and the sector ledgers a
//! department downloads (only its sector's houses).

use crate::common;
use crate::common::pdf_text;

use anju_domain::dict::{Judgement, MgmtMeasure, UsageCategory};
use anju_domain::event::{Change, Role};
use anju_store::testing::*;
use anju_store::{NewAccount, Store};
use axum::http::StatusCode;
use common::{TestApp, User, get, send, session, xlsx_rows};

const TOWN: &str = "370829101";
const OTHER_TOWN: &str = "370829102";

/// TOWN: two houses surveyed, no hazard (100%); OTHER_TOWN: one of two surveyed, with a hazard
/// and a legacy closure (排查 50%, 销号 0% → 25%).
async fn two_towns(store: &Store) -> String {
    with_villages(store).await;
    for serial in [1, 2] {
        let mut h = House::register(store, serial, VILLAGE, UsageCategory::Other).await;
        h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    }
    let code = legacy(store, 3, OTHER_VILLAGE, UsageCategory::MixedBusiness).await;
    House::register(store, 4, OTHER_VILLAGE, UsageCategory::Other).await;
    code
}

async fn the_ranking_and_its_circular_put_the_lagging_town_first(store: &Store) {
    two_towns(store).await;
    let app = TestApp::new(store);
    let county = app.user("rk-county", Role::CountyOffice, "370829").await;
    let html = app.page("/ranking", &county).await;
    let lagging = html
        .find("/supervision?town=370829102000")
        .expect("督办 link for the lagging town");
    let leading = html
        .find("/supervision?town=370829101000")
        .expect("督办 link");
    assert!(lagging < leading, "the lagging town comes first");
    assert!(html.contains("25.00%") && html.contains("100.00%"));

    let res = app.get("/ranking/download?format=xlsx", &county).await;
    assert_eq!(res.status, StatusCode::OK);
    let rows = xlsx_rows(&res.body);
    assert_eq!(rows[0][0], "名次");
    assert_eq!(rows[0][9], "综合进度");
    // Place, town code order: OTHER_TOWN (25%) first; hand-computed rates.
    assert_eq!(rows[1][0], "1");
    assert_eq!(
        (rows[1][3].as_str(), rows[1][4].as_str()),
        ("50.00%", "0.00%")
    );
    assert_eq!(rows[1][7], "1", "one legacy closure awaiting look-back");
    assert_eq!(rows[1][9], "25.00%");
    assert_eq!((rows[2][0].as_str(), rows[2][9].as_str()), ("2", "100.00%"));
    assert_eq!(
        rows[2][4], "—",
        "no hazard: no closure rate, never 0% or 100%"
    );

    let res = app.get("/ranking/download?format=pdf", &county).await;
    assert_eq!(res.status, StatusCode::OK);
    let pdf = res.body;
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    assert!(text.contains("自建房安全专项整治工作进展通报"), "{text}");
    let first = text.find("25.00%").unwrap();
    let second = text.find("100.00%").unwrap();
    assert!(first < second, "the lagging town first in the PDF too");
}

async fn a_notice_is_answered_once_and_the_bell_counts_it(store: &Store) {
    two_towns(store).await;
    let app = TestApp::new(store);
    let county = app.user("sv-county", Role::CountyOffice, "370829").await;
    let due = (store.today() + chrono::Duration::days(3)).to_string();
    let notice = |body: &'static str| {
        [
            ("town", "370829102000"),
            ("subject", "回头看滞后"),
            ("body", body),
            ("answer_due", due.as_str()),
        ]
    };
    let res = app.post_form("/supervision", &county, &notice("快")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text();
    assert!(
        html.contains("不少于 4 个字") && html.contains("回头看滞后"),
        "{html}"
    );
    let res = app
        .post_form(
            "/supervision",
            &county,
            &notice("请于期限内完成全部历史销号房屋的回头看"),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let location = res.location().to_string();
    assert!(location.starts_with("/supervision/"));

    let far = app.user("sv-far", Role::TownOperator, OTHER_TOWN).await;
    let near = app.user("sv-near", Role::TownOperator, TOWN).await;
    let res = app.get("/reminders/count", &far).await;
    let (count, json) = (res.json(), res.text());
    assert!(count["count"].as_i64().unwrap() >= 1, "{json}");
    let html = app.get("/reminders", &far).await.text();
    assert!(
        html.contains("督办通知待答复") && html.contains("href=\"/supervision\""),
        "{html}"
    );
    assert_eq!(
        app.get(&location, &near).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app.get(&location, &far).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.text()
            .contains("请于期限内完成全部历史销号房屋的回头看")
    );
    let answer_path = format!("{location}/answer");
    let res = app
        .post_form(
            &answer_path,
            &far,
            &[("answer", "已安排技术人员于本周完成回头看")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    app.post_form(&answer_path, &far, &[("answer", "改写答复")])
        .await
        .refusal("R4");
    let html = app.get(&location, &county).await.text();
    assert!(html.contains("已安排技术人员于本周完成回头看") && html.contains("sv-far姓名"));
    let html = app.get("/reminders", &far).await.text();
    assert!(
        !html.contains("督办通知待答复"),
        "answered: no longer a reminder"
    );
}

/// A technical reviewer (of no region) `username` named `name`, logged in (see [`account`]).
async fn tech_reviewer(app: &TestApp, username: &str, name: &str) -> User {
    let new = NewAccount {
        username: username.into(),
        display_name: name.into(),
        role: Role::TechReviewer,
        region: None,
        department: None,
    };
    account(app, new).await
}

/// Creates an account as the administrator would (no password change) and logs it in.
async fn account(app: &TestApp, new: NewAccount) -> User {
    app.store
        .create_demo_account(&common::system(), &new, common::TEST_PASSWORD)
        .await
        .unwrap();
    let (cookie, csrf) = common::login(&app.store, &new.username, common::TEST_PASSWORD).await;
    User { cookie, csrf }
}

async fn the_look_back_list_assigns_a_reviewer(store: &Store) {
    let code = two_towns(store).await;
    let app = TestApp::new(store);
    let rv = tech_reviewer(&app, "lb-rv", "王工").await;
    let op = app.user("lb-op", Role::TownOperator, OTHER_TOWN).await;
    let html = app.get("/lookback", &op).await.text();
    assert!(html.contains(&code) && html.contains("未分派"), "{html}");
    let assign = [("code", code.as_str()), ("reviewer", "lb-rv")];
    let res = app.post_form("/lookback/assign", &op, &assign).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = app.get("/lookback", &op).await.text();
    assert!(html.contains("王工"), "assigned reviewer shown");
    let html = app.get("/lookback", &rv).await.text();
    assert!(
        html.contains(&format!("/houses/{code}/steps/look_back_reviewed")),
        "{html}"
    );
    // The other town's clerk does not see it.
    let near = app.user("lb-near", Role::TownOperator, TOWN).await;
    let html = app.get("/lookback", &near).await.text();
    assert!(!html.contains(&code));
}

/// A legacy closure (hazard, closed on management measures in 2023) at `serial` in `village`.
async fn legacy(store: &Store, serial: u32, village: &str, usage: UsageCategory) -> String {
    let mut h = House::register(store, serial, village, usage).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(
        &clerk(),
        Change::LegacyClosureRecorded {
            measures: vec![MgmtMeasure::WallPatching],
            closed_on: chrono::NaiveDate::from_ymd_opt(2023, 10, 1).unwrap(),
        },
    )
    .await;
    h.code.to_string()
}

async fn the_look_back_list_is_paged_filtered_and_assigned_in_one_go(store: &Store) {
    with_villages(store).await;
    // By hand: 22 legacy closures in TOWN, 3 in OTHER_TOWN — 25 in the county.
    let mut near = vec![];
    for serial in 1..=22 {
        near.push(legacy(store, serial, VILLAGE, UsageCategory::Other).await);
    }
    let mut far = vec![];
    for serial in 101..=103 {
        far.push(legacy(store, serial, OTHER_VILLAGE, UsageCategory::Other).await);
    }
    near.sort();
    let app = TestApp::new(store);
    tech_reviewer(&app, "lb-rv2", "李工").await;
    let county = app.user("lb-county", Role::CountyOffice, "370829").await;
    let html = app.get("/lookback?size=20", &county).await.text();
    assert!(html.contains("共 25 条，第 1 / 2 页"), "{html}");
    let html = app
        .get("/lookback?town=370829101000&size=20&page=2", &county)
        .await
        .text();
    assert!(html.contains("共 22 条，第 2 / 2 页"), "{html}");
    assert!(html.contains(&near[21]) && !html.contains(&far[0]));
    assert!(html.contains("<td data-label=\"序号\">21</td>"));
    // Three ticked houses go to one reviewer at once, back on the same page.
    let form = [
        ("town", "370829101000"),
        ("page", "2"),
        ("size", "20"),
        ("reviewer", "lb-rv2"),
        ("code", near[0].as_str()),
        ("code", near[1].as_str()),
        ("code", near[20].as_str()),
    ];
    let res = app.post_form("/lookback/assign", &county, &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), "/lookback?town=370829101000&page=2&size=20");
    let assigned: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'house.assign'").fetch_one(p).await)
    .unwrap();
    assert_eq!(assigned, 3);
    // A batch with a house out of the clerk's town is refused whole.
    let clerk = app.user("lb-clerk", Role::TownOperator, TOWN).await;
    let form = [
        ("reviewer", "lb-rv2"),
        ("code", near[2].as_str()),
        ("code", far[0].as_str()),
    ];
    let res = app.post_form("/lookback/assign", &clerk, &form).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let after: i64 = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assignments").fetch_one(p).await)
    .unwrap();
    assert_eq!(after, 3, "nothing of the refused batch written");
    // Nothing ticked: said so, nothing written.
    app.post_form("/lookback/assign", &county, &[("reviewer", "lb-rv2")])
        .await
        .refusal("请先勾选要分派的房屋");
}

async fn a_department_downloads_its_sector_ledgers(store: &Store) {
    let code = two_towns(store).await;
    let app = TestApp::new(store);
    // The business house (餐饮饭店) is supervised by 商务.
    let new = NewAccount {
        username: "sec-sw".into(),
        display_name: "商务局".into(),
        role: Role::Department,
        region: Some(anju_domain::RegionCode::parse("370829").unwrap()),
        department: Some("商务".into()),
    };
    let dept = account(&app, new).await;
    let res = app.get("/sector/survey.xlsx", &dept).await;
    assert_eq!(res.status, StatusCode::OK);
    let rows = xlsx_rows(&res.body);
    assert_eq!(rows.len(), 2, "header and the one business house: {rows:?}");
    assert_eq!(rows[1][0], code);
    assert_eq!(rows[1][7], "存在一定安全隐患");
    let rows = xlsx_rows(&app.get("/sector/rectification.xlsx", &dept).await.body);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][12], "待回头看");
    let rows = xlsx_rows(&app.get("/sector/problems.xlsx", &dept).await.body);
    assert_eq!(rows.len(), 1, "no problems: the header only");
    // The county office's survey ledger has all four houses.
    let county = app.user("sec-county", Role::CountyOffice, "370829").await;
    let rows = xlsx_rows(&app.get("/sector/survey.xlsx", &county).await.body);
    assert_eq!(rows.len(), 5);
    // A town's clerk: only that town's two houses.
    let near = app.user("sec-near", Role::TownOperator, TOWN).await;
    let rows = xlsx_rows(&app.get("/sector/survey.xlsx", &near).await.body);
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r[0] != code));
    assert_eq!(
        app.get("/sector/other.xlsx", &county).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn the_home_page_shows_each_towns_progress_in_each_phase(store: &Store) {
    two_towns(store).await;
    let (county, _) = session(store, "ph-county", Role::CountyOffice, "370829").await;
    let (status, _, html) = send(store, get("/", &county)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("各镇街阶段进度"), "{html}");
    // The notice's look-back phase ended on 2024-04-30: the other town has looked back at 0 of
    // its 1 legacy closure, overdue since then; the first town has none to do.
    let today = store.today();
    let over = (today - chrono::NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()).num_days();
    let table = &html[html.find("各镇街阶段进度").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[1].contains(&format!(
            "<td>0/1 <span class=\"tag overdue\">逾期 {over} 天</span></td>"
        )),
        "{}",
        rows[1]
    );
    assert!(
        rows[0].contains("<td>0/0</td>"),
        "nothing due, nothing overdue: {}",
        rows[0]
    );
}

anju_store::both!(the_home_page_shows_each_towns_progress_in_each_phase);
anju_store::both!(the_ranking_and_its_circular_put_the_lagging_town_first);
anju_store::both!(a_notice_is_answered_once_and_the_bell_counts_it);
anju_store::both!(the_look_back_list_assigns_a_reviewer);
anju_store::both!(the_look_back_list_is_paged_filtered_and_assigned_in_one_go);
anju_store::both!(a_department_downloads_its_sector_ledgers);
