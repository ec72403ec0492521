//! The JSON API on SQLite and PostgreSQL: scope, masking, CSRF, rule refusals with their codes,
//! stale versions; and the OpenAPI document lists every route.

use crate::common::{self, TestApp, User, parts};
use anju_domain::Coded;

use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::collections::BTreeSet;

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
    let (status, body) = parts(app.get("/api/v1/houses?judgement=hazard", &clerk).await);
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
    // A survey's position outside China: F1, naming the field.
    let far = json!({ "expected_version": 3, "effective": "2024-04-01", "change": {
        "type": "surveyed", "round": "攻坚行动首轮", "surveyor": "王排查", "judgement": "hazard",
        "risk_level": "general", "hazard_categories": ["上部承重结构"],
        "location": { "longitude": 140.5, "latitude": 35.4, "accuracy_m": 18 } } });
    let (status, body) = parts(app.post_json(&path, &clerk, &far).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("F1")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("排查定位经度不能大于 136°，填写的是 140.5"),
        "{body}"
    );
    let notify = json!({ "expected_version": 3, "effective": "2024-04-01", "change": { "type": "owner_notified", "method": "直接送达", "recipient": "张三" } });
    let status = app
        .send(post_without_csrf(&path, &clerk, &notify))
        .await
        .status;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF header, no write");
    // Without a session there is no CSRF token to match: a POST is refused with 403 before it
    // could be answered 401 (as the OpenAPI document says).
    let anonymous = Request::post(&path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(notify.to_string()))
        .unwrap();
    assert_eq!(app.send(anonymous).await.status, StatusCode::FORBIDDEN);
    let (status, body) = parts(app.post_json(&path, &clerk, &notify).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["seq"], 4);
    // Audited as coming through the API (the client's address: "unknown" in router tests).
    let source: String = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT source FROM audit_log WHERE action = 'house.owner_notified' AND outcome = 'ok'")
        .fetch_one(p).await)
    .unwrap();
    assert_eq!(source, "api:unknown");
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
    // Malformed input answers what the document says, never axum's bare 400: a ledger other
    // than 1 and 2, or a path that is not even UTF-8, is not there; a repeated query parameter
    // is invalid input.
    let not_found = (StatusCode::NOT_FOUND, "not_found");
    let invalid = (StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    for (path, (want, code)) in [
        ("/api/v1/ledgers/3", not_found),
        ("/api/v1/ledgers/abc", not_found),
        ("/api/v1/ledgers/300", not_found),
        ("/api/v1/houses/%FF", not_found),
        ("/api/v1/houses/AJ1", not_found),
        ("/api/v1/houses?page=1&page=2", invalid),
        ("/api/v1/houses?page=0", invalid),
        (
            "/api/v1/ledgers/2?as_of=2024-01-01&as_of=2024-02-01",
            invalid,
        ),
    ] {
        let (status, body) = parts(app.get(path, &clerk).await);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (want, Some(code)),
            "{path}"
        );
    }
}

/// The generated OpenAPI document, parsed.
fn openapi() -> Value {
    serde_json::from_str(anju_web::api::openapi_json()).unwrap()
}

/// What a `$ref` (to a schema or a response) points at; anything else is itself.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let path = r.strip_prefix("#/").expect("a local reference");
            let target = path.split('/').fold(doc, |v, k| &v[k]);
            assert!(!target.is_null(), "{r} does not resolve");
            target
        }
        None => v,
    }
}

/// The operations of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.clone(), path.clone(), op));
            }
        }
    }
    ops
}

#[test]
fn the_openapi_document_lists_every_api_route() {
    let doc = openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let routes: Vec<&str> = anju_web::route_paths()
        .into_iter()
        .filter(|r| r.starts_with("/api/v1"))
        .collect();
    assert!(routes.len() >= 6);
    // Exactly, parameter names included: axum and OpenAPI write `{code}` alike.
    for r in &routes {
        assert!(
            paths.iter().any(|p| p == r),
            "{r} is served but not documented"
        );
    }
    for p in &paths {
        assert!(
            routes.contains(&p.as_str()),
            "{p} is documented but not served"
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        (&schemes["session"]["in"], &schemes["session"]["name"]),
        (&json!("cookie"), &json!("anju_session"))
    );
    assert_eq!(
        (&schemes["csrf"]["in"], &schemes["csrf"]["name"]),
        (&json!("header"), &json!("X-CSRF-Token"))
    );
}

/// Every operation documents the errors it can answer, so that a route added without them
/// fails here: the database's 500/503/507 everywhere (the session is read from it); behind the
/// login 303 (password to change), 403 (role; on a POST also CSRF, which is also what a POST
/// without a session gets) and 401 on a GET; 404 where the route takes a house, 409 where it
/// changes one; 413 where there is a body; 422 where there is input beyond the path.
#[test]
fn every_operation_documents_its_errors() {
    let doc = openapi();
    let ops = operations(&doc);
    assert!(ops.len() >= 6);
    for (method, path, op) in ops {
        let responses = op["responses"].as_object().unwrap();
        let need = |status: &str, why: &str| {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status} ({why})"
            );
        };
        let success = if method == "post" { "201" } else { "200" };
        need(success, "success");
        need("500", "server error");
        need("503", "database unreachable");
        need("507", "disk full");
        let public = op["security"] == json!([{}]);
        if !public {
            need("303", "password to change first");
            need("403", "role refused");
            if method == "get" {
                need("401", "not logged in");
            } else {
                need("413", "body over its limit");
                assert_eq!(
                    op["security"],
                    json!([{ "session": [], "csrf": [] }]),
                    "{method} {path} needs the CSRF header"
                );
            }
        }
        if path.contains("{code}") {
            need("404", "house missing or out of scope");
            if method == "post" {
                need("409", "V1: the house changed since");
            }
        }
        let input = op["requestBody"].is_object()
            || op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
        if input {
            need("422", "input or a rule refused");
        }
        // The errors the handlers make are JSON `{"error": {"code", "message"}}`.
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status} has no description"
            );
            if ["401", "403", "404", "409", "422", "500", "503", "507"].contains(&status.as_str()) {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// A schema's enum values, the schema given by name or inline.
fn enum_values(doc: &Value, schema: &Value) -> BTreeSet<String> {
    resolve(doc, schema)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("not an enum: {schema}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn serialised<T: serde::Serialize>(all: &[T]) -> BTreeSet<String> {
    all.iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The enums written out for the document are the domain's, as serialised (or, where the API
/// answers a `code()`, as coded).
#[test]
fn the_documented_enums_are_the_domains() {
    use anju_domain::dict::*;
    use anju_domain::event::EvidenceKind;
    let doc = openapi();
    let named = |name: &str| {
        enum_values(
            &doc,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
        )
    };
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("Judgement", serialised(Judgement::ALL)),
        ("RiskLevel", serialised(RiskLevel::ALL)),
        ("Grade", serialised(Grade::ALL)),
        ("HandlingAdvice", serialised(HandlingAdvice::ALL)),
        ("MgmtMeasure", serialised(MgmtMeasure::ALL)),
        ("EngMeasure", serialised(EngMeasure::ALL)),
        ("ReviewFinding", serialised(ReviewFinding::ALL)),
        ("ClosureBasis", serialised(ClosureBasis::ALL)),
        ("RegistrationSource", serialised(RegistrationSource::ALL)),
        ("EvidenceKind", serialised(EvidenceKind::ALL)),
        ("Role", serialised(Role::ALL)),
        (
            "HouseStatus",
            anju_domain::Status::ALL
                .iter()
                .map(|s| s.code().to_string())
                .collect(),
        ),
    ];
    for (name, domain) in cases {
        assert_eq!(named(name), domain, "{name}");
    }
    // The list's filters.
    let params = &doc["paths"]["/api/v1/houses"]["get"]["parameters"];
    let param = |name: &str| {
        let p = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        enum_values(&doc, &p["schema"])
    };
    let overdue: BTreeSet<String> = anju_store::houses::list::Overdue::ALL
        .iter()
        .map(|o| o.code().to_string())
        .collect();
    assert_eq!(param("overdue"), overdue);
    // One code per value: the filters take the codes the domain serialises.
    assert_eq!(param("judgement"), serialised(Judgement::ALL));
    assert_eq!(param("grade"), serialised(Grade::ALL));
    for s in param("sort") {
        assert!(
            anju_store::houses::list::Sort::from_code(&s).is_some(),
            "{s}"
        );
    }
    // Every kind of step: those the API records, and all of them in an event.
    let kinds = |union: &str| -> BTreeSet<String> {
        doc["components"]["schemas"][union]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| tag_of(v).unwrap().to_string())
            .collect()
    };
    let all: BTreeSet<String> = anju_domain::ChangeKind::ALL
        .iter()
        .map(|k| k.code().to_string())
        .collect();
    assert_eq!(kinds("EventChange"), all);
    let recorded: BTreeSet<String> = all
        .into_iter()
        .filter(|k| k != "registered" && k != "corrected")
        .collect();
    assert_eq!(kinds("StepChange"), recorded);
}

/// The `type` of one variant of a step union (`allOf` of the step's schema and its tag).
fn tag_of(variant: &Value) -> Option<&str> {
    variant["allOf"]
        .as_array()?
        .iter()
        .find_map(|p| p["properties"]["type"]["enum"][0].as_str())
}

/// The schema of the step `kind` in the union `union`.
fn step_schema<'a>(doc: &'a Value, union: &str, kind: &str) -> &'a Value {
    let variant = doc["components"]["schemas"][union]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| tag_of(v) == Some(kind))
        .unwrap_or_else(|| panic!("{union} has no {kind}"));
    let reference = variant["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["$ref"].is_string())
        .unwrap();
    resolve(doc, reference)
}

fn properties(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .map(|r| r.iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn nullable(doc: &Value, property: &Value) -> bool {
    let property = resolve(doc, property);
    property["type"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("null")))
        || property["oneOf"]
            .as_array()
            .is_some_and(|o| o.iter().any(|s| s["type"] == "null"))
}

/// The fields of a JSON object, its `type` tag left out.
fn fields(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "type")
        .cloned()
        .collect()
}

/// `value` (every optional field filled) has exactly the documented properties; leaving out a
/// property, or sending it as null, deserialises exactly when the document says it may.
fn conforms<T: serde::de::DeserializeOwned>(
    doc: &Value,
    schema: &Value,
    value: &Value,
    what: &str,
) {
    let keys = fields(value);
    assert_eq!(keys, properties(schema), "{what}: properties");
    let parses = |v: &Value| serde_json::from_value::<T>(v.clone()).is_ok();
    assert!(parses(value), "{what}: {value}");
    let required = required(schema);
    for key in keys {
        let mut without = value.clone();
        without.as_object_mut().unwrap().remove(&key);
        assert_eq!(
            parses(&without),
            !required.contains(&key),
            "{what}.{key}: required is {}",
            required.contains(&key)
        );
        let mut null = value.clone();
        null[&key] = Value::Null;
        assert_eq!(
            parses(&null),
            nullable(doc, &schema["properties"][&key]),
            "{what}.{key}: nullable"
        );
    }
}

/// One change of every kind, every optional field filled.
fn every_change() -> Vec<anju_domain::Change> {
    use anju_domain::Change;
    use anju_domain::dict::*;
    use anju_domain::event::{Appraisal, Survey};
    let day = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
    let record = || {
        Box::new(anju_domain::sample::record(
            RegionCode::parse(VILLAGE).unwrap(),
            UsageCategory::Other,
        ))
    };
    let changes = vec![
        Change::Registered {
            source: RegistrationSource::Census,
            plaque_token: "0123456789abcdef0123456789abcdef".into(),
            record: record(),
            people: Box::new(anju_domain::sample::people()),
        },
        Change::Surveyed(Box::new(Survey {
            round: "攻坚行动首轮".into(),
            surveyor: "王排查".into(),
            judgement: Judgement::Hazard,
            risk_level: Some(RiskLevel::General),
            hazard_categories: vec!["上部承重结构".into()],
            hazard_parts: vec!["墙体".into()],
            geohazards: vec!["滑坡".into()],
            fire_hazards: vec!["电线私拉乱接".into()],
            added_load: true,
            remarks: Some("备注".into()),
            location: Some(anju_domain::event::GeoFix {
                longitude: 116.397128,
                latitude: 35.405421,
                accuracy_m: Some(18.0),
            }),
        })),
        Change::Reviewed {
            reviewer_names: "李复核".into(),
            finding: ReviewFinding::Hazard,
            opinion: Some("意见".into()),
        },
        Change::Appraised(Box::new(Appraisal {
            agency_name: "鉴定中心".into(),
            agency_credit_code: Some("91370800MA3C000000".into()),
            reviewer_names: "赵鉴定".into(),
            standard: "JGJ 125-2016".into(),
            report_no: "JD-1".into(),
            grade: Grade::C,
            advice: Some(HandlingAdvice::StopUse),
            post_rectification: true,
        })),
        Change::OwnerNotified {
            method: "直接送达".into(),
            recipient: "张三".into(),
        },
        Change::InterimControlApplied {
            measures: vec![MgmtMeasure::StopUse],
        },
        Change::EngineeringStarted {
            measure: EngMeasure::Reinforce,
            contractor: Some("施工队".into()),
            deadline: Some(day),
        },
        Change::EngineeringAccepted {
            measure: EngMeasure::Reinforce,
            reviewer_names: "李验收".into(),
            opinion: Some("合格".into()),
        },
        Change::Closed {
            basis: ClosureBasis::Engineering,
            platform_closed_on: Some(day),
        },
        Change::LegacyClosureRecorded {
            measures: vec![MgmtMeasure::Cordon],
            closed_on: day,
        },
        Change::LookBackReviewed {
            reviewer_names: "李复核".into(),
            hazard_remains: true,
            opinion: Some("仍有隐患".into()),
        },
        Change::Reopened,
        Change::Reclassified {
            judgement: Some(Judgement::Severe),
            risk_level: Some(RiskLevel::CollapseRisk),
            grade: Some(Grade::D),
        },
        Change::Corrected {
            record: record(),
            people: Some(Box::new(anju_domain::sample::people())),
        },
    ];
    let kinds: BTreeSet<_> = changes.iter().map(|c| c.kind()).collect();
    assert_eq!(
        kinds.len(),
        anju_domain::ChangeKind::ALL.len(),
        "a change of every kind"
    );
    changes
}

/// The step schemas are what the domain deserialises (the request) and serialises (the event):
/// the same properties, the same required ones, null where null is taken.
#[test]
fn the_documented_steps_are_what_the_domain_reads_and_writes() {
    use anju_domain::Change;
    let doc = openapi();
    for change in every_change() {
        let value = serde_json::to_value(&change).unwrap();
        let kind = change.kind().code();
        let recorded = !matches!(change, Change::Registered { .. } | Change::Corrected { .. });
        if recorded {
            let schema = step_schema(&doc, "StepChange", kind);
            conforms::<Change>(&doc, schema, &value, kind);
            assert_eq!(schema, step_schema(&doc, "EventChange", kind));
        } else {
            let schema = step_schema(&doc, "EventChange", kind);
            assert_eq!(fields(&value), properties(schema), "{kind}");
        }
    }
    // The request body around the step.
    let schemas = &doc["components"]["schemas"];
    let body = json!({
        "expected_version": 3,
        "effective": "2024-04-01",
        "reason": "理由",
        "evidence": [{ "sha256": "ab".repeat(32), "kind": "photo", "name": "前.jpg" }],
        "change": { "type": "reopened" },
    });
    conforms::<anju_web::api::StepBody>(&doc, &schemas["StepBody"], &body, "StepBody");
    let evidence = anju_domain::sample::evidence(anju_domain::event::EvidenceKind::Photo, "a.jpg");
    conforms::<anju_domain::event::Evidence>(
        &doc,
        &schemas["EvidenceRef"],
        &serde_json::to_value(&evidence).unwrap(),
        "EvidenceRef",
    );
    // The event as answered.
    let event = anju_domain::Event {
        house: anju_domain::HouseCode::parse("AJ370829000001231").unwrap(),
        seq: 4,
        effective: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
        recorded_at: chrono::Utc::now(),
        actor: clerk(),
        reason: Some("理由".into()),
        evidence: vec![evidence],
        change: anju_domain::Change::Reopened,
    };
    let value = serde_json::to_value(&event).unwrap();
    let keys: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, properties(&schemas["Event"]));
    let actor: BTreeSet<String> = value["actor"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(actor, properties(&schemas["Actor"]));
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
    crate::common::assign_reviewer(store, &h.code, "api-rv").await;
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
