//! Security as an operator meets it: a database dump holds no ID or phone number, `anju audit
//! verify` names the first broken link, `anju keys rotate` re-seals everything, `anju user add`
//! never sets a default password.

use crate::common::anju;
use anju_demo::Demo;
use anju_store::{on_db, testing};
use std::collections::HashSet;
use std::process::Command;

/// Every ID number and phone number of the demo's people.
fn demo_identifiers(houses: u64, seed: u64) -> HashSet<String> {
    let demo = Demo::new(houses, seed);
    let mut out = HashSet::new();
    for i in 0..houses {
        for e in demo.house(i).events {
            if let Some(p) = e.change.people() {
                if let Some(id) = &p.owner_id {
                    out.insert(id.as_str().to_string());
                }
                for phone in [
                    &p.owner_phone,
                    &p.user_phone,
                    &p.safety_phone,
                    &p.supervisor_phone,
                ]
                .into_iter()
                .flatten()
                {
                    out.insert(phone.as_str().to_string());
                }
            }
        }
    }
    out
}

/// Every 11- and 18-character window of every run of digits (and X) in `bytes`.
fn digit_windows(bytes: &[u8]) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut run = Vec::new();
    for &b in bytes.iter().chain(std::iter::once(&b' ')) {
        if b.is_ascii_digit() || b == b'X' {
            run.push(b);
            continue;
        }
        for n in [11, 18] {
            for w in run.windows(n) {
                out.insert(String::from_utf8_lossy(w).into_owned());
            }
        }
        run.clear();
    }
    out
}

fn leaked(dump: &[u8], known: &HashSet<String>) -> Vec<String> {
    let windows = digit_windows(dump);
    let mut v: Vec<String> = known.intersection(&windows).cloned().collect();
    v.sort();
    v
}

async fn plant(store: &anju_store::Store, value: &str) {
    on_db!(store.db_for_tests(), p => sqlx::query("INSERT INTO settings (key, value) VALUES ('planted', $1)").bind(value).execute(p).await.map(|_| ())).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_holds_no_id_or_phone_number_after_the_demo() {
    let db = testing::sqlite().await;
    anju::demo::load(&db.store, 1_500, 3, |_| {}).await.unwrap();
    let known = demo_identifiers(1_500, 3);
    assert!(
        known.len() > 2_000,
        "the demo has people with identifiers: {}",
        known.len()
    );
    let path = db.url.strip_prefix("sqlite://").unwrap().to_string();
    let read_all = || {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(b);
            }
        }
        bytes
    };
    assert_eq!(leaked(&read_all(), &known), Vec::<String>::new());
    // The check finds a planted plain value (it can fail).
    let one = known.iter().find(|k| k.len() == 18).unwrap().clone();
    plant(&db.store, &one).await;
    assert_eq!(leaked(&read_all(), &known), vec![one]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_holds_no_id_or_phone_number_after_the_demo() {
    let db = testing::postgres().await;
    anju::demo::load(&db.store, 1_500, 3, |_| {}).await.unwrap();
    let known = demo_identifiers(1_500, 3);
    let dump = || {
        let out = Command::new("pg_dump")
            .arg("--no-owner")
            .arg(&db.url)
            .output()
            .expect("pg_dump runs (postgresql-client)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.len() > 100_000, "a real dump");
        out.stdout
    };
    assert_eq!(leaked(&dump(), &known), Vec::<String>::new());
    let one = known.iter().find(|k| k.len() == 11).unwrap().clone();
    plant(&db.store, &one).await;
    assert_eq!(leaked(&dump(), &known), vec![one]);
}

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    anju()
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("ANJU_DATABASE_URL")
        .env_remove("ANJU_KEYS")
        .env_remove("ANJU_KEY_FILE")
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_first_broken_link_and_keys_rotate_reseals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(d, &["demo", "--houses", "300"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("演示账号"), "{}", text(&o));
    let o = run(d, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("审计日志完整"));

    // Rotate the key: everything re-sealed under key 2, key 1 gone, data still readable.
    let o = run(d, &["keys", "rotate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("新密钥 2"), "{}", text(&o));
    let keys = std::fs::read_to_string(d.join("keys.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&keys).unwrap();
    assert_eq!(v["current"], 2);
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("keys.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key file readable by others: {mode:o}");
    }
    let o = run(d, &["check"]);
    assert!(o.status.success(), "{}", text(&o));
    // Re-sealing changes no event's hash (personal data enters it under the index key, which
    // rotation keeps): everything still verifies.
    let o = run(d, &["audit", "verify"]);
    assert!(
        o.status.success() && text(&o).contains("事件链完整：300 栋房屋"),
        "{}",
        text(&o)
    );
    // With the wrong key file the store refuses to open, naming the cause.
    std::fs::write(
        d.join("other.json"),
        anju_store::Vault::generate().to_json(),
    )
    .unwrap();
    let o = run(
        d,
        &[
            "check",
            "--key-file",
            d.join("other.json").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("密钥"), "{}", text(&o));

    // A user added from the command line gets a one-time password, never a default one.
    let o = run(
        d,
        &[
            "user",
            "add",
            "--username",
            "t101-new",
            "--name",
            "新经办人",
            "--role",
            "town_operator",
            "--region",
            "370829101",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("一次性密码"));
    let o = run(d, &["user", "list"]);
    assert!(
        text(&o).contains("t101-new\t新经办人\t镇街经办人"),
        "{}",
        text(&o)
    );

    // Tamper with one audit row: verify fails and names it.
    let url = format!("sqlite://{}", d.join("anju.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET outcome = 'ok' WHERE id = 5")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let o = run(d, &["audit", "verify"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("第 5 条处断裂"), "{}", text(&o));
}
