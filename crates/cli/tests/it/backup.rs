//! The restore drill, on both backends: a demo county with accounts, a problem batch, a signed
//! report and evidence files is backed up while a writer records steps, then restored into an
//! empty database of the other backend. The audit chain verifies, every house replays to its
//! stored state, the ledgers equal the source's as recorded at the backup's last event, the
//! signed report still verifies, an account logs in, and the evidence files are there, intact.
//! Also: a changed backup file is caught by `verify`, a non-empty target and a missing key are
//! refused, and every table of the schema is either backed up or left out on purpose.

use anju_domain::Scope;
use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::problem::{ProblemCategory, ProblemSource};
use anju_domain::report::ReportAction;
use anju_store::campaign::problems::{NewBatch, NewProblem};
use anju_store::infra::backup;
use anju_store::ledgers::reports::NewReport;
use anju_store::testing::{self, TestDb, actor, clerk};
use anju_store::{NewAccount, Store, Vault};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const TOWN: &str = "370829101";

/// The source county: demo houses, an account, a problem batch, a signed report, evidence.
async fn populate(store: &Store, evidence: &std::path::Path) -> (i64, String) {
    anju::demo::load(store, 600, 13, |_| {}).await.unwrap();
    let town = RegionCode::parse(TOWN).unwrap();
    store
        .create_demo_account(
            &Principal::system(),
            &NewAccount {
                username: "t101-fz".into(),
                display_name: "纸坊镇主要负责同志".into(),
                role: Role::TownPrincipal,
                region: Some(town),
                department: None,
            },
            "Anju-2024q",
        )
        .await
        .unwrap();
    let county = actor("co", Role::CountyOffice);
    store
        .system("test")
        .issue_problems(
            &county,
            &NewBatch {
                source: ProblemSource::OnlineInspection,
                name: "2024年第3批线上巡检".into(),
                issued_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 10).unwrap(),
            },
            &[NewProblem {
                row_no: 2,
                town,
                house: None,
                category: ProblemCategory::FalseClosure,
                description: "销号依据不足".into(),
                deadline: None,
            }],
        )
        .await
        .unwrap();
    let scope = Scope::Region { code: town };
    let id = store
        .system("test")
        .within(&scope)
        .prepare_report(
            &actor("t101-jb", Role::TownOperator),
            &NewReport {
                form: Form::Attachment2,
                unit: town,
                as_of: chrono::NaiveDate::from_ymd_opt(2024, 6, 4).unwrap(),
                contact: "0537-1234567".into(),
                supersedes: None,
            },
        )
        .await
        .unwrap();
    store
        .system("test")
        .within(&scope)
        .act_on_report(
            &actor("t101-fz", Role::TownPrincipal),
            id,
            &ReportAction::Sign,
        )
        .await
        .unwrap();
    let files = anju_evidence::EvidenceStore::open(evidence).unwrap();
    let csv = evidence.join("回执.csv");
    std::fs::write(&csv, "编号,签收\n1,已签收\n").unwrap();
    let stored = files.put_ledger(&csv, anju_evidence::Media::Csv).unwrap();
    std::fs::remove_file(&csv).unwrap();
    (id, stored.sha256)
}

/// A populated SQLite county, and the work folder holding its evidence files.
async fn populated_sqlite() -> (TestDb, tempfile::TempDir, std::path::PathBuf) {
    let src = testing::sqlite().await;
    let work = tempfile::tempdir().unwrap();
    let evidence = work.path().join("evidence");
    populate(&src.store, &evidence).await;
    (src, work, evidence)
}

async fn max_recorded(store: &Store) -> i64 {
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar::<_, i64>("SELECT MAX(recorded_at) FROM events").fetch_one(p).await).unwrap()
}

/// `empty` opened with the key file of `src` and the backup in `dir` restored into it.
async fn restored(
    src: &Store,
    empty: &TestDb,
    dir: &std::path::Path,
    manifest: &backup::Manifest,
) -> Store {
    let keys = Vault::from_json(&src.vault().to_json()).unwrap();
    let dst = Store::open(&empty.url, keys).await.unwrap();
    dst.system("test")
        .restore_tables(dir, manifest)
        .await
        .unwrap();
    dst
}

async fn drill(src: TestDb, empty: TestDb) {
    let work = tempfile::tempdir().unwrap();
    let evidence = work.path().join("evidence");
    let (report, sha) = populate(&src.store, &evidence).await;

    // A writer records steps on fresh houses the whole time the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (src.store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) && n < 400 {
                // Each house in a task of its own: a write the starved machine could not
                // finish (a busy database under CI load) ends the writer, named, instead of
                // failing the drill — what the drill checks is that every write acknowledged
                // before the snapshot is restored, and nothing after it half-way.
                let store = store.clone();
                let one = tokio::spawn(async move {
                    let mut h = testing::House::register(
                        &store,
                        50_000 + n,
                        "370829101200",
                        UsageCategory::Other,
                    )
                    .await;
                    h.ok(&clerk(), testing::survey(Judgement::NoHazard)).await;
                })
                .await;
                if let Err(e) = one {
                    eprintln!("the writer stopped after {n} houses: {e}");
                    break;
                }
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let dir = work.path().join("backup");
    let manifest = anju::backup::take(&src.store, &evidence, &dir, None)
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 0, "the writer ran during the backup");
    assert_eq!(backup::verify(&dir).unwrap(), manifest);
    assert_eq!(manifest.evidence.len(), 1);

    // Restore into an empty database of the other backend, with the source's key file.
    let dst = restored(&src.store, &empty, &dir, &manifest).await;
    let restored_evidence = work.path().join("restored-evidence");
    assert_eq!(
        backup::restore_evidence(&dir, &manifest, &restored_evidence).unwrap(),
        1
    );

    assert_eq!(
        anju_store::infra::audit::verify(dst.db_for_tests())
            .await
            .unwrap(),
        None
    );
    let faults = dst.system("test").verify_projection().await.unwrap();
    assert!(faults.is_empty());
    // The event chain came along: every house's events still hash to the head the restored
    // audit trail vouches for.
    let check = dst.system("test").verify_all().await.unwrap();
    assert!(check.is_clean() && check.houses > 0, "{check:?}");
    let at = max_recorded(&dst).await;
    let instant = anju_store::infra::codec::from_micros(at).unwrap();
    for form in [Form::Attachment1, Form::Attachment2] {
        let restored = dst.system("test").ledger(form, AsOf::Now).await.unwrap();
        let source = src
            .store
            .system("test")
            .ledger(form, AsOf::Recorded(instant))
            .await
            .unwrap();
        assert_eq!(
            (restored.rows, restored.total),
            (source.rows, source.total),
            "{form:?} as at the backup"
        );
    }
    assert!(
        dst.system("test")
            .report(report)
            .await
            .unwrap()
            .digest_holds()
    );
    assert!(
        dst.login("t101-fz", "Anju-2024q", None, "test", dst.now())
            .await
            .is_ok(),
        "an account logs in on the restored system"
    );
    let file = restored_evidence.join(&sha[..2]).join(format!("{sha}.csv"));
    assert_eq!(backup::hash_file(&file).unwrap().0, sha);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "编号,签收\n1,已签收\n"
    );
    // New writes continue on the restored system (identity sequences moved on).
    let mut h = testing::House::register(&dst, 90_000, "370829101200", UsageCategory::Other).await;
    h.ok(&clerk(), testing::survey(Judgement::NoHazard)).await;
    assert_eq!(
        anju_store::infra::audit::verify(dst.db_for_tests())
            .await
            .unwrap(),
        None
    );

    // A second restore into the now non-empty database is refused and changes nothing.
    let audits = testing::audit_count(&dst).await;
    let e = dst
        .system("test")
        .restore_tables(&dir, &manifest)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("不是空的"), "{e}");
    assert_eq!(testing::audit_count(&dst).await, audits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_system_restores_into_postgresql_while_it_was_writing() {
    drill(testing::sqlite().await, testing::postgres_empty().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_system_restores_into_sqlite_while_it_was_writing() {
    drill(testing::postgres().await, testing::sqlite_empty().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_backup_or_a_missing_key_is_refused_before_anything_is_written() {
    let (src, work, evidence) = populated_sqlite().await;
    let dir = work.path().join("backup");
    let manifest = anju::backup::take(&src.store, &evidence, &dir, None)
        .await
        .unwrap();

    // Another key set: refused, nothing written.
    let empty = testing::sqlite_empty().await;
    let e = empty
        .store
        .system("test")
        .restore_tables(&dir, &manifest)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("密钥"), "{e}");
    assert!(empty.store.is_empty_for_restore().await.unwrap());

    // One changed byte in a table file: verify names the file.
    let events = dir.join("tables/events.jsonl.gz");
    let mut bytes = std::fs::read(&events).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xFF;
    std::fs::write(&events, bytes).unwrap();
    let e = backup::verify(&dir).unwrap_err().to_string();
    assert!(e.contains("tables/events.jsonl.gz"), "{e}");

    // A second backup into the same directory copies no evidence again and verifies.
    let again = anju::backup::take(&src.store, &evidence, &dir, None)
        .await
        .unwrap();
    assert_eq!(again.evidence, manifest.evidence);
    backup::verify(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_is_backed_up_or_left_out_on_purpose() {
    for db in [testing::sqlite().await, testing::postgres().await] {
        let mut expected: Vec<&str> = backup::TABLES
            .iter()
            .chain(backup::LEFT_OUT)
            .copied()
            .collect();
        expected.sort();
        let tables = backup::schema_tables(db.store.db_for_tests())
            .await
            .unwrap();
        assert_eq!(tables, expected, "{}", db.store.backend());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_keep_the_newest_share_evidence_and_clear_the_warning() {
    use chrono::TimeZone;
    let (src, work, evidence) = populated_sqlite().await;
    let root = work.path().join("backups");
    std::fs::create_dir_all(&root).unwrap();
    let day = |d: u32| {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, d, 18, 30, 0)
            .unwrap()
    };
    let now = day(20);
    assert!(
        src.store.backup_warning(now).await.unwrap().is_some(),
        "never backed up"
    );
    for d in [20, 21, 22] {
        let last = anju::backup::scheduled(&src.store, &evidence, &root, 2, day(d)).await;
        assert!(last.ok, "{}", last.detail);
        assert_eq!(last.houses, 600);
    }
    let kept = anju::backup::backups_in(&root);
    let names: Vec<String> = kept
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["anju-20261122-023000", "anju-20261123-023000"]);
    for dir in &kept {
        backup::verify(dir).unwrap();
    }
    // The evidence of the newer backup is the older one's file, linked, not copied again.
    {
        use std::os::unix::fs::MetadataExt;
        let m = backup::verify(&kept[1]).unwrap();
        let rel = &m.evidence[0].path;
        let a = std::fs::metadata(kept[0].join(rel)).unwrap();
        let b = std::fs::metadata(kept[1].join(rel)).unwrap();
        assert_eq!(a.ino(), b.ino(), "hard-linked");
    }
    let last = src.store.last_backup().await.unwrap().unwrap();
    assert!(
        last.ok && last.detail.ends_with("anju-20261123-023000"),
        "{last:?}"
    );
    assert_eq!(src.store.backup_warning(day(23)).await.unwrap(), None);
    let stale = src.store.backup_warning(day(26)).await.unwrap().unwrap();
    // The last good one ran 2026-11-22 18:30 UTC (11-23 02:30 in Beijing), four days before.
    assert!(stale.contains("4 天前（2026-11-23）"), "{stale}");

    // A failing backup (its directory cannot be created) is recorded with the last good one.
    let blocked = work.path().join("file-not-dir");
    std::fs::write(&blocked, "x").unwrap();
    let failed = anju::backup::scheduled(&src.store, &evidence, &blocked, 2, day(24)).await;
    assert!(!failed.ok);
    let last = src.store.last_backup().await.unwrap().unwrap();
    assert!(!last.ok && last.last_good.is_some(), "{last:?}");
    assert_eq!(
        src.store.backup_warning(day(24)).await.unwrap(),
        None,
        "the good one is a day old"
    );
}

/// A restore's batch of one row has the very text of a statement the application prepares
/// (fact_spans' INSERT). Kept as a prepared statement on a pooled PostgreSQL connection, the
/// next write there sent INTEGER where the statement had BIGINT and was refused with
/// "insufficient data left in message" (seen once in CI on the drill above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_leaves_no_statement_behind_that_a_later_write_trips_on() {
    let src = testing::sqlite().await;
    testing::add_village(&src.store, "370829101200", "测试村", TOWN).await;
    testing::House::register(&src.store, 1, "370829101200", UsageCategory::Other).await;
    let spans: i64 = anju_store::on_db!(src.store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM fact_spans").fetch_one(p).await).unwrap();
    assert_eq!(
        spans, 1,
        "the restore writes fact_spans in one batch of one row"
    );
    let work = tempfile::tempdir().unwrap();
    let evidence = work.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    let dir = work.path().join("backup");
    let manifest = anju::backup::take(&src.store, &evidence, &dir, None)
        .await
        .unwrap();
    let empty = testing::postgres_empty().await;
    let dst = restored(&src.store, &empty, &dir, &manifest).await;
    // One after another, so each idle pooled connection (the restore's among them) writes.
    for n in 0..6 {
        let mut h =
            testing::House::register(&dst, 90_000 + n, "370829101200", UsageCategory::Other).await;
        h.ok(&clerk(), testing::survey(Judgement::NoHazard)).await;
    }
}
