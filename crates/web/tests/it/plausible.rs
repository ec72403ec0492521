//! Plausible values through every door of the web application, on SQLite and PostgreSQL: the
//! registration and correction forms, a step form, the JSON API and a ledger upload each refuse
//! a value outside its bound, naming the field in Chinese with the bound and the rule, and
//! write nothing. The test clock reads 30 November 2026 (Beijing), so the current year is 2026.

use crate::common::{self, TestApp, parts};

use anju_domain::codes::RegionCode;
use anju_domain::dict::{Judgement, ReviewFinding, UsageCategory};
use anju_domain::event::{Change, Role};
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use serde_json::{Value, json};

const TOWN: &str = "370829101";

/// The rows of every house table, and how many houses and events there are.
async fn written(store: &Store) -> (Vec<String>, i64, i64) {
    (
        snapshot(store).await,
        store.system("test").count_houses().await.unwrap(),
        store.system("test").count_events().await.unwrap(),
    )
}

/// A hazard found on survey, then found none by 孙工's technical review: the house may be
/// closed on the review.
async fn surveyed_then_cleared(h: &mut House<'_>) {
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(
        &reviewer(),
        Change::Reviewed {
            reviewer_names: "孙工".into(),
            finding: ReviewFinding::NoHazard,
            opinion: None,
        },
    )
    .await;
}

/// The registration form of a plain house, with `changes` made to its fields.
fn registration<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = common::registration_form("PL-1", VILLAGE);
    form.extend([
        ("build_year", "2026"),
        ("longitude", "116.3"),
        ("latitude", "35.4"),
    ]);
    common::changed(form, changes)
}

async fn the_forms_refuse_implausible_values_by_name_and_write_nothing(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user("plaus-clerk", Role::TownOperator, TOWN).await;
    let before = written(store).await;
    assert_eq!((before.1, before.2), (1, 1));

    // The registration form: each value just past its bound, named with the bound.
    for (field, value, message) in [
        (
            "build_year",
            "2027",
            "建成年份不能晚于当前年份（2026），填写的是 2027",
        ),
        (
            "build_year",
            "2099",
            "建成年份不能晚于当前年份（2026），填写的是 2099",
        ),
        (
            "build_year",
            "1899",
            "建成年份不能早于 1900 年，填写的是 1899",
        ),
        ("floors_above", "0", "地上层数不能少于 1 层，填写的是 0"),
        ("floors_above", "31", "地上层数不能多于 30 层，填写的是 31"),
        ("floors_below", "6", "地下层数不能多于 5 层，填写的是 6"),
        ("floor_area_m2", "0", "建筑面积（㎡）须大于 0，填写的是 0"),
        (
            "floor_area_m2",
            "100000.01",
            "建筑面积（㎡）不能大于 100000，填写的是 100000.01",
        ),
        ("longitude", "72.9", "经度不能小于 73°，填写的是 72.9"),
        ("latitude", "54.1", "纬度不能大于 54°，填写的是 54.1"),
        (
            "qr_plaque_installed_on",
            "2026-12-01",
            "二维码标牌安装日期不能晚于今天（2026-11-30），填写的是 2026-12-01",
        ),
    ] {
        let res = app
            .post_form("/houses/new", &clerk, &registration(&[(field, value)]))
            .await;
        res.refusal(message);
    }
    assert_eq!(written(store).await, before, "nothing written");

    // The correction form: no storey above ground and a point in the Atlantic, both named.
    let version = h.version.to_string();
    let correction = [
        ("version", version.as_str()),
        ("effective", "2024-04-01"),
        ("reason", "更正层数和坐标"),
        ("village", VILLAGE),
        ("address", "示例村一组1号"),
        ("usage", "其他自建房"),
        ("floors_above", "0"),
        ("floor_area_m2", "180.5"),
        ("longitude", "-30"),
        ("latitude", "35.4"),
        ("structure_type", "砌体结构(砖混)"),
    ];
    let res = app
        .post_form(&format!("/houses/{}/correct", h.code), &clerk, &correction)
        .await;
    res.refusal("经度不能小于 73°，填写的是 -30");
    res.refusal("地上层数不能少于 1 层，填写的是 0");
    assert_eq!(written(store).await, before, "nothing written");

    // A step form: the closure's date on the national platform after today, or before the
    // review it rests on.
    surveyed_then_cleared(&mut h).await;
    let reviewed_on = (h.day - chrono::Duration::days(1)).to_string();
    let principal = app.user("plaus-fz", Role::TownPrincipal, TOWN).await;
    let before = written(store).await;
    let version = h.version.to_string();
    let effective = h.day.to_string();
    let code = h.code.to_string();
    for (platform, message) in [
        (
            "2026-12-01",
            "归集平台销号日期 2026-12-01 不能晚于今天（2026-11-30）（规则 D1）".to_string(),
        ),
        (
            "2024-03-01",
            format!(
                "归集平台销号日期 2024-03-01 不能早于销号依据“专业技术人员复核无隐患”的日期 {reviewed_on}（规则 D1）"
            ),
        ),
    ] {
        let form = [
            ("version", version.as_str()),
            ("effective", effective.as_str()),
            ("basis", "专业技术人员复核无隐患"),
            ("platform_closed_on", platform),
        ];
        let res = app.post_step(&code, "closed", &principal, &form).await;
        res.refusal(&message);
    }
    assert_eq!(written(store).await, before, "nothing written");

    // At the edges every value is taken: built this year, 30 storeys, 100,000 ㎡, the corner
    // of China's extent, a plaque put up today.
    let res = app
        .post_form(
            "/houses/new",
            &clerk,
            &registration(&[
                ("build_year", "2026"),
                ("floors_above", "30"),
                ("floors_below", "5"),
                ("floor_area_m2", "100000"),
                ("longitude", "136"),
                ("latitude", "3"),
                ("qr_plaque_installed_on", "2026-11-30"),
            ]),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(store.system("test").count_houses().await.unwrap(), 2);
}

anju_store::both!(the_forms_refuse_implausible_values_by_name_and_write_nothing);

async fn the_api_refuses_implausible_dates_by_name_and_takes_no_record(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    surveyed_then_cleared(&mut h).await;
    let reviewed_on = h.day - chrono::Duration::days(1);
    let app = TestApp::new(store);
    let clerk = app.user("plaus-api-clerk", Role::TownOperator, TOWN).await;
    let principal = app.user("plaus-api-fz", Role::TownPrincipal, TOWN).await;
    let path = format!("/api/v1/houses/{}/events", h.code);
    let before = written(store).await;
    let step = |effective: &str, change: Value| json!({ "expected_version": h.version, "effective": effective, "change": change });
    let today = "2026-11-30";
    let closed = |platform: &str| json!({ "type": "closed", "basis": "review_no_hazard", "platform_closed_on": platform });
    for (who, body, code, message) in [
        (
            &clerk,
            step(
                "2026-12-01",
                json!({ "type": "owner_notified", "method": "直接送达", "recipient": "张三" }),
            ),
            "D1",
            "发生日期 2026-12-01 晚于今天（2026-11-30）".to_string(),
        ),
        (
            &principal,
            step(today, closed("2026-12-01")),
            "D1",
            "归集平台销号日期 2026-12-01 不能晚于今天（2026-11-30）".to_string(),
        ),
        (
            &principal,
            step(today, closed("2024-03-01")),
            "D1",
            format!(
                "归集平台销号日期 2024-03-01 不能早于销号依据“专业技术人员复核无隐患”的日期 {reviewed_on}"
            ),
        ),
        (
            &clerk,
            step(
                today,
                json!({ "type": "engineering_started", "measure": "reinforce", "deadline": "2026-11-29" }),
            ),
            "D1",
            "整治时限（计划完成日期）2026-11-29 不能早于开工日期 2026-11-30".to_string(),
        ),
        (
            &clerk,
            step(
                today,
                json!({ "type": "legacy_closure_recorded", "measures": ["wall_patching"], "closed_on": "2026-12-01" }),
            ),
            "D1",
            "前期销号日期 2026-12-01 不能晚于登记日期 2026-11-30".to_string(),
        ),
    ] {
        let (status, body) = parts(app.post_json(&path, who, &body).await);
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{message}: {body}"
        );
        assert_eq!(body["error"]["code"], code, "{body}");
        let got = body["error"]["message"].as_str().unwrap_or_default();
        assert!(got.contains(&message), "{message}: {body}");
    }
    assert_eq!(written(store).await, before, "nothing written");

    // The API takes no house record at all (registration and correction go through the forms
    // or an import, which check the bounds above): a record with a build year of 2099 is
    // refused before anything looks at it.
    let mut record =
        anju_domain::sample::record(RegionCode::parse(VILLAGE).unwrap(), UsageCategory::Other);
    record.build_year = Some(2099);
    let change = Change::Corrected {
        record: Box::new(record),
        people: None,
    };
    let body = json!({
        "expected_version": h.version,
        "effective": today,
        "reason": "更正",
        "change": serde_json::to_value(&change).unwrap(),
    });
    let (status, body) = parts(app.post_json(&path, &clerk, &body).await);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("表单"),
        "{body}"
    );
    assert_eq!(written(store).await, before, "nothing written");

    // On the edges the steps are taken: the platform closed the house on the review's day.
    let (status, body) = parts(
        app.post_json(
            &path,
            &principal,
            &step(today, closed(&reviewed_on.to_string())),
        )
        .await,
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

anju_store::both!(the_api_refuses_implausible_dates_by_name_and_takes_no_record);

async fn a_ledger_upload_names_every_implausible_cell_and_writes_nothing(store: &Store) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let clerk = app.user("plaus-imp", Role::TownOperator, TOWN).await;
    let before = written(store).await;
    let file = format!(
        "\u{feff}普查房屋编号,村（社区）,房屋地址,产权人（户主）,房屋用途,地上层数,建筑面积（㎡）,结构类型,建成年份,经度,纬度,排查日期,隐患初判,隐患类别,工程措施,开工日期,竣工验收日期\r\n\
         PL-2,{VILLAGE},一组1号,王一,其他自建房,2,120,砌体结构(砖混),2027,116.3,35.4,,,,,,\r\n\
         PL-3,{VILLAGE},一组2号,王二,其他自建房,31,120,砌体结构(砖混),1998,200,35.4,,,,,,\r\n\
         PL-4,{VILLAGE},一组3号,王三,其他自建房,2,120,砌体结构(砖混),1998,116.3,35.4,2024-03-20,存在一定安全隐患,上部承重结构,维修加固,2024-05-01,2024-04-30\r\n\
         PL-5,{VILLAGE},一组4号,王四,其他自建房,2,120,砌体结构(砖混),2026,116.3,35.4,2024-03-20,存在一定安全隐患,上部承重结构,维修加固,2026-12-01,\r\n\
         PL-6,{VILLAGE},一组5号,王五,其他自建房,2,120,砌体结构(砖混),1900,73,3,,,,,,\r\n"
    );
    let (_, html) = app
        .import(&clerk, file.as_bytes(), "台账.csv", "commit")
        .await;
    for needle in [
        "有 4 行有误",
        "建成年份不能晚于当前年份（2026），填写的是 2027",
        "地上层数不能多于 30 层，填写的是 31",
        "经度不能大于 136°，填写的是 200",
        "竣工验收日期 2024-04-30 不能早于开工日期 2024-05-01（规则 D1）",
        "开工日期 2026-12-01 不能晚于今天（2026-11-30）（规则 D1）",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert_eq!(written(store).await, before, "nothing written");
}

anju_store::both!(a_ledger_upload_names_every_implausible_cell_and_writes_nothing);
