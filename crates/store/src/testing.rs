//! Test databases (feature `testing`): every test gets its own SQLite file or PostgreSQL
//! database, and every storage test runs on both through [`both!`]. PostgreSQL tests fail,
//! never skip, when the server cannot be reached: `ANJU_TEST_POSTGRES` names it (default: the
//! local `postgres` user).

use crate::{Store, on_db};
use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{
    ClosureBasis, EngMeasure, Grade, Judgement, MgmtMeasure, RegistrationSource, ReviewFinding,
    UsageCategory,
};
use anju_domain::event::{Actor, Change, Command, EvidenceKind, Role};
use anju_domain::house::HouseRecord;
use anju_domain::{HouseCode, RuleCode, Scope, sample};
use chrono::{Duration, NaiveDate};
use std::sync::atomic::{AtomicU32, Ordering};

impl Store {
    /// Bare SQL for tests: fault injection, tampering with the chain, migration checks. The
    /// operator's processes use [`crate::System::db`]; nothing else reaches the pool.
    pub fn db_for_tests(&self) -> &crate::Db {
        &self.db
    }
}

pub struct TestDb {
    pub store: Store,
    /// The database's URL (for tools such as `pg_dump`, and for reopening).
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("ANJU_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh random key set per test database.
pub fn test_vault() -> crate::Vault {
    crate::Vault::generate()
}

/// The tests' county: Jiaxiang's province, city, county and 16 towns from the national table
/// (no villages: tests add the few they use), valid from 2020 as the tests' histories need.
pub fn test_county() -> &'static [anju_domain::region::Region] {
    static COUNTY: std::sync::OnceLock<Vec<anju_domain::region::Region>> =
        std::sync::OnceLock::new();
    COUNTY.get_or_init(|| {
        anju_divisions::county(anju_domain::sample::JIAXIANG)
            .expect("Jiaxiang is in the table")
            .regions(anju_domain::sample::seed_valid_from(), false)
    })
}

/// When the tests' clock starts: noon in Beijing on a fixed day, so that no test depends on
/// the day it runs or on how close to midnight it is.
pub fn test_start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-30T04:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&chrono::Utc)
}

/// A store over `url` with a fresh key set, telling time by a [`crate::TestClock`] started at
/// [`test_start`].
pub async fn open_test_store(url: &str) -> Store {
    Store::open(url, test_vault())
        .await
        .expect("open database")
        .with_clock(std::sync::Arc::new(crate::TestClock::at(test_start())))
}

/// Opens a fresh database and sets up the tests' county, as `anju init` would.
async fn open_with_county(url: &str) -> Store {
    let store = open_test_store(url).await;
    store
        .init_county(test_county(), "test")
        .await
        .expect("set up the test county");
    store
}

/// A fresh SQLite database in a temporary folder, with the tests' county if `county`.
async fn sqlite_db(county: bool) -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("anju.db").display());
    TestDb {
        store: open_store(&url, county).await,
        url,
        pg_name: None,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, with the tests' county if `county`.
async fn postgres_db(county: bool) -> TestDb {
    let (url, name) = postgres_database().await;
    TestDb {
        store: open_store(&url, county).await,
        url,
        pg_name: Some(name),
        _dir: None,
    }
}

async fn open_store(url: &str, county: bool) -> Store {
    if county {
        open_with_county(url).await
    } else {
        open_test_store(url).await
    }
}

/// A fresh database with no county, as a new installation has before `anju init`.
pub async fn sqlite_empty() -> TestDb {
    sqlite_db(false).await
}

pub async fn sqlite() -> TestDb {
    sqlite_db(true).await
}

/// A fresh PostgreSQL database with no county.
pub async fn postgres_empty() -> TestDb {
    postgres_db(false).await
}

pub async fn postgres() -> TestDb {
    postgres_db(true).await
}

/// A new, empty PostgreSQL database: its URL and name.
async fn postgres_database() -> (String, String) {
    let admin = postgres_admin_url();
    let name = format!(
        "anju_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required for the test suite ({admin}): {e}. Start it, or set ANJU_TEST_POSTGRES.")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&pool)
    .await
    .expect("drop old test database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    (crate::infra::db::with_database(&admin, &name), name)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Dropping needs async; do it on a thread with its own small runtime.
            let admin = postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Generates `sqlite` and `postgres` tests from one `async fn case(&Store)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $crate::both_on!(sqlite, postgres; $($name),*);
    };
}

/// Like [`both!`], on databases with no county (a fresh installation before `anju init`).
#[macro_export]
macro_rules! both_empty {
    ($($name:ident),* $(,)?) => {
        $crate::both_on!(sqlite_empty, postgres_empty; $($name),*);
    };
}

/// [`both!`] and [`both_empty!`] on the databases the two named functions of this module give.
#[doc(hidden)]
#[macro_export]
macro_rules! both_on {
    ($sqlite:ident, $postgres:ident; $($name:ident),*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::testing::$sqlite().await;
                    super::$name(&db.store).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::testing::$postgres().await;
                    super::$name(&db.store).await;
                }
            }
        )*
    };
}

// Houses stepped through the real store, and the steps they take.

pub fn actor(id: &str, role: Role) -> Actor {
    Actor {
        id: id.into(),
        name: format!("{id}姓名"),
        role,
    }
}
/// A logged-in account's principal: `username` with `role`, anchored at `region` (and, for a
/// department, `department`), named like [`actor`].
pub fn principal_of(
    username: &str,
    role: Role,
    region: Option<&str>,
    department: Option<&str>,
) -> Principal {
    Principal {
        account_id: -1,
        username: username.into(),
        name: format!("{username}姓名"),
        role,
        region: region.map(|r| RegionCode::parse(r).unwrap()),
        department: department.map(str::to_string),
    }
}

pub fn clerk() -> Actor {
    actor("clerk", Role::TownOperator)
}
pub fn principal() -> Actor {
    actor("principal", Role::TownPrincipal)
}
pub fn reviewer() -> Actor {
    actor("reviewer", Role::TechReviewer)
}
pub fn appraiser() -> Actor {
    actor("appraiser", Role::Appraiser)
}

pub const VILLAGE: &str = "370829101201";
pub const OTHER_VILLAGE: &str = "370829102201";

pub async fn with_villages(store: &Store) {
    let mut r = crate::Reference {
        regions: test_county().to_vec(),
        ..crate::Reference::defaults()
    };
    for (code, town) in [(VILLAGE, "370829101"), (OTHER_VILLAGE, "370829102")] {
        r.regions
            .push(test_village(code, &format!("测试村{code}"), town));
    }
    store.add_reference(&r).await.unwrap();
}

/// A demo village `code` named `name` in `town`, valid from the tests' seed day.
pub fn test_village(code: &str, name: &str, town: &str) -> anju_domain::region::Region {
    anju_domain::region::Region {
        code: RegionCode::parse(code).unwrap(),
        name: name.into(),
        level: anju_domain::RegionLevel::Village,
        parent: Some(RegionCode::parse(town).unwrap()),
        valid_from: anju_domain::sample::seed_valid_from(),
        valid_to: None,
        is_demo: true,
        reports_separately: true,
    }
}

/// Adds [`test_village`] to the reference data.
pub async fn add_village(store: &Store, code: &str, name: &str, town: &str) {
    let mut r = crate::Reference::defaults();
    r.regions.push(test_village(code, name, town));
    store.add_reference(&r).await.unwrap();
}

/// A house in the database, stepped through `Store::execute` with a day per step.
pub struct House<'a> {
    pub store: &'a Store,
    pub code: HouseCode,
    pub version: u32,
    pub day: NaiveDate,
}

/// The day [`House::register`] registers on; each later step takes a day more.
pub fn registration_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 20).unwrap()
}

impl<'a> House<'a> {
    /// A census registration of a sample record in `village`, on [`registration_day`].
    pub async fn register(
        store: &'a Store,
        serial: u32,
        village: &str,
        usage: UsageCategory,
    ) -> House<'a> {
        let record = sample::record(RegionCode::parse(village).unwrap(), usage);
        House::register_record(store, serial, record, registration_day()).await
    }

    /// A house surveyed hazardous whose closure before the campaign (2023-10-01) is recorded:
    /// it awaits its look-back.
    pub async fn legacy_closed(store: &'a Store, serial: u32, village: &str) -> House<'a> {
        let mut h = House::register(store, serial, village, UsageCategory::Other).await;
        h.ok(&clerk(), survey(Judgement::Hazard)).await;
        h.ok(
            &clerk(),
            legacy(NaiveDate::from_ymd_opt(2023, 10, 1).unwrap()),
        )
        .await;
        h
    }

    /// A census registration of `record` on `day`, with the platform code, the plaque token and
    /// the house code `serial` gives.
    pub async fn register_record(
        store: &'a Store,
        serial: u32,
        mut record: HouseRecord,
        day: NaiveDate,
    ) -> House<'a> {
        let mut h = House {
            store,
            code: HouseCode::new(
                &RegionCode::parse(anju_domain::sample::JIAXIANG).unwrap(),
                serial,
            ),
            version: 0,
            day,
        };
        record.platform_code = Some(format!("YH370829{serial:09}"));
        h.ok(
            &clerk(),
            Change::Registered {
                source: RegistrationSource::Census,
                plaque_token: format!("{serial:032x}"),
                record: Box::new(record),
                people: Box::new(sample::people()),
            },
        )
        .await;
        h
    }

    pub fn cmd(&self, change: Change) -> Command {
        let reason = matches!(
            change,
            Change::Reopened | Change::Reclassified { .. } | Change::Corrected { .. }
        )
        .then(|| "核实后更正".to_string());
        let evidence = match &change {
            Change::EngineeringAccepted { .. } => vec![
                sample::evidence(EvidenceKind::PhotoBefore, "b.jpg"),
                sample::evidence(EvidenceKind::PhotoAfter, "a.jpg"),
            ],
            Change::LookBackReviewed { .. } => {
                vec![sample::evidence(EvidenceKind::SignedForm, "s.jpg")]
            }
            _ => vec![],
        };
        Command {
            house: self.code.clone(),
            expected_version: self.version,
            change,
            effective: self.day,
            reason,
            evidence,
        }
    }

    pub async fn ok(&mut self, who: &Actor, change: Change) {
        let cmd = self.cmd(change);
        let e = self
            .store
            .execute(&Scope::All, who, &cmd, "test")
            .await
            .unwrap_or_else(|e| panic!("refused: {e} ({e:?})"));
        self.version = e.seq;
        self.day += Duration::days(1);
    }

    /// A step that must be refused with `code`, leaving every house table as it was and
    /// adding exactly one audit row for the refusal.
    pub async fn refused(&mut self, who: &Actor, cmd: Command, code: RuleCode) {
        let before = snapshot(self.store).await;
        let audits = audit_count(self.store).await;
        let err = self
            .store
            .execute(&Scope::All, who, &cmd, "test")
            .await
            .expect_err("accepted");
        assert_eq!(err.rule().map(|v| v.code), Some(code), "{err}");
        assert_eq!(
            snapshot(self.store).await,
            before,
            "a refused step changed stored data"
        );
        assert_eq!(
            audit_count(self.store).await,
            audits + 1,
            "the refusal was not audited once"
        );
    }
}

/// Whether `r` is the answer to a house or record that is missing or outside the caller's
/// scope (the two answer alike).
pub fn is_not_found<T>(r: &crate::Result<T>) -> bool {
    matches!(r, Err(crate::StoreError::NotFound))
}

/// Every row of every house table, in a stable order.
pub async fn snapshot(store: &Store) -> Vec<String> {
    const Q: &[&str] = &[
        "SELECT code || '|' || CAST(version AS TEXT) || '|' || status || '|' || CAST(facts AS TEXT) || '|' || state FROM houses ORDER BY id",
        "SELECT CAST(house_id AS TEXT) || '|' || CAST(seq AS TEXT) || '|' || kind || '|' || payload FROM events ORDER BY house_id, seq",
        "SELECT CAST(house_id AS TEXT) || '|' || data FROM house_people ORDER BY house_id",
        "SELECT CAST(house_id AS TEXT) || '|' || department_code FROM house_sectors ORDER BY house_id, department_code",
    ];
    let mut out = Vec::new();
    for q in Q {
        let rows: Vec<String> =
            on_db!(&store.db, p => sqlx::query_scalar(*q).fetch_all(p).await).unwrap();
        out.extend(rows);
    }
    out
}

pub async fn audit_count(store: &Store) -> i64 {
    on_db!(&store.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(p).await)
        .unwrap()
}

/// A correction of house `serial`'s record to the sample record in `village` for `usage`,
/// keeping the platform code [`House::register`] gave it.
pub fn corrected(serial: u32, village: &str, usage: UsageCategory) -> Change {
    let mut record = sample::record(RegionCode::parse(village).unwrap(), usage);
    record.platform_code = Some(format!("YH370829{serial:09}"));
    Change::Corrected {
        record: Box::new(record),
        people: None,
    }
}

pub fn close(basis: ClosureBasis) -> Change {
    Change::Closed {
        basis,
        platform_closed_on: None,
    }
}
pub fn survey(j: Judgement) -> Change {
    Change::Surveyed(Box::new(sample::survey(j)))
}
pub fn review(finding: ReviewFinding) -> Change {
    Change::Reviewed {
        reviewer_names: "孙工".into(),
        finding,
        opinion: None,
    }
}
/// A closure made before the campaign by wall patching, on `closed_on`.
pub fn legacy(closed_on: NaiveDate) -> Change {
    Change::LegacyClosureRecorded {
        measures: vec![MgmtMeasure::WallPatching],
        closed_on,
    }
}
pub fn look_back(hazard_remains: bool) -> Change {
    Change::LookBackReviewed {
        reviewer_names: "孙工".into(),
        hazard_remains,
        opinion: None,
    }
}
pub fn appraise(g: Grade) -> Change {
    Change::Appraised(Box::new(sample::appraisal(g, false)))
}
pub fn notify() -> Change {
    Change::OwnerNotified {
        method: "直接送达".into(),
        recipient: "张三".into(),
    }
}
pub fn start() -> Change {
    Change::EngineeringStarted {
        measure: EngMeasure::Reinforce,
        contractor: None,
        deadline: None,
    }
}
pub fn accept() -> Change {
    Change::EngineeringAccepted {
        measure: EngMeasure::Reinforce,
        reviewer_names: "孙工".into(),
        opinion: None,
    }
}
