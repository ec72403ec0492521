//! 问题台账 on the web, on SQLite and PostgreSQL: the county office issues a batch from a CSV or
//! xlsx list (a bad list refused whole, every bad row named), the town confirms and fixes with
//! evidence, cannot verify its own fix, the county verifies; rates on the list page.

use crate::common;

use anju_domain::dict::UsageCategory;
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

const BOUNDARY: &str = "anju-problem-boundary";

/// An upload as the forms send it: the CSRF token first, then the fields and the file.
fn multipart(
    path: &str,
    user: &User,
    texts: &[(&str, &str)],
    file: Option<(&str, &str, Vec<u8>)>,
) -> Request<Body> {
    let mut body = Vec::new();
    for (k, v) in std::iter::once(&("csrf", user.csrf.as_str())).chain(texts) {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((field, name, bytes)) = file {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    multipart_post(path, &user.cookie, BOUNDARY, body)
}

fn jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        32,
        24,
        image::Rgb([9, 90, 200]),
    ))
    .write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    out
}

async fn problem_rows(store: &Store) -> i64 {
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM problems").fetch_one(p).await).unwrap()
}

async fn a_problem_is_issued_confirmed_fixed_and_verified(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::MixedBusiness).await;
    let app = TestApp::new(store);
    let co = app.user("co", Role::CountyOffice, "370829").await;
    let clerk = app.user("jb", Role::TownOperator, "370829101").await;
    let issue = |file: (&'static str, Vec<u8>)| {
        app.send(multipart(
            "/problems",
            &co,
            &[
                ("source", "online_inspection"),
                ("name", "2024年第3批线上巡检"),
                ("issued_on", "2024-05-10"),
            ],
            Some(("file", file.0, file.1)),
        ))
    };
    // A bad list: an unknown town, an unknown house, a bad date. Nothing written.
    let bad = format!(
        "\u{feff}镇街,房屋编号,问题类别,问题描述,整改时限\n370829101,{},销号不实,围挡代替加固,2024-06-15\n火星镇,,漏排,漏排一户,\n370829101,AJ37082999999999X,漏排,查无此房,\n370829101,,其他,日期不对,明天\n",
        h.code
    );
    let res = issue(("清单.csv", bad.into_bytes())).await;
    let html = res.text();
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("第 3 行") && html.contains("火星镇") && html.contains("第 5 行"),
        "{html}"
    );
    assert_eq!(problem_rows(store).await, 0);
    // The town's parse passes but the house is unknown: named by the store, nothing written.
    let unknown = "镇街,房屋编号,问题描述\n嘉祥街道,AJ37082999999999X,查无此房\n".to_string();
    // Saved by Excel as plain "CSV" on a Chinese Windows: GBK, read the same.
    let gbk = encoding_rs::GB18030.encode(&unknown).0.into_owned();
    assert_ne!(gbk, unknown.as_bytes());
    for bytes in [unknown.into_bytes(), gbk] {
        let res = issue(("清单.csv", bytes)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text();
        assert!(
            html.contains("第 2 行") && html.contains("AJ37082999999999X"),
            "{html}"
        );
        assert_eq!(problem_rows(store).await, 0);
    }
    // An unknown category and town are refused saying what is accepted.
    let res = issue((
        "清单.csv",
        "镇街,问题类别,问题描述\n火星镇,乱填,x\n嘉祥街道,乱填,y\n"
            .as_bytes()
            .to_vec(),
    ))
    .await;
    let html = res.text();
    assert!(html.contains("请填写本县镇街的名称，如“"), "{html}");
    assert!(
        html.contains("（可填：漏排、判定不准确、信息不符、销号不实、整治不彻底/以管代改、其他）"),
        "{html}"
    );
    assert_eq!(problem_rows(store).await, 0);
    // The template names a real town and a category the list accepts: as downloaded, it is
    // read without a refusal (one example problem).
    let res = app.get("/problems/template.csv", &co).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.starts_with(&[0xEF, 0xBB, 0xBF]), "CSV with BOM");
    let text = res.text();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("镇街,房屋编号,问题类别,问题描述,整改时限"),
        "{text}"
    );
    let template = res.body.clone();
    // Not a spreadsheet at all: refused with the reader's reason.
    issue(("清单.csv", b"\x89PNG\r\n\x1a\n\0\0".to_vec()))
        .await
        .refusal("不是有效的");
    assert_eq!(problem_rows(store).await, 0);
    let res = issue(("问题清单模板.csv", template)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(problem_rows(store).await, 1);
    // A clerk cannot issue.
    let refused = multipart("/problems", &clerk, &[("source", "self_check")], None);
    assert_eq!(app.send(refused).await.status, StatusCode::FORBIDDEN);
    // A good list, as xlsx.
    let xlsx = problem_list_xlsx(&[[
        "370829101",
        h.code.as_str(),
        "销号不实",
        "以围挡代替加固",
        "2024-06-15",
    ]]);
    let res = issue(("清单.xlsx", xlsx)).await;
    assert_eq!(
        (res.status, res.location()),
        (StatusCode::SEE_OTHER, "/problems"),
        "{}",
        res.text()
    );
    let list = app.get("/problems", &clerk).await.text();
    assert!(
        list.contains("以围挡代替加固") && list.contains("待确认"),
        "{list}"
    );
    let id = store.system("test").problems(None).await.unwrap()[0].id;
    let path = format!("/problems/{id}");
    let act = |user: &User, action: &str, version: &str, text: &str, file: bool| {
        app.send(multipart(
            &format!("{path}/act"),
            user,
            &[("action", action), ("version", version), ("text", text)],
            file.then(|| ("files", "整改后.jpg", jpeg())),
        ))
    };
    let page = app.get(&path, &clerk).await.text();
    assert!(
        page.contains("确认属实") && page.contains("申报不属实") && !page.contains("核验销号"),
        "{page}"
    );
    assert_eq!(
        act(&clerk, "confirm", "1", "", false).await.status,
        StatusCode::SEE_OTHER
    );
    // Fixed without evidence: the rule in words, nothing changed.
    act(&clerk, "report_fixed", "2", "已拆除围挡并加固", false)
        .await
        .refusal("（规则 E1）");
    assert_eq!(
        act(&clerk, "report_fixed", "2", "已拆除围挡并加固", true)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // The town cannot verify its own fix.
    let res = act(&clerk, "verify", "3", "", false).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let page = app.get(&path, &co).await.text();
    assert!(
        page.contains("核验销号") && page.contains("整改后.jpg"),
        "{page}"
    );
    assert_eq!(
        act(&co, "verify", "3", "", false).await.status,
        StatusCode::SEE_OTHER
    );
    let list = app.get("/problems", &co).await.text();
    assert!(
        list.contains("已销号") && list.matches("100.00%").count() >= 2,
        "{list}"
    );
    // Another town's clerk sees nothing of it.
    let far = app.user("far", Role::TownOperator, "370829102").await;
    assert_eq!(app.get(&path, &far).await.status, StatusCode::NOT_FOUND);
    let list = app.get("/problems", &far).await.text();
    assert!(!list.contains("以围挡代替加固"));
}

anju_store::both!(a_problem_is_issued_confirmed_fixed_and_verified);
