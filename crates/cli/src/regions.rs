//! `anju init` sets up a county from the national division table shipped with Anju; `anju
//! regions` lists the county's towns and villages and imports a list of the ones the table lacks.

use crate::config::Config;
use anju_domain::codes::RegionLevel;
use anju_domain::region::RegionRow;
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct InitArgs {
    /// The county's 6-digit statistical division code (e.g. 370829), or part of its name to
    /// look the code up (e.g. 嘉祥).
    #[arg(long)]
    pub county: String,
    /// The first day the table's towns and villages count as existing (default: the edition's
    /// reference date). Set it earlier when the ledgers to import go further back.
    #[arg(long)]
    pub valid_from: Option<NaiveDate>,
}

#[derive(clap::Subcommand)]
pub enum RegionsCommand {
    /// The county's towns and villages with their codes and validity.
    List {
        /// Only this level.
        #[arg(long, value_parser = ["town", "village"])]
        level: Option<String>,
        /// Only regions valid on this day (default: all, ended ones marked).
        #[arg(long)]
        on: Option<NaiveDate>,
    },
    /// Check a list of towns and villages (xlsx or CSV with the headers 代码, 名称, 上级代码)
    /// and, with --commit, add the new ones. The whole file is checked first.
    Import {
        path: PathBuf,
        /// Add the regions (default: only check and report).
        #[arg(long)]
        commit: bool,
        /// The first day the new regions exist (default: today).
        #[arg(long)]
        valid_from: Option<NaiveDate>,
        /// Act as this county-level account (default: the system).
        #[arg(long)]
        user: Option<String>,
    },
}

pub async fn init(config: &Config, args: InitArgs) -> anyhow::Result<()> {
    let wanted = args.county.trim();
    let code = if wanted.bytes().all(|b| b.is_ascii_digit()) {
        wanted.to_string()
    } else {
        let found = anju_divisions::find_counties(wanted)?;
        match found.as_slice() {
            [(code, name)] => {
                println!("“{wanted}”即 {name}（{code}）");
                code.clone()
            }
            [] => anyhow::bail!("区划代码表中没有名称含“{wanted}”的县级区划"),
            many => {
                let list: Vec<String> = many.iter().map(|(c, n)| format!("{c} {n}")).collect();
                anyhow::bail!(
                    "名称含“{wanted}”的县级区划有 {} 个，请用代码指定：\n{}",
                    many.len(),
                    list.join("\n")
                )
            }
        }
    };
    let county = anju_divisions::county(&code)?;
    let edition = anju_divisions::edition();
    let from = args.valid_from.unwrap_or(edition.reference_date);
    let store = config.open().await?;
    let outcome = store
        .init_county(&county.regions(from, true), edition.id)
        .await?;
    let title = format!(
        "{}{}{}（{}）",
        county.province.name,
        county.city.name,
        county.county.name,
        county.county.code.prefix()
    );
    if outcome.added == 0 {
        println!(
            "{title}已设置，区划没有变化（{} 个镇街、{} 个村（社区））",
            outcome.towns, outcome.villages
        );
    } else {
        println!(
            "已设置{title}：{} 个镇街、{} 个村（社区），自 {from} 起有效；来源：{}",
            outcome.towns, outcome.villages, edition.label
        );
        println!("下一步：anju serve 启动服务，首次启动会显示管理员 admin 的一次性密码。");
    }
    Ok(())
}

pub async fn run(config: &Config, cmd: RegionsCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    store.county_code()?;
    match cmd {
        RegionsCommand::List { level, on } => {
            let level = match level.as_deref() {
                Some("town") => Some(RegionLevel::Town),
                Some("village") => Some(RegionLevel::Village),
                _ => None,
            };
            let reference = store.reference();
            let name_of = |code| {
                reference
                    .regions
                    .iter()
                    .find(|r| Some(r.code) == code)
                    .map_or("", |r| r.name.as_str())
            };
            let mut n = 0;
            println!("代码\t名称\t级别\t上级\t有效期");
            for r in reference.regions.iter().filter(|r| {
                matches!(r.level, RegionLevel::Town | RegionLevel::Village)
                    && level.is_none_or(|l| r.level == l)
                    && on.is_none_or(|d| r.valid_on(d))
            }) {
                n += 1;
                println!(
                    "{}\t{}\t{}\t{}\t{} 至 {}",
                    r.code.prefix(),
                    r.name,
                    r.level.label(),
                    name_of(r.parent),
                    r.valid_from,
                    r.valid_to
                        .map_or("今".to_string(), |d| format!("{d}（已撤并或撤销）"))
                );
            }
            eprintln!("共 {n} 个");
            Ok(())
        }
        RegionsCommand::Import {
            path,
            commit,
            valid_from,
            user,
        } => {
            let who = crate::config::acting_as(&store, user).await?;
            let rows = read_rows(&path)?;
            let from = valid_from.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let outcome = store
                .import_regions(&who, &rows, from, commit, "cli")
                .await?;
            match outcome {
                Err(errors) => {
                    for (line, e) in &errors {
                        eprintln!("第 {line} 行：{e}");
                    }
                    anyhow::bail!("{} 行有误，整份文件未导入", errors.len())
                }
                Ok(done) => {
                    for e in &done.added {
                        println!(
                            "{}：{}",
                            if commit { "已新增" } else { "将新增" },
                            e.subject().prefix()
                        );
                    }
                    println!(
                        "{} {} 个区划，{} 行已存在未变{}",
                        if commit {
                            "已新增"
                        } else {
                            "检查通过，将新增"
                        },
                        done.added.len(),
                        done.unchanged,
                        if commit {
                            ""
                        } else {
                            "（加 --commit 导入）"
                        }
                    );
                    Ok(())
                }
            }
        }
    }
}

/// The rows of a region list, by header (代码, 名称, 上级代码), read with the same hostile-file
/// defences as the ledger import.
pub fn read_rows(path: &std::path::Path) -> anyhow::Result<Vec<RegionRow>> {
    let limits = anju_sheet::Limits::default();
    let mut rows =
        anju_sheet::open(path, &limits).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let header = rows
        .next()
        .context("文件为空")?
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let col = |names: &[&str]| {
        header
            .cells
            .iter()
            .position(|h| names.iter().any(|n| h.trim() == *n))
    };
    let code = col(&["代码", "区划代码"]).context("缺少“代码”列")?;
    let name = col(&["名称", "区划名称"]).context("缺少“名称”列")?;
    let parent = col(&["上级代码", "上级区划代码"]).context("缺少“上级代码”列")?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.push(RegionRow {
            line: row.number as u64,
            code: row.cell(code).to_string(),
            name: row.cell(name).to_string(),
            parent: row.cell(parent).to_string(),
        });
    }
    Ok(out)
}
