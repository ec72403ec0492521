//! A county other than the demo's goes live without `anju demo`, on SQLite and PostgreSQL: a
//! fresh database set up for Wenshang from the national table, the first administrator (one-time
//! password, changed), who adds a village on the 区划 page and a town clerk; the clerk registers
//! a house in a real village through the web form (and in the new one) and imports a ledger.

use crate::common;

use anju_store::Store;
use axum::http::StatusCode;
use common::{TestApp, User, login};

/// The one-time password shown once on the accounts page.
fn issued_password(html: &str) -> String {
    let start = html
        .find("<code class=\"secret\">")
        .expect("a password is shown")
        + 21;
    let end = start + html[start..].find("</code>").unwrap();
    html[start..end].to_string()
}

/// Logs in with a one-time password and sets a new one, as a person does on first login.
async fn first_login(app: &TestApp, username: &str, otp: &str) -> User {
    let (cookie, csrf) = login(&app.store, username, otp).await;
    let new = "Wenshang-2024q";
    let change = [("old", otp), ("new", new), ("confirm", new)];
    let res = app
        .post_form("/password", &User { cookie, csrf }, &change)
        .await;
    assert_eq!(
        (res.status, res.location()),
        (StatusCode::SEE_OTHER, "/"),
        "{}",
        res.text()
    );
    let (cookie, csrf) = login(&app.store, username, new).await;
    User { cookie, csrf }
}

async fn a_fresh_install_for_wenshang_registers_and_imports_without_the_demo(store: &Store) {
    // `anju init --county 370830`, then `anju serve`'s first start.
    let wenshang = anju_divisions::county("370830").unwrap();
    let edition = anju_divisions::edition();
    store
        .init_county(&wenshang.regions(edition.reference_date, true), edition.id)
        .await
        .unwrap();
    let county = store.county_code().unwrap();
    let (admin, otp) = store.bootstrap_admin(county).await.unwrap().unwrap();
    assert_eq!(admin.username, "admin");
    let app = TestApp::new(store);
    let admin = first_login(&app, "admin", &otp).await;

    // The home page and the ledger name the county from its data, never the demo's.
    let html = app.page("/ledgers/2", &admin).await;
    assert!(html.contains("汶上县"), "{html}");
    assert!(html.contains("南旺镇"), "every town is a row");
    assert!(!html.contains("嘉祥"), "no trace of the demo county");

    // The 区划 page: the towns with their villages; a new community is added under 中都街道.
    let html = app.page("/admin/regions", &admin).await;
    assert!(html.contains("汶上县（370830）"), "{html}");
    assert!(html.contains("中都街道") && html.contains("370830001"));
    let new_village = [
        ("op", "add"),
        ("parent", "370830001"),
        ("code", "370830001901"),
        ("name", "新城社区"),
        ("effective", "2024-01-01"),
    ];
    let html = app
        .post_form("/admin/regions", &admin, &new_village)
        .await
        .shown();
    assert!(html.contains("区划新增已保存"), "{html}");
    // The same code again is refused and named.
    app.post_form("/admin/regions", &admin, &new_village)
        .await
        .refusal("已被“新城社区”使用");

    // A town clerk for 中都街道, created by the administrator with a one-time password.
    let account = [
        ("username", "zd-jb"),
        ("display_name", "中都街道经办人"),
        ("role", "town_operator"),
        ("region", "370830001"),
    ];
    let html = app
        .post_form("/admin/accounts", &admin, &account)
        .await
        .shown();
    let clerk = first_login(&app, "zd-jb", &issued_password(&html)).await;

    // The registration form offers the town's real villages and the new one.
    let html = app.page("/houses/new", &clerk).await;
    let real = wenshang
        .villages
        .iter()
        .find(|v| v.code.as_str().starts_with("370830001"))
        .unwrap();
    assert!(html.contains(&format!("value=\"{}\"", real.code)), "{html}");
    assert!(
        html.contains("value=\"370830001901\""),
        "the added village is offered"
    );
    for village in [real.code.as_str(), "370830001901"] {
        let census = format!("WS-{village}");
        let form = common::registration_form(&census, village);
        let res = app.post_form("/houses/new", &clerk, &form).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
        let location = res.location();
        assert!(location.starts_with("/houses/AJ370830"), "{location}");
    }

    // A ledger of two more houses in real villages, imported through the web.
    let name = &real.name;
    let file = format!(
        "\u{feff}普查房屋编号,村（社区）,房屋地址,产权人（户主）,房屋用途,地上层数,建筑面积（㎡）,结构类型\r\n\
         WS-1,{},一组1号,王一,其他自建房,2,120,砌体结构(砖混)\r\n\
         WS-2,{name},一组2号,王二,其他自建房,3,150.5,砌体结构(砖混)\r\n",
        real.code
    );
    let (_, html) = app
        .import(&clerk, file.as_bytes(), "台账.csv", "commit")
        .await;
    assert!(html.contains("已导入"), "{html}");
    let list = app.get("/houses", &clerk).await.text();
    for who in ["王一", "王二"] {
        assert!(list.contains(who), "{who} imported: {list}");
    }
    let totals = store
        .system("test")
        .within(&anju_domain::Scope::Region { code: county })
        .town_totals()
        .await
        .unwrap();
    let zhongdu = totals.iter().find(|t| t.town_code.starts_with("370830001"));
    assert_eq!(zhongdu.map(|t| t.houses), Some(4), "{totals:?}");
}

anju_store::both_empty!(a_fresh_install_for_wenshang_registers_and_imports_without_the_demo);
