//! 用户/设置 through the real router, on SQLite and PostgreSQL: the county office creates,
//! resets, disables and re-enables accounts (one-time passwords shown once, each change
//! audited); edits deadlines, the security policy and dictionaries; bad input changes nothing;
//! nobody else can.

use crate::common;

use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::*;

fn one_time_password(html: &str) -> String {
    html.split("<code class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a one-time password on the page")
        .to_string()
}

async fn audit_actions(store: &Store) -> Vec<String> {
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar::<_, String>("SELECT action FROM audit_log ORDER BY id").fetch_all(p).await).unwrap()
}

async fn the_county_office_manages_accounts(store: &Store) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let co = app.user("co", Role::CountyOffice, "370829").await;
    let page = app.get("/", &co).await.text();
    assert!(page.contains("/admin/accounts"), "the link is shown");
    let form = |u: &'static str, role: &'static str, region: &'static str| {
        [
            ("username", u),
            ("display_name", "李经办"),
            ("role", role),
            ("region", region),
        ]
    };
    // Bad input is named and creates nothing.
    let before = store.count_accounts().await.unwrap();
    for (pairs, msg) in [
        (
            form("bad name!", "town_operator", "370829101000"),
            "用户名须为",
        ),
        (form("li", "", "370829101000"), "请选择角色"),
        (form("li", "town_operator", ""), "请选择所属单位"),
        (form("co", "town_operator", "370829101000"), "已存在"),
    ] {
        app.post_form("/admin/accounts", &co, &pairs)
            .await
            .refusal(msg);
    }
    assert_eq!(store.count_accounts().await.unwrap(), before);

    let li_form = form("li", "town_operator", "370829101000");
    let html = app
        .post_form("/admin/accounts", &co, &li_form)
        .await
        .shown();
    let otp = one_time_password(&html);
    assert!(html.contains("只显示这一次"));
    // The one-time password logs in and must be changed first.
    let (cookie, csrf) = login(store, "li", &otp).await;
    let li = User { cookie, csrf };
    let res = app.get("/houses", &li).await;
    assert_eq!(
        (res.status, res.location()),
        (StatusCode::SEE_OTHER, "/password")
    );
    // The list shows it; the password itself never appears again.
    let list = app.get("/admin/accounts", &co).await.text();
    assert!(list.contains("李经办") && list.contains("待修改初始密码") && !list.contains(&otp));

    // Reset: a new one-time password, the old one stops working, sessions end.
    let res = app.post_form("/admin/accounts/li/reset", &co, &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    let otp2 = one_time_password(&res.text());
    assert_ne!(otp, otp2);
    assert!(
        store
            .login("li", &otp, None, "t", store.now())
            .await
            .is_err()
    );
    assert_eq!(app.get("/houses", &li).await.location(), "/login");
    // Disable: cannot log in; enable: can again.
    let res = app.post_form("/admin/accounts/li/disable", &co, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        store
            .login("li", &otp2, None, "t", store.now())
            .await
            .is_err()
    );
    app.post_form("/admin/accounts/li/enable", &co, &[]).await;
    assert!(
        store
            .login("li", &otp2, None, "t", store.now())
            .await
            .is_ok()
    );
    // Not one's own account.
    app.post_form("/admin/accounts/co/disable", &co, &[])
        .await
        .refusal("不能停用自己的账号");

    assert_audited(
        store,
        &[
            "account.create",
            "account.reset_password",
            "account.disable",
            "account.enable",
        ],
    )
    .await;

    // A town clerk and a town-level county account reach none of it; a town's county-office
    // account does not see or touch accounts of another town.
    let deadline = [("phase", "x"), ("due", "2024-01-01")];
    let clerk = app.user("clerk1", Role::TownOperator, "370829101").await;
    for (path, is_post) in [
        ("/admin/accounts", false),
        ("/admin/settings", false),
        ("/admin/accounts/li/reset", true),
        ("/admin/settings/deadlines", true),
    ] {
        let res = if is_post {
            app.post_form(path, &clerk, &deadline).await
        } else {
            app.get(path, &clerk).await
        };
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
    }
    let town_co = app.user("town-co", Role::CountyOffice, "370829102").await;
    let list = app.get("/admin/accounts", &town_co).await.text();
    assert!(!list.contains("李经办"), "another town's account listed");
    let res = app
        .post_form("/admin/accounts/li/reset", &town_co, &[])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .post_form("/admin/settings/deadlines", &town_co, &deadline)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

/// Every one of `wanted` is in the audit log.
async fn assert_audited(store: &Store, wanted: &[&str]) {
    let actions = audit_actions(store).await;
    for a in wanted {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}

anju_store::both!(the_county_office_manages_accounts);

async fn the_county_office_edits_deadlines_policy_and_dictionaries(store: &Store) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let co = app.user("co", Role::CountyOffice, "370829").await;
    let page = app.page("/admin/settings", &co).await;
    assert!(
        page.contains("全面复查复核") && page.contains("2024-04-30"),
        "the notice's dates by default"
    );

    // A bad date: named, nothing saved.
    let bad = [("phase", "回头看"), ("due", "2024-13-01"), ("overdue", "x")];
    app.post_form("/admin/settings/deadlines", &co, &bad)
        .await
        .refusal("截止日期无效");
    assert!(store.setting("deadlines").await.unwrap().is_none());
    // Two phases (a blank row ignored): the dashboard shows them.
    let two = [
        ("phase", "复查复核"),
        ("due", "2027-01-31"),
        ("overdue", "未回头看"),
        ("phase", "整治攻坚"),
        ("due", "2027-03-31"),
        ("overdue", "C、D级未整治"),
        ("phase", ""),
        ("due", ""),
        ("overdue", ""),
    ];
    let html = app
        .post_form("/admin/settings/deadlines", &co, &two)
        .await
        .shown();
    assert!(html.contains("阶段时限已保存"));
    let d = store.deadlines().await.unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].phase, "整治攻坚");
    assert_eq!(d[1].due.to_string(), "2027-03-31");
    let home = app.get("/", &co).await.text();
    assert!(
        home.contains("整治攻坚") && !home.contains("全面复查复核"),
        "{home}"
    );

    // The policy can be tightened, never loosened below the floor.
    let policy = |min: &'static str| {
        [
            ("min_length", min),
            ("min_classes", "3"),
            ("history", "5"),
            ("max_age_days", "90"),
            ("max_failures", "5"),
            ("lock_minutes", "30"),
            ("idle_minutes", "30"),
            ("absolute_hours", "12"),
            ("totp_required_for_signers", "true"),
        ]
    };
    app.post_form("/admin/settings/security", &co, &policy("6"))
        .await
        .refusal("密码最短长度");
    assert_eq!(store.security().await.unwrap().password.min_length, 8);
    let res = app
        .post_form("/admin/settings/security", &co, &policy("12"))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let sec = store.security().await.unwrap();
    assert_eq!(sec.password.min_length, 12);
    assert!(sec.session.totp_required_for_signers);

    // Dictionaries: a new survey round appears in the survey form; retiring hides it there
    // (kept in the store), restoring brings it back.
    let kind = anju_domain::dict::kind::SURVEY_ROUND;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let clerk = app.user("clerk1", Role::TownOperator, "370829101").await;
    let form = format!("/houses/{}/steps/surveyed", h.code);
    let dict = |op: &'static str| [("kind", kind), ("label", "2027年春季复查"), ("op", op)];
    let res = app
        .post_form("/admin/dictionaries", &co, &dict("add"))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let offered = || async {
        app.get(&form, &clerk)
            .await
            .text()
            .contains("2027年春季复查")
    };
    assert!(offered().await);
    app.post_form("/admin/dictionaries", &co, &dict("retire"))
        .await;
    assert!(!offered().await);
    let entries = store.dictionary_entries().await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.label == "2027年春季复查" && !e.active)
    );
    app.post_form("/admin/dictionaries", &co, &dict("restore"))
        .await;
    assert!(offered().await);
    let unknown = [("kind", "no_such"), ("label", "x"), ("op", "add")];
    app.post_form("/admin/dictionaries", &co, &unknown)
        .await
        .refusal("没有名为");

    assert_audited(
        store,
        &[
            "setting.deadlines",
            "setting.security",
            "dictionary.add",
            "dictionary.retire",
            "dictionary.restore",
        ],
    )
    .await;
}

use anju_domain::dict::UsageCategory;

anju_store::both!(the_county_office_edits_deadlines_policy_and_dictionaries);

async fn the_county_office_sets_the_backup_schedule_and_is_warned_when_backups_are_stale(
    store: &Store,
) {
    let app = TestApp::new(store);
    let co = app.user("bk-co", Role::CountyOffice, "370829").await;
    let clerk = app.user("bk-clerk", Role::TownOperator, "370829101").await;
    // Never backed up: the county office is warned on the home page, a town clerk is not.
    let html = app.get("/", &co).await.text();
    assert!(
        html.contains("data-backup-warning") && html.contains("尚未成功备份"),
        "{html}"
    );
    let html = app.get("/", &clerk).await.text();
    assert!(!html.contains("data-backup-warning"));
    // The schedule: a bad time refused by name, a good one saved and shown.
    let bad = [("enabled", "true"), ("time", "25:61"), ("keep", "7")];
    app.post_form("/admin/settings/backup", &co, &bad)
        .await
        .refusal("备份时间“25:61”无效");
    let good = [("enabled", "true"), ("time", "03:15"), ("keep", "10")];
    let html = app
        .post_form("/admin/settings/backup", &co, &good)
        .await
        .shown();
    assert!(html.contains("自动备份设置已保存") && html.contains("value=\"03:15\""));
    assert_eq!(store.backup_schedule().await.unwrap().keep, 10);
    // A good backup recorded: the settings page shows it and the warning is gone.
    store
        .record_backup(anju_store::infra::backup::LastBackup {
            at: store.now().to_rfc3339(),
            ok: true,
            detail: "/var/backups/anju/anju-20261130-031500".into(),
            bytes: 3 * 1048576,
            houses: 12,
            last_good: None,
        })
        .await
        .unwrap();
    let html = app.get("/admin/settings", &co).await.text();
    assert!(html.contains("成功，12 栋房屋，3 MB"), "{html}");
    let html = app.get("/", &co).await.text();
    assert!(!html.contains("data-backup-warning"), "{html}");
    // A town clerk cannot change the schedule.
    let res = app.post_form("/admin/settings/backup", &clerk, &good).await;
    assert!(res.status.is_client_error());
}

anju_store::both!(the_county_office_sets_the_backup_schedule_and_is_warned_when_backups_are_stale);
