//! `anju backup`, `anju backup verify` and `anju restore`: a consistent online backup of the
//! whole system (every table, the evidence files, a manifest with SHA-256 of every file) while
//! the server keeps writing, and its restore into an empty database of either backend — which
//! is also the lossless way from SQLite to PostgreSQL. The key file is never in a backup.

use crate::config::Config;
use anju_store::Store;
use anju_store::infra::backup::{self, Manifest};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// The directory to write the backup to (created if missing; an earlier backup there is
    /// replaced, its evidence files kept and only new ones copied).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum BackupCommand {
    /// Re-read a backup's manifest and check every file's size and SHA-256.
    Verify { dir: PathBuf },
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A backup directory written by `anju backup`.
    pub dir: PathBuf,
}

/// Takes a backup of `store` (evidence from `evidence`) into `dir`, hard-linking evidence
/// from `previous` where it has the same files. The manifest is written last.
pub async fn take(
    store: &Store,
    evidence: &Path,
    dir: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(dir).with_context(|| format!("无法创建备份目录 {}", dir.display()))?;
    // A directory whose manifest is gone holds no finished backup until the new one is written.
    let _ = std::fs::remove_file(dir.join("manifest.json"));
    let mut manifest = store.system("cli").dump(dir).await?;
    let (from, to, prev) = (
        evidence.to_path_buf(),
        dir.to_path_buf(),
        previous.map(Path::to_path_buf),
    );
    manifest.evidence =
        tokio::task::spawn_blocking(move || backup::copy_evidence(&from, &to, prev.as_deref()))
            .await??;
    backup::write_manifest(dir, &manifest)?;
    Ok(manifest)
}

pub async fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BackupCommand::Verify { dir }) => {
            let m = backup::verify(&dir)?;
            println!(
                "备份完好：{}，{} 张表、{} 个证据材料文件，共 {:.1} MB，均与清单一致（SHA-256）",
                m.taken_at,
                m.tables.len(),
                m.evidence.len(),
                m.total_bytes() as f64 / 1e6
            );
            Ok(())
        }
        None => {
            let dir = args.out.context("请用 --out 指定备份目录")?;
            let store = config.open().await?;
            let started = std::time::Instant::now();
            let m = take(&store, &config.data_dir.join("evidence"), &dir, None).await?;
            println!(
                "备份完成：{}（快照时刻 {}），{} 栋房屋、{} 条事件、{} 条审计记录、{} 个证据材料文件，共 {:.1} MB，用时 {:.1} 秒",
                dir.display(),
                m.taken_at,
                m.rows("houses").unwrap_or(0),
                m.rows("events").unwrap_or(0),
                m.rows("audit_log").unwrap_or(0),
                m.evidence.len(),
                m.total_bytes() as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            println!(
                "注意：备份中不含个人信息加密密钥。恢复时需要密钥文件 {}，请把它另行保存（不要与备份放在同一处）。",
                config.key_path().display()
            );
            Ok(())
        }
    }
}

pub async fn restore(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let m = backup::verify(&args.dir)?;
    if config.load_vault()?.is_none() {
        anyhow::bail!(
            "恢复需要原系统的个人信息加密密钥文件：请把它复制到 {}（或用 --key-file / ANJU_KEY_FILE 指定）再恢复",
            config.key_path().display()
        );
    }
    let store = config.open().await?;
    store.system("cli").restore_tables(&args.dir, &m).await?;
    let evidence = config.data_dir.join("evidence");
    let (dir, to, mm) = (args.dir.clone(), evidence.clone(), m.clone());
    let copied =
        tokio::task::spawn_blocking(move || backup::restore_evidence(&dir, &mm, &to)).await??;
    let check = store.system("cli").verify_all().await?;
    if let Some(id) = check.audit_broken {
        anyhow::bail!("恢复后审计日志校验失败：第 {id} 条记录起哈希链断裂");
    }
    if !check.is_clean() {
        anyhow::bail!(
            "恢复后事件链校验失败：{} 处问题（运行 anju audit verify 查看）",
            check.faults.len() + check.batch_faults.len()
        );
    }
    println!(
        "已恢复到 {}：{} 栋房屋、{} 条事件、{} 个账号、{} 条审计记录（审计日志与事件哈希链校验通过），{copied} 个证据材料文件；快照时刻 {}",
        store.backend(),
        m.rows("houses").unwrap_or(0),
        m.rows("events").unwrap_or(0),
        m.rows("accounts").unwrap_or(0),
        m.rows("audit_log").unwrap_or(0),
        m.taken_at
    );
    Ok(())
}

/// The backups in `root` written by the scheduler (`anju-YYYYMMDD-HHMMSS` with a manifest),
/// oldest first.
pub fn backups_in(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("anju-"))
                && p.join("manifest.json").is_file()
        })
        .collect();
    out.sort();
    out
}

/// One scheduled backup: into `root/anju-YYYYMMDD-HHMMSS` (Beijing time), evidence
/// hard-linked from the newest earlier backup, then the oldest beyond `keep` removed — only
/// after the new one is complete. The outcome is recorded either way.
pub async fn scheduled(
    store: &Store,
    evidence: &Path,
    root: &Path,
    keep: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> anju_store::infra::backup::LastBackup {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let name = format!(
        "anju-{}",
        now.with_timezone(&beijing).format("%Y%m%d-%H%M%S")
    );
    let dir = root.join(&name);
    let previous = backups_in(root).pop();
    let outcome = take(store, evidence, &dir, previous.as_deref()).await;
    let last = match outcome {
        Ok(m) => {
            let mut all = backups_in(root);
            while all.len() > keep as usize {
                let old = all.remove(0);
                if let Err(e) = std::fs::remove_dir_all(&old) {
                    tracing::warn!(error = %e, dir = %old.display(), "removing an old backup failed");
                }
            }
            anju_store::infra::backup::LastBackup {
                at: now.to_rfc3339(),
                ok: true,
                detail: dir.display().to_string(),
                bytes: m.total_bytes(),
                houses: m.rows("houses").unwrap_or(0),
                last_good: None,
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), dir = %dir.display(), "scheduled backup failed");
            // A half-written backup has no manifest; remove it so it is not mistaken for one.
            let _ = std::fs::remove_dir_all(&dir);
            anju_store::infra::backup::LastBackup {
                at: now.to_rfc3339(),
                ok: false,
                detail: format!("备份失败：{e:#}"),
                bytes: 0,
                houses: 0,
                last_good: None,
            }
        }
    };
    if let Err(e) = store.record_backup(last.clone()).await {
        tracing::error!(error = %e, "recording the backup outcome failed");
    }
    last
}

/// Runs for as long as the server does: once a minute, takes the scheduled backup when due.
pub async fn scheduler(store: Store, evidence: PathBuf, root: PathBuf) {
    loop {
        let now = chrono::Utc::now();
        let due = match (store.backup_schedule().await, store.last_backup().await) {
            (Ok(s), Ok(last)) => {
                let at = last
                    .as_ref()
                    .and_then(|l| chrono::DateTime::parse_from_rfc3339(&l.at).ok())
                    .map(|d| d.with_timezone(&chrono::Utc));
                s.due(now, at).then_some(s.keep)
            }
            _ => None,
        };
        if let Some(keep) = due {
            let last = scheduled(&store, &evidence, &root, keep, now).await;
            tracing::info!(ok = last.ok, detail = %last.detail, "scheduled backup");
        }
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
}
