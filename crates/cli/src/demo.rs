//! `anju demo`: loads the deterministic demo county, its campaign in progress on the day it is
//! installed (the store's clock). Houses are generated on background threads (each step decided
//! by the real rules) while batches are written, each batch in one transaction with its audit
//! rows; then the problem batches are issued and walked through the store's problem API, with
//! the store's clock set to the day each step happens.

use crate::config::Config;
use anju_demo::JIAXIANG_TOWNS;
use anju_demo::{Demo, DemoHouse};
use anju_domain::Coded;
use anju_domain::RuleCode;
use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::event::{Actor, Role};
use anju_domain::problem::ProblemStatus;
use anju_store::campaign::problems::{NewBatch, NewProblem};
use anju_store::{Clock, NewAccount, NewHouse, RefusedAttempt, Store};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// How many houses to generate.
    #[arg(long, default_value_t = 20_000)]
    pub houses: u64,
    /// Random seed: the same seed always gives the same county.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Delete what the database holds first (SQLite: the file; PostgreSQL: the public schema).
    #[arg(long)]
    pub reset: bool,
    /// Start the server afterwards.
    #[arg(long)]
    pub serve: bool,
    #[command(flatten)]
    pub serve_args: crate::serve::ServeArgs,
}

/// What a demo load wrote.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub houses: u64,
    pub events: u64,
    pub refused: BTreeMap<RuleCode, u64>,
    /// Problems by the status their steps left them in (every status, in [`ProblemStatus::ALL`]
    /// order), and how many of the open ones are past their deadline.
    pub problems: Vec<(ProblemStatus, u64)>,
    pub problems_overdue: u64,
}

/// Houses per batch (one transaction each).
const BATCH: u64 = 5_000;

fn demo_actor() -> Actor {
    Actor {
        id: "demo".into(),
        name: "演示数据生成".into(),
        role: Role::System,
    }
}

/// The system account the demo's setup acts as.
fn system_principal() -> Principal {
    Principal {
        account_id: 0,
        username: "demo".into(),
        name: "演示数据生成".into(),
        role: Role::System,
        region: None,
        department: None,
    }
}

/// A clock standing at the instant the demo sets: the day a problem step happens.
#[derive(Debug)]
struct StepClock(Mutex<DateTime<Utc>>);

impl StepClock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for StepClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_batch(houses: Vec<DemoHouse>) -> (Vec<NewHouse>, Vec<RefusedAttempt>) {
    let mut refusals = Vec::new();
    let houses = houses
        .into_iter()
        .map(|h| {
            refusals.extend(h.refusals.into_iter().map(|r| RefusedAttempt {
                house: r.house.to_string(),
                actor: r.actor,
                change: r.change.to_string(),
                violation: r.violation,
                at: r.at,
            }));
            NewHouse {
                events: h.events,
                state: h.state,
            }
        })
        .collect();
    (houses, refusals)
}

/// Sets up the demo county (Jiaxiang, its real towns and villages from the national table) as
/// `anju init --county 370829` would, valid from 2020 for the demo's history.
pub async fn init_county(store: &Store) -> anyhow::Result<()> {
    store
        .init_county(&anju_demo::county_regions(), anju_divisions::edition().id)
        .await?;
    Ok(())
}

/// Loads `houses` demo houses from `seed` into an empty store, with the campaign in progress
/// on the store's today ([`Demo::in_progress`]: its phase deadlines moved likewise), then the
/// demo's problem batches. Two generator threads take alternate batches; batches are written
/// in order, so the database is the same every time for the same seed and day.
pub async fn load(
    store: &Store,
    houses: u64,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<LoadSummary> {
    let demo = std::sync::Arc::new(Demo::in_progress(houses, seed, store.today()));
    init_county(store).await?;
    store
        .set_deadlines(&system_principal(), &demo.deadlines(), "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let batches = houses.div_ceil(BATCH);
    const LANES: u64 = 2;
    let mut receivers = Vec::new();
    for lane in 0..LANES {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let demo = demo.clone();
        std::thread::spawn(move || {
            let mut b = lane;
            while b < batches {
                let range = b * BATCH..((b + 1) * BATCH).min(demo.houses);
                let generated: Vec<DemoHouse> = range.map(|i| demo.house(i)).collect();
                if tx.blocking_send(to_batch(generated)).is_err() {
                    return;
                }
                b += LANES;
            }
        });
        receivers.push(rx);
    }
    let mut summary = LoadSummary::default();
    let actor = demo_actor();
    for b in 0..batches {
        let rx = &mut receivers[(b % LANES) as usize];
        let (houses, refusals) = rx.recv().await.context("demo generator stopped")?;
        summary.houses += houses.len() as u64;
        summary.events += houses.iter().map(|h| h.events.len() as u64).sum::<u64>();
        for r in &refusals {
            *summary.refused.entry(r.violation.code).or_default() += 1;
        }
        store
            .system("cli")
            .write_batch(&houses, &refusals, "demo.load", &actor)
            .await?;
        progress(summary.houses);
    }
    load_problems(store, &demo, &mut summary).await?;
    store.compact_map_cells_if_due().await;
    Ok(summary)
}

/// Issues the demo's problem batches and takes each planned step through the store, in the
/// order they happen, with the store's clock set to the instant each happens (so a problem's
/// history, and 附件2 as of an earlier day, read as a campaign's would). The store decides
/// every step by the rules again; a refusal stops the load.
async fn load_problems(
    store: &Store,
    demo: &Demo,
    summary: &mut LoadSummary,
) -> anyhow::Result<()> {
    let plan = demo.problems();
    let clock = Arc::new(StepClock(Mutex::new(store.now())));
    let at = store.clone().with_clock(clock.clone());
    let county = anju_demo::problems::county_office();
    // Every issue and step on one timeline: (when, batch, problem and step); an issue has no
    // problem. Steps of one problem keep their order (their instants increase).
    type Moment = (DateTime<Utc>, usize, Option<(usize, usize)>);
    let mut timeline: Vec<Moment> = Vec::new();
    for (b, batch) in plan.iter().enumerate() {
        timeline.push((batch.issued_at, b, None));
        for (p, problem) in batch.problems.iter().enumerate() {
            for (s, step) in problem.steps.iter().enumerate() {
                timeline.push((step.at, b, Some((p, s))));
            }
        }
    }
    timeline.sort_by_key(|(t, b, ps)| (*t, *b, *ps));
    // Each problem's id and version once its batch is issued.
    let mut ids: BTreeMap<(usize, usize), (i64, i32)> = BTreeMap::new();
    for (t, b, ps) in timeline {
        clock.set(t);
        let batch = &plan[b];
        match ps {
            None => {
                let rows: Vec<NewProblem> = batch
                    .problems
                    .iter()
                    .map(|p| NewProblem {
                        row_no: p.row_no,
                        town: p.town,
                        house: p.house.as_ref().map(ToString::to_string),
                        category: p.category,
                        description: p.description.clone(),
                        deadline: Some(p.deadline),
                    })
                    .collect();
                let new = NewBatch {
                    source: batch.source,
                    name: batch.name.clone(),
                    issued_on: batch.issued_on,
                };
                let batch_id = at
                    .system("cli")
                    .issue_problems(&county, &new, &rows)
                    .await
                    .with_context(|| format!("演示问题批次“{}”未能下发", batch.name))?;
                let issued = at.system("cli").problems(None).await?;
                for (p, planned) in batch.problems.iter().enumerate() {
                    let stored = issued
                        .iter()
                        .find(|x| x.batch_id == batch_id && x.row_no == planned.row_no as i32)
                        .context("演示问题下发后未找到")?;
                    ids.insert((b, p), (stored.id, stored.version));
                }
            }
            Some((p, s)) => {
                let problem = &batch.problems[p];
                let step = &problem.steps[s];
                let (id, version) = ids.get_mut(&(b, p)).context("问题尚未下发")?;
                let system = if step.action.by_issuer() {
                    at.system("cli")
                } else {
                    at.system("cli").narrowed_to(&problem.town)
                };
                system
                    .act_on_problem(&step.actor, *id, *version, &step.action, &step.evidence)
                    .await
                    .with_context(|| {
                        format!(
                            "演示问题“{}”第 {} 行“{}”被拒绝",
                            batch.name,
                            problem.row_no,
                            step.action.label()
                        )
                    })?;
                *version += 1;
            }
        }
    }
    let today = store.today();
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for (b, batch) in plan.iter().enumerate() {
        for (p, planned) in batch.problems.iter().enumerate() {
            let (id, _) = ids[&(b, p)];
            let stored = store.system("cli").problem(id).await?;
            anyhow::ensure!(
                stored.status == planned.status,
                "演示问题 {id} 为“{}”，应为“{}”",
                stored.status.label(),
                planned.status.label()
            );
            *by_status.entry(stored.status.code()).or_default() += 1;
            summary.problems_overdue += u64::from(planned.overdue(today));
        }
    }
    summary.problems = ProblemStatus::ALL
        .iter()
        .map(|s| (*s, by_status.get(s.code()).copied().unwrap_or(0)))
        .collect();
    Ok(())
}

/// Removes what the database holds (explicitly asked for with `--reset`).
async fn reset(config: &Config) -> anyhow::Result<()> {
    let url = config.url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{path}{suffix}");
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("无法删除 {p}")),
            }
        }
    } else {
        let db = anju_store::Db::connect(&url).await?;
        db.reset_schema().await?;
        db.close().await;
    }
    Ok(())
}

pub async fn run(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    if args.serve {
        // Unusable --tls-cert/--tls-key are said before minutes of generating.
        args.serve_args.tls()?;
    }
    if args.reset {
        reset(config).await?;
    }
    let store = config.open().await?;
    let existing = store.system("cli").count_houses().await?;
    if existing > 0 {
        if args.serve && !args.reset {
            eprintln!("数据库中已有 {existing} 栋房屋，直接使用现有数据。");
            // Data from a version without accounts: give it the demo accounts now.
            let password = if store.count_accounts().await? == 0 {
                Some(create_accounts(&store, config).await?)
            } else {
                std::fs::read_to_string(accounts_file(config))
                    .ok()
                    .map(|p| p.trim().to_string())
            };
            print_accounts(password.as_deref());
            return crate::serve::serve(store, &args.serve_args, config).await;
        }
        anyhow::bail!(
            "数据库中已有 {existing} 栋房屋；如需重新生成演示数据，请加 --reset（将清空现有数据）"
        );
    }
    let started = Instant::now();
    let total = args.houses;
    let summary = load(&store, total, args.seed, |n| {
        let pct = n * 100 / total.max(1);
        eprint!("\r生成演示数据：{n}/{total}（{pct}%）");
    })
    .await?;
    eprintln!();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "演示数据已生成（{}）：{} 栋房屋，{} 条事件，用时 {:.1} 秒（{:.0} 栋/秒）",
        store.backend(),
        summary.houses,
        summary.events,
        secs,
        summary.houses as f64 / secs.max(1e-9)
    );
    let refused: Vec<String> = summary
        .refused
        .iter()
        .map(|(code, n)| format!("{} {n} 次", code.as_str()))
        .collect();
    println!("演示中被规则拒绝的违规操作：{}", refused.join("，"));
    let problems: Vec<String> = summary
        .problems
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{} {n}", s.label()))
        .collect();
    println!(
        "问题台账：{} 个问题（{}），其中逾期未整改 {} 个",
        summary.problems.iter().map(|(_, n)| n).sum::<u64>(),
        problems.join("，"),
        summary.problems_overdue
    );
    let deadlines: Vec<String> = store
        .deadlines()
        .await?
        .iter()
        .map(|d| {
            let left = anju_domain::campaign::days_left(d.due, store.today());
            if left < 0 {
                format!("{} {}（已过 {} 天）", d.phase, d.due, -left)
            } else {
                format!("{} {}（剩 {left} 天）", d.phase, d.due)
            }
        })
        .collect();
    println!(
        "各阶段时限（演示数据按今天处于攻坚行动中生成）：{}",
        deadlines.join("；")
    );
    let password = create_accounts(&store, config).await?;
    print_accounts(Some(&password));
    if args.serve {
        crate::serve::serve(store, &args.serve_args, config).await?;
    }
    Ok(())
}

const DEPARTMENT_USERNAMES: &[(&str, &str)] = &[
    ("住建", "bm-zj"),
    ("教育", "bm-jy"),
    ("工信", "bm-gx"),
    ("公安", "bm-ga"),
    ("民政", "bm-mz"),
    ("商务", "bm-sw"),
    ("文旅", "bm-wl"),
    ("卫健", "bm-wj"),
    ("市场监管", "bm-scjg"),
];

/// Where the demo accounts' password is kept for later `--serve` runs (owner-readable only).
fn accounts_file(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("demo-accounts.txt")
}

/// Creates the demo's login accounts — the same names its events are recorded under — with one
/// random password per installation (no default password), marks the database as demo data,
/// and assigns houses to the reviewers and appraisers who acted on them.
pub async fn create_accounts(store: &Store, config: &Config) -> anyhow::Result<String> {
    let system = system_principal();
    let password = anju_store::accounts::one_time_password();
    let county = RegionCode::parse(anju_demo::JIAXIANG).expect("valid");
    let mut accounts: Vec<NewAccount> = vec![
        new(
            "county",
            "县领导小组办公室（演示）",
            Role::CountyOffice,
            Some(county),
            None,
        ),
        new(
            "shenji",
            "审计人员（演示）",
            Role::Auditor,
            Some(county),
            None,
        ),
        new(
            "duban",
            "督导人员（演示）",
            Role::Inspector,
            Some(county),
            None,
        ),
    ];
    for (code, name) in JIAXIANG_TOWNS {
        let town = RegionCode::parse(code).expect("valid");
        let t = &code[6..9];
        accounts.push(new(
            &format!("t{t}-jb"),
            &format!("{name}经办人"),
            Role::TownOperator,
            Some(town),
            None,
        ));
        accounts.push(new(
            &format!("t{t}-fz"),
            &format!("{name}主要负责同志"),
            Role::TownPrincipal,
            Some(town),
            None,
        ));
    }
    for i in 1..=12 {
        accounts.push(new(
            &format!("js{i:02}"),
            &format!("专业技术人员{i:02}"),
            Role::TechReviewer,
            None,
            None,
        ));
    }
    for i in 1..=5 {
        accounts.push(new(
            &format!("jd{i:02}"),
            &format!("鉴定机构{i:02}"),
            Role::Appraiser,
            None,
            None,
        ));
    }
    for (dept, user) in DEPARTMENT_USERNAMES {
        accounts.push(new(
            user,
            &format!("{dept}部门（演示）"),
            Role::Department,
            Some(county),
            Some(dept),
        ));
    }
    for a in &accounts {
        store.create_demo_account(&system, a, &password).await?;
    }
    store.assign_by_history(&system, "demo").await?;
    let entry = anju_store::infra::audit::AuditEntry {
        at: store.now(),
        actor_id: "demo".into(),
        actor_role: "system".into(),
        source: "cli".into(),
        action: "setting.demo".into(),
        object: "demo".into(),
        outcome: anju_store::infra::audit::Outcome::Ok,
        reason: None,
        detail: serde_json::json!({ "accounts": accounts.len() }).to_string(),
    };
    store.put_setting("demo", "true", &entry).await?;
    write_private(&accounts_file(config), &password)?;
    Ok(password)
}

fn new(
    username: &str,
    name: &str,
    role: Role,
    region: Option<RegionCode>,
    department: Option<&str>,
) -> NewAccount {
    NewAccount {
        username: username.into(),
        display_name: name.into(),
        role,
        region,
        department: department.map(str::to_string),
    }
}

fn write_private(path: &std::path::Path, password: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = crate::config::create_private(path)
        .with_context(|| format!("无法写入 {}", path.display()))?;
    writeln!(f, "{password}")?;
    Ok(())
}

/// The demo's accounts and their password, as printed after a load and at each `--serve`.
pub fn print_accounts(password: Option<&str>) {
    println!(
        "演示模式（数据均为虚构）。演示账号（密码均为：{}）：",
        password.unwrap_or("见数据目录 demo-accounts.txt")
    );
    println!("  县领导小组办公室   county      审计 shenji   督导 duban");
    for (code, name) in JIAXIANG_TOWNS.iter().take(3) {
        let t = &code[6..9];
        println!("  {name:<8} 经办人 t{t}-jb    主要负责同志 t{t}-fz");
    }
    println!("  （其余镇街同理：t<镇街代码后三位>-jb / -fz）");
    println!("  专业技术人员 js01–js12    鉴定机构 jd01–jd05    行业部门 bm-zj、bm-sw、bm-scjg 等");
}
