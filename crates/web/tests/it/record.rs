//! The house record forms through the real router, on SQLite and PostgreSQL: registering a
//! house (its code given by the store, every bad column named, nothing written on refusal, the
//! same house never registered twice, villages outside the account's scope refused), correcting
//! a record (reason required, people kept unless replaced on purpose, a stale form), and the
//! legacy-closure step that puts a house on the look-back list.

use crate::common;

use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::{TestApp, User};

const TOWN: &str = "370829101";

/// The plain registration form made a dwelling with two businesses, altered, every block
/// filled in.
fn registration<'a>(census: &'a str, village: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form = common::changed(
        common::registration_form(census, village),
        &[
            ("address", "测试村三组12号"),
            ("usage", "自住兼经营性自建房"),
            ("floors_above", "3"),
            ("floor_area_m2", "245.5"),
            ("group_name", "三组"),
            ("owner_id", "370829196504123010"),
            ("owner_phone", "13905371234"),
            ("is_altered", "是"),
            ("alteration_types", "楼顶加层"),
            ("permits_held", "宅基地批准书"),
        ],
    );
    // Two values of one field: added, not changed.
    form.extend([
        ("business_types", "餐饮饭店"),
        ("business_types", "批发零售"),
    ]);
    form
}

async fn a_clerk_registers_a_house_found_in_the_field(store: &Store) {
    with_villages(store).await;
    House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user("reg-clerk", Role::TownOperator, TOWN).await;

    let html = app.page("/houses", &clerk).await;
    assert!(
        html.contains("href=\"/houses/new\""),
        "the list offers 登记房屋"
    );
    let html = app.page("/houses/new", &clerk).await;
    for block in ["房屋基本情况", "产权人及责任人", "建设情况", "管理情况"] {
        assert!(html.contains(block), "{block} block shown");
    }
    assert!(
        html.contains(&format!("value=\"{VILLAGE}\"")),
        "own village offered"
    );
    assert!(
        !html.contains(&format!("value=\"{OTHER_VILLAGE}\"")),
        "another town's village is not offered"
    );

    // Bad columns: each named by its header, the typed values kept, nothing written.
    let before = snapshot(store).await;
    let mut bad = registration("PC-0001", VILLAGE);
    bad.retain(|(k, _)| *k != "address");
    for (k, v) in &mut bad {
        match *k {
            "owner_id" => *v = "370829196504123011",
            "floors_above" => *v = "三层",
            _ => {}
        }
    }
    let res = app.post_form("/houses/new", &clerk, &bad).await;
    let (status, html) = (res.status, res.text());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for named in [
        "房屋地址：必填",
        "身份证号/统一社会信用代码",
        "地上层数：“三层”不是整数",
    ] {
        assert!(html.contains(named), "{named} named in: {html}");
    }
    // The address was left out; what was typed is shown again.
    assert!(html.contains("value=\"王五\""), "input kept");
    assert_eq!(snapshot(store).await, before, "nothing written on refusal");

    // A village of another town is refused by the store even when posted by hand.
    app.post_form(
        "/houses/new",
        &clerk,
        &registration("PC-0001", OTHER_VILLAGE),
    )
    .await
    .refusal("不在您的辖区内");
    assert_eq!(snapshot(store).await, before);

    // The valid registration: the store gives the next code of the county.
    let res = app
        .post_form("/houses/new", &clerk, &registration("PC-0001", VILLAGE))
        .await;
    let location = res.location();
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let code = anju_domain::HouseCode::new(&anju_domain::RegionCode::parse("370829").unwrap(), 2);
    assert_eq!(location, format!("/houses/{code}"));
    let html = app.get(location, &clerk).await.text();
    assert!(html.contains("测试村三组12号"), "address shown");
    assert!(
        html.contains("餐饮饭店、批发零售"),
        "both business types kept"
    );
    assert!(html.contains("139****1234"), "phone shown masked");
    assert!(!html.contains("13905371234"), "phone never shown in full");
    assert!(
        html.contains(&format!("/houses/{code}/correct")),
        "correction offered"
    );

    // The same census id again: the same house is never registered twice.
    let before = snapshot(store).await;
    let res = app
        .post_form("/houses/new", &clerk, &registration("PC-0001", VILLAGE))
        .await;
    let (status, html) = (res.status, res.text());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!("该房屋已登记（房屋编码 {code}）")),
        "{html}"
    );
    assert_eq!(snapshot(store).await, before);

    // A house of another town carries the platform code: refused without naming that house.
    let far = House::register(store, 5, OTHER_VILLAGE, UsageCategory::Other).await;
    let mut dup = registration("PC-0002", VILLAGE);
    dup.push(("platform_code", "YH370829000000005"));
    let res = app.post_form("/houses/new", &clerk, &dup).await;
    let (status, html) = (res.status, res.text());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("已在其他辖区登记"), "{html}");
    assert!(
        !html.contains(far.code.as_str()),
        "the other town's house is not named"
    );

    // A principal signs; registering is not theirs.
    let principal = app.user("reg-principal", Role::TownPrincipal, TOWN).await;
    assert_eq!(
        app.get("/houses/new", &principal).await.status,
        StatusCode::FORBIDDEN
    );
}

/// House 1 of [`VILLAGE`] (its code), the application, and `username`, a clerk of its town.
async fn a_house_and_its_clerk(store: &Store, username: &str) -> (String, TestApp, User) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user(username, Role::TownOperator, TOWN).await;
    (h.code.to_string(), app, clerk)
}

async fn a_record_is_corrected_with_a_reason_and_people_kept(store: &Store) {
    let (code, app, clerk) = a_house_and_its_clerk(store, "cor-clerk").await;
    let correct = format!("/houses/{code}/correct");
    let html = app.page(&correct, &clerk).await;
    assert!(
        html.contains("value=\"示例村一组1号\""),
        "record pre-filled"
    );
    assert!(
        !html.contains("13805371234"),
        "personal data never pre-filled"
    );

    let form = |address: &'static str, reason: &'static str, version: &'static str| {
        vec![
            ("version", version),
            ("effective", "2024-04-01"),
            ("reason", reason),
            ("village", VILLAGE),
            ("address", address),
            ("usage", "其他自建房"),
            ("floors_above", "2"),
            ("floor_area_m2", "180.5"),
            ("structure_type", "砌体结构(砖混)"),
        ]
    };
    let before = snapshot(store).await;
    // A correction needs a reason.
    app.post_form(&correct, &clerk, &form("示例村一组1号之一", "", "1"))
        .await
        .refusal("R4");
    assert_eq!(snapshot(store).await, before);

    let res = app
        .post_form(
            &correct,
            &clerk,
            &form("示例村一组1号之一", "门牌号核实有误", "1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = app.get(&format!("/houses/{code}"), &clerk).await.text();
    assert!(
        html.contains("示例村一组1号之一"),
        "corrected address shown"
    );
    assert!(
        html.contains("张三"),
        "owner kept: the people block was not replaced"
    );

    // The form saw version 1; the house is at 2 now.
    let res = app
        .post_form(&correct, &clerk, &form("示例村一组2号", "再次核实", "1"))
        .await;
    let (status, html) = (res.status, res.text());
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("已于") && html.contains("被 cor-clerk姓名（cor-clerk） 修改"),
        "{html}"
    );
    assert!(html.contains("value=\"示例村一组2号\""), "typed value kept");
}

async fn a_legacy_closure_lands_on_the_look_back_list(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    let code = h.code.to_string();
    let app = TestApp::new(store);
    let clerk = app.user("leg-clerk", Role::TownOperator, TOWN).await;
    let html = app.get(&format!("/houses/{code}"), &clerk).await.text();
    let step = format!("/houses/{code}/steps/legacy_closure_recorded");
    assert!(
        html.contains(&step),
        "legacy closure offered on a hazard house"
    );
    let html = app.page(&step, &clerk).await;
    assert!(html.contains("前期销号日期") && html.contains("刷墙勾缝"));

    let version = h.version.to_string();
    // The legacy closure of 2023-12-20 with `measures`.
    let record = async |measures: &[&str]| {
        let mut pairs = vec![
            ("version", version.as_str()),
            ("effective", "2024-04-01"),
            ("closed_on", "2023-12-20"),
        ];
        pairs.extend(measures.iter().map(|m| ("measures", *m)));
        app.post_form(&step, &clerk, &pairs).await
    };
    // Measures are required.
    record(&[]).await.refusal("管理措施");
    let res = record(&["刷墙勾缝", "增加围挡"]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let house = store.system("test").house(&h.code).await.unwrap();
    let legacy = house.state.legacy.expect("legacy closure recorded");
    assert!(legacy.look_back.is_none(), "awaits the look-back");
    assert!(house.state.closure.is_none(), "never counted as closed");
}

/// 「获取当前位置」 sits beside 经度/纬度 on the registration and correction forms, driven by the
/// static script (no inline script), and the house page shows the coordinates it recorded.
async fn the_record_forms_offer_the_current_location_and_the_house_page_shows_it(store: &Store) {
    let (code, app, clerk) = a_house_and_its_clerk(store, "loc-clerk").await;
    for path in ["/houses/new".to_string(), format!("/houses/{code}/correct")] {
        let html = app.page(&path, &clerk).await;
        let button = html
            .find("data-locate=\"f-longitude f-latitude\"")
            .unwrap_or_else(|| panic!("{path}: no location button"));
        assert!(html.contains(">获取当前位置</button>"), "{path}");
        // Right after the two fields it fills.
        let (lon, lat) = (
            html.find("id=\"f-longitude\"").unwrap(),
            html.find("id=\"f-latitude\"").unwrap(),
        );
        assert!(lon < lat && lat < button, "{path}");
        assert!(html.contains("data-locate-status"), "{path}");
        assert!(!html.contains("<script>"), "{path}: inline script");
    }
    let js = app.page("/static/app.js", &clerk).await;
    for needle in [
        "getCurrentPosition",
        "enableHighAccuracy: true",
        "timeout: 15000",
        "isSecureContext",
        "需通过 HTTPS 访问才能获取位置",
        "pos.coords.accuracy",
    ] {
        assert!(js.contains(needle), "app.js lacks {needle}");
    }
    // The sample record was registered with 116.34, 35.41.
    let html = app.page(&format!("/houses/{code}"), &clerk).await;
    let basic = &html[html.find("房屋基本情况").unwrap()..];
    let basic = &basic[..basic.find("</section>").unwrap()];
    assert!(
        basic.contains("<dt>经纬度</dt><dd>东经 116.340000°，北纬 35.410000°</dd>"),
        "{basic}"
    );
}

anju_store::both!(a_clerk_registers_a_house_found_in_the_field);
anju_store::both!(a_record_is_corrected_with_a_reason_and_people_kept);
anju_store::both!(a_legacy_closure_lands_on_the_look_back_list);
anju_store::both!(the_record_forms_offer_the_current_location_and_the_house_page_shows_it);
