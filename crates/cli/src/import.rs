//! `anju import`: the import template, and importing an existing ledger (xlsx or CSV). A file
//! is checked whole first (a dry run unless `--commit`); with `--commit` and no bad row it is
//! written batch by batch, with progress on the terminal.

use crate::config::Config;
use anju_import::{Pass, Progress, Request, import_file, template_csv, template_xlsx};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Write the import template (xlsx with an explanation sheet, or CSV).
    Template {
        /// Output file (.xlsx or .csv).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a ledger file and, with --commit, import it.
    File {
        /// The xlsx or CSV file.
        path: PathBuf,
        /// Write the houses (default: only check and report).
        #[arg(long)]
        commit: bool,
        /// Import as this account (its scope applies); default: the system, county-wide.
        #[arg(long)]
        user: Option<String>,
        /// Write the report of bad rows here as CSV (row, reason).
        #[arg(long)]
        errors: Option<PathBuf>,
    },
}

pub async fn run(config: &Config, cmd: ImportCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    match cmd {
        ImportCommand::Template { out } => {
            let csv = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            let bytes = if csv {
                template_csv()
            } else {
                template_xlsx(&store.reference().dictionaries)?
            };
            std::fs::write(&out, bytes).with_context(|| format!("无法写入 {}", out.display()))?;
            println!("导入模板已写入 {}", out.display());
            Ok(())
        }
        ImportCommand::File {
            path,
            commit,
            user,
            errors,
        } => {
            let who = crate::config::acting_as(&store, user).await?;
            let evidence = anju_evidence::EvidenceStore::open(config.data_dir.join("evidence"))
                .context("无法打开证据材料目录")?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "台账".into());
            let started = std::time::Instant::now();
            let mut last = std::time::Instant::now();
            let mut progress = |p: Progress| {
                if last.elapsed().as_millis() >= 500 {
                    last = std::time::Instant::now();
                    let what = match p.pass {
                        Pass::Check => "检查",
                        Pass::Write => "写入",
                    };
                    eprint!("\r{what}：已处理 {} 行", p.rows);
                    let _ = std::io::stderr().flush();
                }
            };
            let outcome = import_file(
                &store,
                &who,
                "cli",
                Request {
                    path: &path,
                    name: &name,
                    commit,
                    evidence: Some(&evidence),
                    limits: anju_import::cli_limits(),
                },
                &mut progress,
            )
            .await?;
            eprintln!();
            let r = &outcome.report;
            println!(
                "文件 {name}（sha256 {}）共 {} 行，用时 {:.1} 秒",
                &outcome.file.sha256[..12],
                r.rows,
                started.elapsed().as_secs_f64()
            );
            if outcome.error_count > 0 {
                println!("有 {} 行有误，整份文件未导入：", outcome.error_count);
                for e in r.errors.iter().take(20) {
                    println!("  第 {} 行：{}", e.row, e.message);
                }
                if let Some(out) = errors {
                    let mut text = String::from("\u{feff}行号,错误原因\r\n");
                    for e in &r.errors {
                        text.push_str(&format!(
                            "{},\"{}\"\r\n",
                            e.row,
                            e.message.replace('"', "\"\"")
                        ));
                    }
                    std::fs::write(&out, text)?;
                    println!("错误清单已写入 {}", out.display());
                } else if r.errors.len() > 20 {
                    println!("  ……（用 --errors 文件名 导出全部错误）");
                }
                anyhow::bail!("导入未完成：请修改有误的行后重新导入");
            }
            let verb = if outcome.written {
                "已导入"
            } else {
                "检查通过，可导入"
            };
            println!(
                "{verb}：新登记 {} 栋（其中台账记载已销号或已验收、待镇街主要负责同志确认 {} 栋，列入回头看 {} 栋），更正 {} 栋，未变化 {} 栋",
                r.new_houses, r.closed, r.look_back, r.corrected, r.unchanged
            );
            if r.closed > 0 {
                println!(
                    "台账记载的销号和竣工验收在确认前不计入台账⑥⑦：请镇街主要负责同志在“导入销号确认”页面确认，或由县专班确定切换日期。"
                );
            }
            if !commit {
                println!("这是检查（未写入）。确认无误后加 --commit 导入。");
            }
            Ok(())
        }
    }
}
