//! Sign-off on the web, on SQLite and PostgreSQL: prepare → sign (frozen) → submit → return
//! with a reason; a later change shows as a difference and never alters the frozen figures.

use crate::common;

use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn a_town_ledger_is_prepared_signed_submitted_and_returned(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let (op, op_csrf) = session(store, "op", Role::TownOperator, "370829101").await;
    let (pr, pr_csrf) = session(store, "pr", Role::TownPrincipal, "370829101").await;
    let (co, co_csrf) = session(store, "co", Role::CountyOffice, "370829").await;
    let town = "370829101000";
    let (status, location, body) = send(
        store,
        post(
            "/reports",
            &op,
            &[
                ("csrf", &op_csrf),
                ("unit", town),
                ("form", "2"),
                ("as_of", "2024-06-30"),
                ("contact", "0537-6812345"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let id = location.trim_start_matches("/reports/").to_string();
    // Nothing frozen to print before signing.
    let (status, _, _) = send(
        store,
        get(&format!("/reports/{id}/download?format=pdf"), &op),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The operator may not sign; the principal may.
    let (_, _, page) = send(store, get(&location, &op)).await;
    assert!(page.contains("已填报") && !page.contains("签字（冻结数字）"));
    let (status, _, _) = send(
        store,
        post(
            &format!("/reports/{id}/act"),
            &op,
            &[("csrf", &op_csrf), ("action", "sign")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, page) = send(store, get(&location, &pr)).await;
    assert!(page.contains("签字（冻结数字）"));
    let (status, _, _) = send(
        store,
        post(
            &format!("/reports/{id}/act"),
            &pr,
            &[("csrf", &pr_csrf), ("action", "sign")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The signature's audit row says it came through the web (the client's address; "unknown"
    // without a socket in these router tests), never "cli", and carries the digest.
    let (source, detail): (String, String) = anju_store::on_db!(&store.db, p => sqlx::query_as(
        "SELECT source, detail FROM audit_log WHERE action = 'report.sign'").fetch_one(p).await)
    .unwrap();
    assert_ne!(source, "cli");
    assert!(detail.contains("digest"), "{detail}");
    let (_, _, page) = send(store, get(&location, &pr)).await;
    assert!(
        page.contains("已签字")
            && page.contains("核对一致")
            && page.contains("当前数据与签字时一致"),
        "{page}"
    );
    // A house surveyed later, back-dated before the report date, shows as a difference.
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    h2.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let (_, _, page) = send(store, get(&location, &pr)).await;
    assert!(
        page.contains("已排查自建房总量") && !page.contains("当前数据与签字时一致"),
        "{page}"
    );
    // The printed copy carries the frozen figures (one surveyed house), not today's two.
    let (status, _, csv) = send(
        store,
        get(&format!("/reports/{id}/download?format=csv"), &op),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let total: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("合计"))
        .expect("合计 row")
        .split(',')
        .collect();
    assert_eq!(total[1], "1", "{csv}");
    let (_, _, now_csv) = send(
        store,
        get(
            &format!("/ledgers/2/download?unit={town}&format=csv&as_of=2024-06-30"),
            &op,
        ),
    )
    .await;
    let now_total: Vec<&str> = now_csv
        .lines()
        .find(|l| l.starts_with("合计"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(now_total[1], "2", "{now_csv}");
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let res = app
        .clone()
        .oneshot(get(&format!("/reports/{id}/download?format=pdf"), &pr))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pdf = res.into_body().collect().await.unwrap().to_bytes();
    assert!(pdf.starts_with(b"%PDF-"));
    // The scanned signed-and-stamped copy: uploaded by the operator, served to the county,
    // neither served to nor accepted from another town.
    let scan_pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let upload = |cookie: &str, csrf: &str| {
        let boundary = "anju-scan-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"附件2签字盖章.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&scan_pdf);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Request::post(format!("/reports/{id}/scan?csrf={csrf}"))
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    let (other, other_csrf) = session(store, "other", Role::TownOperator, "370829102").await;
    let (status, _, _) = send(store, upload(&other, &other_csrf)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send(store, upload(&op, &op_csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, page) = send(store, get(&location, &co)).await;
    assert!(
        page.contains("附件2签字盖章.pdf") && page.contains(&format!("/reports/{id}/scan")),
        "{page}"
    );
    let res = app
        .clone()
        .oneshot(get(&format!("/reports/{id}/scan"), &co))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
        scan_pdf
    );
    let (status, _, _) = send(store, get(&format!("/reports/{id}/scan"), &other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Submit, then the county office returns it with a reason.
    let (status, _, _) = send(
        store,
        post(
            &format!("/reports/{id}/act"),
            &op,
            &[("csrf", &op_csrf), ("action", "submit")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(store, get(&location, &co)).await;
    assert!(page.contains("已报送") && page.contains("退回"));
    let (status, _, _) = send(
        store,
        post(
            &format!("/reports/{id}/act"),
            &co,
            &[
                ("csrf", &co_csrf),
                ("action", "return"),
                ("reason", "数字与村级台账不符"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = send(store, get(&location, &op)).await;
    assert!(page.contains("已退回") && page.contains("数字与村级台账不符"));
    let (_, _, list) = send(store, get(&format!("/reports?unit={town}"), &op)).await;
    assert!(list.contains(&format!("/reports/{id}")));
    // Another town's clerk sees neither the list nor the report.
    let (status, _, _) = send(store, get(&location, &other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(store, get(&format!("/reports?unit={town}"), &other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

anju_store::both!(a_town_ledger_is_prepared_signed_submitted_and_returned);
