//! The JSON API on SQLite and PostgreSQL: scope, masking, CSRF, rule refusals with their codes,
//! stale versions; and the OpenAPI document lists every route.

use crate::common::{self, Answer, TestApp, User};
use crate::matrix::normalise;

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

/// An answer's status and JSON body (`null` when the body is not JSON).
fn parts(res: Answer) -> (StatusCode, Value) {
    (
        res.status,
        serde_json::from_slice(&res.body).unwrap_or(Value::Null),
    )
}

/// A JSON POST that carries the session cookie but no CSRF token.
fn post_without_csrf(path: &str, user: &User, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, &user.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn the_api_answers_within_scope_and_names_the_rule(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let other = House::register(store, 2, OTHER_VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let (status, body) = parts(app.send(common::get("/api/v1/houses", "")).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let clerk = app.user("api-clerk", Role::TownOperator, "370829101").await;
    let (status, body) = parts(app.get("/api/v1/houses?judgement=Hazard", &clerk).await);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["houses"][0]["code"], h.code.as_str());
    let (status, body) = parts(
        app.get(&format!("/api/v1/houses/{}", other.code), &clerk)
            .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = parts(app.get(&format!("/api/v1/houses/{}", h.code), &clerk).await);
    assert_eq!(status, StatusCode::OK);
    let id = anju_domain::sample::people().owner_id.unwrap();
    assert_eq!(body["people"]["owner_id"], id.masked());
    assert!(
        !body.to_string().contains(id.as_str()),
        "no full ID anywhere in the answer"
    );
    assert_eq!(body["version"], 3);

    let path = format!("/api/v1/houses/{}/events", h.code);
    let notify = json!({ "expected_version": 3, "effective": "2024-04-01", "change": { "type": "owner_notified", "method": "直接送达", "recipient": "张三" } });
    let status = app
        .send(post_without_csrf(&path, &clerk, &notify))
        .await
        .status;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF header, no write");
    let (status, body) = parts(app.post_json(&path, &clerk, &notify).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["seq"], 4);
    // Stale: the same version again.
    let (status, body) = parts(app.post_json(&path, &clerk, &notify).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("V1"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api-clerk姓名")
    );
    // A principal closing on management measures: R1.
    let principal = app
        .user("api-principal", Role::TownPrincipal, "370829101")
        .await;
    let close = json!({ "expected_version": 4, "effective": "2024-04-02", "change": { "type": "closed", "basis": "management_measure" } });
    let (status, body) = parts(app.post_json(&path, &principal, &close).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("R1")),
        "{body}"
    );
    // Ledger JSON for the clerk's own town; the county's is out of scope.
    let (status, body) = parts(app.get("/api/v1/ledgers/2?unit=370829101000", &clerk).await);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("合计"));
    let status = app
        .get("/api/v1/ledgers/2?unit=370829000000", &clerk)
        .await
        .status;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_openapi_document_lists_every_api_route() {
    let doc: Value = serde_json::from_str(anju_web::api::OPENAPI).unwrap();
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| normalise(k))
        .collect();
    let routes: Vec<String> = anju_web::route_paths()
        .into_iter()
        .filter(|r| r.starts_with("/api/v1"))
        .map(normalise)
        .collect();
    assert!(routes.len() >= 5);
    for r in &routes {
        assert!(paths.contains(r), "{r} is served but not documented");
    }
    for p in &paths {
        assert!(routes.contains(p), "{p} is documented but not served");
    }
}

anju_store::both!(the_api_answers_within_scope_and_names_the_rule);

/// Engineering acceptance over the API: photos are uploaded first; a step naming photos that
/// were never uploaded is refused (E1), one naming uploaded ones is recorded.
async fn api_evidence_must_be_uploaded_before_it_is_named(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&appraiser(), appraise(Grade::C)).await;
    h.ok(&clerk(), notify()).await;
    h.ok(&clerk(), start()).await;
    let code = h.code.to_string();
    let app = TestApp::new(store);
    let reviewer = app.user("api-rv", Role::TechReviewer, "370829").await;
    let county = Principal {
        account_id: 0,
        username: "county".into(),
        name: "县专班".into(),
        role: Role::CountyOffice,
        region: Some(RegionCode::parse("370829").unwrap()),
        department: None,
    };
    store
        .access(&county, "t")
        .assign(&h.code, "api-rv")
        .await
        .unwrap();
    let upload = |bytes: Vec<u8>, token: Option<&str>| {
        let mut r = Request::post("/api/v1/evidence")
            .header(header::COOKIE, &reviewer.cookie)
            .header(header::CONTENT_TYPE, "application/octet-stream");
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.body(Body::from(bytes)).unwrap()
    };
    let jpeg = |seed: u8| {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            16,
            12,
            image::Rgb([seed, 0, 0]),
        ))
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        out
    };
    let csrf = Some(reviewer.csrf.as_str());
    assert_eq!(
        app.send(upload(jpeg(1), None)).await.status,
        StatusCode::FORBIDDEN
    );
    let (status, body) = parts(
        app.send(upload(b"MZ\x90\0 not an image".to_vec(), csrf))
            .await,
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("不支持的文件类型")
    );
    let (status, before) = parts(app.send(upload(jpeg(1), csrf)).await);
    assert_eq!(status, StatusCode::CREATED, "{before}");
    let (_, after) = parts(app.send(upload(jpeg(200), csrf)).await);
    assert_eq!(before["media"], "image/jpeg");
    let step = |before_sha: &str, after_sha: &str| {
        json!({
            "expected_version": h.version,
            "effective": "2024-06-01",
            "evidence": [
                { "sha256": before_sha, "kind": "photo_before", "name": "前.jpg" },
                { "sha256": after_sha, "kind": "photo_after", "name": "后.jpg" },
            ],
            "change": { "type": "engineering_accepted", "measure": "reinforce", "reviewer_names": "李验收" },
        })
    };
    let path = format!("/api/v1/houses/{code}/events");
    let snap = snapshot(store).await;
    let unknown = step(before["sha256"].as_str().unwrap(), &"ab".repeat(32));
    let (status, body) = parts(app.post_json(&path, &reviewer, &unknown).await);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "E1", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("后.jpg")
    );
    assert_eq!(snapshot(store).await, snap);
    let both = step(
        before["sha256"].as_str().unwrap(),
        after["sha256"].as_str().unwrap(),
    );
    let (status, body) = parts(app.post_json(&path, &reviewer, &both).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["evidence"][1]["sha256"], after["sha256"]);
}

anju_store::both!(api_evidence_must_be_uploaded_before_it_is_named);

/// A build year after this year (2099), no storey above ground, coordinates outside China: each
/// refused naming its field, through the registration and correction forms and a ledger import
/// (the JSON API takes no records), and nothing written.
async fn implausible_values_are_refused_by_name_through_form_api_and_import(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app
        .user("plaus-clerk", Role::TownOperator, "370829101")
        .await;
    let before = snapshot(store).await;

    // The registration form.
    let form = [
        ("version", "0"),
        ("effective", "2024-04-02"),
        ("source", "核查发现漏排"),
        ("census_id", "PL-1"),
        ("village", VILLAGE),
        ("address", "三组12号"),
        ("owner_name", "王五"),
        ("usage", "其他自建房"),
        ("floors_above", "2"),
        ("floors_below", "0"),
        ("floor_area_m2", "120"),
        ("build_year", "2099"),
        ("structure_type", "砌体结构(砖混)"),
    ];
    let res = app.post_form("/houses/new", &clerk, &form).await;
    let (status, html) = (res.status, res.text());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("“建成年份”2099 不合常理"), "{html}");

    // The correction form: no storey above ground; a point in the Atlantic.
    let version = h.version.to_string();
    for (floors, longitude, needle) in [
        ("0", "116.3", "“地上层数”0 不合常理"),
        ("2", "-30", "“经度、纬度”-30, 35.4 不在我国境内"),
    ] {
        let correction = [
            ("version", version.as_str()),
            ("effective", "2024-04-01"),
            ("reason", "更正层数和坐标"),
            ("village", VILLAGE),
            ("address", "示例村一组1号"),
            ("usage", "其他自建房"),
            ("floors_above", floors),
            ("floor_area_m2", "180.5"),
            ("longitude", longitude),
            ("latitude", "35.4"),
            ("structure_type", "砌体结构(砖混)"),
        ];
        let res = app
            .post_form(&format!("/houses/{}/correct", h.code), &clerk, &correction)
            .await;
        let (status, html) = (res.status, res.text());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains(needle), "{needle}: {html}");
    }

    // The JSON API takes no record at all: registration and correction go through the forms or
    // an import, where the values above are checked.
    let record =
        anju_domain::sample::record(RegionCode::parse(VILLAGE).unwrap(), UsageCategory::Other);
    let change = anju_domain::event::Change::Corrected {
        record: Box::new(record),
        people: None,
    };
    let body = json!({
        "expected_version": h.version,
        "effective": "2024-04-01",
        "reason": "更正",
        "change": serde_json::to_value(&change).unwrap(),
    });
    let path = format!("/api/v1/houses/{}/events", h.code);
    let (status, body) = parts(app.post_json(&path, &clerk, &body).await);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("表单"),
        "{body}"
    );

    // A ledger import: the row is named with the field.
    let file = format!(
        "\u{feff}普查房屋编号,村（社区）,房屋地址,产权人（户主）,房屋用途,地上层数,建筑面积（㎡）,结构类型,建成年份\r\n\
         PL-2,{VILLAGE},一组1号,王一,其他自建房,2,120,砌体结构(砖混),2099\r\n"
    );
    let upload = common::multipart(
        "/import",
        &clerk.cookie,
        &clerk.csrf,
        file.as_bytes(),
        "台账.csv",
        "commit",
    );
    let (_, html) = common::run(&app.app, upload, &clerk.cookie).await;
    assert!(html.contains("有 1 行有误"), "{html}");
    assert!(html.contains("“建成年份”2099 不合常理"), "{html}");
    assert_eq!(snapshot(store).await, before, "nothing written");
}

anju_store::both!(implausible_values_are_refused_by_name_through_form_api_and_import);
