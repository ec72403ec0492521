//! Sign-off on the web, on SQLite and PostgreSQL: prepare → sign (frozen) → submit → return
//! with a reason; a later change shows as a difference and never alters the frozen figures.

use crate::common::{TestApp, User};

use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::{StatusCode, header};

/// The 合计 row of a ledger CSV, split into its cells.
fn total_row(csv: &str) -> Vec<&str> {
    csv.lines()
        .find(|l| l.starts_with("合计"))
        .expect("合计 row")
        .split(',')
        .collect()
}

async fn a_town_ledger_is_prepared_signed_submitted_and_returned(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let app = TestApp::new(store);
    let op = app.user("op", Role::TownOperator, "370829101").await;
    let pr = app.user("pr", Role::TownPrincipal, "370829101").await;
    let co = app.user("co", Role::CountyOffice, "370829").await;
    let town = "370829101000";
    // The operator prepares 附件2 of the town as of `as_of` (with `more` fields).
    let prepare = async |as_of: &str, more: &[(&str, &str)]| {
        let mut pairs = vec![
            ("unit", town),
            ("form", "2"),
            ("as_of", as_of),
            ("contact", "0537-6812345"),
        ];
        pairs.extend_from_slice(more);
        app.post_form("/reports", &op, &pairs).await
    };
    // How many audit rows of `action` with `outcome` by `actor`.
    let audited = async |action: &str, outcome: &str, actor: &str| -> i64 {
        anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = $2 AND actor_id = $3")
            .bind(action).bind(outcome).bind(actor).fetch_one(p).await)
        .unwrap()
    };
    let res = prepare("2024-06-30", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let location = res.location().to_string();
    let id = location.trim_start_matches("/reports/").to_string();
    let page = async |user: &User| app.get(&location, user).await.text();
    let act = async |user: &User, pairs: &[(&str, &str)]| {
        app.post_form(&format!("/reports/{id}/act"), user, pairs)
            .await
    };
    // Nothing frozen to print before signing.
    let res = app
        .get(&format!("/reports/{id}/download?format=pdf"), &op)
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // The operator may not sign; the principal may.
    let html = page(&op).await;
    assert!(html.contains("已填报") && !html.contains("签字（冻结数字）"));
    assert_eq!(
        act(&op, &[("action", "sign")]).await.status,
        StatusCode::FORBIDDEN
    );
    // Before signing, the principal sees the figures signing freezes (worked out by hand:
    // one house, surveyed, no hazard — 已排查 1 in the town and in the total) and the
    // statement naming the unit, form and date.
    let html = page(&pr).await;
    assert!(html.contains("签字（冻结数字）"), "{html}");
    assert!(html.contains("签字将冻结的数字（截至 2024-06-30"), "{html}");
    assert!(html.contains("<td>合计</td><td>1</td>"), "{html}");
    assert!(
        html.contains("确认以主要负责同志身份签字：")
            && html.contains("附件2")
            && html.contains("截至 2024-06-30"),
        "{html}"
    );
    // Without ticking the statement, or with a wrong password, nothing is signed.
    let res = act(
        &pr,
        &[
            ("action", "sign"),
            ("password", crate::common::TEST_PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().contains("请先勾选确认"), "{}", res.text());
    let res = act(
        &pr,
        &[
            ("action", "sign"),
            ("confirm", "yes"),
            ("password", "not-the-password"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().contains("身份确认未通过：用户名或密码错误"),
        "{}",
        res.text()
    );
    assert!(page(&pr).await.contains("已填报"));
    assert_eq!(audited("reauth", "refused:failed", "pr").await, 1);
    assert_eq!(
        act(
            &pr,
            &[
                ("action", "sign"),
                ("confirm", "yes"),
                ("password", crate::common::TEST_PASSWORD)
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    // The signature's audit row says it came through the web (`web:` and the client's address;
    // "unknown" without a socket in these router tests), never "cli", and carries the digest.
    let (source, detail): (String, String) =
        anju_store::on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT source, detail FROM audit_log WHERE action = 'report.sign'").fetch_one(p).await)
        .unwrap();
    assert_eq!(source, "web:unknown");
    let digest = store
        .system("test")
        .report(id.parse().unwrap())
        .await
        .unwrap()
        .digest
        .unwrap();
    assert!(detail.contains(&digest), "{detail}");
    let html = page(&pr).await;
    assert!(
        html.contains("已签字")
            && html.contains("核对一致")
            && html.contains("当前数据与签字时一致"),
        "{html}"
    );
    // No quiet way round it: the same ledger as of an earlier day is refused, naming it, and
    // the refusal is audited.
    let res = prepare("2024-06-01", &[]).await;
    assert_ne!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.text()
            .contains(&format!("第 {id} 号附件2 台账（截至 2024-06-30）已签字")),
        "{}",
        res.text()
    );
    assert_eq!(audited("report.prepare", "refused:L1", "op").await, 1);
    // A house surveyed later, back-dated before the report date, shows as a difference.
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    h2.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let html = page(&pr).await;
    assert!(
        html.contains("已排查自建房总量") && !html.contains("当前数据与签字时一致"),
        "{html}"
    );
    // The printed copy carries the frozen figures (one surveyed house), not today's two.
    let csv = app
        .page(&format!("/reports/{id}/download?format=csv"), &op)
        .await;
    let total = total_row(&csv);
    assert_eq!(total[1], "1", "{csv}");
    let now_csv = app
        .get(
            &format!("/ledgers/2/download?unit={town}&format=csv&as_of=2024-06-30"),
            &op,
        )
        .await
        .text();
    let now_total = total_row(&now_csv);
    assert_eq!(now_total[1], "2", "{now_csv}");
    let res = app
        .get(&format!("/reports/{id}/download?format=pdf"), &pr)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.starts_with(b"%PDF-"));
    // The scanned signed-and-stamped copy: uploaded by the operator, served to the county,
    // neither served to nor accepted from another town.
    let scan_pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let upload = |user: &User| {
        let boundary = "anju-scan-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"附件2签字盖章.pdf\"\r\nContent-Type: application/pdf\r\n\r\n",
            user.csrf
        )
        .into_bytes();
        body.extend_from_slice(&scan_pdf);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        crate::common::multipart_post(&format!("/reports/{id}/scan"), &user.cookie, boundary, body)
    };
    let other = app.user("other", Role::TownOperator, "370829102").await;
    let res = app.send(upload(&other)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.send(upload(&op)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let html = page(&co).await;
    assert!(
        html.contains("附件2签字盖章.pdf") && html.contains(&format!("/reports/{id}/scan")),
        "{html}"
    );
    let res = app.get(&format!("/reports/{id}/scan"), &co).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header(header::CONTENT_DISPOSITION.as_str())
            .starts_with("attachment")
    );
    assert_eq!(res.body, scan_pdf);
    let res = app.get(&format!("/reports/{id}/scan"), &other).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Submit, then the county office returns it with a reason.
    assert_eq!(
        act(&op, &[("action", "submit")]).await.status,
        StatusCode::SEE_OTHER
    );
    let html = page(&co).await;
    assert!(html.contains("已报送") && html.contains("退回"));
    // Returning asks the county office's password too.
    let status = act(
        &co,
        &[("action", "return"), ("reason", "数字与村级台账不符")],
    )
    .await
    .status;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let status = act(
        &co,
        &[
            ("action", "return"),
            ("reason", "数字与村级台账不符"),
            ("confirm", "yes"),
            ("password", crate::common::TEST_PASSWORD),
        ],
    )
    .await
    .status;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = page(&op).await;
    assert!(html.contains("已退回") && html.contains("数字与村级台账不符"));
    let list = app.get(&format!("/reports?unit={town}"), &op).await.text();
    assert!(list.contains(&format!("/reports/{id}")));
    // The correction names the returned report it corrects, and its page shows it.
    assert!(list.contains("更正已退回的台账"), "{list}");
    let res = prepare("2024-06-30", &[("supersedes", id.as_str())]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let correction = app.get(res.location(), &co).await.text();
    assert!(
        correction.contains("本台账更正的台账") && correction.contains(&format!("第 {id} 号")),
        "{correction}"
    );
    // Another town's clerk sees neither the list nor the report.
    assert_eq!(
        app.get(&location, &other).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app.get(&format!("/reports?unit={town}"), &other).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Every step taken in the browser is audited as coming from the web, each carrying the
    // digest of the figures acted on from the signature on.
    let rows: Vec<(String, String, String)> = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT action, source, detail FROM audit_log WHERE action LIKE 'report.%' AND outcome = 'ok' AND object = $1 ORDER BY id").bind(format!("ledger_report:{id}"))
        .fetch_all(p).await)
    .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "report.prepare",
            "report.sign",
            "report.attach_scan",
            "report.submit",
            "report.return"
        ]
    );
    assert!(rows.iter().all(|r| r.1 == "web:unknown"), "{rows:?}");
    assert!(rows[1..].iter().all(|r| r.2.contains(&digest)), "{rows:?}");

    // An insider rewrites the frozen figures with a matching digest: the page says so.
    let forged = {
        let r = store
            .system("test")
            .report(id.parse().unwrap())
            .await
            .unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&r.snapshot.unwrap()).unwrap();
        let first = v["table"]["total"]["counts"][0].as_i64().unwrap();
        v["table"]["total"]["counts"][0] = serde_json::json!(first + 1);
        v.to_string()
    };
    let forged_digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(forged.as_bytes()))
    };
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query("UPDATE ledger_reports SET snapshot = $1, digest = $2 WHERE id = $3")
        .bind(&forged).bind(&forged_digest).bind(id.parse::<i64>().unwrap()).execute(p).await.map(|_| ()))
    .unwrap();
    let html = page(&co).await;
    assert!(
        html.contains("校验不通过")
            && html.contains("与签字时审计日志记录的")
            && !html.contains("核对一致"),
        "{html}"
    );
}

anju_store::both!(a_town_ledger_is_prepared_signed_submitted_and_returned);
