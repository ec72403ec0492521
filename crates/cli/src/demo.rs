//! `anju demo`: loads the deterministic demo county. Houses are generated on background
//! threads (each step decided by the real rules) while batches are written, each batch in one
//! transaction with its audit rows.

use crate::config::Config;
use anju_demo::{Demo, DemoHouse};
use anju_domain::event::{Actor, Role};
use anju_domain::region::JIAXIANG_TOWNS;
use anju_domain::{RuleCode, Scope};
use anju_store::{NewHouse, Reference, RefusedAttempt, Store};
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

/// Loads `houses` demo houses from `seed` into an empty store. Two generator threads take
/// alternate batches; batches are written in order, so the database is the same every time.
pub async fn load(
    store: &Store,
    houses: u64,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<LoadSummary> {
    let demo = std::sync::Arc::new(Demo::new(houses, seed));
    let mut reference = Reference::defaults();
    reference.regions.extend(demo.villages.iter().cloned());
    store.add_reference(&reference).await?;
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
            print_accounts();
            return crate::serve::serve(store, &args.serve_args).await;
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
    print_accounts();
    if args.serve {
        crate::serve::serve(store, &args.serve_args).await?;
    }
    Ok(())
}

/// The people the demo's events are recorded under. Login accounts arrive with the accounts
/// issue; until then these are the actors shown in every house's history.
pub fn print_accounts() {
    println!("演示数据中的人员（演示模式，数据均为虚构）：");
    println!("  县领导小组办公室          county");
    for (code, name) in JIAXIANG_TOWNS.iter().take(3) {
        let t = &code[6..9];
        println!("  {name:<10} 经办人 t{t}-jb    主要负责同志 t{t}-fz");
    }
    println!("  （其余镇街同理：t<镇街代码后三位>-jb / -fz）");
    println!("  专业技术人员 js01–js12    鉴定机构 jd01–jd05");
}
