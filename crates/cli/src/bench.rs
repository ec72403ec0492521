//! `anju bench`: measured side by side in the same run against the bare SQL doing the same
//! writes, on SQLite and (with `--postgres`) PostgreSQL. Reports medians and ratios: this machine
//! is shared and noisy, so absolute figures vary more than ratios.
//!
//! - demo load: `anju demo` end to end (generation, every step decided by the rules, projection,
//!   audit rows) against a bare batched `INSERT` of the very same rows, precomputed.
//! - event recording: `Store::execute` one step per transaction (load in scope, decide, event,
//!   projection, audit row) against a bare transaction inserting the same event row and bumping
//!   the house's version.

use anju_demo::Demo;
use anju_domain::HouseState;
use anju_domain::dict::MgmtMeasure;
use anju_domain::event::{Change, Command};
use anju_store::houses::write::{INSERT_EVENT, insert_rows};
use anju_store::{NewHouse, Store, on_tx};
use anyhow::Context;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Houses in the demo-load benchmark.
    #[arg(long, default_value_t = 100_000)]
    pub houses: u64,
    /// Steps in the event-recording benchmark.
    #[arg(long, default_value_t = 2_000)]
    pub steps: usize,
    /// Repetitions; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// A PostgreSQL server URL; a scratch database is created and dropped for every run.
    #[arg(long, env = "ANJU_BENCH_POSTGRES")]
    pub postgres: Option<String>,
    /// Where the SQLite scratch files go.
    #[arg(long, default_value = "target/bench")]
    pub work_dir: PathBuf,
    /// Which benchmark: demo, record, ledger, web, map, import (import-csv, import-xlsx) or all.
    #[arg(long, default_value = "all")]
    pub only: String,
    /// Concurrent connections in the web benchmark.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds of load per endpoint in the web benchmark.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
}

/// A scratch database for one run; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub(crate) struct Scratch {
    pub(crate) url: String,
    admin: Option<String>,
    name: String,
}

impl Scratch {
    pub(crate) async fn new(args: &BenchArgs, backend: &str, tag: &str) -> anyhow::Result<Scratch> {
        let name = format!("anju_bench_{tag}_{}", std::process::id());
        if backend == "sqlite" {
            std::fs::create_dir_all(&args.work_dir)?;
            let path = args.work_dir.join(format!("{name}.db"));
            remove_sqlite(&path);
            Ok(Scratch {
                url: format!("sqlite://{}", path.display()),
                admin: None,
                name: path.display().to_string(),
            })
        } else {
            let admin = args.postgres.clone().context("no PostgreSQL URL")?;
            let db = anju_store::Db::connect(&admin).await?;
            if let anju_store::Db::Postgres(p) = &db {
                let drop = format!("DROP DATABASE IF EXISTS {name}");
                sqlx::query(sqlx::AssertSqlSafe(drop)).execute(p).await?;
                let create = format!("CREATE DATABASE {name}");
                sqlx::query(sqlx::AssertSqlSafe(create)).execute(p).await?;
            }
            db.close().await;
            Ok(Scratch {
                url: anju_store::infra::db::with_database(&admin, &name),
                admin: Some(admin),
                name,
            })
        }
    }

    /// A store on this database, with a fresh personal-data key.
    pub(crate) async fn open(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.url, anju_store::Vault::generate()).await?)
    }

    /// Closes `store` (opened on this database) and drops the database.
    pub(crate) async fn close(self, store: Store) -> anyhow::Result<()> {
        store.close().await;
        self.drop().await
    }

    pub(crate) async fn drop(self) -> anyhow::Result<()> {
        match &self.admin {
            None => remove_sqlite(std::path::Path::new(&self.name)),
            Some(admin) => {
                let db = anju_store::Db::connect(admin).await?;
                if let anju_store::Db::Postgres(p) = &db {
                    let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                    sqlx::query(sqlx::AssertSqlSafe(drop)).execute(p).await?;
                }
                db.close().await;
            }
        }
        Ok(())
    }
}

fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// What `work` answered, and how long it took.
pub(crate) async fn timed<T, E>(
    work: impl Future<Output = Result<T, E>>,
) -> Result<(T, Duration), E> {
    let t = Instant::now();
    let out = work.await?;
    Ok((out, t.elapsed()))
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut backends = vec!["sqlite"];
    if args.postgres.is_some() {
        backends.push("postgres");
    }
    println!(
        "机器：{} 核；每项重复 {} 次，取中位数",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.runs
    );
    for backend in backends {
        if args.only == "all" || args.only == "demo" {
            bench_demo(&args, backend).await?;
        }
        if args.only == "all" || args.only == "record" {
            bench_record(&args, backend).await?;
        }
        if args.only == "all" || args.only == "ledger" {
            bench_ledger(&args, backend).await?;
        }
        if args.only == "all" || args.only.starts_with("import") {
            crate::bench_import::bench_import(&args, backend).await?;
        }
        let (web, map) = (
            args.only == "all" || args.only == "web",
            args.only == "all" || args.only == "map",
        );
        if web || map {
            // One demo county for both: the web's endpoints, then the map's.
            let scratch = Scratch::new(&args, backend, "web").await?;
            let store = scratch.open().await?;
            crate::demo::load(&store, args.houses, 2024, |_| {}).await?;
            analyze(&store).await?;
            let target = crate::bench_web::Target {
                store: &store,
                backend,
                args: &args,
            };
            if web {
                crate::bench_web::bench_web(&target).await?;
            }
            if map {
                crate::bench_map::bench_map(&target).await?;
            }
            scratch.close(store).await?;
        }
    }
    Ok(())
}

async fn bench_demo(args: &BenchArgs, backend: &str) -> anyhow::Result<()> {
    let (mut full, mut bare) = (Vec::new(), Vec::new());
    let mut events = 0;
    for run in 0..args.runs {
        // Anju: the whole `anju demo` load.
        let scratch = Scratch::new(args, backend, "demo").await?;
        let store = scratch.open().await?;
        let t = Instant::now();
        let summary = crate::demo::load(&store, args.houses, 2024, |_| {}).await?;
        full.push(t.elapsed());
        events = summary.events;
        scratch.close(store).await?;

        // Baseline: the same rows, precomputed outside the clock, inserted with bare SQL in
        // the same batches and transactions.
        let scratch = Scratch::new(args, backend, "bare").await?;
        let store = scratch.open().await?;
        let demo = Demo::new(args.houses, 2024);
        crate::demo::init_county(&store).await?;
        bare.push(bare_insert(&store, &demo, 5_000).await?);
        scratch.close(store).await?;
        eprintln!(
            "  demo run {} on {backend}: anju {:.2?}, bare {:.2?}",
            run + 1,
            full[run],
            bare[run]
        );
    }
    let against = against_bare(args.houses, median(full), median(bare), "");
    println!(
        "[{backend}] demo load, {} houses / {events} events: {against}",
        args.houses
    );
    Ok(())
}

/// Anju's time for writing `houses` houses against the bare `INSERT`s' and their ratio, e.g.
/// `anju 12.30 s (8130 houses/s), bare INSERT 4.10 s; ratio 3.00×`; `more` is said after the
/// rate, inside its brackets.
pub(crate) fn against_bare(houses: u64, anju: Duration, bare: Duration, more: &str) -> String {
    let (f, b) = (anju.as_secs_f64(), bare.as_secs_f64());
    format!(
        "anju {f:.2} s ({:.0} houses/s{more}), bare INSERT {b:.2} s; ratio {:.2}×",
        houses as f64 / f,
        f / b
    )
}

/// The baseline: the demo houses' rows, precomputed outside the clock, written with bare
/// batched `INSERT`s, `batch` houses per transaction. Returns the time the writes took.
pub(crate) async fn bare_insert(
    store: &Store,
    demo: &Demo,
    batch: u64,
) -> anyhow::Result<Duration> {
    let mut batches = Vec::new();
    let mut base = 0;
    for start in (0..demo.houses).step_by(batch as usize) {
        let houses: Vec<NewHouse> = (start..(start + batch).min(demo.houses))
            .map(|i| {
                let h = demo.house(i);
                NewHouse {
                    events: h.events,
                    state: h.state,
                }
            })
            .collect();
        batches.push(store.bulk_rows(base, &houses));
        base += houses.len() as i64;
    }
    let t = Instant::now();
    for rows in &batches {
        let mut tx = store.system("bench").db().begin().await?;
        insert_rows(&mut tx, rows).await?;
        tx.commit().await?;
    }
    Ok(t.elapsed())
}

async fn bench_record(args: &BenchArgs, backend: &str) -> anyhow::Result<()> {
    const HOUSES: u64 = 20_000;
    let demo = Demo::new(HOUSES, 2024);
    // Houses with an open hazard accept interim control again and again.
    let targets: Vec<HouseState> = (0..HOUSES)
        .map(|i| demo.house(i).state)
        .filter(|s| s.hazard && s.closure.is_none())
        .take(args.steps)
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no open hazard houses in the demo");
    let today = anju_domain::rules::beijing_date(chrono::Utc::now());
    let (mut full, mut bare) = (Vec::new(), Vec::new());
    let (mut lat_full, mut lat_bare) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let scratch = Scratch::new(args, backend, "record").await?;
        let store = scratch.open().await?;
        crate::demo::load(&store, HOUSES, 2024, |_| {}).await?;
        let t = Instant::now();
        for s in &targets {
            let town = s.record.as_ref().expect("registered").town;
            let actor = anju_demo::town_actor(&town, anju_domain::Role::TownOperator);
            let cmd = Command {
                house: s.code.clone(),
                expected_version: s.version + run as u32 * 2,
                change: Change::InterimControlApplied {
                    measures: vec![MgmtMeasure::StopUse],
                },
                effective: today,
                reason: None,
                evidence: vec![],
            };
            let one = Instant::now();
            store.system("bench").execute(&actor, &cmd).await?;
            lat_full.push(one.elapsed());
        }
        full.push(t.elapsed());

        // Baseline: per step, one transaction inserting the same kind of event row and bumping
        // the house's version, no rules, no projection rebuild, no audit.
        let events = store.system("bench").house_events(&targets[0].code).await?;
        let template = anju_store::infra::codec::to_row(
            events.last().expect("has events"),
            store.vault(),
            anju_store::houses::chain::GENESIS,
        );
        const BUMP: &str = "UPDATE houses SET version = version + 1, updated_at = $2 WHERE code = $1 RETURNING id, version";
        let t = Instant::now();
        for s in &targets {
            let one = Instant::now();
            let mut tx = store.system("bench").db().begin().await?;
            on_tx!(&mut tx, c => {
                let (id, version): (i64, i32) = sqlx::query_as(BUMP)
                    .bind(s.code.as_str())
                    .bind(anju_store::infra::codec::micros(chrono::Utc::now()))
                    .fetch_one(&mut *c).await?;
                let e = &template;
                sqlx::query(INSERT_EVENT)
                    .bind(id).bind(version).bind(e.kind).bind(today).bind(anju_store::infra::codec::micros(chrono::Utc::now()))
                    .bind(&e.actor_id).bind(&e.actor_name).bind(&e.actor_role).bind(&e.reason)
                    .bind(&e.evidence).bind(&e.payload).bind(&e.personal).bind(&e.hash)
                    .execute(&mut *c).await?;
            });
            tx.commit().await?;
            lat_bare.push(one.elapsed());
        }
        bare.push(t.elapsed());
        scratch.close(store).await?;
        eprintln!(
            "  record run {} on {backend}: anju {:.2?}, bare {:.2?}",
            run + 1,
            full[run],
            bare[run]
        );
    }
    let n = targets.len() as f64;
    let (f, b) = (median(full), median(bare));
    let p = |mut v: Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * q) as usize]
    };
    println!(
        "[{backend}] recording {} steps, one transaction each: anju {:.0} steps/s (median {:.2?}, p99 {:.2?}), bare {:.0} steps/s (median {:.2?}, p99 {:.2?}); ratio {:.2}×",
        targets.len(),
        n / f.as_secs_f64(),
        p(lat_full.clone(), 0.5),
        p(lat_full, 0.99),
        n / b.as_secs_f64(),
        p(lat_bare.clone(), 0.5),
        p(lat_bare, 0.99),
        f.as_secs_f64() / b.as_secs_f64()
    );
    Ok(())
}

/// The bare statement a ledger boils down to: 附件2's twelve counts per town over today's
/// projection, written out by hand (bit values of `anju_domain::Facts`).
const BARE_ATTACHMENT2: &str = "SELECT town_code, \
    SUM(CASE WHEN (facts & 1) = 1 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 3) = 3 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 6) = 6 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 262) = 262 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 3) = 1 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 6) = 4 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 14) = 12 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 22) = 20 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 38) = 36 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 70) = 68 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 134) = 132 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN (facts & 262) = 260 THEN 1 ELSE 0 END) \
    FROM houses GROUP BY town_code";

/// Fresh statistics after a bulk load, as an administrator would run.
async fn analyze(store: &Store) -> anyhow::Result<()> {
    if let anju_store::Db::Sqlite(p) = store.system("bench").db() {
        sqlx::query("ANALYZE").execute(p).await?;
    }
    if let anju_store::Db::Postgres(p) = store.system("bench").db() {
        sqlx::query("VACUUM ANALYZE").execute(p).await?;
    }
    Ok(())
}

async fn bench_ledger(args: &BenchArgs, backend: &str) -> anyhow::Result<()> {
    use anju_domain::ledger::{AsOf, Form};
    let scratch = Scratch::new(args, backend, "ledger").await?;
    let store = scratch.open().await?;
    crate::demo::load(&store, args.houses, 2024, |_| {}).await?;
    analyze(&store).await?;
    let as_of = AsOf::Happened(chrono::NaiveDate::from_ymd_opt(2024, 5, 15).expect("valid"));
    let (mut now, mut dated, mut recorded, mut bare) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let instant = AsOf::Recorded(store.now());
    // One warm-up of each, then the measured runs interleaved so noise hits all alike.
    for run in 0..=args.runs {
        let ledger = async |when: AsOf| store.system("bench").ledger(Form::Attachment2, when).await;
        let (table, a) = timed(ledger(AsOf::Now)).await?;
        let (_, b) = timed(ledger(as_of)).await?;
        let (_, c) = timed(ledger(instant)).await?;
        let (n, d) = timed(async {
            anju_store::on_db!(store.system("bench").db(), p => sqlx::query(BARE_ATTACHMENT2).fetch_all(p).await.map(|r| r.len()))
        })
        .await?;
        anyhow::ensure!(n > 0 && table.total.counts[0] > 0, "empty ledger");
        if run > 0 {
            now.push(a);
            dated.push(b);
            recorded.push(c);
            bare.push(d);
        }
    }
    let (a, b, c, d) = (median(now), median(dated), median(recorded), median(bare));
    println!(
        "[{backend}] 附件2 for the county over {} houses: today {:.0} ms, as of a date {:.0} ms, as recorded at an instant {:.0} ms, bare GROUP BY {:.0} ms; ratios {:.2}× / {:.2}× / {:.2}×",
        args.houses,
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        c.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        a.as_secs_f64() / d.as_secs_f64(),
        b.as_secs_f64() / d.as_secs_f64(),
        c.as_secs_f64() / d.as_secs_f64(),
    );
    scratch.close(store).await?;
    Ok(())
}
