//! `anju events export|import` and `anju check`.

use crate::config::Config;
use anyhow::Context;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// Write the reference data and every event as JSON Lines (stdout by default). The log is
    /// a full backup: it holds ID and phone numbers in clear, so it must be asked for with
    /// `--include-personal`; a file is created readable by its owner only.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        /// Confirms that the export carries personal data unmasked (required).
        #[arg(long)]
        include_personal: bool,
    },
    /// Read a log written by `export` (stdin by default); every event is re-checked against the
    /// rules and nothing is written unless the whole log is valid.
    Import { file: Option<PathBuf> },
}

/// A new file readable by its owner only.
fn private_file(p: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
        .with_context(|| format!("无法创建 {}", p.display()))
}

pub async fn run(config: &Config, cmd: EventsCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    match cmd {
        EventsCommand::Export {
            out,
            include_personal,
        } => {
            if !include_personal {
                anyhow::bail!(
                    "事件日志是完整备份，含未脱敏的身份证号和电话：确认需要时请加 --include-personal（导出将记入审计日志）"
                );
            }
            let mut sink: Box<dyn Write> = match &out {
                Some(p) => Box::new(BufWriter::new(private_file(p)?)),
                None => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let n = store.system("cli").export_events(&mut sink).await?;
            sink.flush()?;
            store
                .record_audit(&crate::admin::cli_audit(
                    &store,
                    "events.export",
                    "events",
                    serde_json::json!({ "events": n, "personal": true }),
                ))
                .await?;
            eprintln!("已导出 {n} 条事件（含个人信息，请妥善保管）");
        }
        EventsCommand::Import { file } => {
            let mut source: Box<dyn std::io::BufRead> = match &file {
                Some(p) => Box::new(BufReader::new(
                    std::fs::File::open(p).with_context(|| format!("无法打开 {}", p.display()))?,
                )),
                None => Box::new(BufReader::new(std::io::stdin().lock())),
            };
            match store
                .system("cli")
                .import_events(&mut source, &anju_store::houses::log::cli_actor())
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
    let bad = store.system("cli").verify_projection().await?;
    let n = store.system("cli").count_houses().await?;
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
