//! Supervising the campaign through the real router, on SQLite and PostgreSQL: the ranking
//! (lagging town first) and its circular in xlsx and PDF re-read, a supervision notice and its
//! one answer, the reminders bell, the look-back list with assignment, and the sector ledgers a
//! department downloads (only its sector's houses).

use crate::common;

use anju_domain::dict::{Judgement, MgmtMeasure, UsageCategory};
use anju_domain::event::{Change, Role};
use anju_store::testing::*;
use anju_store::{NewAccount, Store};
use axum::http::StatusCode;
use common::{get, post, send, send_bytes, session, xlsx_rows};

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
    let mut h = House::register(store, 3, OTHER_VILLAGE, UsageCategory::MixedBusiness).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(
        &clerk(),
        Change::LegacyClosureRecorded {
            measures: vec![MgmtMeasure::WallPatching],
            closed_on: chrono::NaiveDate::from_ymd_opt(2023, 10, 1).unwrap(),
        },
    )
    .await;
    House::register(store, 4, OTHER_VILLAGE, UsageCategory::Other).await;
    h.code.to_string()
}

async fn the_ranking_and_its_circular_put_the_lagging_town_first(store: &Store) {
    two_towns(store).await;
    let (county, _) = session(store, "rk-county", Role::CountyOffice, "370829").await;
    let (status, _, html) = send(store, get("/ranking", &county)).await;
    assert_eq!(status, StatusCode::OK);
    let lagging = html
        .find("/supervision?town=370829102000")
        .expect("督办 link for the lagging town");
    let leading = html
        .find("/supervision?town=370829101000")
        .expect("督办 link");
    assert!(lagging < leading, "the lagging town comes first");
    assert!(html.contains("25.00%") && html.contains("100.00%"));

    let (status, bytes) = send_bytes(store, get("/ranking/download?format=xlsx", &county)).await;
    assert_eq!(status, StatusCode::OK);
    let rows = xlsx_rows(&bytes);
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

    let (status, pdf) = send_bytes(store, get("/ranking/download?format=pdf", &county)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    assert!(text.contains("自建房安全专项整治工作进展通报"), "{text}");
    let first = text.find("25.00%").unwrap();
    let second = text.find("100.00%").unwrap();
    assert!(first < second, "the lagging town first in the PDF too");
}

fn pdf_text(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("anju-rank-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("c-{}.pdf", bytes.len()));
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| *c != ' ')
        .collect()
}

async fn a_notice_is_answered_once_and_the_bell_counts_it(store: &Store) {
    two_towns(store).await;
    let (county, ccsrf) = session(store, "sv-county", Role::CountyOffice, "370829").await;
    let due = (anju_domain::rules::beijing_date(anju_store::now()) + chrono::Duration::days(3))
        .to_string();
    let (status, _, html) = send(
        store,
        post(
            "/supervision",
            &county,
            &[
                ("csrf", ccsrf.as_str()),
                ("town", "370829102000"),
                ("subject", "回头看滞后"),
                ("body", "快"),
                ("answer_due", due.as_str()),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("不少于 4 个字") && html.contains("回头看滞后"),
        "{html}"
    );
    let (status, location, _) = send(
        store,
        post(
            "/supervision",
            &county,
            &[
                ("csrf", ccsrf.as_str()),
                ("town", "370829102000"),
                ("subject", "回头看滞后"),
                ("body", "请于期限内完成全部历史销号房屋的回头看"),
                ("answer_due", due.as_str()),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/supervision/"));

    let (far, fcsrf) = session(store, "sv-far", Role::TownOperator, OTHER_TOWN).await;
    let (near, _) = session(store, "sv-near", Role::TownOperator, TOWN).await;
    let (_, _, json) = send(store, get("/reminders/count", &far)).await;
    let count: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(count["count"].as_i64().unwrap() >= 1, "{json}");
    let (_, _, html) = send(store, get("/reminders", &far)).await;
    assert!(
        html.contains("督办通知待答复") && html.contains("href=\"/supervision\""),
        "{html}"
    );
    assert_eq!(
        send(store, get(&location, &near)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, html) = send(store, get(&location, &far)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("请于期限内完成全部历史销号房屋的回头看"));
    let answer_path = format!("{location}/answer");
    let (status, _, _) = send(
        store,
        post(
            &answer_path,
            &far,
            &[
                ("csrf", fcsrf.as_str()),
                ("answer", "已安排技术人员于本周完成回头看"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, html) = send(
        store,
        post(
            &answer_path,
            &far,
            &[("csrf", fcsrf.as_str()), ("answer", "改写答复")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("R4"), "{html}");
    let (_, _, html) = send(store, get(&location, &county)).await;
    assert!(html.contains("已安排技术人员于本周完成回头看") && html.contains("sv-far姓名"));
    let (_, _, html) = send(store, get("/reminders", &far)).await;
    assert!(
        !html.contains("督办通知待答复"),
        "answered: no longer a reminder"
    );
}

async fn the_look_back_list_assigns_a_reviewer(store: &Store) {
    let code = two_towns(store).await;
    let sys = anju_domain::auth::Principal::system();
    store
        .create_demo_account(
            &sys,
            &NewAccount {
                username: "lb-rv".into(),
                display_name: "王工".into(),
                role: Role::TechReviewer,
                region: None,
                department: None,
            },
            common::TEST_PASSWORD,
        )
        .await
        .unwrap();
    let (op, csrf) = session(store, "lb-op", Role::TownOperator, OTHER_TOWN).await;
    let (_, _, html) = send(store, get("/lookback", &op)).await;
    assert!(html.contains(&code) && html.contains("未分派"), "{html}");
    let (status, _, _) = send(
        store,
        post(
            "/lookback/assign",
            &op,
            &[
                ("csrf", csrf.as_str()),
                ("code", code.as_str()),
                ("reviewer", "lb-rv"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = send(store, get("/lookback", &op)).await;
    assert!(html.contains("王工"), "assigned reviewer shown");
    let (rv, _) = common::login(store, "lb-rv", common::TEST_PASSWORD).await;
    let (_, _, html) = send(store, get("/lookback", &rv)).await;
    assert!(
        html.contains(&format!("/houses/{code}/steps/look_back_reviewed")),
        "{html}"
    );
    // The other town's clerk does not see it.
    let (near, _) = session(store, "lb-near", Role::TownOperator, TOWN).await;
    let (_, _, html) = send(store, get("/lookback", &near)).await;
    assert!(!html.contains(&code));
}

async fn a_department_downloads_its_sector_ledgers(store: &Store) {
    let code = two_towns(store).await;
    let sys = anju_domain::auth::Principal::system();
    // The business house (餐饮饭店) is supervised by 商务.
    store
        .create_demo_account(
            &sys,
            &NewAccount {
                username: "sec-sw".into(),
                display_name: "商务局".into(),
                role: Role::Department,
                region: Some(anju_domain::RegionCode::parse("370829").unwrap()),
                department: Some("商务".into()),
            },
            common::TEST_PASSWORD,
        )
        .await
        .unwrap();
    let (dept, _) = common::login(store, "sec-sw", common::TEST_PASSWORD).await;
    let (status, bytes) = send_bytes(store, get("/sector/survey.xlsx", &dept)).await;
    assert_eq!(status, StatusCode::OK);
    let rows = xlsx_rows(&bytes);
    assert_eq!(rows.len(), 2, "header and the one business house: {rows:?}");
    assert_eq!(rows[1][0], code);
    assert_eq!(rows[1][7], "存在一定安全隐患");
    let (_, bytes) = send_bytes(store, get("/sector/rectification.xlsx", &dept)).await;
    let rows = xlsx_rows(&bytes);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][12], "待回头看");
    let (_, bytes) = send_bytes(store, get("/sector/problems.xlsx", &dept)).await;
    assert_eq!(xlsx_rows(&bytes).len(), 1, "no problems: the header only");
    // The county office's survey ledger has all four houses.
    let (county, _) = session(store, "sec-county", Role::CountyOffice, "370829").await;
    let (_, bytes) = send_bytes(store, get("/sector/survey.xlsx", &county)).await;
    assert_eq!(xlsx_rows(&bytes).len(), 5);
    // A town's clerk: only that town's two houses.
    let (near, _) = session(store, "sec-near", Role::TownOperator, TOWN).await;
    let (_, bytes) = send_bytes(store, get("/sector/survey.xlsx", &near)).await;
    let rows = xlsx_rows(&bytes);
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r[0] != code));
    assert_eq!(
        send(store, get("/sector/other.xlsx", &county)).await.0,
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
    let today = anju_domain::rules::beijing_date(anju_store::now());
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
anju_store::both!(a_department_downloads_its_sector_ledgers);
