//! The `anju` command as a user runs it, and the demo county moved between backends.

use crate::common::{anju, anju_in, assert_success, run_in};
use anju_store::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_county_moves_sqlite_to_postgres_and_back_byte_identical() {
    let sqlite = testing::sqlite().await;
    let summary = anju::demo::load(&sqlite.store, 3_000, 7, |_| {})
        .await
        .unwrap();
    assert_eq!(summary.houses, 3_000);
    assert!(summary.refused.len() >= 3, "{:?}", summary.refused);
    let mut first = Vec::new();
    let n = sqlite
        .store
        .system("test")
        .export_events(&mut first)
        .await
        .unwrap();
    assert_eq!(n, summary.events);

    let pg = testing::postgres().await;
    let actor = anju_store::houses::log::cli_actor();
    let imported = pg
        .store
        .system("test")
        .import_events(&mut first.as_slice(), &actor)
        .await
        .unwrap();
    assert_eq!((imported.houses, imported.events), (3_000, summary.events));
    let mut second = Vec::new();
    pg.store
        .system("test")
        .export_events(&mut second)
        .await
        .unwrap();
    assert!(
        first == second,
        "SQLite → JSONL → PostgreSQL → JSONL differs"
    );
    let faults = pg.store.system("test").verify_projection().await.unwrap();
    assert!(faults.is_empty());
    // Both databases' event chains are vouched for by their own audit trails.
    for store in [&sqlite.store, &pg.store] {
        let check = store.system("test").verify_all().await.unwrap();
        assert!(check.is_clean(), "{check:?}");
        assert_eq!(check.houses, 3_000);
    }
    assert_eq!(
        sqlite.store.system("test").town_totals().await.unwrap(),
        pg.store.system("test").town_totals().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_deterministic_and_walks_every_town() {
    let a = testing::sqlite().await;
    let b = testing::postgres().await;
    anju::demo::load(&a.store, 2_000, 11, |_| {}).await.unwrap();
    anju::demo::load(&b.store, 2_000, 11, |_| {}).await.unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    a.store.system("test").export_events(&mut x).await.unwrap();
    b.store.system("test").export_events(&mut y).await.unwrap();
    assert!(x == y, "the same seed gave different counties");
    let towns = a.store.system("test").town_totals().await.unwrap();
    assert_eq!(towns.len(), 16);
    assert!(towns.iter().all(|t| t.houses > 0 && t.hazard > 0));
    let text = String::from_utf8(x).unwrap();
    for kind in [
        "registered",
        "surveyed",
        "reviewed",
        "appraised",
        "owner_notified",
        "interim_control_applied",
        "engineering_started",
        "engineering_accepted",
        "closed",
        "legacy_closure_recorded",
        "look_back_reviewed",
        "reopened",
        "reclassified",
    ] {
        assert!(
            text.contains(&format!("\"type\":\"{kind}\"")),
            "no {kind} event in the demo"
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["events", "--help"],
        vec!["events", "export", "--help"],
        vec!["events", "import", "--help"],
        vec!["check", "--help"],
        vec!["serve", "--help"],
        vec!["bench", "--help"],
        vec!["ledger", "--help"],
        vec!["report", "--help"],
        vec!["report", "prepare", "--help"],
        vec!["init", "--help"],
        vec!["regions", "--help"],
        vec!["regions", "list", "--help"],
        vec!["regions", "import", "--help"],
    ] {
        let out = anju().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn demo_export_import_and_check_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let run = |args: &[&str]| run_in(&data, args);
    let out = run(&["demo", "--houses", "500", "--seed", "3"]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("500 栋房屋"), "{stdout}");
    // A second demo into the same database is refused, and names the way out.
    let out = run(&["demo", "--houses", "500"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reset"));
    let log = dir.path().join("log.jsonl");
    assert!(
        run(&[
            "events",
            "export",
            "--include-personal",
            "--out",
            log.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(run(&["check"]).status.success());
    // Without the explicit confirmation there is no export of personal data.
    let refused = run(&["events", "export"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--include-personal"));
    // Into another data directory, then exported again: the same bytes.
    let other = dir.path().join("b");
    let out = run_in(&other, &["events", "import", log.to_str().unwrap()]);
    assert_success(&out);
    let again = run_in(&other, &["events", "export", "--include-personal"]);
    assert_eq!(again.stdout, std::fs::read(&log).unwrap());
    // A broken log is refused with its line, and exits non-zero.
    let bad = dir.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"not\":\"an event\"}\n");
    std::fs::write(&bad, text).unwrap();
    let third = dir.path().join("c");
    let out = run_in(&third, &["events", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("行"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary folder and, in it, a data directory with the demo county of `houses` houses
/// made from `seed`.
fn with_demo(houses: &str, seed: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(
        run_in(&data, &["demo", "--houses", houses, "--seed", seed])
            .status
            .success()
    );
    (dir, data)
}

#[test]
fn ledgers_come_out_as_xlsx_pdf_csv_and_json_from_the_command_line() {
    use calamine::Reader;
    let (dir, data) = with_demo("800", "5");
    let run = |args: &[&str]| run_in(&data, args);
    // `anju ledger <args> --out <file>` succeeds: the file it wrote.
    let ledger_file = |name: &str, args: &[&str]| {
        let file = dir.path().join(name);
        let out = [&["ledger"], args, &["--out", file.to_str().unwrap()]].concat();
        assert_success(&run(&out));
        file
    };
    let xlsx = ledger_file(
        "a2.xlsx",
        &["--form", "2", "--format", "xlsx", "--preparer", "王五"],
    );
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("附件2").unwrap();
    assert_eq!(
        range.get_value((1, 0)).unwrap().to_string(),
        "嘉祥县自建房安全专项整治攻坚行动工作台账"
    );
    // 16 towns and 合计 below the three header rows.
    assert_eq!(range.get_value((6 + 16, 0)).unwrap().to_string(), "合计");
    let pdf = ledger_file(
        "a1.pdf",
        &[
            "--form",
            "1",
            "--town",
            "370829101",
            "--as-of",
            "2024-05-01",
            "--format",
            "pdf",
        ],
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let csv = run(&["ledger", "--form", "2", "--format", "csv", "--out", "-"]);
    assert!(
        String::from_utf8(csv.stdout)
            .unwrap()
            .starts_with("\u{feff}镇街,")
    );
    let json = run(&["ledger", "--form", "2", "--format", "json", "--out", "-"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 17);
    let bad = run(&["ledger", "--form", "2", "--format", "doc", "--out", "-"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("不支持的格式"));
}

#[test]
fn a_town_hands_in_a_ledger_from_the_command_line() {
    let (_dir, data) = with_demo("600", "9");
    let run = |args: &[&str]| run_in(&data, args);
    let out = run(&[
        "report",
        "--actor",
        "t101-jb",
        "prepare",
        "--form",
        "2",
        "--town",
        "370829101",
        "--as-of",
        "2024-06-04",
        "--contact",
        "0537-1",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("已填报台账 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The operator may not sign (refused by the rule, no password asked); the principal may,
    // once, with the account's password.
    let out = run(&["report", "--actor", "t101-jb", "sign", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("（规则 P1）"));
    let password = std::fs::read_to_string(data.join("demo-accounts.txt")).unwrap();
    let sign = |password: &str| {
        anju_in(&data)
            .env("ANJU_PASSWORD", password.trim())
            .args(["report", "--actor", "t101-fz", "sign", "1"])
            .output()
            .unwrap()
    };
    // Not the person: an account that does not exist, a role it does not have, a wrong
    // password — each refused, nothing signed.
    let out = run(&["report", "--actor", "nobody", "sign", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("账号“nobody”不存在"));
    let out = run(&[
        "report",
        "--actor",
        "t101-jb",
        "--role",
        "town_principal",
        "sign",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("的角色是镇街经办人"));
    let out = sign("wrong-password");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("身份确认未通过"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&run(&["report", "show", "1"]).stdout).contains("已填报"));
    let out = sign(&password);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("已签字"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sign(&password);
    assert!(String::from_utf8_lossy(&out.stderr).contains("（规则 R5）"));
    let out = run(&["report", "show", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("校验一致") && text.contains("合计"),
        "{text}"
    );
    // An insider adds one to the frozen 合计 and stores the digest of the edited snapshot:
    // the snapshot agrees with its digest, not with the signature's audit row.
    let url = format!("sqlite://{}", data.join("anju.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = anju_store::Db::connect(&url).await.unwrap();
        let snapshot: String = anju_store::on_db!(&db, p => sqlx::query_scalar(
            "SELECT snapshot FROM ledger_reports WHERE id = 1").fetch_one(p).await).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
        let first = v["table"]["total"]["counts"][0].as_i64().unwrap();
        v["table"]["total"]["counts"][0] = serde_json::json!(first + 1);
        let forged = v.to_string();
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(forged.as_bytes()))
        };
        anju_store::on_db!(&db, p => sqlx::query("UPDATE ledger_reports SET snapshot = $1, digest = $2 WHERE id = 1")
            .bind(&forged).bind(&digest).execute(p).await.map(|_| ())).unwrap();
        db.close().await;
    });
    let out = run(&["report", "show", "1"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("校验不通过"), "{stdout}");
    assert!(
        stderr.contains("与签字时审计日志记录的") && stderr.contains("快照和摘要在签字后被改动"),
        "{stderr}"
    );
}

/// `anju audit verify` on a demo county: clean, then a house's event edited in the database is
/// named by its code and the command fails; the same on PostgreSQL.
fn audit_verify_names_an_edited_house(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let run = |args: &[&str]| {
        let mut c = anju_in(&data);
        if let Some(u) = url {
            c.arg("--database-url").arg(u);
        }
        c.args(args).output().unwrap()
    };
    let out = run(&["demo", "--houses", "200", "--seed", "3"]);
    assert_success(&out);
    let out = run(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("事件链完整：200 栋房屋"), "{text}");
    let url = url.map_or_else(
        || format!("sqlite://{}", data.join("anju.db").display()),
        str::to_string,
    );
    let code = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = anju_store::Db::connect(&url).await.unwrap();
        // The 17th house's first event gets another actor name.
        let code: String = anju_store::on_db!(&db, p => sqlx::query_scalar(
            "SELECT code FROM houses ORDER BY id LIMIT 1 OFFSET 16").fetch_one(p).await).unwrap();
        anju_store::on_db!(&db, p => sqlx::query(
            "UPDATE events SET actor_name = '伪造' WHERE seq = 1 AND house_id = (SELECT id FROM houses WHERE code = $1)")
            .bind(&code).execute(p).await.map(|_| ())).unwrap();
        db.close().await;
        code
    });
    let out = run(&["audit", "verify"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "房屋 {code}：第 1 条事件（registered）在数据库中被改动"
        )),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("房屋 AJ").count(),
        1,
        "only that house: {stdout}"
    );
    assert!(stderr.contains("校验不通过：1 栋房屋有问题"), "{stderr}");
}

#[test]
fn audit_verify_names_an_edited_house_on_sqlite() {
    audit_verify_names_an_edited_house(None);
}

#[test]
fn audit_verify_names_an_edited_house_on_postgres() {
    let admin = testing::postgres_admin_url();
    let name = format!("anju_cli_verify_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
        anju_store::infra::db::with_database(&admin, &name)
    });
    audit_verify_names_an_edited_house(Some(&url));
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    });
}

/// A county other than the demo's goes live from the command line: `init` from the shipped
/// table, `serve` refusing until then, a region list imported, `init` again changing nothing,
/// and another county refused.
#[test]
fn any_county_is_set_up_from_the_shipped_table_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("wenshang");
    let run = |args: &[&str]| {
        let out = run_in(&data, args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Before init: serve says how to set the county up, and starts nothing.
    let (ok, _, err) = run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(err.contains("anju init --county"), "{err}");

    let (ok, _, err) = run(&["init", "--county", "379999"]);
    assert!(!ok);
    assert!(err.contains("379999"), "{err}");
    let (ok, out, err) = run(&["init", "--county", "汶上"]);
    assert!(ok, "{err}");
    assert!(out.contains("370830"), "{out}");
    assert!(out.contains("15 个镇街、372 个村（社区）"), "{out}");

    let (ok, out, _) = run(&["regions", "list", "--level", "village"]);
    assert!(ok);
    assert_eq!(
        out.lines().count(),
        1 + 372,
        "header and one line per village"
    );
    let (_, out, _) = run(&["regions", "list", "--level", "town"]);
    assert_eq!(out.lines().count(), 1 + 15);

    // A list with one bad row adds nothing; the good list adds its rows once.
    let list = dir.path().join("新设社区.csv");
    std::fs::write(
        &list,
        "代码,名称,上级代码\n370830001901,新城社区,370830001\n370830001902,,370830001\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["regions", "import", list.to_str().unwrap(), "--commit"]);
    assert!(!ok);
    assert!(err.contains("第 3 行"), "{err}");
    std::fs::write(
        &list,
        "代码,名称,上级代码\n370830001901,新城社区,370830001\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["regions", "import", list.to_str().unwrap(), "--commit"]);
    assert!(ok, "{err}");
    assert!(out.contains("已新增 1 个区划"), "{out}");
    let (_, out, _) = run(&["regions", "list", "--level", "village"]);
    assert_eq!(out.lines().count(), 1 + 373);
    assert!(out.contains("370830001901\t新城社区"), "{out}");

    let (ok, out, _) = run(&["init", "--county", "370830"]);
    assert!(ok);
    assert!(out.contains("没有变化"), "{out}");
    let (ok, _, err) = run(&["init", "--county", "370829"]);
    assert!(!ok);
    assert!(err.contains("已设置为汶上县（370830）"), "{err}");
    assert!(err.contains("嘉祥县"), "{err}");
}

/// The lossless move from SQLite to PostgreSQL on the command line: backup, verify, restore
/// with the source's key file, then the restored system checks out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_moves_a_county_from_sqlite_to_postgresql_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("county");
    let run = |args: &[&str]| {
        let out = anju().args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let d = data.to_str().unwrap();
    let (ok, _, err) = run(&["--data-dir", d, "demo", "--houses", "300"]);
    assert!(ok, "{err}");
    let backup = dir.path().join("备份");
    let b = backup.to_str().unwrap();
    let (ok, out, err) = run(&["--data-dir", d, "backup", "--out", b]);
    assert!(ok, "{err}");
    assert!(out.contains("300 栋房屋"), "{out}");
    assert!(
        out.contains("keys.json"),
        "names the key file to keep apart: {out}"
    );
    assert!(!backup.join("keys.json").exists(), "no key in the backup");
    let (ok, out, _) = run(&["backup", "verify", b]);
    assert!(ok);
    assert!(out.contains("备份完好"), "{out}");

    let target = testing::postgres_empty().await;
    let url = target.url.clone();
    target.store.close().await;
    let keys = data.join("keys.json");
    let pg = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str(), "--data-dir", d];
        all.extend_from_slice(args);
        run(&all)
    };
    // Without the key file: refused before anything is written.
    let (ok, _, err) = run(&[
        "--database-url",
        &url,
        "--data-dir",
        dir.path().join("nokeys").to_str().unwrap(),
        "restore",
        b,
    ]);
    assert!(!ok);
    assert!(err.contains("密钥文件"), "{err}");
    let (ok, out, err) = pg(&["--key-file", keys.to_str().unwrap(), "restore", b]);
    assert!(ok, "{err}");
    assert!(
        out.contains("300 栋房屋") && out.contains("哈希链校验通过"),
        "{out}"
    );
    let (ok, out, err) = pg(&["--key-file", keys.to_str().unwrap(), "check"]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = pg(&["--key-file", keys.to_str().unwrap(), "audit", "verify"]);
    assert!(ok, "{err}");
    // Restoring again into the now full database is refused.
    let (ok, _, err) = pg(&["--key-file", keys.to_str().unwrap(), "restore", b]);
    assert!(!ok);
    assert!(err.contains("不是空的"), "{err}");
}
