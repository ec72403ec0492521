//! 一房一码 on SQLite and PostgreSQL: the house page's QR code (in scope only) and the public page
//! behind the plaque: code, place and safety status, no personal data; an account that may read
//! the house is sent to the full page.

use crate::common;
use crate::common::pdf_text;

use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::{TestApp, User};

async fn the_plaque_opens_a_public_page_without_personal_data(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    // Surveyed with the phone's position (排查定位).
    let mut surveyed = anju_domain::sample::survey(Judgement::Hazard);
    surveyed.location = Some(anju_domain::event::GeoFix {
        longitude: 116.397128,
        latitude: 35.405421,
        accuracy_m: Some(18.0),
    });
    h.ok(&clerk(), anju_domain::Change::Surveyed(Box::new(surveyed)))
        .await;
    let code = h.code.to_string();
    let token = store
        .system("test")
        .house(&h.code)
        .await
        .unwrap()
        .plaque_token;
    let app = TestApp::new(store);
    let jb = app.user("jb", Role::TownOperator, "370829101").await;
    let far = app.user("far", Role::TownOperator, "370829102").await;
    // Anyone with the plaque: no account, an empty cookie.
    let anyone = User {
        cookie: String::new(),
        csrf: String::new(),
    };

    let res = app.get(&format!("/houses/{code}"), &jb).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains(&format!("/houses/{code}/qr.svg")));
    // The house page shows where the house is; the public page below must not.
    assert!(res.text().contains("东经 116.340000°，北纬 35.410000°"));
    assert!(
        res.text()
            .contains("排查定位</dt><dd>东经 116.397128°，北纬 35.405421°（精度约 18 米）"),
        "{}",
        res.text()
    );
    let svg = app.page(&format!("/houses/{code}/qr.svg"), &jb).await;
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    // Not for a house out of scope.
    assert_eq!(
        app.get(&format!("/houses/{code}/qr.svg"), &far)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Anyone with the plaque: the public page.
    let public = app.page(&format!("/q/{token}"), &anyone).await;
    assert!(
        public.contains(&code)
            && public.contains("测试村370829101201")
            && public.contains("存在一定安全隐患"),
        "{public}"
    );
    let people = anju_domain::sample::people();
    for secret in [
        people.owner_name.clone(),
        people.owner_id.as_ref().unwrap().as_str().to_string(),
        people.owner_phone.as_ref().unwrap().as_str().to_string(),
        "示例村一组1号".to_string(),
        // The coordinates lead to the door as well as the address does.
        "116.34".to_string(),
        "35.41".to_string(),
        "经纬度".to_string(),
        "东经".to_string(),
        // Nor where the survey was made.
        "116.397".to_string(),
        "35.405".to_string(),
        "排查定位".to_string(),
        "精度约".to_string(),
    ] {
        assert!(!public.contains(&secret), "the public page shows {secret}");
    }
    // An account out of scope sees the public page too; one in scope the full page.
    assert_eq!(
        app.get(&format!("/q/{token}"), &far).await.status,
        StatusCode::OK
    );
    let res = app.get(&format!("/q/{token}"), &jb).await;
    assert_eq!(
        (res.status, res.location().to_string()),
        (StatusCode::SEE_OTHER, format!("/houses/{code}"))
    );
    // A wrong token is not found; a malformed one never reaches the database.
    assert_eq!(
        app.get(&format!("/q/{}", "0".repeat(32)), &anyone)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/q/'%20OR%201=1--", &anyone).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_village_prints_its_plaques_and_an_unsafe_house_its_notice(store: &Store) {
    with_villages(store).await;
    let mut c = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    c.ok(&clerk(), survey(Judgement::Hazard)).await;
    c.ok(&appraiser(), appraise(anju_domain::dict::Grade::C))
        .await;
    let safe = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    let far = House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user("pl-clerk", Role::TownOperator, "370829101").await;

    let res = app
        .get(&format!("/villages/{VILLAGE}/plaques.pdf"), &clerk)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let text = pdf_text(&res.body);
    assert!(
        text.contains(c.code.as_str()) && text.contains(safe.code.as_str()),
        "{text}"
    );
    assert!(!text.contains(far.code.as_str()));
    assert!(text.contains("自建房安全信息牌"));
    assert_eq!(
        app.get(&format!("/villages/{OTHER_VILLAGE}/plaques.pdf"), &clerk)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "another town's village"
    );

    let html = app.get(&format!("/houses/{}", c.code), &clerk).await.text();
    assert!(
        html.contains(&format!("/houses/{}/notice.pdf", c.code)),
        "the notice is offered"
    );
    let res = app
        .get(&format!("/houses/{}/notice.pdf", c.code), &clerk)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let text = pdf_text(&res.body);
    for s in [
        "房屋安全隐患告知书",
        "张三",
        "C级（局部危房",
        "维修加固",
        "送达回执",
    ] {
        assert!(text.contains(s), "{s}: {text}");
    }
    assert_eq!(
        app.get(&format!("/houses/{}/notice.pdf", safe.code), &clerk)
            .await
            .status,
        StatusCode::CONFLICT,
        "no notice for a house without danger"
    );
}

anju_store::both!(the_plaque_opens_a_public_page_without_personal_data);
anju_store::both!(a_village_prints_its_plaques_and_an_unsafe_house_its_notice);
