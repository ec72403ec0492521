//! `anju demo`: loads the deterministic demo county. Houses are generated on background
//! threads (each step decided by the real rules) while batches are written, each batch in one
//! transaction with its audit rows.

use crate::config::Config;
use anju_demo::JIAXIANG_TOWNS;
use anju_demo::{Demo, DemoHouse};
use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::event::{Actor, Role};
use anju_domain::{RuleCode, Scope};
use anju_store::{NewAccount, NewHouse, RefusedAttempt, Store};
use anyhow::Context;
use std::collections::BTreeMap;
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

/// Loads `houses` demo houses from `seed` into an empty store. Two generator threads take
/// alternate batches; batches are written in order, so the database is the same every time.
pub async fn load(
    store: &Store,
    houses: u64,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<LoadSummary> {
    let demo = std::sync::Arc::new(Demo::new(houses, seed));
    init_county(store).await?;
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
            .write_batch(&houses, &refusals, "demo.load", &actor, "cli")
            .await?;
        progress(summary.houses);
    }
    Ok(summary)
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
    if args.reset {
        reset(config).await?;
    }
    let store = config.open().await?;
    let existing = store.count_houses(&Scope::All).await?;
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
        store.db.backend(),
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
    let system = Principal {
        account_id: 0,
        username: "demo".into(),
        name: "演示数据生成".into(),
        role: Role::System,
        region: None,
        department: None,
    };
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
    let entry = anju_store::audit::AuditEntry {
        at: store.now(),
        actor_id: "demo".into(),
        actor_role: "system".into(),
        source: "cli".into(),
        action: "setting.demo".into(),
        object: "demo".into(),
        outcome: anju_store::audit::Outcome::Ok,
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
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
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
