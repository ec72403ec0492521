//! 台账导入 through the real router, on SQLite and PostgreSQL: the templates re-read, a file
//! with bad rows reported row by row and nothing written, a good file checked then imported,
//! the same file again changing nothing, a zip bomb refused, and the job private to its owner.

use crate::common;

use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::{TestApp, User, post, run};

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(
        "\u{feff}普查房屋编号,村（社区）,房屋地址,产权人（户主）,房屋用途,地上层数,建筑面积（㎡）,结构类型\r\n",
    );
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.into_bytes()
}

async fn a_ledger_is_checked_reported_and_imported_once(store: &Store) {
    with_villages(store).await;
    let t = TestApp::new(store);
    let user = t.user("imp-clerk", Role::TownOperator, "370829101").await;

    // The templates: xlsx with block titles over the headers, and CSV.
    let res = t.get("/import/template.xlsx", &user).await;
    assert_eq!(res.status, StatusCode::OK);
    let rows = common::xlsx_rows(&res.body);
    assert_eq!(rows[0][0], "房屋基本情况");
    assert!(rows[0].contains(&"整治情况".to_string()));
    assert!(
        rows[1].contains(&"*村（社区）".to_string()) && rows[1].contains(&"销号依据".to_string())
    );
    let bytes = t.get("/import/template.csv", &user).await.body;
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .starts_with("\u{feff}自建房编号（归集平台）,")
    );

    // Bad rows: each named, nothing written.
    let before = snapshot(store).await;
    let bad = csv(&[
        &format!("PC-1,{VILLAGE},一组1号,王一,其他自建房,2,120,砌体结构(砖混)"),
        &format!("PC-2,{VILLAGE},一组2号,王二,商铺,2,120,砌体结构(砖混)"),
        &format!("PC-1,{VILLAGE},一组3号,王三,其他自建房,2,120,砌体结构(砖混)"),
        &format!("PC-4,{OTHER_VILLAGE},二组1号,王四,其他自建房,2,120,砌体结构(砖混)"),
    ]);
    let (_, html) = t.import(&user, &bad, "坏台账.csv", "commit").await;
    assert!(html.contains("有 3 行有误"), "{html}");
    for (row, why) in [
        ("3", "房屋用途"),
        ("4", "与第 2 行重复"),
        ("5", "不在您的辖区内"),
    ] {
        assert!(
            html.contains(&format!("<td>{row}</td><td>")) && html.contains(why),
            "row {row}: {html}"
        );
    }
    assert_eq!(snapshot(store).await, before, "nothing written");

    // A good file: checked, then imported on confirmation.
    let good = csv(&[
        &format!("PC-1,{VILLAGE},一组1号,王一,其他自建房,2,120,砌体结构(砖混)"),
        &format!("PC-2,{VILLAGE},一组2号,王二,其他自建房,3,150.5,砌体结构(砖混)"),
    ]);
    let (job, html) = t.import(&user, &good, "好台账.csv", "check").await;
    assert!(html.contains("检查通过") && html.contains("2 栋"), "{html}");
    assert_eq!(snapshot(store).await, before, "a check writes nothing");
    let commit = post(
        &format!("{job}/commit"),
        &user.cookie,
        &[("csrf", &user.csrf)],
    );
    let (_, html) = run(&t.app, commit, &user.cookie).await;
    assert!(html.contains("已导入") && html.contains("新登记"), "{html}");
    let list = t.get("/houses?q=一组2号", &user).await.text();
    assert!(list.contains("一组2号"), "the imported house is listed");

    // Exported in the national five blocks: the imported houses, personal data masked; in
    // full only for an account that may export it.
    let text = t.page("/export/national.csv", &user).await;
    assert!(
        text.starts_with("\u{feff}自建房编号（归集平台）") && text.contains("一组2号"),
        "{text}"
    );
    assert_eq!(
        t.get("/export/national.csv?reveal=1", &user).await.status,
        StatusCode::FORBIDDEN
    );

    // The same file again: nothing changes.
    let after = snapshot(store).await;
    let (_, html) = t.import(&user, &good, "好台账.csv", "commit").await;
    assert!(
        html.contains("未变化") && html.contains("<td>2 栋</td>"),
        "{html}"
    );
    assert_eq!(snapshot(store).await, after, "idempotent");

    // The same ledger saved by Excel as plain "CSV" (GBK, no BOM): read as the same text, the
    // same houses, nothing changes.
    let text = String::from_utf8(good.clone()).unwrap();
    let gbk = encoding_rs::GB18030
        .encode(text.trim_start_matches('\u{feff}'))
        .0
        .into_owned();
    assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
    let (_, html) = t.import(&user, &gbk, "好台账（GBK）.csv", "commit").await;
    assert!(
        html.contains("未变化") && html.contains("<td>2 栋</td>"),
        "{html}"
    );
    assert_eq!(snapshot(store).await, after, "GBK reads the same");

    // A zip bomb: refused before inflating.
    let bomb = zip_bomb();
    let (_, html) = t.import(&user, &bomb, "bomb.xlsx", "commit").await;
    assert!(html.contains("未能导入") && html.contains("压缩"), "{html}");
    assert_eq!(snapshot(store).await, after);

    // Someone else's job is not found; a principal may not import.
    let other = t.user("imp-other", Role::TownOperator, "370829101").await;
    assert_eq!(t.get(&job, &other).await.status, StatusCode::NOT_FOUND);
    let boss = t.user("imp-boss", Role::TownPrincipal, "370829101").await;
    assert_eq!(t.get("/import", &boss).await.status, StatusCode::FORBIDDEN);
}

/// An xlsx whose worksheet inflates to 300 MB of spaces.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("[Content_Types].xml", opts).unwrap();
        z.write_all(b"<Types/>").unwrap();
        z.start_file("xl/workbook.xml", opts).unwrap();
        z.write_all(b"<workbook/>").unwrap();
        z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..300 {
            z.write_all(&chunk).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

anju_store::both!(a_ledger_is_checked_reported_and_imported_once);

fn closures_csv() -> Vec<u8> {
    let mut s = String::from(
        "\u{feff}普查房屋编号,村（社区）,房屋地址,产权人（户主）,房屋用途,地上层数,建筑面积（㎡）,结构类型,排查日期,隐患初判,隐患类别,复核日期,复核结论,销号日期,销号依据\r\n",
    );
    for (id, closed) in [("CL-1", "2024-04-02"), ("CL-2", "2024-04-03")] {
        s.push_str(&format!(
            "{id},{VILLAGE},三组{id},王五,其他自建房,2,120,砌体结构(砖混),2024-03-20,存在一定安全隐患,地基基础,2024-03-30,经复核无安全隐患,{closed},专业技术人员复核无隐患\r\n"
        ));
    }
    s.into_bytes()
}

/// Issue 18 item 3 in the browser's routes: a clerk imports closures; the import page, the
/// house page and the drill-down say they wait; the clerk cannot confirm; the principal
/// confirms one (password again, a wrong one refused), rejects the other with a reason; ⑦
/// counts the confirmed one and its drill-down row says it came from the imported ledger.
async fn imported_closures_wait_for_the_principal(store: &Store) {
    with_villages(store).await;
    let t = TestApp::new(store);
    let clerk = t.user("ic-clerk", Role::TownOperator, "370829101").await;
    let chief = t.user("ic-chief", Role::TownPrincipal, "370829101").await;
    let (_, html) = t
        .import(&clerk, &closures_csv(), "旧台账.csv", "commit")
        .await;
    assert!(
        html.contains("已导入") && html.contains("待镇街主要负责同志"),
        "{html}"
    );

    // Not counted: 附件2's ⑦ drill-down has nothing; the note says two wait.
    let drill = t.get("/ledgers/2/houses?column=5", &chief).await.text();
    assert!(drill.contains("另有 2 栋"), "{drill}");
    let seven = t.get("/ledgers/2/houses?column=11", &chief).await.text();
    assert!(seven.contains("共 0 条"), "{seven}");
    let county = anju_domain::RegionCode::parse("370829").unwrap();
    let c1 = anju_domain::HouseCode::new(&county, 1).to_string();
    let c2 = anju_domain::HouseCode::new(&county, 2).to_string();
    let house = t.get(&format!("/houses/{c1}"), &chief).await.text();
    assert!(
        house.contains("导入台账记载，待确认")
            && house.contains("销号（专业技术人员复核无隐患） 2024-04-02"),
        "{house}"
    );

    // The list: both houses; the clerk sees them without the confirm form, and is refused.
    let list = t.get("/imports/pending", &clerk).await.text();
    assert!(
        list.contains(&c1) && list.contains(&c2) && !list.contains("办理所选"),
        "{list}"
    );
    // `user` decides on the imported closure of `code` (with `more` fields).
    let decide = async |user: &User, code: &str, decision: &str, more: &[(&str, &str)]| {
        let mut pairs = vec![("code", code), ("decision", decision)];
        pairs.extend_from_slice(more);
        t.post_form("/imports/pending", user, &pairs).await
    };
    let refused = decide(&clerk, &c1, "confirm", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The principal: a wrong password changes nothing; the right one confirms.
    decide(
        &chief,
        &c1,
        "confirm",
        &[("confirm", "yes"), ("password", "not-the-password")],
    )
    .await
    .refusal("身份确认未通过");
    assert!(
        t.get("/ledgers/2/houses?column=11", &chief)
            .await
            .text()
            .contains("共 0 条")
    );
    let ok = decide(
        &chief,
        &c1,
        "confirm",
        &[("confirm", "yes"), ("password", common::TEST_PASSWORD)],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    let seven = t.get("/ledgers/2/houses?column=11", &chief).await.text();
    assert!(
        seven.contains("共 1 条")
            && seven.contains(&c1)
            && seven.contains("导入台账记载的销号，ic-chief姓名确认"),
        "{seven}"
    );
    let house = t.get(&format!("/houses/{c1}"), &chief).await.text();
    assert!(
        house.contains("导入台账记载，由ic-chief姓名确认"),
        "{house}"
    );

    // The other: rejected with a reason; off the list, still not closed.
    let rejected = decide(
        &chief,
        &c2,
        "reject",
        &[("reason", "无复核记录原件，须重新现场复核")],
    )
    .await;
    assert_eq!(
        rejected.status,
        StatusCode::SEE_OTHER,
        "{}",
        rejected.text()
    );
    let list = t.get("/imports/pending", &chief).await.text();
    assert!(list.contains("没有待确认的导入台账销号"), "{list}");
    assert!(
        t.get("/ledgers/2/houses?column=11", &chief)
            .await
            .text()
            .contains("共 1 条")
    );
}

anju_store::both!(imported_closures_wait_for_the_principal);
