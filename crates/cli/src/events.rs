//! `anju events export|import` and `anju check`.

use crate::config::Config;
use anju_domain::Scope;
use anyhow::Context;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// Write the reference data and every event as JSON Lines (stdout by default).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read a log written by `export` (stdin by default); every event is re-checked against the
    /// rules and nothing is written unless the whole log is valid.
    Import { file: Option<PathBuf> },
}

pub async fn run(config: &Config, cmd: EventsCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    match cmd {
        EventsCommand::Export { out } => {
            let mut sink: Box<dyn Write> = match &out {
                Some(p) => Box::new(BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("无法创建 {}", p.display()))?,
                )),
                None => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let n = store.export_events(&Scope::All, &mut sink).await?;
            eprintln!("已导出 {n} 条事件");
        }
        EventsCommand::Import { file } => {
            let mut source: Box<dyn std::io::BufRead> = match &file {
                Some(p) => Box::new(BufReader::new(
                    std::fs::File::open(p).with_context(|| format!("无法打开 {}", p.display()))?,
                )),
                None => Box::new(BufReader::new(std::io::stdin().lock())),
            };
            match store
                .import_events(&mut source, &anju_store::log::cli_actor())
                .await
            {
                Ok(s) => eprintln!("已导入 {} 栋房屋、{} 条事件", s.houses, s.events),
                Err(e) => {
                    eprintln!("导入被拒绝，未写入任何数据。{e}");
                    std::process::exit(2);
                }
            }
        }
    }
    Ok(())
}

pub async fn check(config: &Config) -> anyhow::Result<()> {
    let store = config.open().await?;
    let bad = store.verify_projection(&Scope::All).await?;
    let n = store.count_houses(&Scope::All).await?;
    if bad.is_empty() {
        println!("已核对 {n} 栋房屋：当前状态与事件重放结果一致");
        Ok(())
    } else {
        for code in bad.iter().take(20) {
            println!("不一致：{code}");
        }
        anyhow::bail!("{} 栋房屋的当前状态与事件重放结果不一致", bad.len())
    }
}
